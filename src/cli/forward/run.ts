// `worldwander forward <target>`: checks the inputs file against the target's inputs and the
// output path before loading any model, runs the target, warns about NaN/Inf, and writes the
// outputs as float32 (whatever the compute dtype) for comparison with a reference.
import { SafetensorsFile, checkDevice, loadAll, saveSafetensors, type Tensor } from '../../torch/index.js';
import { checkOutputFile } from '../../io/output_path.js';
import { Progress } from '../../data/progress.js';
import { UsageError } from '../command.js';
import { checkInputs, nonFinite, type ForwardTarget, type TargetOptions } from './targets.js';
import { textEncoderTarget } from './text_encoder.js';
import { transformerTarget } from './transformer.js';
import { vaeDecodeTarget, vaeEncodeTarget } from './vae.js';
import { denoiseTarget } from './denoise.js';

/** Targets by name; each model part adds its own line. */
export const TARGETS: Record<string, ForwardTarget> = {
  transformer: transformerTarget,
  'vae-encode': vaeEncodeTarget,
  'vae-decode': vaeDecodeTarget,
  'text-encoder': textEncoderTarget,
  denoise: denoiseTarget,
};

export interface ForwardRun {
  target: string;
  modelDir: string;
  inputs: string;
  out: string;
  dtype: 'float32' | 'bfloat16';
  device: string;
  lora?: string;
  /** Where warnings go (stderr). */
  warn?: (line: string) => void;
}

export async function runForward(o: ForwardRun): Promise<{ out: string; outputs: string[]; seconds: number }> {
  const target = TARGETS[o.target];
  if (!target) throw new UsageError(`unknown target '${o.target}'; known targets: ${Object.keys(TARGETS).join(', ')}`);
  if (o.lora !== undefined && !target.takesLora)
    throw new UsageError(`--lora applies to the transformer targets only (target '${o.target}')`);
  const warn = o.warn ?? ((line: string) => console.error(line));
  checkOutputFile(o.out, 'out', { inputs: [o.inputs, ...(o.lora ? [o.lora] : [])] });
  const device = checkDevice(o.device);
  const inputs = loadAll(SafetensorsFile.open(o.inputs));
  checkInputs(o.target, target.inputs, inputs);
  for (const name of nonFinite(inputs)) warn(`warning: input '${name}' of ${o.inputs} holds NaN or infinite values`);
  const started = performance.now();
  const options: TargetOptions = {
    dtype: o.dtype,
    device,
    lora: o.lora,
    onLoadProgress: countBar(`loading ${o.target}`, 'tensors'),
    onStep: countBar(o.target, 'steps'),
  };
  const outputs: Map<string, Tensor> = await target.run(o.modelDir, inputs, options);
  for (const name of nonFinite(outputs)) warn(`warning: output '${name}' holds NaN or infinite values`);
  const float = new Map([...outputs].map(([key, t]) => [key, t.float()]));
  saveSafetensors(o.out, float, { target: o.target, dtype: o.dtype });
  return {
    out: o.out,
    outputs: [...float].map(([k, t]) => `${k} [${t.shape.join(', ')}]`),
    seconds: (performance.now() - started) / 1000,
  };
}

/** A progress bar on stderr, made when the total is known: weight loading, or the steps of a multi-step target. */
function countBar(label: string, unit: string): (done: number, total: number) => void {
  let bar: Progress | undefined;
  return (done, total) => {
    bar ??= new Progress(label, total, { unit });
    bar.tick();
    if (done === total) bar.finish();
  };
}
