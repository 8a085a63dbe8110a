// The prompt-embedding cache: encode once, read back without loading the encoder, keyed by
// (encoder identity, prompt, max length), zero rows past the prompt's length.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { SafetensorsFile, loadAll, saveSafetensors, scope, tensor } from '../../src/torch/index.js';

const maxAbs = (a: number[], b: number[]): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
import { UMT5EncoderModel } from '../../src/models/umt5/model.js';
import {
  PromptEmbeddingCache,
  promptEmbeddings,
  textEncoderIdentity,
  textEncoderStamp,
  promptsCached,
  diffusersTextEncoder,
} from '../../src/models/umt5/prompt_cache.js';
import { assertClose } from '../helpers/assert_close.js';

const PROMPTS = ['Transform it into the first-person perspective.', ''];

function modelRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'prompt-cache-'));
  cpSync('test/fixtures/umt5_tiny', root, { recursive: true });
  return root;
}

test('embeddings are encoded once, stored, and read back without the encoder; rows past the length are zero', () =>
  scope(() => {
    const root = modelRoot();
    try {
      const cacheDir = path.join(root, 'cache');
      const encoded: string[][] = [];
      const first = promptEmbeddings(root, PROMPTS, { cacheDir, maxLength: 16, onEncode: (p) => encoded.push(p) });
      assert.deepEqual(encoded, [PROMPTS]);
      assert.deepEqual(first.shape, [2, 16, 8]);
      // Rows below the length are the encoder's own output for the padded input.
      const model = UMT5EncoderModel.fromPretrained(path.join(root, 'text_encoder'));
      const ids = [4, 5, 6, 7, 8, 10, 11, 12, 13, 1, 0, 0, 0, 0, 0, 0];
      const mask = ids.map((_, i) => (i < 10 ? 1 : 0));
      const raw = model.forward(tensor([ids], { dtype: 'int64' }), tensor([mask], { dtype: 'int64' })).toArray();
      const got = first.toArray();
      assertClose(got.slice(0, 80), raw.slice(0, 80), { atol: 1e-6, what: 'prompt rows' });
      assert.ok(
        got.slice(80, 128).every((v) => v === 0),
        'rows past the prompt are zero',
      );
      assert.ok(
        got.slice(128 + 8).every((v) => v === 0),
        'the empty prompt keeps only its </s> row',
      );
      assert.ok(got.slice(128, 136).some((v) => v !== 0));
      assert.deepEqual(
        readdirSync(cacheDir).filter((f) => !f.endsWith('.safetensors')),
        [],
        'only the embeddings: no temporary files, no digests',
      );

      const again = promptEmbeddings(root, [...PROMPTS].reverse(), {
        cacheDir,
        maxLength: 16,
        onEncode: (p) => encoded.push(p),
      });
      assert.equal(encoded.length, 1, 'second call reads the cache');
      assert.deepEqual(again.toArray(), [...got.slice(128), ...got.slice(0, 128)]);

      promptEmbeddings(root, PROMPTS.slice(0, 1), { cacheDir, maxLength: 12, onEncode: (p) => encoded.push(p) });
      assert.deepEqual(encoded[1], PROMPTS.slice(0, 1), 'another max length is another entry');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }));

test('the identity follows the weights themselves, not their names and sizes; another dtype is another entry', () =>
  scope(() => {
    const root = modelRoot();
    try {
      const te = path.join(root, 'text_encoder');
      const cacheDir = path.join(root, 'cache');
      const encoded: string[][] = [];
      const first = promptEmbeddings(root, PROMPTS, {
        cacheDir,
        maxLength: 16,
        dtype: 'float32',
        onEncode: (p) => encoded.push(p),
      }).toArray();
      // same file name, same size, same header: only the values differ
      const file = path.join(te, 'model.safetensors');
      const weights = loadAll(SafetensorsFile.open(file));
      const scaled = new Map([...weights].map(([k, t]) => [k, k === 'shared.weight' ? t.mul(2) : t]));
      const size = statSync(file).size;
      saveSafetensors(file, scaled, SafetensorsFile.open(file).metadata);
      assert.equal(statSync(file).size, size);
      const second = promptEmbeddings(root, PROMPTS, {
        cacheDir,
        maxLength: 16,
        dtype: 'float32',
        onEncode: (p) => encoded.push(p),
      }).toArray();
      assert.equal(encoded.length, 2, 'new weights are encoded again');
      assert.ok(maxAbs(first, second) > 1e-3, 'and give other embeddings');
      promptEmbeddings(root, PROMPTS, { cacheDir, maxLength: 16, dtype: 'float32', onEncode: (p) => encoded.push(p) });
      assert.equal(encoded.length, 2, 'unchanged weights are read from the cache');
      const bf16 = promptEmbeddings(root, PROMPTS, {
        cacheDir,
        maxLength: 16,
        dtype: 'bfloat16',
        onEncode: (p) => encoded.push(p),
      });
      assert.equal(encoded.length, 3, 'another dtype is encoded again');
      assert.equal(bf16.dtype, 'bfloat16');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }));

test('the key includes the encoder identity; a file holding another key is refused', () =>
  scope(() => {
    const root = modelRoot();
    try {
      const te = path.join(root, 'text_encoder');
      const files = diffusersTextEncoder(root);
      const before = textEncoderIdentity(files);
      const config = JSON.parse(readFileSync(path.join(te, 'config.json'), 'utf8'));
      writeFileSync(path.join(te, 'config.json'), JSON.stringify({ ...config, layer_norm_epsilon: 1e-5 }));
      assert.notEqual(textEncoderIdentity(files), before);

      const cache = new PromptEmbeddingCache(path.join(root, 'cache'));
      const key = { encoder: before, dtype: 'float32' as const, prompt: 'a', maxLength: 4 };
      cache.put(
        key,
        tensor([
          [1, 2],
          [3, 4],
          [0, 0],
          [0, 0],
        ]),
        2,
      );
      assert.deepEqual(cache.get(key)!.toArray(), [1, 2, 3, 4, 0, 0, 0, 0]);
      assert.equal(cache.get({ ...key, prompt: 'b' }), null);
      saveSafetensors(
        cache.fileFor(key),
        { prompt_embeds: tensor([[1, 2]]) },
        { encoder: before, dtype: 'float32', prompt: 'other', max_length: '4' },
      );
      assert.throws(() => cache.get(key), /cached embedding is for .*"prompt":"other"/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }));

test('worldwander encode-prompts fills the cache with the task prompts and then finds them cached', async () => {
  const { main } = await import('../../src/cli/main.js');
  const { ALL_PROMPTS: TASK_PROMPTS } = await import('../../src/worldwander/prompts.js');
  const root = modelRoot();
  const logged: string[] = [];
  const log = console.log;
  console.log = (line: string) => void logged.push(line);
  try {
    const cacheDir = path.join(root, 'pe');
    assert.equal(
      await main([
        'encode-prompts',
        '--model-dir',
        root,
        '--cache-dir',
        cacheDir,
        '--max-length',
        '16',
        '--dtype',
        'float32',
      ]),
      0,
    );
    assert.equal(
      await main([
        'encode-prompts',
        '--model-dir',
        root,
        '--cache-dir',
        cacheDir,
        '--max-length',
        '16',
        '--dtype',
        'float32',
      ]),
      0,
    );
    assert.match(logged[0]!, /3 prompt\(s\) in .*: 3 encoded, 0 already cached/);
    assert.match(logged[1 + TASK_PROMPTS.length]!, /0 encoded, 3 already cached/);
    assert.equal(readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors')).length, 3);
    const errors: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (errors.push(chunk), true)) as typeof process.stderr.write;
    try {
      assert.equal(await main(['encode-prompts', '--model-dir', root, '--dtype', 'int8']), 2);
    } finally {
      process.stderr.write = write;
    }
    assert.match(errors.join(''), /--dtype <dtype>' argument 'int8' is invalid. Allowed choices are bfloat16, float32/);
  } finally {
    console.log = log;
    rmSync(root, { recursive: true, force: true });
  }
});

test("with the encoder's stamp known, cached prompts are read with its weights gone; a prompt not cached is one sentence naming the weights", () =>
  scope(() => {
    const root = modelRoot();
    try {
      const cacheDir = path.join(root, 'cache');
      const files = diffusersTextEncoder(root);
      const stamp = textEncoderStamp(files);
      const before = promptEmbeddings(files, PROMPTS, { cacheDir, maxLength: 16 }).toArray();
      rmSync(files.weights, { recursive: true });
      assert.deepEqual(promptEmbeddings(files, PROMPTS, { cacheDir, maxLength: 16, stamp }).toArray(), before);
      assert.ok(promptsCached(stamp, PROMPTS, { cacheDir, maxLength: 16 }));
      assert.ok(!promptsCached(stamp, ['another prompt'], { cacheDir, maxLength: 16 }));
      assert.throws(
        () => promptEmbeddings(files, ['another prompt'], { cacheDir, maxLength: 16, stamp }),
        (e: Error) =>
          e.message ===
          `the text encoder ${files.weights} is not there to embed "another prompt" (not in the prompt cache ${cacheDir}): download it (worldwander download), or encode the prompts where it is (worldwander encode-prompts)`,
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }));
