// `infer --whole`: every window of a clip, back to back, into one output as long as the clip, on
// a clip whose colours spell its frame index (so the test reads which source instant each output
// frame's input came from); the joins in run.json; the ground truth over the same seconds; and
// how windows are laid (windowStarts), back to back and overlapping by the carried frame.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { readVideoFrames } from '../../src/data/video_writer.js';
import { windowStarts } from '../../src/worldwander/whole_clip.js';
import { RELEASE_CONFIGS, repoRoot } from '../helpers/release_examples.js';
import { codedClip, indexOf, shown } from '../helpers/coded_clips.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const MODEL = path.join(repoRoot, 'test/fixtures/tiny_model');
const scratch = mkdtempSync(path.join(tmpdir(), 'infer-whole-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const config = path.join(RELEASE_CONFIGS, 'wan2-2_lora_three2one_synthetic.yaml');

test('windows of a clip: back to back, or overlapping by the carried frame; the last one may run past the end', () => {
  assert.deepEqual(windowStarts(19, 5, false), [0, 5, 10, 15]);
  assert.deepEqual(windowStarts(20, 5, false), [0, 5, 10, 15]);
  assert.deepEqual(windowStarts(21, 5, false), [0, 5, 10, 15, 20]);
  assert.deepEqual(windowStarts(17, 5, true), [0, 4, 8, 12]);
  assert.deepEqual(windowStarts(18, 5, true), [0, 4, 8, 12, 16]);
  assert.deepEqual(windowStarts(65, 17, true), [0, 16, 32, 48]);
  assert.deepEqual(windowStarts(3, 5, false), [0], 'a clip shorter than a window: one, padded');
  assert.throws(() => windowStarts(9, 1, true), /cannot carry a frame/);
});

test('--whole: a 2.3-s 30-fps clip from 0.4 s gives one output of every instant to its end, in windows (each starting on the last frame of the one before) whose joins run.json lists; the ground truth over the same seconds', async () => {
  const clip = codedClip(scratch, 'walk.mp4', '30', 2.3, '96x54');
  const truth = codedClip(scratch, 'other.mp4', '30', 1.2, '96x54');
  const output = path.join(scratch, 'out');
  const r = spawnSync(
    process.execPath,
    [
      cli,
      'infer',
      ...['--config', config, '--model-dir', MODEL, '--input', clip, '--ground-truth', truth, '--output', output],
      ...['--height', '32', '--width', '64', '--frames', '5', '--steps', '2', '--start', '0.4', '--whole'],
      ...['--offload', 'model'],
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  // instants 0.4 + k/8 before 2.3 s: k = 0..15
  const expected = shown(30, 0.4, 8, 16);
  assert.match(
    r.stderr,
    /note: seconds 0\.40-2\.27 of \S+walk\.mp4 \(30 fps -> 8 fps\), 96x54 frames resized to cover 64x32 and centre-cropped; the whole clip in 4 window\(s\) of 5 frames, each starting on the last frame the one before generated\n/,
  );
  assert.match(r.stderr, /window 4\/4/, 'the progress says which window');
  const record = JSON.parse(readFileSync(path.join(output, 'walk', 'run.json'), 'utf8')) as {
    frames: number;
    windows: number;
    joins: { frame: number; seconds: number }[];
    notes: string[];
    seconds: { load?: number };
  };
  assert.equal(record.frames, 16);
  // one part in memory at a time: each window loads its parts again, and that time is recorded
  assert.ok((record.seconds.load ?? 0) > 0, `seconds ${JSON.stringify(record.seconds)}`);
  assert.equal(record.windows, 4);
  // windows from output frames 0, 4, 8 and 12, each one's first frame the one before's last: new frames from 5, 9, 13
  assert.deepEqual(record.joins, [
    { frame: 5, seconds: 0.4 + 5 / 8 },
    { frame: 9, seconds: 0.4 + 9 / 8 },
    { frame: 13, seconds: 0.4 + 13 / 8 },
  ]);
  const sideBySide = await readVideoFrames(path.join(output, 'walk', 'side_by_side.mp4'));
  assert.equal(sideBySide.frames.length, 16, 'as long as the clip: the last window cut to it');
  const panel = (x0: number) => sideBySide.frames.map((f) => indexOf(f, { width: sideBySide.width, x0, x1: x0 + 64 }));
  assert.deepEqual(panel(0), expected, 'the input: the frame shown at every instant');
  // the truth is 1.2 s long: instants from 0.4 s to before 1.2 s, then its last frame (35) held
  assert.deepEqual(panel(128), [...shown(30, 0.4, 8, 7), ...Array<number>(9).fill(35)]);
  assert.ok(record.notes.some((n) => /^ground truth: 7 frame\(s\), its last held for the last 9$/.test(n)));
  const generated = await readVideoFrames(path.join(output, 'walk', 'generated.mp4'));
  assert.equal(generated.frames.length, 16);
  const refused = spawnSync(
    process.execPath,
    [
      cli,
      'infer',
      '--config',
      config,
      '--model-dir',
      MODEL,
      '--input',
      clip,
      '--output',
      path.join(scratch, 'o2'),
    ].concat(['--whole', '--pad']),
    { encoding: 'utf8' },
  );
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, /--pad: goes with one window; --whole pads the last window of a clip itself/);
});
