// The activation memory of one transformer forward at the release's size, measured on the CPU:
// Wan2.2-TI2V-5B's dimensions with one block (the blocks run one after another, so one block's
// temporaries are what a forward adds to the weights), three2one at 704x1280x49 (two views of
// 13x44x80 latents: 22,880 tokens, 512 text tokens), batch 2 (guidance's two branches in one
// forward) and 1 (sequential guidance), bfloat16. Peak live tensor bytes above the weights and
// inputs (the engine's allocator counts them exactly).
//
//   node dist/bench/activations.js [--frames 49] [--height 704] [--width 1280] [--batches 2,1]
import {
  Generator,
  memoryStats,
  noGrad,
  randn,
  resetPeakMemory,
  scope,
  tensor,
  type Tensor,
} from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { WAN22_TI2V_5B } from '../src/models/wan/transformer_config.js';
import { buildInContextInputs } from '../src/worldwander/in_context.js';
import { forwardFlops } from './flops.js';
import { flagValue } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => flagValue(args, name, fallback);
const [frames, height, width] = ['--frames', '--height', '--width'].map((f, i) =>
  Number(flag(f, ['49', '704', '1280'][i]!)),
) as [number, number, number];
const batches = flag('--batches', '2,1').split(',').map(Number);
const GiB = 2 ** 30;

const config = { ...WAN22_TI2V_5B, num_layers: 1 };
const model = new WanTransformer3DModel(config, { dtype: 'bfloat16', generator: new Generator(0) });
const latent = [48, 1 + (frames - 1) / 4, height / 16, width / 16] as const;
const tokens = (latent[1] * latent[2] * latent[3]) / 4;
for (const batch of batches) {
  const result = scope(() => {
    const g = new Generator(1);
    const draw = (shape: readonly number[]): Tensor => randn(shape, g).to({ dtype: 'bfloat16' });
    const inputs = buildInContextInputs({
      target: draw([batch, ...latent]),
      condition: draw([batch, ...latent]),
      timestep: tensor(new Array(batch).fill(999)),
      encoderHiddenStates: draw([batch, 512, 4096]),
      useCollaborativePositionEncoding: true,
    });
    const before = memoryStats().allocatedBytes;
    resetPeakMemory();
    const started = performance.now();
    noGrad(() => model.forward(inputs).dispose());
    const seconds = (performance.now() - started) / 1000;
    return { peak: memoryStats().peakAllocatedBytes - before, seconds };
  });
  const flops = batch * forwardFlops(config, 2 * tokens, tokens, 512);
  console.log(
    JSON.stringify({
      size: `${width}x${height}x${frames}`,
      tokens: 2 * tokens,
      batch,
      blocks: 1,
      activations_peak_gib: Number((result.peak / GiB).toFixed(3)),
      seconds: Number(result.seconds.toFixed(1)),
      gflop_per_s: Math.round(flops / result.seconds / 1e9),
    }),
  );
}
model.dispose();
