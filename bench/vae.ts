// VAE benchmark. `node dist/bench/vae.js timing`: encode/decode seconds per frame for a small
// Wan2.2-layout config. `node dist/bench/vae.js memory`: peak tensor bytes of encoding with the
// real TI2V-5B config at a reduced size (chunked vs one whole-sequence pass), next to the
// activation-size estimate, and the estimate at 704x1280 with 49 frames. `node dist/bench/vae.js
// real --model-dir DIR [--size 256] [--frames 17] [--runs 3] [--profile]`: the real VAE of a model
// folder (e.g. scripts/make-real-size-model.ts's) in float32 and bfloat16: encode and decode
// seconds, peak live tensor bytes and RSS, bfloat16's error against float32 on the same input,
// and with --profile the seconds per kind of layer; --input VIDEO encodes that video (its
// reconstruction's PSNR said) instead of a drawn moving pattern.
import {
  Generator,
  arange,
  emptyCache,
  memoryStats,
  noGrad,
  randn,
  resetPeakMemory,
  scope,
  cat,
  type DType,
  type Tensor,
} from '../src/torch/index.js';
import { VaeConv2d, WanCausalConv3d, WanRMSNorm } from '../src/models/wan/vae_layers.js';
import { WanAttentionBlock, WanResample } from '../src/models/wan/vae_blocks.js';
import path from 'node:path';

import { readVideoWindow } from '../src/data/video_reader.js';
import { framesToTensor } from '../src/data/video_tensor.js';
import { AutoencoderKLWan } from '../src/models/wan/vae.js';
import { WAN22_TI2V_5B_VAE, type WanVAEConfig } from '../src/models/wan/vae_config.js';
import { COLUMN_BUDGET_BYTES } from '../src/models/wan/vae_conv.js';
import { flagValue, median, processMemory, relativeL2, timeIt } from './stats.js';

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

/** Seconds (and conv GFLOP) per kind of layer, inclusive of what it calls, gathered by wrapping their forwards. */
function profileLayers(): { report: () => string; reset: () => void } {
  const seconds = new Map<string, { s: number; flops: number }>();
  const wrap = (cls: { prototype: object }, label: (self: never, x: Tensor, y: Tensor) => [string, number]): void => {
    const proto = cls.prototype as { forward: (...a: unknown[]) => unknown };
    const original = proto.forward;
    proto.forward = function (this: never, ...args: unknown[]) {
      const started = performance.now();
      const y = original.apply(this, args) as Tensor;
      const [key, flops] = label(this, args[0] as Tensor, y);
      const entry = seconds.get(key) ?? { s: 0, flops: 0 };
      entry.s += (performance.now() - started) / 1000;
      entry.flops += flops;
      seconds.set(key, entry);
      return y;
    };
  };
  const convFlops = (y: Tensor, w: Tensor): number => 2 * y.numel() * (w.numel() / w.size(0));
  wrap(WanCausalConv3d, (self: WanCausalConv3d, x, y) => {
    const [, c, t, h, w] = x.shape;
    return [`conv ${c}->${self.weight.size(0)} k${self.kernel.join('')} at ${t}x${h}x${w}`, convFlops(y, self.weight)];
  });
  wrap(VaeConv2d, (self: VaeConv2d, x, y) => [
    `conv2d ${x.size(1)}->${self.weight.size(0)} k${self.kernel} at ${x.size(0)}x${x.size(2)}x${x.size(3)}`,
    convFlops(y, self.weight),
  ]);
  wrap(WanRMSNorm, (self: WanRMSNorm) => [`rms norm ${self.dim}`, 0]);
  wrap(WanAttentionBlock, () => ['mid-block attention (inclusive)', 0]);
  wrap(WanResample, () => ['resample (inclusive of its convs)', 0]);
  return {
    reset: () => seconds.clear(),
    report: () => {
      const rows = [...seconds].sort((a, b) => b[1].s - a[1].s);
      const convs = rows.filter(([k]) => k.startsWith('conv'));
      const total = (f: (v: { s: number; flops: number }) => number): number => convs.reduce((n, [, v]) => n + f(v), 0);
      return [
        ...rows
          .slice(0, 25)
          .map(
            ([k, v]) =>
              `  ${v.s.toFixed(2).padStart(7)} s  ${k}${v.flops ? `  ${(v.flops / 1e9).toFixed(0)} GFLOP, ${(v.flops / v.s / 1e9).toFixed(0)} GFLOP/s` : ''}`,
          ),
        `  all convs: ${total((v) => v.s).toFixed(2)} s, ${(total((v) => v.flops) / 1e12).toFixed(2)} TFLOP`,
      ].join('\n');
    },
  };
}

