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
      if (offset + 8 > size) throw new FileFormatError(`${file}: incomplete MP4 (a box header is cut off at byte ${offset} of ${size}); was the disk full?`);
      readSync(fd, header, 0, 16, offset);
      let length = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      if (length === 1) length = Number(header.readBigUInt64BE(8));
      else if (length === 0) length = size - offset; // "to the end of the file": ffmpeg's unpatched mdat
      if (length < 8 || offset + length > size) throw new FileFormatError(`${file}: incomplete MP4 (box '${type}' at byte ${offset} needs ${length} bytes, the file has ${size - offset} left); was the disk full?`);
      if (header.readUInt32BE(0) === 0 && type === 'mdat') throw new FileFormatError(`${file}: incomplete MP4 (the media data box was never closed); was the disk full?`);
      seen.add(type);
      offset += length;
    }
    for (const box of ['ftyp', 'mdat', 'moov']) if (!seen.has(box)) throw new FileFormatError(`${file}: incomplete MP4 (no '${box}' box); was the disk full?`);
  } finally {
    closeSync(fd);
  }
}
