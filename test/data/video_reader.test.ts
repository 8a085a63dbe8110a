// The video reader against facts the test clips carry: each source frame spells its own index in
// its colour (test/helpers/coded_clips.ts), so a test reads which source frame each model frame
// came from and compares it with the frame shown at start + k / fps, computed here from the clip's
// own rate (or, for a variable-rate clip, from which frames it kept).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { writePng } from '../../src/data/frames.js';
import {
  ShortVideoError,
  ffprobeVideoSource,
  probeVideoSource,
  readFrames,
  readVideoWindow,
  readVideoWindows,
  type VideoSource,
  type VideoWindow,
} from '../../src/data/video_reader.js';
import { readVideoFrames } from '../../src/data/video_writer.js';
import { OptionError } from '../../src/errors.js';
import { CODE, H264, codeColour, codedClip as makeCodedClip, ffmpeg, indexOf, shown } from '../helpers/coded_clips.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'video-reader-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const codedClip = (name: string, rate: string, seconds: number, size?: string, gop?: number): string =>
  makeCodedClip(scratch, name, rate, seconds, size, gop);
const indexes = (window: VideoWindow): number[] => window.frames.map((frame) => indexOf(frame));
/** scratch/name: H.264 of a lavfi source. */
function lavfiClip(name: string, source: string): string {
  const file = path.join(scratch, name);
  ffmpeg(['-f', 'lavfi', '-i', source, ...H264, file]);
  return file;
}

/** What an MP4's header says of it (no process start) is what ffprobe says. */
async function sameAsFfprobe(file: string): Promise<void> {
  const rounded = (source: VideoSource): VideoSource => ({
    ...source,
    fps: source.fps && Number(source.fps.toFixed(6)),
    duration: source.duration && Number(source.duration.toFixed(6)),
  });
  assert.deepEqual(rounded(await probeVideoSource(file)), rounded(await ffprobeVideoSource(file)), file);
}

test('frame k is the frame shown at start + k / fps, at every source rate, size and start', async () => {
  const clips = [
    { rate: '5', size: '96x54', seconds: 3 },
    { rate: '24', size: '64x64', seconds: 3 },
    { rate: '25', size: '160x120', seconds: 20 },
    { rate: '30000/1001', size: '96x54', seconds: 3 },
    { rate: '30', size: '50x90', seconds: 3 },
    { rate: '50', size: '96x54', seconds: 3 },
    { rate: '60', size: '128x72', seconds: 3 },
  ];
  for (const [i, clip] of clips.entries()) {
    const file = codedClip(`rate-${i}.mp4`, clip.rate, clip.seconds, clip.size);
    const [num, den = 1] = clip.rate.split('/').map(Number);
    const rate = num! / den;
    const starts = clip.seconds > 10 ? [0, 17.3] : [0, 0.3, 1.05];
    for (const start of starts) {
      const window = await readVideoWindow(file, { numFrames: 9, fps: 8, start, width: 32, height: 32 });
      assert.deepEqual(indexes(window), shown(rate, start, 8, 9), `${clip.rate} fps from ${start} s`);
      assert.deepEqual([window.frames.length, window.width, window.height], [9, 32, 32]);
      assert.deepEqual(window.time, { start, end: start + 1, fps: 8 });
      assert.equal(window.padded, 0);
    }
    await sameAsFfprobe(file);
    const [w, h] = clip.size.split('x').map(Number);
    const wide = await readVideoWindow(file, { numFrames: 5, fps: 8, width: 48, height: 32 });
    assert.deepEqual(indexes(wide), shown(rate, 0, 8, 5), `${clip.rate} fps at 48x32`);
    assert.deepEqual([wide.source.width, wide.source.height, wide.resized], [w, h, true]);
  }
});

