// The CLI's third hardening pass (docs/cli.md, "What you see when something is wrong"): nothing a
// user has is replaced or written into silently, bad input is an error naming it, and the
// message names the flag that was typed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { encodePng } from '../../src/data/png.js';
import { synthesize } from '../../src/synth/run.js';
import { repoRoot, RELEASE_CONFIGS } from '../helpers/release_examples.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const CKPT = path.join(repoRoot, 'test', 'fixtures', 'ckpt');
const MODEL = path.join(repoRoot, 'test', 'fixtures', 'tiny_model');
const RELEASE_CONFIG = path.join(RELEASE_CONFIGS, 'wan2-2_lora_three2one_synthetic.yaml');
const scratch = mkdtempSync(path.join(tmpdir(), 'hardening-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const data = path.join(scratch, 'data');
const ready = synthesize({ out: data, count: 2, width: 64, height: 32, frames: 5, fps: 8, seed: 5, format: 'png' });

const INFER_ON_DATA = ['infer', '--config', RELEASE_CONFIG, '--model-dir', MODEL, '--input', data];

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('convert-ckpt does not replace an existing file unless --overwrite says so', () => {
  const existing = path.join(scratch, 'existing.txt');
  writeFileSync(existing, "the user's notes");
  const refused = run(['convert-ckpt', path.join(CKPT, 'release_shaped.ckpt'), existing]);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /<output>: .*existing\.txt exists; give another name, or --overwrite to replace it/);
  assert.equal(readFileSync(existing, 'utf8'), "the user's notes");
  const replaced = run(['convert-ckpt', '--overwrite', path.join(CKPT, 'release_shaped.ckpt'), existing]);
  assert.equal(replaced.status, 0, replaced.stderr);
  assert.match(replaced.stdout, /LoRA tensors, rank 4/);
});

test('convert-ckpt refuses a LoRA dict with a pickled call where a tensor should be, naming the key, and writes nothing', () => {
  const output = path.join(scratch, 'call.safetensors');
  const r = run(['convert-ckpt', path.join(CKPT, 'call_in_lora_dict.ckpt'), output]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /call_in_lora_dict\.ckpt: state_dict\.lora\.blocks\.0\.attn1\.to_k\.lora_A\.default\.weight is a call of posix\.system \(not run\), not a tensor/,
  );
  assert.ok(!existsSync(output));
});

test("infer: --frames 6 is refused as --frames with the VAE's rule (the tiny model's 2k+1), before the model loads", async () => {
  await ready;
  const r = run([
    'infer',
    '--config',
    RELEASE_CONFIG,
    '--model-dir',
    MODEL,
    '--input',
    data,
    '--output',
    path.join(scratch, 'f6'),
    '--frames',
    '6',
    '--height',
    '32',
    '--width',
    '64',
  ]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /worldwander infer: --frames: must be 2k\+1 \(1, 3, 5, …: the VAE's 2x temporal compression\), got 6/,
  );
  assert.ok(!/loading /.test(r.stderr), 'nothing was loaded');
});

test('an output equal to, inside or holding an input is exit 2 and touches nothing (infer even with --overwrite, eval, train)', async () => {
  await ready;
  const before = readFileSync(path.join(data, 'manifest.json'), 'utf8');
  const infer = (output: string) =>
    run([...INFER_ON_DATA, '--output', output, '--overwrite', '--frames', '5', '--height', '32', '--width', '64']);
  for (const [output, pattern] of [
    [data, /is the input/],
    [path.join(data, 'First_Video'), /is inside the input/],
    [scratch, /holds the input/],
  ] as const) {
    const r = infer(output);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`--output: ${output} ${pattern.source}`));
  }
  // eval --output at the ground truth, where the user keeps a report.md of their own
  writeFileSync(path.join(data, 'report.md'), 'my notes');
  const e = run([
    'eval',
    '--task',
    'three2one',
    '--predictions',
    data,
    '--ground-truth',
    data,
    '--output',
    data,
    '--no-perception',
  ]);
  assert.equal(e.status, 2, e.stderr);
  assert.match(e.stderr, /--output: .* is the input/);
  assert.equal(readFileSync(path.join(data, 'report.md'), 'utf8'), 'my notes');
  rmSync(path.join(data, 'report.md'));
  const t = run([
    'train',
    '--config',
    path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'),
    '--output',
    path.join(data, 'First_Video', 'run'),
    `dataset.first_video_root=${data}/First_Video`,
    `dataset.third_video_root=${data}/Third_Video`,
  ]);
  assert.equal(t.status, 2, t.stderr);
  assert.match(t.stderr, /--output: .*run is inside the input/);
  assert.ok(!existsSync(path.join(data, 'First_Video', 'run')), 'no folder was made in the dataset');
  assert.equal(readFileSync(path.join(data, 'manifest.json'), 'utf8'), before);
});

test('an output that cannot be written (a file, a read-only parent) is exit 2 before any work, in train, eval and demo', async () => {
  await ready;
  const file = path.join(scratch, 'a-file');
  writeFileSync(file, 'x');
  const cases: string[][] = [
    [
      'train',
      '--config',
      path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'),
      '--output',
      file,
      `dataset.first_video_root=${data}/First_Video`,
      `dataset.third_video_root=${data}/Third_Video`,
    ],
    ['eval', '--task', 'three2one', '--predictions', data, '--ground-truth', data, '--output', file, '--no-perception'],
    ['demo', '--out', file],
    [
      'train',
      '--config',
      path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'),
      '--output',
      path.join(file, 'run'),
      `dataset.first_video_root=${data}/First_Video`,
      `dataset.third_video_root=${data}/Third_Video`,
    ],
  ];
  for (const args of cases) {
    const r = run(args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--(output|out): .*a-file (exists and is not a folder|is not a folder)/, args.join(' '));
  }
});

