import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { decodePng, encodePng, toRgb, type Image } from '../../src/data/png.js';
import { RELEASE_EXAMPLES } from '../helpers/release_examples.js';

const examples = RELEASE_EXAMPLES;

function pseudoRandomImage(width: number, height: number, channels: Image['channels'], seed: number): Image {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    // Smooth gradients plus noise, so every filter type gets chosen somewhere by the heuristic.
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const x = Math.floor(i / channels) % width,
      y = Math.floor(i / channels / width);
    data[i] = i % 7 === 0 ? s >>> 24 : (x * 3 + y * 5 + (i % channels) * 40) & 255;
  }
  return { width, height, channels, data };
}

/** RGB bytes of an image file as ffmpeg decodes it: an independent PNG decoder. */
function ffmpegRgb(path: string): Buffer {
  return execFileSync(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { maxBuffer: 1 << 28 },
  );
}

/** Filter types used by the rows of a PNG (reads its own IDAT, independently of decodePng). */
function filterTypesOf(bytes: Buffer, rowBytes: number): Set<number> {
  const idat: Buffer[] = [];
  for (let pos = 8; pos < bytes.length;) {
    const length = bytes.readUInt32BE(pos);
    if (bytes.toString('latin1', pos + 4, pos + 8) === 'IDAT') idat.push(bytes.subarray(pos + 8, pos + 8 + length));
    pos += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const types = new Set<number>();
  for (let row = 0; row * (rowBytes + 1) < raw.length; row++) types.add(raw[row * (rowBytes + 1)]!);
  return types;
}

test('encode then decode gives the same pixels for every channel count and filter type', () => {
  for (const channels of [1, 2, 3, 4] as const) {
    const image = pseudoRandomImage(37, 23, channels, channels * 11);
    for (const filter of [0, 1, 2, 3, 4, 'adaptive'] as const) {
      const decoded = decodePng(encodePng(image, { filter }));
      assert.equal(decoded.width, 37);
      assert.equal(decoded.height, 23);
      assert.equal(decoded.channels, channels);
      assert.deepEqual(Buffer.from(decoded.data), Buffer.from(image.data), `channels ${channels}, filter ${filter}`);
    }
  }
});

test('the adaptive encoder picks several filter types and an independent decoder (ffmpeg) agrees', () => {
  const image = pseudoRandomImage(64, 48, 3, 5);
  const bytes = encodePng(image);
  const types = filterTypesOf(bytes, 64 * 3);
  assert.ok(types.size >= 2, `only filter types ${[...types]} used`);
  const dir = mkdtempSync(join(tmpdir(), 'png-'));
  try {
    writeFileSync(join(dir, 'a.png'), bytes);
    assert.deepEqual(ffmpegRgb(join(dir, 'a.png')), Buffer.from(image.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decodes PNGs written by another encoder (ffmpeg) in grey, grey+alpha, RGBA, palette and 16-bit forms', () => {
  const dir = mkdtempSync(join(tmpdir(), 'png-'));
  try {
    const source = pseudoRandomImage(40, 30, 3, 9);
    writeFileSync(join(dir, 'source.png'), encodePng(source));
    const expected = ffmpegRgb(join(dir, 'source.png'));
    for (const [format, channels] of [
      ['rgb24', 3],
      ['rgba', 4],
      ['gray', 1],
      ['ya8', 2],
      ['pal8', 3],
      ['rgb48be', 3],
      ['monob', 1],
    ] as const) {
      const path = join(dir, `${format}.png`);
      execFileSync('ffmpeg', [
        '-hide_banner',
        '-loglevel',
        'error',
        '-i',
        join(dir, 'source.png'),
        '-pix_fmt',
        format,
        '-pred',
        'mixed',
        path,
      ]);
      const decoded = decodePng(readFileSync(path));
      assert.equal(decoded.width, 40, format);
      assert.equal(decoded.height, 30, format);
      assert.ok(
        decoded.channels === channels || (format === 'pal8' && decoded.channels === 4),
        `${format}: ${decoded.channels} channels`,
      );
      const rgb = toRgb(decoded);
      const reference = ffmpegRgb(path);
      let worst = 0;
      for (let i = 0; i < rgb.data.length; i++) worst = Math.max(worst, Math.abs(rgb.data[i]! - reference[i]!));
      assert.ok(worst <= 1, `${format}: differs from ffmpeg's decode by up to ${worst}`);
      if (format === 'rgb24') assert.deepEqual(Buffer.from(rgb.data), expected, format);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('decodes the release example frames and reference image exactly as ffmpeg does', () => {
  const files = [
    join(examples, 'Reference_Image/case1.png'),
    ...readdirSync(join(examples, 'First_Video/case1'))
      .slice(0, 3)
      .map((f) => join(examples, 'First_Video/case1', f)),
    ...readdirSync(join(examples, 'Third_Video/case1'))
      .slice(0, 3)
      .map((f) => join(examples, 'Third_Video/case1', f)),
  ];
  for (const file of files) {
    const image = decodePng(readFileSync(file));
    assert.equal(image.width, 320, file);
    assert.equal(image.height, 176, file);
    assert.deepEqual(Buffer.from(toRgb(image).data), ffmpegRgb(file), file);
  }
});

test('rejects corrupt data with a clear message', () => {
  const bytes = Buffer.from(encodePng(pseudoRandomImage(8, 8, 3, 1)));
  assert.throws(() => decodePng(Buffer.from('not a png at all')), /not a PNG/);
  const corrupt = Buffer.from(bytes);
  corrupt[40] = corrupt[40]! ^ 0xff;
  assert.throws(() => decodePng(corrupt), /CRC mismatch/);
  assert.throws(() => encodePng({ width: 4, height: 4, channels: 3, data: new Uint8Array(10) }), /10 bytes/);
});

test('toRgb composites alpha over the background', () => {
  const rgba: Image = { width: 2, height: 1, channels: 4, data: Uint8Array.of(200, 100, 0, 255, 200, 100, 0, 0) };
  assert.deepEqual([...toRgb(rgba, [10, 20, 30]).data], [200, 100, 0, 10, 20, 30]);
  const grey: Image = { width: 1, height: 1, channels: 1, data: Uint8Array.of(77) };
  assert.deepEqual([...toRgb(grey).data], [77, 77, 77]);
});
