// The release's translation in FLOPs (Wan2.2-TI2V-5B, three2one at 704x1280x49: two views of
// 13x44x80 latents, 512 text tokens, 50 UniPC steps, guidance 5 in one batched forward), what that
// implies on a GPU, and the report of a GPU run (scripts/gpu-real-size.sh): seconds per stage,
// peak GPU memory, model FLOP utilisation (MFU).
//
//   node dist/bench/release_flops.js                       the budget
//   node dist/bench/release_flops.js --run CASE_DIR --gpu-memory CSV [--peak-tflops 989] [--steps 50]
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { WAN22_TI2V_5B } from '../src/models/wan/transformer_config.js';
import { forwardFlops } from './flops.js';
import { flagValue } from './stats.js';

/**
 * The VAE's convolution FLOPs at 256x256, counted by `node dist/bench/vae.js real --profile` on the
 * real config (every conv call's output size x its kernel's multiply-adds x 2): the first chunk
 * (one latent frame) and each later chunk (4 video frames, one latent frame). They scale with the
 * pixels exactly: every conv keeps or doubles the spatial size.
 */
const VAE_AT_256 = { encode: { first: 0.3e12, chunk: 0.915e12 }, decode: { first: 1.49e12, chunk: 4.82e12 } };

export interface ReleaseBudget {
  tokens: number;
  forward: number;
  step: number;
  denoise: number;
  encode: number;
  decode: number;
  decodeTiled: number;
  total: number;
}

/** FLOPs of one translation (the pipeline decodes in 32x32-latent tiles at stride 24 above 64x64 latents). */
export function releaseBudget({
  height = 704,
  width = 1280,
  frames = 49,
  steps = 50,
  guidanceBatch = 2,
} = {}): ReleaseBudget {
  const latent = { f: 1 + (frames - 1) / 4, h: height / 16, w: width / 16 };
  const perView = (latent.f * latent.h * latent.w) / 4;
  const forward = forwardFlops(WAN22_TI2V_5B, 2 * perView, perView, 512);
  const step = guidanceBatch * forward;
  const pixels = (height * width) / (256 * 256);
  const chunks = latent.f - 1;
  const encode = pixels * (VAE_AT_256.encode.first + chunks * VAE_AT_256.encode.chunk);
  const perDecode = VAE_AT_256.decode.first + chunks * VAE_AT_256.decode.chunk;
  const decode = pixels * perDecode;
  const starts = (size: number): number => Math.max(1, Math.ceil((size - 32) / 24) + 1);
  const tiles = latent.h * latent.w > 64 * 64 ? starts(latent.h) * starts(latent.w) : 0;
  const decodeTiled = tiles ? tiles * ((32 * 16 * 32 * 16) / (256 * 256)) * perDecode : decode;
  return {
    tokens: 2 * perView,
    forward,
    step,
    denoise: steps * step,
    encode,
    decode,
    decodeTiled,
    total: steps * step + encode + decodeTiled,
  };
}

const T = (flops: number): string => `${(flops / 1e12).toFixed(1)} TFLOP`;

function main(): void {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => flagValue(args, name);
  const steps = Number(flag('--steps') ?? 50);
  const peak = Number(flag('--peak-tflops') ?? 989) * 1e12; // H100/H200 SXM, dense bf16
  const b = releaseBudget({ steps });
  const run = flag('--run');
  if (!run) {
    console.log(
      `tokens ${b.tokens}; one forward ${T(b.forward)}; a guided step ${T(b.step)}; ${steps} steps ${T(b.denoise)}`,
    );
    console.log(`VAE encode ${T(b.encode)}; decode ${T(b.decode)} (${T(b.decodeTiled)} in the pipeline's tiles)`);
    for (const mfu of [0.3, 0.4, 0.6])
      console.log(`at ${mfu * 100}% of ${peak / 1e12} TFLOP/s: ${(b.total / (mfu * peak)).toFixed(0)} s in all`);
    return;
  }
  const record = JSON.parse(readFileSync(path.join(run, 'run.json'), 'utf8')) as {
    seconds: Record<string, number>;
    settings?: { steps: number };
  };
  const memory = flag('--gpu-memory');
  const mib = memory
    ? Math.max(
        ...readFileSync(memory, 'utf8')
          .split('\n')
          .map(Number)
          .filter((n) => Number.isFinite(n) && n > 0),
      )
    : NaN;
  const s = record.seconds;
  console.log(
    JSON.stringify({
      seconds: s,
      peak_gpu_memory_gib: Number((mib / 1024).toFixed(2)),
      mfu_denoise: Number((b.denoise / s.denoise! / peak).toFixed(3)),
      mfu_decode: Number((b.decodeTiled / s.decode! / peak).toFixed(3)),
      mfu_translation: Number((b.total / (s.encode! + s.denoise! + s.decode!) / peak).toFixed(3)),
    }),
  );
}

if (process.argv[1]?.endsWith('release_flops.js')) main();
