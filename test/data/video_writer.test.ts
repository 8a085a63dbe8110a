import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { checkMp4, mp4VideoTrack } from '../../src/data/mp4.js';
import {
  FfmpegMissingError,
  probeVideo,
  readVideoFrames,
  VideoWriter,
  writeVideo,
} from '../../src/data/video_writer.js';

/** A frame with a colour gradient and a bright square that moves right by 4 pixels a frame. */
function movingSquare(width: number, height: number, index: number): Uint8Array {
  const frame = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      const inSquare = x >= 8 + 4 * index && x < 24 + 4 * index && y >= 16 && y < 32;
      frame[o] = inSquare ? 250 : Math.round((x / width) * 200);
      frame[o + 1] = inSquare ? 240 : Math.round((y / height) * 200);
      frame[o + 2] = inSquare ? 40 : 90;
    }
  }
  return frame;
}

function withTempDir(run: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'video-'));
    try {
      await run(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'frames written to an mp4 read back within H.264 tolerance, with size, rate and count',
  withTempDir(async (dir) => {
    const width = 96,
      height = 64,
      count = 9;
    const frames = Array.from({ length: count }, (_, i) => movingSquare(width, height, i));
    const path = join(dir, 'clip.mp4');
    assert.equal(await writeVideo(path, frames, { width, height, fps: 8 }), count);
    assert.deepEqual(readdirSync(dir), ['clip.mp4'], 'no partial file left behind');
    assert.deepEqual(await probeVideo(path), { width, height, fps: 8, frameCount: count });
    const video = await readVideoFrames(path);
    assert.equal(video.frames.length, count);
    for (let i = 0; i < count; i++) {
      let error = 0;
      for (let k = 0; k < frames[i]!.length; k++) error += Math.abs(video.frames[i]![k]! - frames[i]![k]!);
      const mean = error / frames[i]!.length;
      assert.ok(mean < 4, `frame ${i}: mean absolute error ${mean.toFixed(2)}`);
      // The square is where it was written, not where a neighbouring frame has it.
      const at = (x: number, y: number): number => video.frames[i]![(y * width + x) * 3 + 2]!;
      assert.ok(at(16 + 4 * i, 24) < 80 && at(4 + 4 * i, 24) > 70, `frame ${i}: square misplaced`);
    }
  }),
);

test(
  'the writer rejects odd sizes and wrongly sized frames, and leaves no file when aborted',
  withTempDir(async (dir) => {
    assert.throws(
      () => VideoWriter.open(join(dir, 'odd.mp4'), { width: 31, height: 32, fps: 8 }),
      /even width and height/,
    );
    const writer = VideoWriter.open(join(dir, 'a.mp4'), { width: 32, height: 32, fps: 8 });
    await assert.rejects(writer.write(new Uint8Array(10)), /frame of 10 bytes, 3072 expected/);
    await writer.write(new Uint8Array(32 * 32 * 3));
    await writer.abort(); // resolves once the partial file is gone
    assert.deepEqual(readdirSync(dir), []);
  }),
);

test(
  'a missing ffmpeg gives an error that says how to install it',
  withTempDir(async (dir) => {
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      const writer = VideoWriter.open(join(dir, 'a.mp4'), { width: 16, height: 16, fps: 8 });
      await writer.write(new Uint8Array(16 * 16 * 3)).catch(() => {});
      await assert.rejects(
        writer.close(),
        (error: Error) => error instanceof FfmpegMissingError && /apt-get install ffmpeg/.test(error.message),
      );
      await assert.rejects(probeVideo(join(dir, 'a.mp4')), FfmpegMissingError);
    } finally {
      process.env.PATH = path;
    }
  }),
);

test(
  'one writer can feed two synchronized videos, each reading back as its own frames',
  withTempDir(async (dir) => {
    const width = 64,
      height = 48,
      count = 5;
    const left = join(dir, 'left.mp4'),
      right = join(dir, 'right.mp4');
    const writer = VideoWriter.openMany([left, right], { width, height, fps: 8 });
    const inverted = (frame: Uint8Array): Uint8Array => frame.map((v) => 255 - v);
    for (let i = 0; i < count; i++)
      await writer.write(movingSquare(width, height, i), inverted(movingSquare(width, height, i)));
    await assert.rejects(writer.write(movingSquare(width, height, 0)), /1 frames given for 2 videos/);
    assert.equal(await writer.close(), count);
    assert.deepEqual(readdirSync(dir).sort(), ['left.mp4', 'right.mp4']);
    for (const [path, make] of [
      [left, (i: number) => movingSquare(width, height, i)],
      [right, (i: number) => inverted(movingSquare(width, height, i))],
    ] as const) {
      const video = await readVideoFrames(path);
      assert.deepEqual([video.width, video.height, video.frames.length], [width, height, count]);
      for (let i = 0; i < count; i++) {
        const expected = make(i);
        let error = 0;
        for (let k = 0; k < expected.length; k++) error += Math.abs(video.frames[i]![k]! - expected[k]!);
        assert.ok(
          error / expected.length < 4,
          `${path} frame ${i}: mean absolute error ${(error / expected.length).toFixed(2)}`,
        );
      }
    }
  }),
);

