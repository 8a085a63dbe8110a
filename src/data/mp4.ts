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

type Box = [type: string, body: number, end: number];

/** The boxes an MP4's first video track is made of, read on demand. */
interface VideoTrak {
  read(offset: number, length: number): Buffer;
  children(box: Box): Box[];
  tkhd?: Box;
  edts?: Box;
  mdhd?: Box;
  /** The sample tables (moov/trak/mdia/minf/stbl's children). */
  tables: Box[];
}

const child = (boxes: Box[], type: string): Box | undefined => boxes.find((b) => b[0] === type);

/**
 * Opens an MP4, finds its first video track (moov/trak with mdia/hdlr 'vide') and hands its boxes
 * to `read`; null where the file is not an MP4 with one, or `read` finds it says too little.
 */
function withVideoTrak<T>(file: string, read: (trak: VideoTrak) => T | null): T | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    const bytes = (offset: number, length: number): Buffer => {
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, offset);
      return buffer;
    };
    /** The child boxes of [start, end). */
    const within = (start: number, end: number): Box[] => {
      const found: Box[] = [];
      for (let offset = start; offset + 8 <= end;) {
        const header = bytes(offset, 16);
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
    const children = (box: Box): Box[] => within(box[1], box[2]);
    const moov = child(within(0, size), 'moov');
    if (!moov) return null;
    for (const trak of children(moov).filter((b) => b[0] === 'trak')) {
      const parts = children(trak);
      const mdia = child(parts, 'mdia');
      const boxes = mdia ? children(mdia) : [];
      const hdlr = child(boxes, 'hdlr');
      if (!hdlr || bytes(hdlr[1] + 8, 4).toString('latin1') !== 'vide') continue;
      const minf = child(boxes, 'minf');
      const stbl = minf && child(children(minf), 'stbl');
      const tables = stbl ? children(stbl) : [];
      const [tkhd, edts, mdhd] = [child(parts, 'tkhd'), child(parts, 'edts'), child(boxes, 'mdhd')];
      return read({ read: bytes, children, tkhd, edts, mdhd, tables });
    }
    return null;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * stsd's first sample entry (a VisualSampleEntry: width and height at bytes 32 and 34, its own
 * boxes such as pasp after its 86 bytes) and the coded size.
 */
function sampleEntry(trak: VideoTrak): { entry: Box; width: number; height: number } | null {
  const stsd = child(trak.tables, 'stsd');
  // stsd: version/flags, entry_count, then the entries
  if (!stsd || stsd[2] - stsd[1] < 8 + 36) return null;
  const head = trak.read(stsd[1] + 8, 36);
  const [width, height] = [head.readUInt16BE(32), head.readUInt16BE(34)];
  if (width === 0 || height === 0) return null;
  return {
    entry: [head.toString('latin1', 4, 8), stsd[1] + 8 + 86, stsd[1] + 8 + head.readUInt32BE(0)],
    width,
    height,
  };
}

/**
 * The frame count (moov/trak[hdlr=vide]/mdia/minf/stbl/stsz) and coded size (the first sample
 * entry of stsd, a VisualSampleEntry: width and height at bytes 32 and 34 of the entry) of an
 * MP4's video track, read without decoding; null when the file does not say (another container,
 * a fragmented MP4): callers then ask ffprobe, one process start more per video.
 */
export function mp4VideoTrack(file: string): Mp4VideoTrack | null {
  return withVideoTrak(file, (trak) => {
    const stsz = child(trak.tables, 'stsz');
    const entry = sampleEntry(trak);
    // stsz: version/flags, sample_size, sample_count
    if (!stsz || !entry) return null;
    return { frameCount: trak.read(stsz[1], 12).readUInt32BE(8), width: entry.width, height: entry.height };
  });
}

/** What an MP4's header says of its video track's timing and picture, as ffprobe would report them. */
export interface Mp4VideoHeader extends Mp4VideoTrack {
  /** The track matrix's rotation, degrees counter-clockwise (0, 90, 180 or 270). */
  rotation: number;
  /** The pixel aspect ratio (pasp), 1 when the file states none. */
  sampleAspect: number;
  /** Seconds: the sum of the samples' durations (mdhd). */
  duration: number;
  /** Frames per second on average, and of the commonest frame duration (stts). */
  averageFps: number;
  nominalFps: number;
}

/**
 * The picture and timing of an MP4's video track from its header (tkhd's matrix, mdhd, stts, the
 * sample entry's pasp), without a process start; null where it is not a plain MP4 video track
 * (another container, fragments, a mirrored or skewed matrix, an edit list that moves its start):
 * then ffprobe says.
 */
export function mp4VideoHeader(file: string): Mp4VideoHeader | null {
  return withVideoTrak(file, (trak) => {
    const track = mp4VideoTrack(file);
    const entry = sampleEntry(trak);
    const stts = child(trak.tables, 'stts');
    if (!track || !entry || !stts || !trak.tkhd || !trak.mdhd || track.frameCount === 0) return null;
    // mdhd: version/flags, then times of 4 or 8 bytes by version, timescale, duration
    const mdhd = trak.read(trak.mdhd[1], 32);
    const long = mdhd[0] === 1;
    const timescale = mdhd.readUInt32BE(long ? 20 : 12);
    // tkhd: the matrix after 40 (version 0) or 52 (version 1) bytes: a, b, u, c, d, v, x, y, w
    const matrix = trak.read(trak.tkhd[1] + (trak.read(trak.tkhd[1], 1)[0] === 1 ? 52 : 40), 36);
    const [a, b, c, d] = [0, 4, 12, 16].map((at) => matrix.readInt32BE(at));
    const rotation = ((Math.round((-Math.atan2(b!, a!) * 180) / Math.PI) % 360) + 360) % 360;
    const upright = [0, 90, 180, 270].includes(rotation) && a! * d! - b! * c! > 0;
    // stts: version/flags, entry_count, then (sample_count, sample_delta) pairs
    const count = trak.read(stts[1] + 4, 4).readUInt32BE(0);
    const table = trak.read(stts[1] + 8, 8 * count);
    let total = 0,
      commonest = [0, 0];
    for (let i = 0; i < count; i++) {
      const [samples, delta] = [table.readUInt32BE(8 * i), table.readUInt32BE(8 * i + 4)];
      total += samples * delta;
      if (samples > commonest[0]!) commonest = [samples, delta];
    }
    if (!upright || !timescale || !total || !commonest[1] || movedStart(trak)) return null;
    const pasp = child(trak.children(entry.entry), 'pasp');
    const spacing = pasp && trak.read(pasp[1], 8);
    return {
      ...track,
      rotation,
      sampleAspect: spacing && spacing.readUInt32BE(4) ? spacing.readUInt32BE(0) / spacing.readUInt32BE(4) : 1,
      duration: total / timescale,
      averageFps: (track.frameCount * timescale) / total,
      nominalFps: timescale / commonest[1]!,
    };
  });
}

/**
 * The track's edit list moves or cuts its start: more than one edit, or an empty one (a delay).
 * One edit that skips media (ffmpeg's for B-frames) keeps the first frame at time 0.
 */
function movedStart(trak: VideoTrak): boolean {
  const elst = trak.edts && child(trak.children(trak.edts), 'elst');
  if (!elst) return false;
  // elst: version/flags, entry_count, then segment_duration and media_time (4 or 8 bytes each), rate
  const head = trak.read(elst[1], 8);
  if (head.readUInt32BE(4) !== 1) return true;
  const long = head[0] === 1;
  const entry = trak.read(elst[1] + 8, long ? 20 : 12);
  return (long ? Number(entry.readBigInt64BE(8)) : entry.readInt32BE(4)) < 0;
}
