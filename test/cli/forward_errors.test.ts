// `worldwander forward` refuses what it cannot use before loading a model, says so in one or two
// lines naming the file, key or value, and exits 2 (the command line) or 1 (the run).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { Generator, SafetensorsFile, full, loadAll, randn, saveSafetensors, tensor } from '../../src/torch/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'bin', 'worldwander.js');
const VAE = path.join(root, 'test/fixtures/vae_tiny');
const TEXT = path.join(root, 'test/fixtures/umt5_tiny/text_encoder');
const scratch = mkdtempSync(path.join(tmpdir(), 'forward-errors-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

function run(args: string[], env: Record<string, string> = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function inputs(name: string, tensors: Record<string, ReturnType<typeof tensor>>): string {
  const file = path.join(scratch, name);
  saveSafetensors(file, tensors);
  return file;
}

const video = randn([1, 3, 5, 16, 16], new Generator(1)).clamp(-1, 1);
const ids = tensor([[4, 5, 6, 1, 0, 0]], { dtype: 'int64' });
const mask = tensor([[1, 1, 1, 1, 0, 0]], { dtype: 'int64' });

/** One or two lines, naming what is wrong, without a stack trace. */
function assertClean(stderr: string, pattern: RegExp): void {
  assert.match(stderr, pattern);
  assert.ok(!/^\s+at /m.test(stderr), `a stack trace was printed:\n${stderr}`);
  assert.ok(
    stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('loading ')).length <= 2,
    `more than two lines:\n${stderr}`,
  );
}

test('every target rejects unknown input names (a misspelt attention_masks is named, not ignored)', () => {
  const file = inputs('typo.safetensors', { input_ids: ids, attention_masks: mask });
  const r = run([
    'forward',
    'text-encoder',
    '--model-dir',
    TEXT,
    '--inputs',
    file,
    '--out',
    path.join(scratch, 'o.safetensors'),
  ]);
  assert.equal(r.status, 1);
  assertClean(
    r.stderr,
    /text-encoder: unknown input 'attention_masks' \(inputs of text-encoder: input_ids, attention_mask\?\)/,
  );
  assert.ok(!existsSync(path.join(scratch, 'o.safetensors')));
});

test('integer or boolean tensors where floats are expected, and the reverse, are refused by name', () => {
  const out = path.join(scratch, 'o.safetensors');
  const ints = run([
    'forward',
    'vae-encode',
    '--model-dir',
    VAE,
    '--inputs',
    inputs('int-video.safetensors', { video: full([1, 3, 5, 16, 16], 0, { dtype: 'int64' }) }),
    '--out',
    out,
  ]);
  assert.equal(ints.status, 1);
  assertClean(ints.stderr, /'video' holds int64 values; expected floating point \[B, 3, F, H, W\]/);
  const floats = run([
    'forward',
    'text-encoder',
    '--model-dir',
    TEXT,
    '--inputs',
    inputs('float-ids.safetensors', { input_ids: ids.float() }),
    '--out',
    out,
  ]);
  assert.equal(floats.status, 1);
  assertClean(floats.stderr, /'input_ids' holds float32 values; expected integers \[B, L\]/);
  const bools = run([
    'forward',
    'vae-decode',
    '--model-dir',
    VAE,
    '--inputs',
    inputs('bool-latent.safetensors', { latent: full([1, 2, 3, 2, 2], 1, { dtype: 'bool' }) }),
    '--out',
    out,
  ]);
  assert.equal(bools.status, 1);
  assertClean(bools.stderr, /'latent' holds bool values; expected floating point/);
});

test('a weight file holding integers for float parameters is refused, naming the key', () => {
  const dir = path.join(scratch, 'int-vae');
  cpSync(VAE, dir, { recursive: true });
  const shard = path.join(dir, 'diffusion_pytorch_model-00001-of-00002.safetensors');
  const weights = loadAll(SafetensorsFile.open(shard));
  const key = [...weights.keys()].find((k) => k.endsWith('.weight'))!;
  weights.set(key, weights.get(key)!.round().to({ dtype: 'int32' }));
  saveSafetensors(shard, weights);
  const r = run([
    'forward',
    'vae-encode',
    '--model-dir',
    dir,
    '--inputs',
    inputs('video.safetensors', { video }),
    '--out',
    path.join(scratch, 'o.safetensors'),
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${key.replace(/\./g, '\\.')}: holds int32 values, the parameter is float32`));
});

test('NaN or infinite values in the inputs and outputs are warned about', () => {
  const latent = randn([1, 2, 3, 2, 2], new Generator(3));
  const bad = latent.clone();
  bad.select(2, 1).fill_(Number.NaN);
  const r = run([
    'forward',
    'vae-decode',
    '--model-dir',
    VAE,
    '--inputs',
    inputs('nan.safetensors', { latent: bad }),
    '--out',
    path.join(scratch, 'nan-out.safetensors'),
  ]);
  assert.equal(r.status, 0);
  assert.match(r.stderr, /warning: input 'latent' of .*nan\.safetensors holds NaN or infinite values/);
  assert.match(r.stderr, /warning: output 'video' holds NaN or infinite values/);
  const clean = run([
    'forward',
    'vae-decode',
    '--model-dir',
    VAE,
    '--inputs',
    inputs('finite.safetensors', { latent }),
    '--out',
    path.join(scratch, 'finite-out.safetensors'),
  ]);
  assert.equal(clean.status, 0);
  assert.ok(!/warning/.test(clean.stderr));
});

test('outputs are checked before any work: a folder, a missing or unwritable parent, an empty path, the inputs file', () => {
  const file = inputs('video-in.safetensors', { video });
  // The model folder does not exist: a refusal about --out proves the check ran first.
  const nowhere = path.join(scratch, 'no-model-here');
  const cases: [string, RegExp][] = [
    [scratch, /--out: .* is a folder; give a file name inside it/],
    [path.join(scratch, 'missing', 'o.safetensors'), /--out: the folder .*missing does not exist/],
    [file, /--out: .*video-in\.safetensors is also an input; writing it would destroy the input/],
    ['', /option '--out <file>' argument '' is invalid\. expected a path, got an empty string/],
  ];
  for (const [out, pattern] of cases) {
    const r = run(['forward', 'vae-encode', '--model-dir', nowhere, '--inputs', file, '--out', out]);
    assert.equal(r.status, 2, out);
    assertClean(r.stderr, pattern);
  }
  assert.ok(readFileSync(file).length > 0, 'the inputs file is intact');
  // A folder where files cannot be created: a read-only mount (root ignores permission bits).
  const locked = path.join(scratch, 'locked');
  mkdirSync(locked);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', locked]).status === 0;
  if (!mounted && process.getuid?.() === 0) {
    console.log('# notice: cannot mount a read-only tmpfs here; the unwritable-folder case is not exercised');
    return;
  }
  if (!mounted) execFileSync('chmod', ['555', locked]);
  try {
    const r = run([
      'forward',
      'vae-encode',
      '--model-dir',
      nowhere,
      '--inputs',
      file,
      '--out',
      path.join(locked, 'o.safetensors'),
    ]);
    assert.equal(r.status, 2);
    assertClean(r.stderr, /--out: cannot create files in .*locked \((EROFS|EACCES)\)/);
  } finally {
    if (mounted) spawnSync('umount', [locked]);
  }
});

test('clean one-line errors with exit 1 for runtime faults; a stack trace only with --debug', () => {
  const out = path.join(scratch, 'o.safetensors');
  // libtorch's own error (an embedding index past the vocabulary) is reported as one line.
  const outOfVocab = inputs('oov.safetensors', { input_ids: tensor([[4, 5, 100000]], { dtype: 'int64' }) });
  const r = run(['forward', 'text-encoder', '--model-dir', TEXT, '--inputs', outOfVocab, '--out', out]);
  assert.equal(r.status, 1);
  assertClean(r.stderr, /worldwander forward: .*index out of range/i);
  const debug = run(['forward', 'text-encoder', '--model-dir', TEXT, '--inputs', outOfVocab, '--out', out, '--debug']);
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /^\s+at /m, 'a stack trace with --debug');
  const env = run(['forward', 'text-encoder', '--model-dir', TEXT, '--inputs', outOfVocab, '--out', out], {
    WORLDWANDER_DEBUG: '1',
  });
  assert.match(env.stderr, /^\s+at /m, 'a stack trace with WORLDWANDER_DEBUG=1');
  // A device this libtorch cannot use.
  const cuda = run([
    'forward',
    'vae-encode',
    '--model-dir',
    VAE,
    '--inputs',
    inputs('v2.safetensors', { video }),
    '--out',
    out,
    '--device',
    'cuda',
  ]);
  assert.equal(cuda.status, 2);
  assertClean(cuda.stderr, /--device: 'cuda': this libtorch \(.*\) has no CUDA/);
  // Odd sizes: a message about the size, not a raw conversion error.
  const odd = inputs('odd.safetensors', { video: randn([1, 3, 5, 12, 20], new Generator(4)) });
  const sized = run(['forward', 'vae-encode', '--model-dir', VAE, '--inputs', odd, '--out', out]);
  assert.equal(sized.status, 1);
  assertClean(sized.stderr, /height 12 and width 20 must be multiples of 8/);
  // A missing inputs file names itself.
  const missing = run([
    'forward',
    'vae-encode',
    '--model-dir',
    VAE,
    '--inputs',
    path.join(scratch, 'nope.safetensors'),
    '--out',
    out,
  ]);
  assert.equal(missing.status, 1);
  assertClean(missing.stderr, /nope\.safetensors: cannot open/);
  assert.deepEqual(
    readdirSync(scratch).filter((f) => /\.tmp-\d+$/.test(f)),
    [],
    'no temporary file left behind',
  );
});
