// The directory of a zip archive, read synchronously: each entry's name, compression and the
// byte range of its data in the file. PyTorch's checkpoints (torch.save's zip format) store their
// entries uncompressed and 64-byte aligned, so a tensor is read straight from its range into
// libtorch memory. Written here rather than taken from a zip library because those stream
// entries asynchronously; this needs random, synchronous access to stored ranges of multi-GB
// files (ZIP64 included), and nothing else of the format.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { inflateRawSync } from 'node:zlib';

import { FileFormatError } from '../errors.js';

export interface ZipEntry {
  name: string;
  /** 0 = stored (uncompressed), 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  /** Absolute offset of the entry's data in the file. */
  dataOffset: number;
}

const EOCD = 0x06054b50,
  ZIP64_LOCATOR = 0x07064b50,
  ZIP64_EOCD = 0x06064b50,
  CENTRAL = 0x02014b50,
  LOCAL = 0x04034b50;

function read(fd: number, offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const got = readSync(fd, buffer, 0, length, offset);
  return buffer.subarray(0, got);
}

/** Every entry of the archive, by name; an error names the file and the fault. */
export function readZipDirectory(file: string): Map<string, ZipEntry> {
  const fail = (why: string): never => {
    throw new FileFormatError(`${file}: not a readable zip archive (a PyTorch checkpoint is one): ${why}`);
  };
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new FileFormatError(`${file}: cannot open: ${(error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const tail = read(fd, Math.max(0, size - 65557), Math.min(size, 65557));
    let at = -1;
    for (let i = tail.length - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === EOCD) {
        at = i;
        break;
      }
    if (at < 0) fail('no end-of-central-directory record (truncated, or not a zip)');
    const eocdOffset = size - tail.length + at;
    let count = tail.readUInt16LE(at + 10);
    let dirSize = tail.readUInt32LE(at + 12);
    let dirOffset = tail.readUInt32LE(at + 16);
    if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
      const locator = read(fd, eocdOffset - 20, 20);
      if (locator.length < 20 || locator.readUInt32LE(0) !== ZIP64_LOCATOR) fail('a ZIP64 archive without its locator');
      const zip64 = read(fd, Number(locator.readBigUInt64LE(8)), 56);
      if (zip64.length < 56 || zip64.readUInt32LE(0) !== ZIP64_EOCD) fail('a broken ZIP64 end record');
      count = Number(zip64.readBigUInt64LE(32));
      dirSize = Number(zip64.readBigUInt64LE(40));
      dirOffset = Number(zip64.readBigUInt64LE(48));
    }
    if (dirOffset + dirSize > size)
      fail(`the central directory (${dirSize} bytes at ${dirOffset}) runs past the end of the file (${size} bytes)`);
    const dir = read(fd, dirOffset, dirSize);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) fail(`central directory entry ${k} is damaged`);
      const method = dir.readUInt16LE(p + 10);
      let compressedSize = dir.readUInt32LE(p + 20);
      let uncompressedSize = dir.readUInt32LE(p + 24);
      const nameLength = dir.readUInt16LE(p + 28),
        extraLength = dir.readUInt16LE(p + 30),
        commentLength = dir.readUInt16LE(p + 32);
      let localOffset = dir.readUInt32LE(p + 42);
      const name = dir.toString('utf8', p + 46, p + 46 + nameLength);
      // ZIP64 extra field: the 0xffffffff fields, in order, as 8-byte values
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = dir.readUInt16LE(e),
          length = dir.readUInt16LE(e + 2);
        if (id === 0x0001) {
          let q = e + 4;
          if (uncompressedSize === 0xffffffff) {
            uncompressedSize = Number(dir.readBigUInt64LE(q));
            q += 8;
          }
          if (compressedSize === 0xffffffff) {
            compressedSize = Number(dir.readBigUInt64LE(q));
            q += 8;
          }
          if (localOffset === 0xffffffff) {
            localOffset = Number(dir.readBigUInt64LE(q));
            q += 8;
          }
        }
        e += 4 + length;
      }
      const local = read(fd, localOffset, 30);
      if (local.length < 30 || local.readUInt32LE(0) !== LOCAL) fail(`the local header of '${name}' is damaged`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > size) fail(`the data of '${name}' runs past the end of the file`);
      entries.set(name, { name, method, compressedSize, size: uncompressedSize, dataOffset });
      p = extraEnd + commentLength;
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

/** The bytes of an entry (stored, or deflated as other zip writers may). */
export function readZipEntry(file: string, entry: ZipEntry): Buffer {
  if (entry.method !== 0 && entry.method !== 8)
    throw new FileFormatError(
      `${file}: entry '${entry.name}' uses compression method ${entry.method}; stored and deflate are read`,
    );
  const fd = openSync(file, 'r');
  try {
    const data = read(fd, entry.dataOffset, entry.compressedSize);
    return entry.method === 8 ? inflateRawSync(data) : data;
  } finally {
    closeSync(fd);
  }
}