test('the description says what was taken: the seconds, the rates, the size and the fit', async () => {
  const file = codedClip('described.mp4', '60', 3, '192x108');
  const window = await readVideoWindow(file, { numFrames: 17, fps: 8, width: 64, height: 64 });
  assert.equal(
    window.description,
    `seconds 0.00-2.00 of ${file} (60 fps -> 8 fps), 192x108 frames resized to cover 64x64 and centre-cropped`,
  );
  assert.equal(window.source.fps, 60);
  assert.equal(window.source.duration, 3);
  const later = await readVideoWindow(file, { numFrames: 5, fps: 8, start: 0.255 });
  assert.equal(later.description, `seconds 0.255-0.755 of ${file} (60 fps -> 8 fps)`, 'no resize, no size said');
  assert.deepEqual([later.width, later.height, later.resized], [192, 108, false]);
});

test('other containers (Matroska, WebM) are read the same way, ffprobe saying what they are', async () => {
  const source = codedClip('for-mkv.mp4', '30', 3);
  for (const name of ['clip.mkv', 'clip.webm']) {
    const file = path.join(scratch, name);
    const codec = name.endsWith('.webm') ? ['-c:v', 'libvpx-vp9', '-lossless', '1'] : ['-c', 'copy'];
    ffmpeg(['-i', source, ...codec, file]);
    const window = await readVideoWindow(file, { numFrames: 9, fps: 8, start: 0.3, width: 32, height: 32 });
    assert.deepEqual(indexes(window), shown(30, 0.3, 8, 9), name);
    assert.match(window.description, /^seconds 0\.30-1\.30 of \S+ \(30 fps -> 8 fps\), 96x54 frames resized/);
  }
});

test('a variable frame rate: each instant takes the last frame kept at or before it', async () => {
  const source = codedClip('vfr-source.mp4', '60', 3);
  const file = path.join(scratch, 'vfr.mp4');
  // Frames 0-2 of every 10 and every 7th: irregular gaps, timestamps kept.
  const keep = (n: number): boolean => n % 10 < 3 || n % 7 === 0;
  ffmpeg(['-i', source, '-vf', "select='lt(mod(n,10),3)+eq(mod(n,7),0)'", '-fps_mode', 'vfr', ...H264, file]);
  const kept = Array.from({ length: 180 }, (_, n) => n).filter(keep);
  await sameAsFfprobe(file);
  for (const start of [0, 0.3, 1.05]) {
    const window = await readVideoWindow(file, { numFrames: 9, fps: 8, start, width: 32, height: 32 });
    const expected = shown(60, start, 8, 9).map((t) => kept.filter((n) => n <= t).at(-1));
    assert.deepEqual(indexes(window), expected, `from ${start} s`);
  }
  const window = await readVideoWindow(file, { numFrames: 9, fps: 8 });
  assert.equal(window.source.variableFrameRate, true);
  assert.match(window.description, /\(variable frame rate, [\d.]+ fps on average -> 8 fps\)/);
});

test('consecutive windows from one pass: each starts where the last ended, the same frames as reading it alone', async () => {
  const file = codedClip('long.mp4', '25', 20, '64x36', 25);
  const windows: VideoWindow[] = [];
  for await (const window of readVideoWindows(file, { numFrames: 9, fps: 8, width: 16, height: 16, count: Infinity }))
    windows.push(window);
  // Window j covers 9j/8 .. 9j/8 + 1 s: the 20-s clip holds 17 whole ones; the 18th is left out.
  assert.equal(windows.length, 17);
  windows.forEach((window, j) =>
    assert.deepEqual(indexes(window), shown(25, (9 * j) / 8, 8, 9), `window ${j} from ${(9 * j) / 8} s`),
  );
  const alone = await readVideoWindow(file, { numFrames: 9, fps: 8, width: 16, height: 16, start: (9 * 11) / 8 });
  assert.deepEqual(alone.frames, windows[11]!.frames);
  const three: VideoWindow[] = [];
  for await (const window of readVideoWindows(file, { numFrames: 9, fps: 8, width: 16, height: 16, count: 3 }))
    three.push(window);
  assert.equal(three.length, 3);
  const padded: VideoWindow[] = [];
  for await (const window of readVideoWindows(file, {
    numFrames: 9,
    fps: 8,
    width: 16,
    height: 16,
    count: Infinity,
    pad: true,
  }))
    padded.push(window);
  assert.equal(padded.length, 18, 'with pad the last window is kept');
  // Its instants 19.125 .. 20.125 s: the clip (frames 0-499) ends at 20 s, so its last 2 hold frame 499.
  assert.deepEqual(indexes(padded[17]!), [...shown(25, 19.125, 8, 7), 499, 499]);
  assert.equal(padded[17]!.padded, 2);
});

