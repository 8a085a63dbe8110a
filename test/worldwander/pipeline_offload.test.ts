// What the pipeline holds in memory between stages (offload, pipeline_parts.ts) and the
// transformer's fp8 weights, on the tiny model folder: one part at a time with 'model', the same
// frames as with both kept; the prompt embeddings made before any part loads; a LoRA that does not
// fit refused before any stage; 'auto' against the real sizes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { Generator, itemSize, memoryStats, randn, saveSafetensors } from '../../src/torch/index.js';
import { Linear, type Module } from '../../src/nn/index.js';
import { WorldWanderPipeline } from '../../src/worldwander/pipeline.js';
import { autoOffload, partBytes } from '../../src/worldwander/pipeline_parts.js';
import { partCounts } from '../../src/worldwander/model_parts.js';
import { WAN22_TI2V_5B } from '../../src/models/wan/transformer_config.js';
import { WAN22_TI2V_5B_VAE } from '../../src/models/wan/vae_config.js';
import { RELEASE_EXAMPLES } from '../helpers/release_examples.js';

const MODEL = 'test/fixtures/tiny_model';
const VIDEO = path.join(RELEASE_EXAMPLES, 'Third_Video', 'case1');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-offload-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const same = (a: Uint8Array[], b: Uint8Array[]): boolean =>
  a.length === b.length && a.every((f, i) => Buffer.from(f).equals(Buffer.from(b[i]!)));

test("offload 'model': one part in memory at a time, loaded when its stage starts; the same frames as offload 'none'", async () => {
  const cacheDir = path.join(scratch, 'prompts-model');
  using kept = WorldWanderPipeline.fromPretrained(MODEL, { promptCacheDir: path.join(scratch, 'prompts-none') });
  assert.deepEqual(kept.parts.loaded, ['transformer', 'vae']);
  const expected = await kept.three2one({ video: VIDEO, seed: 3, numInferenceSteps: 2 });
  assert.equal(expected.timings.load, undefined, 'nothing loaded during the call');

  using pipeline = WorldWanderPipeline.fromPretrained(MODEL, { promptCacheDir: cacheDir, offload: 'model' });
  // the prompts of both tasks and the empty one were made (the text encoder ran and left) before any part loaded
  assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors')).length, 3);
  assert.deepEqual(pipeline.parts.loaded, []);
  const during: string[][] = [];
  const got = await pipeline.three2one({
    video: VIDEO,
    seed: 3,
    numInferenceSteps: 2,
    onStep: () => during.push(pipeline.parts.loaded),
  });
  assert.deepEqual(during, [['transformer'], ['transformer']], 'denoising: the transformer alone');
  assert.deepEqual(pipeline.parts.loaded, ['vae'], 'after decoding: the VAE alone');
  assert.ok(got.timings.load! > 0, 'the loads are timed apart from the stages');
  assert.ok(same(got.frames, expected.frames), 'the same frames');
  // a second translation loads what it needs again, and gives the same frames
  const again = await pipeline.three2one({ video: VIDEO, seed: 3, numInferenceSteps: 2 });
  assert.ok(same(again.frames, expected.frames));
});

test("a released part's memory is freed: the transformer's weights leave when the VAE loads (live tensor bytes)", async () => {
  using pipeline = WorldWanderPipeline.fromPretrained(MODEL, {
    promptCacheDir: path.join(scratch, 'prompts-release'),
    offload: 'model',
  });
  // the engine's allocator counts blocks rounded up to 64 bytes (4 KiB from 64 KiB on: native/src/cpu_allocator.cc)
  const block = (n: number): number => (n < 65536 ? Math.ceil(Math.max(n, 1) / 64) * 64 : Math.ceil(n / 4096) * 4096);
  const bytes = (m: Module): number =>
    [...m.parameters(), ...[...m.namedBuffers()].map(([, b]) => b)].reduce(
      (n, p) => n + block(p.numel() * itemSize[p.dtype]),
      0,
    );
  const before = memoryStats().allocatedBytes;
  const transformer = pipeline.transformer;
  const weight = transformer.blocks.at(0).attn1.to_q.weight;
  assert.equal(memoryStats().allocatedBytes - before, bytes(transformer), 'the transformer, once in memory');
  assert.equal(weight.disposed, false);
  const vae = pipeline.vae;
  assert.equal(weight.disposed, true);
  assert.deepEqual(pipeline.parts.loaded, ['vae']);
  assert.equal(memoryStats().allocatedBytes - before, bytes(vae), "the VAE's bytes alone: the transformer's are freed");
});

