// Clip windows: the frames a window asks for, in order, whether or not the MP4 header gave the
// size; only the views asked for are decoded.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { synthesize } from '../../src/synth/run.js';
import { indexTriplets } from '../../src/data/triplets.js';
import { loadWindow } from '../../src/data/clip_loader.js';
import { readVideoFrames } from '../../src/data/video_writer.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'clip-loader-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('a window is frames start..start+n of each view, as a whole decode gives them; a view not asked for is not decoded', async () => {
  const data = path.join(scratch, 'data');
  await synthesize({ out: data, count: 1, width: 32, height: 32, frames: 9, fps: 8, seed: 5, format: 'mp4' });
  const { clips } = await indexTriplets(
    { first: path.join(data, 'First_Video'), third: path.join(data, 'Third_Video') },
    { sampleFrames: 4, stride: 1, needReference: false },
  );
  const clip = clips[0]!;
  const transform = { height: 32, width: 32, resizeLong: 32 };
  const both = await loadWindow({ clip, start: 3, frames: 4, stride: 1, transform, withReference: false });
  for (const view of ['first', 'third'] as const) {
    const whole = await readVideoFrames(clip[view]);
    assert.equal(whole.width, 32);
    assert.deepEqual(
      both[view].map((f) => Buffer.from(f)),
      whole.frames.slice(3, 7).map((f) => Buffer.from(f)),
      `${view}: frames 3-6`,
    );
  }
  const third = await loadWindow({
    clip,
    start: 3,
    frames: 4,
    stride: 1,
    transform,
    withReference: false,
    views: ['third'],
  });
  assert.deepEqual(third.first, []);
  assert.deepEqual(
    third.third.map((f) => Buffer.from(f)),
    both.third.map((f) => Buffer.from(f)),
  );
});