test('a clip shorter than the window is refused with its length and the length needed; pad holds its last frame', async () => {
  const file = codedClip('short.mp4', '60', 1.5);
  await assert.rejects(
    readVideoWindow(file, { numFrames: 17, fps: 8, width: 32, height: 32 }),
    (e: unknown) =>
      e instanceof ShortVideoError &&
      e.message ===
        `${file}: 1.50 s long; 17 frames at 8 fps from 0.00 s need a clip longer than 2.00 s (or pad, to hold its last frame)`,
  );
  const window = await readVideoWindow(file, { numFrames: 17, fps: 8, width: 32, height: 32, pad: true });
  // Instants 0 .. 1.375 s are in the clip (12 frames); the last 5 hold its last frame, 89, not the last sampled.
  assert.deepEqual(indexes(window), [...shown(60, 0, 8, 12), 89, 89, 89, 89, 89]);
  assert.equal(window.padded, 5);
  assert.match(window.description, /; the clip ends at 1\.50 s, its last frame held for the last 5 frame\(s\)$/);
  await assert.rejects(
    readVideoWindow(file, { numFrames: 5, fps: 8, start: 1.5 }),
    new RegExp(`^ShortVideoError: ${file}: 1\\.50 s long; the window from 1\\.50 s starts at or after its end$`),
  );
  const still = lavfiClip('still.mp4', `color=c=black:s=64x64:r=25:d=0.04,${CODE}`);
  await assert.rejects(
    readVideoWindow(still, { numFrames: 17, fps: 8 }),
    /still\.mp4: 0\.04 s long; 17 frames at 8 fps from 0\.00 s need a clip longer than 2\.00 s/,
  );
  await sameAsFfprobe(still);
  const held = await readVideoWindow(still, { numFrames: 17, fps: 8, pad: true });
  assert.deepEqual(indexes(held), Array(17).fill(0));
});

test('rotation metadata: the size is the displayed one, and the cover crop is taken from the upright picture', async () => {
  // A 96x54 picture with a white band along its top (14 rows), the rest dark blue.
  const coded = lavfiClip(
    'landscape.mp4',
    'color=c=0x204080:s=96x54:r=30:d=2,drawbox=x=0:y=0:w=96:h=14:c=white:t=fill',
  );
  const phone = path.join(scratch, 'phone.mp4');
  ffmpeg(['-i', coded, '-c', 'copy', '-metadata:s:v:0', 'rotate=270', phone]);
  const probe = spawnSync(
    'ffprobe',
    ['-v', 'error', '-show_entries', 'stream_side_data=rotation', '-of', 'json', phone],
    {
      encoding: 'utf8',
    },
  );
  const said = (JSON.parse(probe.stdout) as { streams: { side_data_list?: { rotation: number }[] }[] }).streams[0]!
    .side_data_list?.[0]?.rotation;
  assert.ok(said === -90 || said === 270, `the clip is a portrait phone clip (rotation ${said})`);
  await sameAsFfprobe(phone);
  const window = await readVideoWindow(phone, { numFrames: 3, fps: 8, width: 32, height: 32 });
  assert.deepEqual([window.source.width, window.source.height, window.source.rotation], [54, 96, 270]);
  assert.match(window.description, /54x96 frames \(as displayed: turned 90° clockwise\) resized to cover 32x32/);
  // Turned 90° clockwise, the band runs down the right side (54 -> 32 wide: ~8 columns), every row.
  const frame = window.frames[0]!;
  const white = (x: number, y: number): boolean => frame[(y * 32 + x) * 3]! > 200;
  for (const y of [0, 16, 31]) {
    assert.ok(white(31, y) && white(27, y), `row ${y}: the band is at the right`);
    assert.ok(!white(0, y) && !white(16, y), `row ${y}: not across`);
  }
  const upright = await readVideoWindow(phone, { numFrames: 1, fps: 8 });
  assert.deepEqual([upright.width, upright.height], [54, 96], 'without a size: the displayed size');
});