test(
  'when ffmpeg fails, the error carries its own reason',
  withTempDir(async (dir) => {
    const writer = VideoWriter.open(join(dir, 'missing-folder', 'a.mp4'), { width: 128, height: 128, fps: 8 });
    const attempt = async (): Promise<void> => {
      for (let i = 0; i < 50; i++) await writer.write(new Uint8Array(128 * 128 * 3));
      await writer.close();
    };
    await assert.rejects(attempt(), /ffmpeg failed writing .*missing-folder.*No such file or directory/);
  }),
);

test(
  'checkMp4 accepts a whole file and refuses one cut short or with an unclosed media box',
  withTempDir(async (dir) => {
    const width = 64,
      height = 48;
    const path = join(dir, 'whole.mp4');
    await writeVideo(
      path,
      Array.from({ length: 5 }, (_, i) => movingSquare(width, height, i)),
      { width, height, fps: 8 },
    );
    checkMp4(path);
    const bytes = readFileSync(path);
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    assert.throws(() => checkMp4(cut), /cut\.mp4: incomplete MP4 \(box 'moov' at byte \d+ needs \d+ bytes/);
    // What a full disk leaves: ftyp, free, an mdat whose size was never patched (0), no moov.
    const unclosed = join(dir, 'unclosed.mp4');
    const mdat = bytes.indexOf('mdat') - 4;
    const head = Buffer.from(bytes.subarray(0, mdat + 8));
    head.writeUInt32BE(0, mdat);
    writeFileSync(unclosed, Buffer.concat([head, Buffer.alloc(4000, 7)]));
    assert.throws(
      () => checkMp4(unclosed),
      /unclosed\.mp4: incomplete MP4 \(the media data box was never closed\); was the disk full\?/,
    );
  }),
);

test('a full disk: ffmpeg exits 0 with a broken file, the writer refuses it, and synth --resume redoes it', async () => {
  const mount = mkdtempSync(join(tmpdir(), 'full-disk-'));
  // A tiny tmpfs needs root and mount rights (CI runs as root); elsewhere say so.
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', mount]).status !== 0) {
    console.log('# notice: cannot mount a tmpfs here (not root?); the full-disk case is not exercised');
    rmSync(mount, { recursive: true, force: true });
    return;
  }
  try {
    const width = 128,
      height = 128;
    const noisy = (i: number): Uint8Array =>
      Uint8Array.from({ length: width * height * 3 }, (_, k) => (k * 7919 + i * 104729) % 251);
    const writer = VideoWriter.open(join(mount, 'big.mp4'), { width, height, fps: 8, crf: 0 });
    for (let i = 0; i < 9; i++) await writer.write(noisy(i));
    await assert.rejects(
      writer.close(),
      /ffmpeg reported errors writing .*big\.mp4: .*No space left on device|incomplete MP4/,
    );
    assert.deepEqual(readdirSync(mount), [], 'neither the broken file nor its temporary is left');

    // synth into a disk too small for its ~74 kB fails; after room is made, --resume redoes what is broken
    assert.equal(spawnSync('mount', ['-o', 'remount,size=40k', mount]).status, 0);
    const out = join(mount, 'data');
    const args = [
      'synth',
      '--out',
      out,
      '--count',
      '3',
      '--width',
      '64',
      '--height',
      '64',
      '--frames',
      '9',
      '--quiet',
      '--workers',
      '1',
    ];
    const quiet = console.error;
    console.error = () => {};
    const failed = await main(args).finally(() => {
      console.error = quiet;
    });
    assert.equal(failed, 1);
    // a failed synth returns only once the samples in flight have ended: no ffmpeg of ours still writing
    assert.equal(spawnSync('pgrep', ['-P', String(process.pid), 'ffmpeg']).stdout.toString(), '');
    assert.equal(spawnSync('mount', ['-o', 'remount,size=4m', mount]).status, 0);
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await main([...args, '--resume']), 0);
    } finally {
      console.log = log;
    }
    for (const view of ['First_Video', 'Third_Video']) {
      for (let i = 0; i < 3; i++) {
        const file = join(out, view, `sample_00000${i}.mp4`);
        checkMp4(file);
        assert.equal((await probeVideo(file)).frameCount, 9);
      }
    }
  } finally {
    spawnSync('umount', [mount]);
    rmSync(mount, { recursive: true, force: true });
  }
});

test(
  'mp4VideoTrack reads the frame count and size from the MP4 header, as ffprobe counts them; null where the header does not say',
  withTempDir(async (dir) => {
    const width = 96,
      height = 64,
      count = 7;
    const path = join(dir, 'clip.mp4');
    await writeVideo(
      path,
      Array.from({ length: count }, (_, i) => movingSquare(width, height, i)),
      { width, height, fps: 8 },
    );
    assert.deepEqual(mp4VideoTrack(path), { frameCount: count, width, height });
    const probed = await probeVideo(path);
    assert.deepEqual([probed.frameCount, probed.width, probed.height], [count, width, height]);
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, readFileSync(path).subarray(0, readFileSync(path).length - 100));
    assert.equal(mp4VideoTrack(cut), null, 'a cut file: no moov to read');
    const text = join(dir, 'not-a-video.mp4');
    writeFileSync(text, 'just text, no boxes');
    assert.equal(mp4VideoTrack(text), null);
    assert.equal(mp4VideoTrack(join(dir, 'missing.mp4')), null);
  }),
);
