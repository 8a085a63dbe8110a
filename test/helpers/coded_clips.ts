// Test clips that carry their own timeline: made by ffmpeg from a lavfi source whose frame n is
// one flat colour that spells n (three base-16 digits in R, G and B, 16 levels apart: H.264,
// scaling and cropping leave them readable), so a test reads which source frame a model frame
// came from and compares it with the frame shown at the instant it should show.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

export function ffmpeg(args: string[]): void {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

/** The filters that paint frame N in the colour that spells N. */
export const CODE = "format=gbrp,geq=r='8+16*mod(N,16)':g='8+16*mod(floor(N/16),16)':b='8+16*floor(N/256)'";
export const H264 = ['-c:v', 'libx264', '-crf', '12', '-pix_fmt', 'yuv420p'];

/** dir/name: a clip whose frame n spells n, `rate` frames per second (a number or a ratio), `seconds` long. */
export function codedClip(dir: string, name: string, rate: string, seconds: number, size = '96x54', gop = 12): string {
  const file = path.join(dir, name);
  ffmpeg([
    '-f',
    'lavfi',
    '-i',
    `color=c=black:s=${size}:r=${rate}:d=${seconds},${CODE}`,
    ...H264,
    '-g',
    `${gop}`,
    file,
  ]);
  return file;
}

/** The colour that spells n, as one RGB pixel. */
export function codeColour(n: number): number[] {
  return [n % 16, Math.floor(n / 16) % 16, Math.floor(n / 256)].map((d) => 8 + 16 * d);
}

/** The source frame a frame (or the columns x0..x1 of it, `width` wide) shows: its mean colour read back. */
export function indexOf(frame: Uint8Array, columns?: { width: number; x0: number; x1: number }): number {
  const sum = [0, 0, 0];
  let count = 0;
  for (let p = 0; p < frame.length / 3; p++) {
    const x = columns ? p % columns.width : 0;
    if (columns && (x < columns.x0 || x >= columns.x1)) continue;
    for (let c = 0; c < 3; c++) sum[c]! += frame[p * 3 + c]!;
    count++;
  }
  const digits = sum.map((v) => Math.min(15, Math.max(0, Math.round((v / count - 8) / 16))));
  return digits[0]! + 16 * digits[1]! + 256 * digits[2]!;
}

/** The frame of a constant-rate clip shown at each instant start + k / fps. */
export const shown = (rate: number, start: number, fps: number, count: number): number[] =>
  Array.from({ length: count }, (_, k) => Math.floor((start + k / fps) * rate + 1e-9));