test('a non-square sample aspect ratio: the displayed width', async () => {
  // Coded 64x54 at 3:2 pixels (shown 96x54); its left quarter white.
  const file = lavfiClip(
    'anamorphic.mp4',
    'color=c=blue:s=64x54:r=30:d=1,drawbox=x=0:y=0:w=16:h=54:c=white:t=fill,setsar=3/2',
  );
  await sameAsFfprobe(file);
  const window = await readVideoWindow(file, { numFrames: 1, fps: 8 });
  assert.deepEqual([window.width, window.height, window.source.width], [96, 54, 96]);
  const row = Array.from({ length: 96 }, (_, x) => window.frames[0]![(27 * 96 + x) * 3 + 1]! > 200);
  assert.equal(row.filter(Boolean).length, 24, 'the white quarter is a quarter of the displayed width');
});

test('frames in order (no fps): every step-th frame from start, as the source has them', async () => {
  const file = codedClip('order.mp4', '60', 2);
  assert.deepEqual(indexes(await readVideoWindow(file, { numFrames: 5, step: 3 })), [0, 3, 6, 9, 12]);
  const later = await readVideoWindow(file, { numFrames: 4, start: 0.5, width: 16, height: 16 });
  assert.deepEqual(indexes(later), [30, 31, 32, 33]);
  assert.deepEqual(later.order, { first: 0, last: 3, step: 1 });
  assert.match(later.description, /^frames 1-4 from 0\.50 s of \S+order\.mp4 \(60 fps\), 96x54 frames resized/);
  await assert.rejects(
    readVideoWindow(file, { numFrames: 200 }),
    /order\.mp4: has 120 frame\(s\) where 200 are taken \(every frame\); or pad, to hold the last one/,
  );
});

test('readFrames: the first frames at the source size, byte for byte those of the whole-video decoder', async () => {
  const file = codedClip('plain.mp4', '8', 2, '64x32');
  const all = await readVideoFrames(file);
  const read = await readFrames(file);
  assert.deepEqual([read.width, read.height, read.fps, read.frames.length], [64, 32, 8, 16]);
  assert.deepEqual(read.frames, all.frames);
  assert.deepEqual((await readFrames(file, { maxFrames: 5 })).frames, all.frames.slice(0, 5));
  assert.equal((await readFrames(file, { maxFrames: 40 })).frames.length, 16, 'fewer when the video has fewer');
  // At the model size and rate, a window is the video's own frames, untouched.
  const window = await readVideoWindow(file, { numFrames: 9, fps: 8, width: 64, height: 32 });
  assert.deepEqual(window.frames, all.frames.slice(0, 9));
  assert.equal(window.resized, false);
  // One buffer for the window's frames.
  assert.ok(window.frames.every((f, k) => f.buffer === window.frames[0]!.buffer && f.byteOffset === k * 64 * 32 * 3));
});

