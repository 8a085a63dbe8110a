// VAE benchmark. `node dist/bench/vae.js timing`: encode/decode seconds per frame for a small
// Wan2.2-layout config. `node dist/bench/vae.js memory`: peak tensor bytes of encoding with the
// real TI2V-5B config at a reduced size (chunked vs one whole-sequence pass), next to the
// activation-size estimate, and the estimate at 704x1280 with 49 frames.
import { Generator, memoryStats, noGrad, randn, resetPeakMemory, scope } from '../src/torch/index.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, type WanVAEConfig } from '../src/models/wan/vae_config.js';
import { COLUMN_BUDGET_BYTES } from '../src/models/wan/vae_conv.js';
import { median, timeIt } from './stats.js';

const MiB = 1024 * 1024;

/**
 * Peak bytes of one encoder pass over `frames` input frames (a chunk, or the whole video when not
 * chunked) for the Wan2.2 residual layout, in float32:
 *   input video + patchified copy
 * + the largest live set at a residual-block conv: down-block input, resnet input, norm+SiLU
 *   output, causally padded input (f+2 frames, +1 pixel each side), conv output, shortcut
 *   output, im2col workspace min(C_in·27·f·h·w, budget)
 * + the feature cache when chunked: 2 frames of every cached conv's input.
 */
export function estimateEncodePeak(
  c: WanVAEConfig,
  videoFrames: number,
  height: number,
  width: number,
  chunked: boolean,
): { bytes: number; activations: number; cache: number; input: number } {
  const p = c.patch_size ?? 1;
  const dims = [1, ...c.dim_mult].map((u) => c.base_dim * u);
  const frames = chunked ? Math.min(videoFrames, 4) : videoFrames;
  const size = (ch: number, f: number, h: number, w: number): number => ch * f * h * w * 4;
  let h = height / p,
    w = width / p,
    f = frames;
  let cache = 2 * size(3 * p * p, 1, h, w);
  let worst = 0;
  const resblock = (blockIn: number, cin: number, cout: number): void => {
    const live =
      size(blockIn, f, h, w) +
      size(cin, f, h, w) * 2 +
      size(cin, f + 2, h + 2, w + 2) +
      size(cout, f, h, w) * (cin === cout ? 1 : 2) +
      Math.min(cin * 27 * f * h * w * 4, COLUMN_BUDGET_BYTES);
    worst = Math.max(worst, live);
    cache += 2 * size(cin, 1, h, w) + 2 * size(cout, 1, h, w);
  };
  const last = c.dim_mult.length - 1;
  for (let i = 0; i <= last; i++) {
    for (let r = 0; r < c.num_res_blocks; r++) resblock(dims[i]!, r === 0 ? dims[i]! : dims[i + 1]!, dims[i + 1]!);
    if (i === last) break;
    h /= 2;
    w /= 2;
    if (c.temperal_downsample[i]) {
      cache += size(dims[i + 1]!, 1, h, w);
      f = Math.ceil(f / 2);
    }
  }
  for (let r = 0; r < 2; r++) resblock(dims[last + 1]!, dims[last + 1]!, dims[last + 1]!);
  cache += 2 * size(dims[last + 1]!, 1, h, w);
  const input = 2 * size(3, videoFrames, height, width);
  return { bytes: input + worst + (chunked ? cache : 0), activations: worst, cache: chunked ? cache : 0, input };
}

function realVae(): AutoencoderKLWan {
  const vae = new AutoencoderKLWan(WAN22_TI2V_5B_VAE, { init: 'empty' });
  noGrad(() => {
    for (const [name, t] of vae.namedParameters()) t.fill_(name.endsWith('gamma') ? 1 : 1e-3);
  });
  return vae;
}

function memory(): void {
  const [height, width] = [64, 128];
  const vae = realVae();
  console.log(
    `real TI2V-5B VAE config, encode at ${height}x${width} (float32; peak live tensor bytes above the weights)\n`,
  );
  console.log('| frames | mode | measured peak | estimate |');
  console.log('|---|---|---|---|');
  for (const [frames, chunked] of [
    [5, true],
    [9, true],
    [17, true],
    [49, true],
    [5, false],
    [9, false],
    [17, false],
  ] as const) {
    const peak = scope(() => {
      const video = randn([1, 3, frames, height, width], new Generator(0)).clamp(-1, 1);
      const base = memoryStats().allocatedBytes - video.numel() * 4;
      resetPeakMemory();
      noGrad(() => vae.encodeMoments(video, { chunked }));
      return memoryStats().peakAllocatedBytes - base;
    });
    const est = estimateEncodePeak(WAN22_TI2V_5B_VAE, frames, height, width, chunked).bytes;
    console.log(
      `| ${frames} | ${chunked ? 'chunked' : 'whole'} | ${(peak / MiB).toFixed(1)} MiB | ${(est / MiB).toFixed(1)} MiB |`,
    );
  }
  console.log('\nestimate at 704x1280, 49 frames:');
  for (const chunked of [true, false]) {
    const e = estimateEncodePeak(WAN22_TI2V_5B_VAE, 49, 704, 1280, chunked);
    const g = (b: number): string => `${(b / 2 ** 30).toFixed(2)} GiB`;
    console.log(
      `  ${chunked ? 'chunked' : 'whole  '}: ${g(e.bytes)} = input ${g(e.input)} + activations ${g(e.activations)} + cache ${g(e.cache)}`,
    );
  }
}

function timing(): void {
  const config: WanVAEConfig = { ...WAN22_TI2V_5B_VAE, base_dim: 16, decoder_base_dim: 32 };
  const [frames, size] = [9, 128];
  const vae = new AutoencoderKLWan(config, { generator: new Generator(0) });
  const video = randn([1, 3, frames, size, size], new Generator(1)).clamp(-1, 1);
  const latent = noGrad(() => vae.encode(video).mode());
  const run = (f: () => void): number[] => {
    scope(f);
    return [0, 1, 2].map(() => timeIt(() => scope(f)));
  };
  const enc = run(() => noGrad(() => vae.encodeMoments(video)));
  const dec = run(() => noGrad(() => vae.decode(latent)));
  console.log(
    `config: Wan2.2 layout, base_dim 16, decoder_base_dim 32, z_dim 48 (${(vae.numParameters() / 1e6).toFixed(2)}M parameters); video ${frames}x${size}x${size}`,
  );
  console.log(
    `encode: ${median(enc).toFixed(3)} s (${(median(enc) / frames).toFixed(4)} s/frame)  runs ${enc.map((s) => s.toFixed(3)).join(', ')}`,
  );
  console.log(
    `decode: ${median(dec).toFixed(3)} s (${(median(dec) / frames).toFixed(4)} s/frame)  runs ${dec.map((s) => s.toFixed(3)).join(', ')}`,
  );
}

const mode = process.argv[2] ?? 'timing';
if (mode === 'memory') memory();
else if (mode === 'timing') timing();
else throw new Error(`usage: node dist/bench/vae.js timing|memory (got '${mode}')`);
