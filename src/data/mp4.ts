// A structural check of a finished MP4 file: its top-level boxes run exactly to the end of the
// file and include ftyp, mdat and moov. ffmpeg can exit 0 after failing to write the trailer
// (a full disk: "Error writing trailer", or nothing at all), leaving an mdat whose size was never
// patched and no moov; players then refuse the file. Reading box headers costs a few reads.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

import { FileFormatError } from '../errors.js';

export function checkMp4(file: string): void {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(16);
    const seen = new Set<string>();
    let offset = 0;
    while (offset < size) {
      if (offset + 8 > size)
        throw new FileFormatError(
          `${file}: incomplete MP4 (a box header is cut off at byte ${offset} of ${size}); was the disk full?`,
        );
      readSync(fd, header, 0, 16, offset);
      let length = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (length === 1) length = Number(header.readBigUInt64BE(8));
      else if (length === 0) length = size - offset; // "to the end of the file": ffmpeg's unpatched mdat
      if (length < 8 || offset + length > size)
        throw new FileFormatError(
          `${file}: incomplete MP4 (box '${type}' at byte ${offset} needs ${length} bytes, the file has ${size - offset} left); was the disk full?`,
        );
      if (header.readUInt32BE(0) === 0 && type === 'mdat')
        throw new FileFormatError(`${file}: incomplete MP4 (the media data box was never closed); was the disk full?`);
      seen.add(type);
      offset += length;
    }
    for (const box of ['ftyp', 'mdat', 'moov'])
      if (!seen.has(box)) throw new FileFormatError(`${file}: incomplete MP4 (no '${box}' box); was the disk full?`);
  } finally {
    closeSync(fd);
  }
}

/** What an MP4's header says of its video track. */
export interface Mp4VideoTrack {
  frameCount: number;
  width: number;
  height: number;
}

/**
 * The frame count (moov/trak[hdlr=vide]/mdia/minf/stbl/stsz) and coded size (the first sample
 * entry of stsd, a VisualSampleEntry: width and height at bytes 32 and 34 of the entry) of an
 * MP4's video track, read without decoding; null when the file does not say (another container,
 * a fragmented MP4): callers then ask ffprobe, one process start more per video.
 */
export function mp4VideoTrack(file: string): Mp4VideoTrack | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const header = Buffer.alloc(16);
    /** The child boxes of [start, end): type → [bodyStart, end]. */
    const children = (start: number, end: number): [string, number, number][] => {
      const found: [string, number, number][] = [];
      for (let offset = start; offset + 8 <= end;) {
        readSync(fd, header, 0, 16, offset);
        let length = header.readUInt32BE(0);
        let body = offset + 8;
        if (length === 1) {
          length = Number(header.readBigUInt64BE(8));
          body = offset + 16;
        } else if (length === 0) length = end - offset;
        if (length < 8 || offset + length > end) break;
        found.push([header.toString('latin1', 4, 8), body, offset + length]);
        offset += length;
      }
      return found;
    };
    const child = (boxes: [string, number, number][], type: string) => boxes.find((b) => b[0] === type);
    const moov = child(children(0, size), 'moov');
    if (!moov) return null;
    for (const trak of children(moov[1], moov[2]).filter((b) => b[0] === 'trak')) {
      const mdia = child(children(trak[1], trak[2]), 'mdia');
      if (!mdia) continue;
      const boxes = children(mdia[1], mdia[2]);
      const hdlr = child(boxes, 'hdlr');
      if (!hdlr) continue;
      const handler = Buffer.alloc(4);
      readSync(fd, handler, 0, 4, hdlr[1] + 8);
      if (handler.toString('latin1') !== 'vide') continue;
      const minf = child(boxes, 'minf');
      const stbl = minf && child(children(minf[1], minf[2]), 'stbl');
      const tables = stbl ? children(stbl[1], stbl[2]) : [];
      const stsz = child(tables, 'stsz'),
        stsd = child(tables, 'stsd');
      // stsz: version/flags, sample_size, sample_count; stsd: version/flags, entry_count, entries
      if (!stsz || !stsd || stsd[2] - stsd[1] < 8 + 36) return null;
      const counts = Buffer.alloc(12);
      readSync(fd, counts, 0, 12, stsz[1]);
      const entry = Buffer.alloc(36);
      readSync(fd, entry, 0, 36, stsd[1] + 8);
      const [width, height] = [entry.readUInt16BE(32), entry.readUInt16BE(34)];
      if (width === 0 || height === 0) return null;
      return { frameCount: counts.readUInt32BE(8), width, height };
    }
    return null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}
