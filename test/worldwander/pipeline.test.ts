// WorldWanderPipeline on the tiny diffusers-format model folder (scripts/make-tiny-model.ts):
// both tasks from a frames folder and a video file, seeded, flat in memory, with clear errors.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { memoryStats } from '../../src/torch/index.js';
import { writePng } from '../../src/data/frames.js';
import { writeVideo } from '../../src/data/video_writer.js';
import { DenoiseAborted } from '../../src/diffusion/index.js';
import { WorldWanderPipeline } from '../../src/worldwander/pipeline.js';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';

const MODEL = 'test/fixtures/tiny_model';
const scratch = mkdtempSync(path.join(tmpdir(), 'pipeline-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const pipeline = WorldWanderPipeline.fromPretrained(MODEL, { promptCacheDir: path.join(scratch, 'prompts') });

/** A synthetic triplet at the model size: third-person frames folder, first-person MP4, reference PNG. */
async function triplet(
  width = 64,
  height = 32,
  frames = 7,
): Promise<{ third: string; first: string; reference: string }> {
  const renderer = new SampleRenderer(makeSampleSpec(3, 0), { width, height, frames, fps: 8 });
  const dir = mkdtempSync(path.join(scratch, 'case-'));
  const third = path.join(dir, 'third');
  mkdirSync(third);
  for (let i = 0; i < frames; i++)
    await writePng(path.join(third, `${String(i).padStart(5, '0')}.png`), {
      width,
      height,
      data: renderer.thirdPerson(i),
    });
  const first = path.join(dir, 'first.mp4');
  await writeVideo(
    first,
    Array.from({ length: frames }, (_, i) => renderer.firstPerson(i)),
    { width, height, fps: 8 },
  );
  const reference = path.join(dir, 'reference.png');
  await writePng(reference, { width, height, data: renderer.reference() });
  return { third, first, reference };
}

test('three2one from a frames folder: model-size frames, seeded, the first 4k+1 frames taken', async () => {
  const { third } = await triplet();
  const a = await pipeline.three2one({ video: third, seed: 7 });
  assert.equal(a.task, 'three2one');
  assert.deepEqual([a.frames.length, a.width, a.height], [5, 64, 32]);
  assert.ok(a.frames.every((f) => f.length === 64 * 32 * 3));
  assert.deepEqual(a.notes, [], 'frames of the model size are taken as they are');
  assert.deepEqual(a.settings, {
    seed: 7,
    steps: 4,
    guidanceScale: 5,
    flowShift: 5,
    negativePrompt: '',
    useCollaborativePositionEncoding: true,
    sampler: 'unipc',
    numFrames: 5,
  });
  const again = await pipeline.three2one({ video: third, seed: 7 });
  assert.ok(
    a.frames.every((f, i) => Buffer.from(f).equals(Buffer.from(again.frames[i]!))),
    'the same seed gives the same frames',
  );
  const other = await pipeline.three2one({ video: third, seed: 8 });
  assert.ok(
    a.frames.some((f, i) => !Buffer.from(f).equals(Buffer.from(other.frames[i]!))),
    'another seed gives other frames',
  );
  assert.deepEqual(
    Object.keys(a.timings).sort(),
    ['decode', 'denoise', 'encode', 'read'],
    'each stage is timed (the times themselves belong in bench/)',
  );
});

test('one2three from a video file and a reference image; larger inputs are fitted and the output says so', async () => {
  const { first, reference } = await triplet(96, 40);
  const r = await pipeline.one2three({ video: first, referenceImage: reference, seed: 1 });
  assert.deepEqual([r.frames.length, r.width, r.height], [5, 64, 32]);
  assert.equal(r.reference!.length, 64 * 32 * 3);
  assert.match(
    r.notes.join('\n'),
    /seconds 0\.00-0\.50 of \S*first\.mp4 \(8 fps -> 8 fps\), 96x40 frames resized to cover 64x32 and centre-cropped/,
  );
  assert.match(r.notes.join('\n'), /reference 96x40 fitted inside 64x32 \(aspect kept/);
});

test('live tensor bytes after the last denoising step equal those after the second (memory flat across steps)', async () => {
  const { third } = await triplet();
  const live: number[] = [];
  await pipeline.three2one({
    video: third,
    numInferenceSteps: 8,
    onStep: () => live.push(memoryStats().allocatedBytes),
  });
  assert.equal(live.length, 8);
  assert.equal(live[7], live[1], `live bytes by step: ${live.join(', ')}`);
});

test('an AbortSignal stops between steps', async () => {
  const { third } = await triplet();
  const controller = new AbortController();
  await assert.rejects(
    pipeline.three2one({ video: third, onStep: (done) => done === 2 && controller.abort(), signal: controller.signal }),
    (e: unknown) => e instanceof DenoiseAborted && e.step === 2,
  );
});

test('bad inputs: frames of different sizes, too few frames, no images, no reference, a frame count the VAE cannot take', async () => {
  const { third, reference } = await triplet(64, 32, 3);
  await assert.rejects(
    pipeline.three2one({ video: third }),
    /third: has 3 frame\(s\); 5 are taken \(every file from file 1, up to file 5\); or pad, to hold the last one/,
  );
  const mixed = path.join(scratch, 'mixed');
  mkdirSync(mixed);
  await writePng(path.join(mixed, '00000.png'), { width: 64, height: 32, data: new Uint8Array(64 * 32 * 3) });
  await writePng(path.join(mixed, '00001.png'), { width: 32, height: 32, data: new Uint8Array(32 * 32 * 3) });
  await assert.rejects(
    pipeline.three2one({ video: mixed, numFrames: 3 }),
    /00001\.png: frame of 32x32, but 00000\.png is 64x32; every frame of a video must have one size/,
  );
  const empty = path.join(scratch, 'empty');
  mkdirSync(empty);
  await assert.rejects(pipeline.three2one({ video: empty }), /empty: the folder holds no image frames/);
  await assert.rejects(
    pipeline.translate('one2three', { video: third, numFrames: 3 }),
    /referenceImage: one2three needs the reference image/,
  );
  await assert.rejects(
    pipeline.one2three({ video: third, referenceImage: reference, numFrames: 4 }),
    /numFrames: must be 2k\+1 \(1, 3, 5, …\), got 4/,
  );
  await assert.rejects(
    pipeline.three2one({ video: third, numFrames: 3, width: 60 }),
    /width: must be a multiple of 16/,
  );
});
