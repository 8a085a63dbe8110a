import { SafetensorsFile, loadAll, saveSafetensors, type DType, type Tensor } from '../../torch/index.js';
import { ForwardInputError, transformerForward, type ForwardOptions } from '../../models/wan/transformer_forward.js';
import { vaeDecodeForward, vaeEncodeForward } from '../../models/wan/vae_forward.js';
import { textEncoderForward } from '../../models/umt5/forward.js';
import { parseFlags, requiredFlag, stringFlag } from '../args.js';
import { UsageError, type Command } from '../command.js';

/** One model part's forward: named tensors in, named tensors out. */
export type ForwardTarget = (modelDir: string, inputs: Map<string, Tensor>, options: ForwardOptions) => Map<string, Tensor>;

/** Targets by name; each part adds its own line. */
const targets: Record<string, ForwardTarget> = {
  transformer: transformerForward,
  'vae-encode': vaeEncodeForward,
  'vae-decode': vaeDecodeForward,
  'text-encoder': textEncoderForward,
};

const DTYPES: DType[] = ['float32', 'bfloat16'];

export const forward: Command = {
  usage: `worldwander forward <${Object.keys(targets).join('|')}> --model-dir DIR --inputs IN.safetensors --out OUT.safetensors [--lora L.safetensors] [--dtype float32|bfloat16] [--device cpu|cuda]`,
  async run(args) {
    const { flags, positional } = parseFlags(args, { values: ['model-dir', 'inputs', 'out', 'lora', 'dtype', 'device'], booleans: [] });
    const [name, ...extra] = positional;
    if (name === undefined || extra.length) throw new UsageError(`expected exactly one target (${Object.keys(targets).join(', ')}), got ${positional.length ? positional.join(' ') : 'none'}`);
    const target = targets[name];
    if (!target) throw new UsageError(`unknown target '${name}'; known targets: ${Object.keys(targets).join(', ')}`);
    const dtype = (stringFlag(flags, 'dtype') ?? 'float32') as DType;
    if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype must be one of ${DTYPES.join(', ')} (got '${dtype}')`);
    const lora = stringFlag(flags, 'lora');
    if (lora !== undefined && name !== 'transformer') throw new UsageError(`--lora applies to the transformer only (target '${name}')`);
    const inputsFile = requiredFlag(flags, 'inputs');
    const modelDir = requiredFlag(flags, 'model-dir');
    const out = requiredFlag(flags, 'out');
    const inputs = loadAll(SafetensorsFile.open(inputsFile));
    const started = performance.now();
    let outputs: Map<string, Tensor>;
    try {
      outputs = target(modelDir, inputs, { dtype, lora, device: stringFlag(flags, 'device') });
    } catch (error) {
      if (error instanceof ForwardInputError || error instanceof RangeError) throw new UsageError(`${inputsFile}: ${error.message}`);
      throw error;
    }
    saveSafetensors(out, outputs, { target: name, dtype });
    const summary = [...outputs].map(([k, t]) => `${k} [${t.shape.join(', ')}]`).join(', ');
    console.log(`${name}: wrote ${summary} to ${out} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return 0;
  },
};
