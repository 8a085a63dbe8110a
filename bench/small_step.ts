// The bundled small model's training step, transformer only, on this machine: forward (no grad)
// and forward + backward of all weights for a batch of one2three samples (reference + condition +
// target latent frames: 11 x 4 x 4 = 176 tokens, 16 text tokens), FLOPs counted. The same layers in
// PyTorch on the same libtorch (Debian's python3-torch) are bench/small_step_pytorch.py: what
// the engine costs over plain libtorch.
//   node dist/bench/small_step.js [--batch 32] [--runs 3]
import { readFileSync } from 'node:fs';

import { Generator, mseLoss, noGrad, randn, scope } from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { parseTransformerConfig } from '../src/models/wan/transformer_config.js';
import { buildInContextInputs } from '../src/worldwander/in_context.js';
import { forwardFlops } from './flops.js';
import { median, timeIt } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback;
const batch = flag('--batch', 32),
  runs = flag('--runs', 3);
const file = 'models/worldwander-small/transformer/config.json';
const config = parseTransformerConfig(JSON.parse(readFileSync(file, 'utf8')), file);
const model = new WanTransformer3DModel(config, { generator: new Generator(0) });
const g = new Generator(1);
const latents = (frames: number) => randn([batch, config.in_channels, frames, 8, 8], g);
const inputs = buildInContextInputs({
  target: latents(5),
  condition: latents(5),
  ref: latents(1),
  timestep: 500,
  encoderHiddenStates: randn([batch, 16, config.text_dim], g),
  useCollaborativePositionEncoding: true,
  patchSize: config.patch_size,
});
const velocity = latents(5);
const time = (fn: () => void): number => {
  fn();
  return median(Array.from({ length: runs }, () => timeIt(fn)));
};
const forward = time(() =>
  scope(() => {
    noGrad(() => model.forward(inputs));
  }),
);
const step = time(() =>
  scope(() => {
    model.forwardBackward(inputs, (sample) => mseLoss(sample, velocity));
    for (const [, p] of model.trainableParameters()) p.grad = null;
  }),
);
const flops = batch * forwardFlops(config, 176, 80, 16);
const rate = (f: number, s: number): string => (f / s / 1e9).toFixed(1);
console.log(
  JSON.stringify({
    batch,
    forward_gflop: Number((flops / 1e9).toFixed(1)),
    forward_s: Number(forward.toFixed(3)),
    forward_gflops: Number(rate(flops, forward)),
    forward_backward_s: Number(step.toFixed(3)),
    forward_backward_gflops: Number(rate(3 * flops, step)),
  }),
);
