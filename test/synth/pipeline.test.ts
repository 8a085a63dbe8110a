import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { readLabelStrip } from '../../src/data/labels.js';
import { decodePng } from '../../src/data/png.js';
import { probeVideo, readVideoFrames } from '../../src/data/video_writer.js';
import type { Manifest } from '../../src/synth/manifest.js';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'synth-test-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

let folders = 0;
const freshDir = (): string => join(scratch, `run${folders++}`);

/** Every file below `dir` with its bytes, by relative path. */
function tree(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return files;
}

/** Runs the CLI in this process; returns its exit code and what it printed to stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...parts: unknown[]) => {
    errors.push(parts.join(' '));
  };
  const log = console.log;
  console.log = () => {};
  try {
    const code = await main(['synth', ...args]);
    return { code, stderr: errors.join('\n') };
  } finally {
    console.error = original;
    console.log = log;
  }
}

const small = ['--width', '48', '--height', '32', '--frames', '5', '--quiet'];

test('the PNG layout is the release layout, matches direct rendering, and does not depend on the worker count', async () => {
  const one = freshDir(),
    two = freshDir();
  assert.equal(
    (await cli(['--out', one, '--count', '3', '--format', 'png', '--workers', '1', '--seed', '4', ...small])).code,
    0,
  );
  assert.equal(
    (await cli(['--out', two, '--count', '3', '--format', 'png', '--workers', '2', '--seed', '4', ...small])).code,
    0,
  );
  const a = tree(one),
    b = tree(two);
  const names = [...a.keys()].filter((k) => k !== 'manifest.json').sort();
  assert.equal(names.length, 3 * (2 * 5 + 1 + 2));
  assert.ok(names.includes(join('First_Video', 'sample_000002', '00004.png')));
  assert.ok(names.includes(join('Third_Video', 'sample_000000', '00000.png')));
  assert.ok(names.includes(join('Reference_Image', 'sample_000001.png')));
  for (const name of names) assert.ok(a.get(name)!.equals(b.get(name)!), `${name} differs between 1 and 2 workers`);

  const renderer = new SampleRenderer(makeSampleSpec(4, 1), { width: 48, height: 32, frames: 5, fps: 8 });
  assert.deepEqual(decodePng(a.get(join('First_Video', 'sample_000001', '00003.png'))!).data, renderer.firstPerson(3));
  assert.deepEqual(decodePng(a.get(join('Third_Video', 'sample_000001', '00002.png'))!).data, renderer.thirdPerson(2));
  assert.deepEqual(decodePng(a.get(join('Reference_Image', 'sample_000001.png'))!).data, renderer.reference());
  const size = { width: 48, height: 32 };
  assert.deepEqual(
    readLabelStrip(join(one, 'First_Label', 'sample_000001.png'), size)[3],
    renderer.firstPersonView(3).labels,
  );
  assert.deepEqual(
    readLabelStrip(join(one, 'Third_Label', 'sample_000001.png'), size)[2],
    renderer.thirdPersonView(2).labels,
  );
  assert.equal(readLabelStrip(join(one, 'Third_Label', 'sample_000001.png'), size).length, 5);

  const manifest = JSON.parse(a.get('manifest.json')!.toString()) as Manifest;
  assert.equal(manifest.status, 'complete');
  assert.deepEqual(
    [manifest.seed, manifest.width, manifest.height, manifest.frames, manifest.fps, manifest.format, manifest.count],
    [4, 48, 32, 5, 8, 'png', 3],
  );
  const { files, ...spec } = manifest.samples[2]!;
  assert.deepEqual(spec, { name: 'sample_000002', ...makeSampleSpec(4, 2) });
  assert.deepEqual(
    files!.map((f) => f.path),
    [
      join('First_Video', 'sample_000002'),
      join('Third_Video', 'sample_000002'),
      join('Reference_Image', 'sample_000002.png'),
      join('First_Label', 'sample_000002.png'),
      join('Third_Label', 'sample_000002.png'),
    ],
  );
  assert.equal(
    files![2]!.sha256,
    createHash('sha256')
      .update(a.get(join('Reference_Image', 'sample_000002.png'))!)
      .digest('hex'),
  );
});

test('mp4 output has the right size, rate and frame count and decodes close to the rendered frames', async () => {
  const out = freshDir();
  assert.equal(
    (
      await cli([
        '--out',
        out,
        '--count',
        '2',
        '--width',
        '64',
        '--height',
        '48',
        '--frames',
        '9',
        '--seed',
        '8',
        '--quiet',
      ])
    ).code,
    0,
  );
  const renderer = new SampleRenderer(makeSampleSpec(8, 1), { width: 64, height: 48, frames: 9, fps: 8 });
  for (const [view, render] of [
    ['First_Video', (k: number) => renderer.firstPerson(k)],
    ['Third_Video', (k: number) => renderer.thirdPerson(k)],
  ] as const) {
    const path = join(out, view, 'sample_000001.mp4');
    assert.deepEqual(await probeVideo(path), { width: 64, height: 48, fps: 8, frameCount: 9 });
    const video = await readVideoFrames(path);
    for (const k of [0, 4, 8]) {
      const expected = render(k);
      let error = 0;
      for (let i = 0; i < expected.length; i++) error += Math.abs(video.frames[k]![i]! - expected[i]!);
      assert.ok(error / expected.length < 6, `${view} frame ${k}: mean error ${(error / expected.length).toFixed(2)}`);
    }
  }
  assert.deepEqual(
    decodePng(readFileSync(join(out, 'Reference_Image', 'sample_000001.png'))).data,
    renderer.reference(),
  );
  assert.deepEqual(readdirSync(join(out, 'First_Video')).sort(), ['sample_000000.mp4', 'sample_000001.mp4']);

  // x264 on one thread with metadata stripped is deterministic: even the files are identical.
  const again = freshDir();
  assert.equal(
    (
      await cli([
        '--out',
        again,
        '--count',
        '2',
        '--width',
        '64',
        '--height',
        '48',
        '--frames',
        '9',
        '--seed',
        '8',
        '--workers',
        '1',
        '--quiet',
      ])
    ).code,
    0,
  );
  const a = tree(out),
    b = tree(again);
  a.delete('manifest.json');
  b.delete('manifest.json');
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs between two runs`);
});

test('bad arguments get clear errors naming the flag', async () => {
  const out = freshDir();
  const cases: [string[], RegExp][] = [
    [['--out', out, '--count', '0'], /option '--count <n>' argument '0' is invalid\. expected an integer >= 1/],
    [['--out', out], /required option '--count <n>' not specified/],
    [['--count', '2'], /required option '--out <dir>' not specified/],
    [['--out', out, '--count', '2', '--width', '63'], /--width: must be even.*63/],
    [['--out', out, '--count', '2', '--height', '8'], /--height: must be even and at least 16/],
    [['--out', out, '--count', '2', '--format', 'gif'], /argument 'gif' is invalid\. Allowed choices are mp4, png/],
    [
      ['--out', out, '--count', '2', '--frames', 'ten'],
      /option '--frames <n>' argument 'ten' is invalid\. expected an integer/,
    ],
    [['--out', out, '--count', '2', '--frames', '12.5'], /argument '12\.5' is invalid\. expected an integer/],
    [['--out', out, '--count', '2', '--overwrite', '--resume'], /--overwrite and --resume exclude each other/],
    [['--out', out, '--count', '2', '--resume'], /--resume: .* holds no manifest.json/],
    [['--out', out, '--count', '2', '--colour', 'red'], /unknown option '--colour'/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await cli(args);
    assert.equal(code, 2, args.join(' '));
    assert.match(stderr, message, args.join(' '));
  }
  assert.ok(!existsSync(join(out, 'First_Video')), 'a refused run wrote files');

  const busy = freshDir();
  mkdirSync(busy);
  writeFileSync(join(busy, 'notes.txt'), 'mine');
  const refused = await cli(['--out', busy, '--count', '1', ...small]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /is not empty; pass --overwrite .* or --resume/);
  const notOurs = await cli(['--out', busy, '--count', '1', '--overwrite', ...small]);
  assert.equal(notOurs.code, 2);
  assert.match(notOurs.stderr, /holds no manifest\.json; --overwrite replaces only a run of this generator/);
  assert.equal(readFileSync(join(busy, 'notes.txt'), 'utf8'), 'mine', '--overwrite removed a file it did not write');

  const own = freshDir();
  assert.equal((await cli(['--out', own, '--count', '1', ...small])).code, 0);
  const mismatch = await cli([
    '--out',
    own,
    '--count',
    '1',
    '--resume',
    '--width',
    '64',
    '--height',
    '32',
    '--frames',
    '5',
    '--quiet',
  ]);
  assert.equal(mismatch.code, 2);
  assert.match(mismatch.stderr, /width 64 \(the existing run used 48\)/);

  const path = process.env.PATH;
  process.env.PATH = scratch;
  try {
    const noFfmpeg = await cli(['--out', freshDir(), '--count', '1', ...small]);
    assert.equal(noFfmpeg.code, 2);
    assert.match(
      noFfmpeg.stderr,
      /--format: mp4 needs ffmpeg: ffmpeg was not found on PATH; install it .*; or use --format png/,
    );
  } finally {
    process.env.PATH = path;
  }

  const broken = freshDir();
  mkdirSync(broken);
  writeFileSync(join(broken, 'manifest.json'), '{"generator": "worldwander synth", ');
  const unreadable = await cli(['--out', broken, '--count', '1', '--resume', ...small]);
  assert.equal(unreadable.code, 2);
  assert.match(unreadable.stderr, /--resume: cannot use .*manifest\.json/);
});

test('a run killed part-way and restarted with --resume completes without redoing finished samples', async () => {
  const out = freshDir();
  const args = [
    '--out',
    out,
    '--count',
    '12',
    '--width',
    '96',
    '--height',
    '96',
    '--frames',
    '17',
    '--format',
    'png',
    '--seed',
    '3',
    '--quiet',
  ];
  // killed by its own fault point once two samples are recorded in the journal (SIGKILL, as a power cut would)
  const child = spawn(process.execPath, [join(repoRoot, 'bin/worldwander.js'), 'synth', ...args, '--workers', '1'], {
    stdio: 'ignore',
    env: { ...process.env, WORLDWANDER_FAULT: 'synth-journaled:2' },
  });
  const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
  assert.equal(signal, 'SIGKILL');
  // finished = recorded in the run's journal (written after a sample's files are in place)
  const journal = join(out, '.synth-journal.jsonl');
  const finishedNow = (): string[] =>
    existsSync(journal)
      ? readFileSync(journal, 'utf8')
          .split('\n')
          .filter((l) => l.endsWith('}'))
          .map((l) => `sample_${String(JSON.parse(l).index).padStart(6, '0')}`)
      : [];

  const finished = finishedNow();
  assert.ok(
    finished.length >= 2 && finished.length < 12,
    `the run was not interrupted part-way (${finished.length} finished)`,
  );
  const before = new Map(finished.map((name) => [name, statSync(join(out, 'First_Video', name, '00016.png')).mtimeMs]));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(manifest.status, 'running');

  assert.equal((await cli([...args, '--resume'])).code, 0);
  for (const [name, mtime] of before) {
    assert.equal(statSync(join(out, 'First_Video', name, '00016.png')).mtimeMs, mtime, `${name} was written again`);
  }
  const resumed = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(resumed.status, 'complete');
  for (const folder of ['First_Video', 'Third_Video', 'Reference_Image']) {
    assert.ok(
      readdirSync(join(out, folder)).every((f) => !/\.tmp-\d+$/.test(f)),
      `temporary files left in ${folder}`,
    );
  }

  assert.ok(!existsSync(journal), 'the journal goes when the run completes');
  const fresh = freshDir();
  assert.equal((await cli([...args.map((a) => (a === out ? fresh : a)), '--workers', '2'])).code, 0);
  const a = tree(out),
    b = tree(fresh);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs from an uninterrupted run`);
});

test('--resume with a larger --count grows a finished run', async () => {
  const out = freshDir();
  assert.equal((await cli(['--out', out, '--count', '2', '--format', 'png', ...small])).code, 0);
  const first = statSync(join(out, 'Reference_Image', 'sample_000000.png')).mtimeMs;
  assert.equal((await cli(['--out', out, '--count', '3', '--format', 'png', '--resume', ...small])).code, 0);
  assert.equal(statSync(join(out, 'Reference_Image', 'sample_000000.png')).mtimeMs, first);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.equal(manifest.count, 3);
  assert.ok(existsSync(join(out, 'Third_Video', 'sample_000002', '00004.png')));
  const shrink = await cli(['--out', out, '--count', '2', '--format', 'png', '--resume', ...small]);
  assert.equal(shrink.code, 2);
  assert.match(shrink.stderr, /--resume: count 2 is smaller than the existing run's 3/);
});

test('--preview writes a contact sheet of both views and the reference', async () => {
  const out = freshDir();
  assert.equal((await cli(['--out', out, '--count', '2', '--format', 'png', '--preview', ...small])).code, 0);
  const sheet = decodePng(readFileSync(join(out, 'preview.png')));
  const gap = 4;
  // 2 rows; 4 first-person + 4 third-person frames + the reference per row, gaps between and around.
  assert.equal(sheet.height, gap + 2 * (32 + gap));
  assert.equal(sheet.width, gap + 9 * (48 + gap) + 2 * gap);
  const renderer = new SampleRenderer(makeSampleSpec(0, 1), { width: 48, height: 32, frames: 5, fps: 8 });
  const tile = (left: number, top: number): Uint8Array => {
    const data = new Uint8Array(48 * 32 * 3);
    for (let y = 0; y < 32; y++)
      data.set(
        sheet.data.subarray(((top + y) * sheet.width + left) * 3, ((top + y) * sheet.width + left + 48) * 3),
        y * 48 * 3,
      );
    return data;
  };
  const rowTop = gap + 32 + gap;
  assert.deepEqual(tile(gap, rowTop), renderer.firstPerson(0));
  assert.deepEqual(tile(2 * gap + 4 * (48 + gap), rowTop), renderer.thirdPerson(0));
  assert.deepEqual(tile(2 * gap + 7 * (48 + gap), rowTop), renderer.thirdPerson(4));
  assert.deepEqual(tile(3 * gap + 8 * (48 + gap), rowTop), renderer.reference());

  const elsewhere = join(scratch, 'sheets', 'sheet.png');
  assert.equal(
    (await cli(['--out', freshDir(), '--count', '1', '--format', 'png', '--preview', elsewhere, ...small])).code,
    0,
  );
  assert.equal(decodePng(readFileSync(elsewhere)).height, gap + 32 + gap);
});

test('--overwrite removes only the files its manifest lists, and refuses a folder holding others (naming one)', async () => {
  const out = freshDir();
  assert.equal((await cli(['--out', out, '--count', '2', '--format', 'png', ...small])).code, 0);
  for (const stray of [join(out, 'notes.txt'), join(out, 'First_Video', 'mine.mp4')]) {
    writeFileSync(stray, 'mine');
    const refused = await cli(['--out', out, '--count', '1', '--format', 'png', '--overwrite', ...small]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      new RegExp(`holds ${relative(out, stray).replace('.', '\\.')}, which the manifest of its run does not list`),
    );
    assert.equal(readFileSync(stray, 'utf8'), 'mine');
    assert.ok(existsSync(join(out, 'Reference_Image', 'sample_000001.png')), 'nothing was removed before refusing');
    rmSync(stray);
  }
  assert.equal(
    (await cli(['--out', out, '--count', '1', '--format', 'png', '--overwrite', '--seed', '5', ...small])).code,
    0,
  );
  assert.deepEqual(readdirSync(join(out, 'Reference_Image')), ['sample_000000.png']);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual([manifest.seed, manifest.count], [5, 1]);
});

test('--preview never replaces a file that is not a contact sheet of this generator', async () => {
  const target = join(scratch, 'precious.png');
  writeFileSync(target, 'not a preview');
  const out = freshDir();
  const refused = await cli(['--out', out, '--count', '1', '--format', 'png', '--preview', target, ...small]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--preview: .*precious\.png exists and is not a contact sheet of worldwander synth/);
  assert.equal(readFileSync(target, 'utf8'), 'not a preview');
  assert.ok(!existsSync(out), 'the refused run wrote nothing');
  // a contact sheet of an earlier run may be replaced
  const sheet = join(scratch, 'sheet-again.png');
  assert.equal(
    (await cli(['--out', freshDir(), '--count', '1', '--format', 'png', '--preview', sheet, ...small])).code,
    0,
  );
  assert.equal(
    (await cli(['--out', freshDir(), '--count', '1', '--format', 'png', '--preview', sheet, '--seed', '3', ...small]))
      .code,
    0,
  );
});

test('limits with reasons: counts, sizes and workers it cannot use are refused or capped before work starts', async () => {
  const out = freshDir();
  const huge = await cli(['--out', out, '--count', '100000000', ...small]);
  assert.equal(huge.code, 2);
  assert.match(huge.stderr, /--count: 100000000 is more than 1,000,000: the manifest holds every sample's spec/);
  const wide = await cli([
    '--out',
    out,
    '--count',
    '1',
    '--width',
    '100000',
    '--height',
    '32',
    '--frames',
    '2',
    '--quiet',
  ]);
  assert.equal(wide.code, 2);
  assert.match(wide.stderr, /--width: 100000 is more than 8192, the largest frame side H\.264/);
  const pixels = await cli([
    '--out',
    out,
    '--count',
    '1',
    '--width',
    '8192',
    '--height',
    '8192',
    '--frames',
    '2',
    '--quiet',
  ]);
  assert.equal(pixels.code, 2);
  assert.match(pixels.stderr, /more pixels than H\.264 \(level 6\.2\) allows in a frame/);
  assert.ok(!existsSync(out), 'refused runs wrote nothing');
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => void lines.push(line);
  try {
    assert.equal(
      await main(['synth', '--out', freshDir(), '--count', '2', '--workers', '64', '--format', 'png', ...small]),
      0,
    );
  } finally {
    console.log = log;
  }
  assert.match(lines.join('\n'), /on [12] worker\(s\)/, 'at most one worker per sample to write');
});

test('the same seed and arguments give a byte-identical dataset folder, manifest included', async () => {
  const one = freshDir(),
    two = freshDir();
  assert.equal((await cli(['--out', one, '--count', '2', '--workers', '2', ...small])).code, 0);
  assert.equal((await cli(['--out', two, '--count', '2', '--workers', '1', ...small])).code, 0);
  const a = tree(one),
    b = tree(two);
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  assert.ok(a.has('manifest.json'));
  for (const [name, bytes] of a) assert.ok(bytes.equals(b.get(name)!), `${name} differs between two runs`);
});

test('--resume checks finished samples against the sizes and hashes in the manifest and redoes altered ones', async () => {
  const out = freshDir();
  assert.equal((await cli(['--out', out, '--count', '3', ...small])).code, 0);
  const before = tree(out);
  const damaged = join(out, 'Third_Video', 'sample_000001.mp4');
  writeFileSync(damaged, readFileSync(damaged).subarray(0, 200)); // cut short, as a full disk leaves it
  const kept = statSync(join(out, 'First_Video', 'sample_000000.mp4')).mtimeMs;
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => void lines.push(line);
  try {
    assert.equal(await main(['synth', '--out', out, '--count', '3', '--resume', ...small]), 0);
  } finally {
    console.log = log;
  }
  assert.match(lines.join('\n'), /wrote 1 samples \(2 already finished\)/);
  assert.equal(statSync(join(out, 'First_Video', 'sample_000000.mp4')).mtimeMs, kept, 'an intact sample was redone');
  const after = tree(out);
  for (const [name, bytes] of before) assert.ok(bytes.equals(after.get(name)!), `${name} differs after the repair`);
});
