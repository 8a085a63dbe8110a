// Transformer speed and memory on this machine: forward and LoRA forward+backward of a small
// config (6 layers, dim 512, two 1024-token views in context, 512 text tokens), FLOPs counted,
// and peak resident memory of one training step with and without gradient checkpointing
// (each measured in a fresh child process: VmHWM − RSS before the step).
//   node dist/bench/transformer.js            all measurements, median of 3
//   node dist/bench/transformer.js --memory plain|checkpoint
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { Generator, mseLoss, noGrad, randn, scope, type Tensor } from '../src/torch/index.js';
import { WanTransformer3DModel } from '../src/models/wan/transformer.js';
import { buildInContextInputs } from '../src/worldwander/in_context.js';
import type { WanTransformerConfig } from '../src/models/wan/transformer_config.js';
import { forwardFlops } from './flops.js';
import { median, timeIt } from './stats.js';

const CONFIG: WanTransformerConfig = {
  patch_size: [1, 2, 2],
  num_attention_heads: 4,
  attention_head_dim: 128,
  in_channels: 48,
  out_channels: 48,
  text_dim: 4096,
  freq_dim: 256,
  ffn_dim: 2048,
  num_layers: 6,
  cross_attn_norm: true,
  qk_norm: 'rms_norm_across_heads',
  eps: 1e-6,
  rope_max_seq_len: 1024,
};
const FRAMES = 4,
  H = 32,
  W = 32,
  TEXT = 512,
  RANK = 16;

function setup() {
  const model = new WanTransformer3DModel(CONFIG, { generator: new Generator(0) });
  model.attachLora({ rank: RANK, generator: new Generator(1) });
  const g = new Generator(2);
  const inputs = buildInContextInputs({
    target: randn([1, 48, FRAMES, H, W], g),
    condition: randn([1, 48, FRAMES, H, W], g),
    timestep: 500,
    encoderHiddenStates: randn([1, TEXT, 4096], g),
    useCollaborativePositionEncoding: true,
  });
  const velocity = randn([1, 48, FRAMES, H, W], g);
  const loss = (sample: Tensor) => mseLoss(sample, velocity);
  return { model, inputs, loss };
}

function time(fn: () => void, runs = 3): number {
  fn(); // warm-up
  return median(Array.from({ length: runs }, () => timeIt(fn)));
}

function statusKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(m?.[1] ?? NaN);
}

function memory(mode: 'plain' | 'checkpoint'): void {
  const { model, inputs, loss } = setup();
  const before = statusKb('VmRSS');
  model.forwardBackward(inputs, loss, { checkpoint: mode === 'checkpoint' });
  console.log(
    JSON.stringify({ mode, peakAboveStartMiB: (statusKb('VmHWM') - before) / 1024, peakMiB: statusKb('VmHWM') / 1024 }),
  );
}

function main(): void {
  const arg = process.argv.indexOf('--memory');
  if (arg >= 0) return memory(process.argv[arg + 1] === 'checkpoint' ? 'checkpoint' : 'plain');
  const { model, inputs, loss } = setup();
  const S = 2 * FRAMES * (H / 2) * (W / 2),
    St = S / 2;
  const flops = forwardFlops(CONFIG, S, St, TEXT);
  const fwd = time(() =>
    scope(() => {
      noGrad(() => model.forward(inputs));
    }),
  );
  const step = (checkpoint: boolean) =>
    time(() =>
      scope(() => {
        model.forwardBackward(inputs, loss, { checkpoint });
        for (const [, p] of model.trainableParameters()) p.grad = null;
      }),
    );
  // Inference in bfloat16 (the real model's dtype; the fp32-kept parts stay fp32).
  const bf16Model = new WanTransformer3DModel(CONFIG, { generator: new Generator(0), dtype: 'bfloat16' });
  const fwdBf16 = time(() =>
    scope(() => {
      noGrad(() => bf16Model.forward(inputs));
    }),
  );
  bf16Model.dispose();
  const plain = step(false);
  const ckpt = step(true);
  const self = fileURLToPath(import.meta.url);
  const mem = (mode: string) =>
    JSON.parse(
      execFileSync(process.execPath, [self, '--memory', mode], { encoding: 'utf8' }).trim().split('\n').pop()!,
    ) as { peakAboveStartMiB: number };
  const memPlain = mem('plain'),
    memCkpt = mem('checkpoint');
  const gf = (f: number, s: number) => (f / s / 1e9).toFixed(1);
  console.log(
    `config: ${CONFIG.num_layers} layers, dim ${CONFIG.num_attention_heads * CONFIG.attention_head_dim}, ffn ${CONFIG.ffn_dim}, ${S} tokens (2 x ${St}), ${TEXT} text tokens, LoRA rank ${RANK}, float32`,
  );
  console.log(`forward FLOPs: ${(flops / 1e9).toFixed(1)} GFLOP`);
  console.log(`forward (no grad):            ${fwd.toFixed(2)} s  ${gf(flops, fwd)} GFLOP/s`);
  console.log(`forward, bfloat16 (no grad):  ${fwdBf16.toFixed(2)} s  ${gf(flops, fwdBf16)} GFLOP/s`);
  console.log(
    `forward+backward (LoRA):      ${plain.toFixed(2)} s  ${gf(2 * flops, plain)} GFLOP/s (counting backward = forward: activation gradients only, base frozen)`,
  );
  console.log(
    `  with checkpointing:         ${ckpt.toFixed(2)} s  ${gf(3 * flops, ckpt)} GFLOP/s (counting the recomputed forward)`,
  );
  console.log(
    `peak RSS above start, one step: plain ${memPlain.peakAboveStartMiB.toFixed(0)} MiB, checkpointed ${memCkpt.peakAboveStartMiB.toFixed(0)} MiB`,
  );
}

main();