test('a frames folder: its files in name order, every step-th, fitted, padded; no seconds', async () => {
  const dir = path.join(scratch, 'frames');
  mkdirSync(dir);
  // Files 0..6 spell their index; named so that name order is not character order.
  for (let n = 0; n < 7; n++) {
    const colour = codeColour(n);
    const data = new Uint8Array(40 * 20 * 3).map((_, i) => colour[i % 3]!);
    await writePng(path.join(dir, `frame_${n * 5}.png`), { width: 40, height: 20, data });
  }
  const window = await readVideoWindow(dir, { numFrames: 3, step: 2, fps: 8 });
  assert.deepEqual(indexes(window), [0, 2, 4], 'fps is ignored: a folder has no times');
  assert.equal(window.description, `every 2nd file, files 1-5 of the 7 in ${dir}`);
  const fitted = await readVideoWindow(dir, { numFrames: 5, width: 16, height: 16 });
  assert.deepEqual([indexes(fitted), fitted.width, fitted.resized], [[0, 1, 2, 3, 4], 16, true]);
  assert.equal(
    fitted.description,
    `files 1-5 of the 7 in ${dir}, 40x20 frames resized to cover 16x16 and centre-cropped`,
  );
  await assert.rejects(
    readVideoWindow(dir, { numFrames: 5, step: 2 }),
    /frames: has 7 frame\(s\); 5 are taken \(every 2nd file from file 1, up to file 9\); or pad, to hold the last one/,
  );
  const padded = await readVideoWindow(dir, { numFrames: 5, step: 2, pad: true });
  assert.deepEqual([indexes(padded), padded.padded], [[0, 2, 4, 6, 6], 1]);
  const windows: number[][] = [];
  for await (const w of readVideoWindows(dir, { numFrames: 3, count: Infinity, partial: true }))
    windows.push(indexes(w));
  assert.deepEqual(windows, [[0, 1, 2], [3, 4, 5], [6]]);
  await assert.rejects(
    readVideoWindow(dir, { numFrames: 3, start: 1 }),
    (e: unknown) => e instanceof OptionError && e.option === 'start' && /frames folder with no times/.test(e.message),
  );
  assert.deepEqual(
    (await readFrames(dir, { maxFrames: 2 })).frames.map((f) => indexOf(f)),
    [0, 1],
  );
});

test('bad videos: one line naming the file and what is wrong, never a tool command line', async () => {
  const coded = codedClip('good.mp4', '30', 1);
  const cases: [string, (file: string) => void, RegExp][] = [
    ['text.mp4', (f) => writeFileSync(f, 'these are not frames\n'.repeat(20)), /: not a video ffmpeg can read \(.+\)$/],
    [
      'cut.mp4',
      (f) => writeFileSync(f, readFileSync(coded).subarray(0, 2000)),
      /: not a video ffmpeg can read \(.+\)$|: ffmpeg could not decode it \(.+\)$/,
    ],
    ['audio.mp4', (f) => ffmpeg(['-f', 'lavfi', '-i', 'sine=d=1', '-c:a', 'aac', f]), /: holds no video stream$/],
    [
      'picture.mp4',
      (f) => ffmpeg(['-f', 'lavfi', '-i', 'color=c=red:s=32x32', '-frames:v', '1', '-c:v', 'png', '-f', 'image2', f]),
      /: a single png image, not a video$/,
    ],
    [
      'bare.mp4',
      (f) => ffmpeg(['-i', coded, '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'h264', f]),
      /: a bare h264 stream without timestamps, so the times of its frames are unknown; put it in a container \(MP4, MKV\) at its frame rate first$/,
    ],
  ];
  for (const [name, make, expected] of cases) {
    const file = path.join(scratch, name);
    make(file);
    await assert.rejects(readVideoWindow(file, { numFrames: 5, fps: 8, width: 32, height: 32 }), (e: unknown) => {
      const message = (e as Error).message;
      assert.ok(message.startsWith(`${file}: `), `${name}: names the file: ${message}`);
      assert.match(message, expected, name);
      assert.ok(!message.includes('\n') && !/-show_entries|-select_streams|pipe:1/.test(message), message);
      return true;
    });
  }
  await assert.rejects(readVideoWindow(path.join(scratch, 'none.mp4'), { numFrames: 5 }), /none\.mp4: no such file/);
  await assert.rejects(readVideoWindow(coded, { numFrames: 5, fps: 0 }), /fps: must be a number of frames per second/);
  await assert.rejects(
    readVideoWindow(coded, { numFrames: 5, width: 32 }),
    /height: width and height are given together/,
  );
});
