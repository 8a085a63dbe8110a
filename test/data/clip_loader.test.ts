// Clip windows: the frames a window asks for, in order, whether or not the MP4 header gave the
// size; only the views asked for are decoded; many windows through one ffmpeg process give the same.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { synthesize } from '../../src/synth/run.js';
import { indexTriplets } from '../../src/data/triplets.js';
import { loadWindow, loadWindows, type LoadedWindow, type WindowRequest } from '../../src/data/clip_loader.js';
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

test("loadWindows: several windows through one ffmpeg are loadWindow's, frame for frame (starts, strides, resizing, view subsets, references); frames folders and a video shorter than its header are left to loadWindow (null)", async () => {
  const data = path.join(scratch, 'many');
  await synthesize({ out: data, count: 3, width: 48, height: 40, frames: 9, fps: 8, seed: 6, format: 'mp4' });
  const { clips } = await indexTriplets(
    {
      first: path.join(data, 'First_Video'),
      third: path.join(data, 'Third_Video'),
      reference: path.join(data, 'Reference_Image'),
    },
    { sampleFrames: 3, stride: 1, needReference: true },
  );
  assert.equal(clips.length, 3);
  const transform = { height: 24, width: 24, resizeLong: 28 };
  const requests: WindowRequest[] = [
    { clip: clips[0]!, start: 0, frames: 3, stride: 1, transform, withReference: true },
    { clip: clips[1]!, start: 2, frames: 3, stride: 3, transform, withReference: false, views: ['third'] },
    { clip: clips[2]!, start: 5, frames: 4, stride: 1, transform, withReference: true, views: ['first'] },
    { clip: clips[0]!, start: 0, frames: 0, stride: 1, transform, withReference: true, views: [] },
  ];
  const together = await loadWindows(requests);
  assert.ok(together, 'one process for all');
  const alone = await Promise.all(requests.map((r) => loadWindow(r)));
  const bytes = (w: LoadedWindow) => ({
    first: w.first.map((f) => Buffer.from(f)),
    third: w.third.map((f) => Buffer.from(f)),
    reference: w.reference && Buffer.from(w.reference),
  });
  assert.deepEqual(together.map(bytes), alone.map(bytes));
  assert.equal(together[1]!.third.length, 3);
  assert.deepEqual(together[1]!.first, []);

  const folder = path.join(scratch, 'frames-folder');
  await synthesize({ out: folder, count: 1, width: 32, height: 32, frames: 5, fps: 8, seed: 7, format: 'png' });
  const [framesClip] = (
    await indexTriplets(
      { first: path.join(folder, 'First_Video'), third: path.join(folder, 'Third_Video') },
      { sampleFrames: 1, stride: 1, needReference: false },
    )
  ).clips;
  assert.equal(await loadWindows([{ ...requests[0]!, clip: framesClip!, withReference: false }]), null);
  // a header that promises more frames than the video holds
  assert.equal(await loadWindows([{ ...requests[0]!, clip: { ...clips[0]!, frames: 20 }, start: 12 }]), null);
});