test("a LoRA that does not fit is refused by fromPretrained with offload 'model', before any stage", () => {
  const wrong = path.join(scratch, 'wrong.safetensors');
  saveSafetensors(wrong, {
    'transformer.blocks.0.attn1.to_q.lora_A.weight': randn([4, 3072], new Generator(1)),
    'transformer.blocks.0.attn1.to_q.lora_B.weight': randn([3072, 4], new Generator(2)),
  });
  assert.throws(
    () =>
      WorldWanderPipeline.fromPretrained(MODEL, {
        promptCacheDir: path.join(scratch, 'prompts-lora'),
        offload: 'model',
        lora: wrong,
      }),
    /wrong\.safetensors: LoRA weights do not match the model:\n\s+transformer\.blocks\.0\.attn1\.to_q\.lora_A\.weight: expected \[4, 24\], got \[4, 3072\]/,
  );
});

test("weightsDtype 'fp8': the transformer's block linears stored in fp8; a translation runs, near the float32 one", async () => {
  using plain = WorldWanderPipeline.fromPretrained(MODEL, { promptCacheDir: path.join(scratch, 'prompts-fp8') });
  using fp8 = WorldWanderPipeline.fromPretrained(MODEL, {
    promptCacheDir: path.join(scratch, 'prompts-fp8'),
    weightsDtype: 'fp8',
  });
  const linears = [...fp8.transformer.blocks.namedModules()].filter(([, m]) => m instanceof Linear);
  assert.ok(linears.length > 0 && linears.every(([, m]) => (m as Linear).storage === 'fp8'));
  assert.equal(fp8.transformer.proj_out.storage, null, 'outside the blocks: as loaded');
  const a = await plain.three2one({ video: VIDEO, seed: 4, numInferenceSteps: 2 });
  const b = await fp8.three2one({ video: VIDEO, seed: 4, numInferenceSteps: 2 });
  let sum = 0,
    n = 0;
  a.frames.forEach((f, i) => f.forEach((v, j) => ((sum += Math.abs(v - b.frames[i]![j]!)), n++)));
  assert.ok(sum / n < 1, `mean |difference| ${(sum / n).toFixed(2)} of 255`);
  assert.ok(!same(a.frames, b.frames), 'fp8 weights change the frames a little');
});

test("'auto' offload: 'model' on a CPU when the 5B model's parts would fill over a quarter of the memory", () => {
  const counts = partCounts(WAN22_TI2V_5B, WAN22_TI2V_5B_VAE);
  assert.deepEqual(counts, { transformer: 4_999_787_712, vae: 704_688_668 });
  const bf16 = partBytes(counts, { dtype: 'bfloat16' });
  const fp8 = partBytes(counts, { dtype: 'bfloat16', weightsDtype: 'fp8' });
  assert.equal(bf16, counts.transformer * 2 + counts.vae * 4);
  assert.equal(fp8, counts.transformer + counts.vae * 4);
  const gib = 1024 ** 3;
  assert.equal(autoOffload(bf16, 'cpu', 24 * gib), 'model');
  assert.equal(autoOffload(fp8, 'cpu', 24 * gib), 'model');
  assert.equal(autoOffload(bf16, 'cpu', 64 * gib), 'none');
  assert.equal(autoOffload(bf16, 'cuda', 24 * gib), 'none');
  assert.ok(existsSync(MODEL));
});
