import { SafetensorsFile, loadAll, saveSafetensors, type Tensor } from '../../torch/index.js';
import { ForwardInputError } from '../../models/parity.js';
import { transformerForward, type ForwardOptions } from '../../models/wan/transformer_forward.js';
import { vaeDecodeForward, vaeEncodeForward } from '../../models/wan/vae_forward.js';
import { textEncoderForward } from '../../models/umt5/forward.js';
import { Progress } from '../../data/progress.js';
import { choiceFlag, parseFlags, requiredFlag, stringFlag } from '../args.js';
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

export const forward: Command = {
  usage: `worldwander forward <${Object.keys(targets).join('|')}> --model-dir DIR --inputs IN.safetensors --out OUT.safetensors [--lora L.safetensors] [--dtype float32|bfloat16] [--device cpu|cuda]`,
  async run(args) {
    const { flags, positional } = parseFlags(args, { values: ['model-dir', 'inputs', 'out', 'lora', 'dtype', 'device'], booleans: [] });
    const [name, ...extra] = positional;
    if (name === undefined || extra.length) throw new UsageError(`expected exactly one target (${Object.keys(targets).join(', ')}), got ${positional.length ? positional.join(' ') : 'none'}`);
    const target = targets[name];
    if (!target) throw new UsageError(`unknown target '${name}'; known targets: ${Object.keys(targets).join(', ')}`);
    const dtype = choiceFlag(flags, 'dtype', ['float32', 'bfloat16'] as const, 'float32');
    const lora = stringFlag(flags, 'lora');
    if (lora !== undefined && name !== 'transformer') throw new UsageError(`--lora applies to the transformer only (target '${name}')`);
    const inputsFile = requiredFlag(flags, 'inputs');
    const modelDir = requiredFlag(flags, 'model-dir');
    const out = requiredFlag(flags, 'out');
    const inputs = loadAll(SafetensorsFile.open(inputsFile));
    const started = performance.now();
    let outputs: Map<string, Tensor>;
    try {
      outputs = target(modelDir, inputs, { dtype, lora, device: stringFlag(flags, 'device'), onLoadProgress: loadingBar(`loading ${name}`) });
    } catch (error) {
      if (error instanceof ForwardInputError) throw new UsageError(`${inputsFile}: ${error.message}`);
      if (error instanceof RangeError) throw new UsageError(error.message); // shapes the model cannot take
      throw error;
    }
    // Outputs are saved as float32 whatever the compute dtype, for comparison with a reference.
    const float = new Map([...outputs].map(([key, t]) => [key, t.dtype === 'float32' ? t : t.to({ dtype: 'float32' })]));
    saveSafetensors(out, float, { target: name, dtype });
    const summary = [...float].map(([k, t]) => `${k} [${t.shape.join(', ')}]`).join(', ');
    console.log(`${name}: wrote ${summary} to ${out} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    return 0;
  },
};

/** A progress bar on stderr for weight loading, made when the total is known. */
function loadingBar(label: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    bar ??= new Progress(label, total, { unit: 'tensors' });
    bar.tick();
    if (done === total) bar.finish();
  };
}