test('eval says on the console when predictions were cropped to another aspect ratio and when only a subset of cases was scored', async () => {
  await ready;
  const predictions = path.join(scratch, 'pred-48');
  const dir = path.join(predictions, 'First_Video', 'sample_000000');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 5; i++)
    writeFileSync(
      path.join(dir, `${String(i).padStart(5, '0')}.png`),
      encodePng({ width: 48, height: 32, channels: 3, data: new Uint8Array(48 * 32 * 3).fill(90) }),
    );
  const output = path.join(scratch, 'eval-48');
  const r = run([
    'eval',
    '--task',
    'three2one',
    '--predictions',
    predictions,
    '--ground-truth',
    data,
    '--output',
    output,
    '--frames',
    '5',
    '--no-perception',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /note: 1 of 1 predictions are not 64x32: scaled to cover it and centre-cropped, cutting off what their other aspect ratio shows \(sample_000000 48x32\)/,
  );
  assert.match(
    r.stderr,
    /note: Scored 1 case\(s\), a subset: 1 ground-truth case\(s\) have no prediction \(sample_000001\), 0 prediction\(s\) match no case/,
  );
  // --compare with a report that shares no case: refused before any case is scored (a broken prediction would fail the scoring)
  const other = path.join(scratch, 'other-report.json');
  const report = JSON.parse(readFileSync(path.join(output, 'report.json'), 'utf8')) as { cases: { case: string }[] };
  for (const c of report.cases) c.case = `other-${c.case}`;
  writeFileSync(other, JSON.stringify(report));
  writeFileSync(path.join(dir, '00002.png'), 'not a png');
  const c = run([
    'eval',
    '--task',
    'three2one',
    '--predictions',
    predictions,
    '--ground-truth',
    data,
    '--output',
    path.join(scratch, 'eval-cmp'),
    '--frames',
    '5',
    '--no-perception',
    '--compare',
    other,
  ]);
  assert.equal(c.status, 2, c.stderr);
  assert.match(c.stderr, /--compare: .*other-report\.json has none of this run's cases \(sample_000000\)/);
});

test('train: a validation.cases name that is no clip is a config error before the first step, not "a bug" hours later', async () => {
  await ready;
  const output = path.join(scratch, 'val-cases');
  const r = run([
    'train',
    '--config',
    path.join(repoRoot, 'configs', 'tiny', 'three2one.yaml'),
    '--output',
    output,
    `dataset.first_video_root=${data}/First_Video`,
    `dataset.third_video_root=${data}/Third_Video`,
    'validation.cases=[nope]',
  ]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(
    r.stderr,
    /validation\.cases: validation case\(s\) 'nope' are not clips of the dataset \(it has sample_000000, sample_000001\)/,
  );
  assert.ok(!/looks like a bug/.test(r.stderr));
  assert.ok(!existsSync(path.join(output, 'metrics.jsonl')), 'no step was taken');
});

test('infer --overwrite killed while writing a case leaves the earlier case whole (no mix), and eval refuses a case folder without run.json', async () => {
  await ready;
  const output = path.join(scratch, 'infer-killed');
  const args = [
    ...INFER_ON_DATA,
    '--output',
    output,
    ...['--height', '32', '--width', '64', '--frames', '5', '--steps', '2'],
  ];
  const first = run([...args, '--seed', '1']);
  assert.equal(first.status, 0, first.stderr);
  const caseDir = path.join(output, 'sample_000000');
  const before = readFileSync(path.join(caseDir, 'run.json'), 'utf8');
  const generated = readFileSync(path.join(caseDir, 'generated.mp4'));
  const killed = spawnSync(process.execPath, [cli, ...args, '--seed', '2', '--overwrite'], {
    encoding: 'utf8',
    env: { ...process.env, WORLDWANDER_FAULT: 'case-write' },
  });
  assert.equal(killed.signal, 'SIGKILL', 'killed while writing the first case');
  assert.equal(readFileSync(path.join(caseDir, 'run.json'), 'utf8'), before, 'the earlier run.json');
  assert.deepEqual(readFileSync(path.join(caseDir, 'generated.mp4')), generated, 'and the video it describes');
  const scored = run([
    'eval',
    ...['--task', 'three2one', '--predictions', output, '--ground-truth', data],
    ...['--output', path.join(scratch, 'eval-killed'), '--frames', '5', '--no-perception'],
  ]);
  assert.equal(scored.status, 0, `the temporary folder a kill leaves is not taken for a case: ${scored.stderr}`);
  rmSync(path.join(caseDir, 'run.json'));
  const refused = run([
    'eval',
    ...['--task', 'three2one', '--predictions', output, '--ground-truth', data],
    ...['--output', path.join(scratch, 'eval-half'), '--frames', '5', '--no-perception'],
  ]);
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(
    refused.stderr,
    /sample_000000: has generated\.mp4 but no run\.json, so it is not a case infer finished writing/,
  );
});