/** A smooth moving pattern in [-1, 1], [1, 3, frames, size, size]: image-like, so the decoder's error means something. */
function movingPattern(frames: number, size: number): Tensor {
  return scope(() => {
    const r = arange(0, size).div(size).view(1, 1, 1, size, 1);
    const c = arange(0, size).div(size).view(1, 1, 1, 1, size);
    const t = arange(0, frames).div(frames).view(1, 1, frames, 1, 1);
    const channel = (k: number): Tensor =>
      r
        .mul(6 + k)
        .add(c.mul(4 - k))
        .add(t.mul(2))
        .mul(Math.PI)
        .sin()
        .mul(c.mul(3).add(k).cos())
        .expand(1, 1, frames, size, size);
    return cat([channel(0), channel(1), channel(2)], 1).mul(0.9);
  });
}

async function real(): Promise<void> {
  const args = process.argv.slice(3);
  const flag = (name: string, fallback: string): string => flagValue(args, name, fallback);
  const dir = path.join(flag('--model-dir', 'outputs/real-size'), 'vae');
  const size = Number(flag('--size', '256'));
  const frames = Number(flag('--frames', '17'));
  const runs = Number(flag('--runs', '3'));
  const dtypes = flag('--dtypes', 'float32,bfloat16').split(',') as DType[];
  const profile = args.includes('--profile') ? profileLayers() : null;
  const input = args.includes('--input') ? flag('--input', '') : null;
  const video = input
    ? await readVideoWindow(input, { numFrames: frames, width: size, height: size, fps: 8, pad: true }).then((w) =>
        framesToTensor(w.frames, size, size),
      )
    : movingPattern(frames, size);
  const GiB = 2 ** 30;
  const results = new Map<DType, { latent: Tensor; decoded: Tensor }>();
  for (const dtype of dtypes) {
    const loadStarted = performance.now();
    const vae = AutoencoderKLWan.fromPretrained(dir, { dtype });
    emptyCache();
    const load = (performance.now() - loadStarted) / 1000;
    const weights = memoryStats().allocatedBytes;
    const x = video.to({ dtype });
    let latent: Tensor | null = null,
      decoded: Tensor | null = null;
    const timed = (f: () => Tensor, keepLast: (t: Tensor) => void): { times: number[]; peak: number } => {
      const times: number[] = [];
      resetPeakMemory();
      for (let r = 0; r < runs; r++) {
        const started = performance.now();
        const out = noGrad(f);
        times.push((performance.now() - started) / 1000);
        if (r === runs - 1) keepLast(out);
        else out.dispose();
      }
      return { times, peak: memoryStats().peakAllocatedBytes - weights };
    };
    profile?.reset();
    const enc = timed(
      () => scope(() => vae.encode(x).mean.float()),
      (t) => (latent = t),
    );
    const encProfile = profile?.report();
    profile?.reset();
    const dec = timed(
      () => scope(() => vae.decode((results.get('float32')?.latent ?? latent!).to({ dtype })).float()),
      (t) => (decoded = t),
    );
    const decProfile = profile?.report();
    results.set(dtype, { latent: latent!, decoded: decoded! });
    const rss = processMemory('self')!;
    console.log(
      JSON.stringify({
        dtype,
        size,
        frames,
        load_s: Number(load.toFixed(2)),
        weights_gib: Number((weights / GiB).toFixed(3)),
        encode_s: enc.times.map((t) => Number(t.toFixed(2))),
        decode_s: dec.times.map((t) => Number(t.toFixed(2))),
        encode_peak_live_gib: Number((enc.peak / GiB).toFixed(3)),
        decode_peak_live_gib: Number((dec.peak / GiB).toFixed(3)),
        rss_gib: Number((rss.rss / GiB).toFixed(2)),
        hwm_gib: Number((rss.hwm / GiB).toFixed(2)),
      }),
    );
    if (encProfile) console.error(`encode, ${dtype}, ${runs} runs:\n${encProfile}\ndecode:\n${decProfile}`);
    vae.dispose();
    emptyCache();
  }
  const f32 = results.get('float32');
  const bf16 = results.get('bfloat16');
  const psnr = (a: Tensor, b: Tensor): number =>
    scope(() => 10 * Math.log10(4 / a.sub(b).square().mean([0, 1, 2, 3, 4]).item())); // range [-1, 1]
  for (const [dtype, r] of results)
    console.log(JSON.stringify({ dtype, reconstruction_psnr_db: scope(() => psnr(r.decoded, video.float())) }));
  if (f32 && bf16) {
    console.log(
      JSON.stringify({
        bf16_vs_f32: {
          latent_rel_l2: relativeL2(bf16.latent, f32.latent),
          decoded_rel_l2: relativeL2(bf16.decoded, f32.decoded),
          decoded_psnr_db: psnr(bf16.decoded, f32.decoded),
          decoded_max_abs: scope(() => bf16.decoded.sub(f32.decoded).abs().amax([0, 1, 2, 3, 4]).item()),
        },
      }),
    );
  }
}

const mode = process.argv[2] ?? 'timing';
if (mode === 'memory') memory();
else if (mode === 'timing') timing();
else if (mode === 'real') await real();
else throw new Error(`usage: node dist/bench/vae.js timing|memory|real (got '${mode}')`);
