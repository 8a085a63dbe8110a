import { deflateSync, inflateSync } from 'node:zlib';

/** An 8-bit image, rows top to bottom, channels interleaved (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array, crc = 0xffffffff): number {
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return crc;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  const crc = crc32(out.subarray(4, 8 + body.length)) ^ 0xffffffff;
  out.writeUInt32BE(crc >>> 0, 8 + body.length);
  return out;
}

const COLOR_TYPE_OF_CHANNELS = { 1: 0, 2: 4, 3: 2, 4: 6 } as const;

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Writes filter type `type` of `row` (with `prev` the unfiltered row above, zeros for the first) into `out`. */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array, bpp: number, out: Uint8Array): void {
  for (let i = 0; i < row.length; i++) {
    const a = i >= bpp ? row[i - bpp]! : 0;
    const b = prev[i]!;
    const c = i >= bpp ? prev[i - bpp]! : 0;
    const x = row[i]!;
    switch (type) {
      case 0:
        out[i] = x;
        break;
      case 1:
        out[i] = x - a;
        break;
      case 2:
        out[i] = x - b;
        break;
      case 3:
        out[i] = x - ((a + b) >> 1);
        break;
      default:
        out[i] = x - paeth(a, b, c);
    }
  }
}

function sumOfMagnitudes(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i++) sum += bytes[i]! < 128 ? bytes[i]! : 256 - bytes[i]!;
  return sum;
}

export interface EncodeOptions {
  /** A fixed filter type (0-4) for every row, or 'adaptive' (the usual minimum-sum heuristic). */
  filter?: 0 | 1 | 2 | 3 | 4 | 'adaptive';
  /** zlib level 0-9. */
  level?: number;
  /** tEXt chunks (Latin-1 keywords and text), e.g. { Software: 'worldwander synth preview' }. */
  text?: Record<string, string>;
}

/** Encodes an 8-bit image as a non-interlaced PNG. */
export function encodePng(image: Image, options: EncodeOptions = {}): Buffer {
  const { width, height, channels, data } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`encodePng: bad size ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new Error(`encodePng: ${data.length} bytes do not make a ${width}x${height}x${channels} image`);
  }
  const filter = options.filter ?? 'adaptive';
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  const zeros = new Uint8Array(stride);
  const candidates = Array.from({ length: 5 }, () => new Uint8Array(stride));
  for (let y = 0; y < height; y++) {
    const row = data.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? data.subarray((y - 1) * stride, y * stride) : zeros;
    let best = 0;
    if (filter === 'adaptive') {
      let bestScore = Infinity;
      for (let t = 0; t < 5; t++) {
        filterRow(t, row, prev, channels, candidates[t]!);
        const score = sumOfMagnitudes(candidates[t]!);
        if (score < bestScore) {
          bestScore = score;
          best = t;
        }
      }
    } else {
      best = filter;
      filterRow(best, row, prev, channels, candidates[best]!);
    }
    raw[y * (stride + 1)] = best;
    raw.set(candidates[best]!, y * (stride + 1) + 1);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = COLOR_TYPE_OF_CHANNELS[channels];
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    ...Object.entries(options.text ?? {}).map(([key, value]) =>
      chunk('tEXt', Buffer.from(`${key}\0${value}`, 'latin1')),
    ),
    chunk('IDAT', deflateSync(raw, { level: options.level ?? 6 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

const SAMPLES_PER_PIXEL: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Reverses the five PNG filters in place; `raw` holds (1 + rowBytes) bytes per row. */
function unfilter(raw: Uint8Array, rowBytes: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(rowBytes * height);
  for (let y = 0; y < height; y++) {
    const type = raw[y * (rowBytes + 1)]!;
    const src = y * (rowBytes + 1) + 1;
    const dst = y * rowBytes;
    const up = dst - rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? out[dst + i - bpp]! : 0;
      const b = y > 0 ? out[up + i]! : 0;
      const x = raw[src + i]!;
      switch (type) {
        case 0:
          out[dst + i] = x;
          break;
        case 1:
          out[dst + i] = x + a;
          break;
        case 2:
          out[dst + i] = x + b;
          break;
        case 3:
          out[dst + i] = x + ((a + b) >> 1);
          break;
        case 4:
          out[dst + i] = x + paeth(a, b, i >= bpp && y > 0 ? out[up + i - bpp]! : 0);
          break;
        default:
          throw new Error(`decodePng: unknown filter type ${type} on row ${y}`);
      }
    }
  }
  return out;
}

/** Reads sample `index` of a row of `depth`-bit samples, scaled to 0-255. */
function sampleAt(row: Uint8Array, offset: number, index: number, depth: number, scale: boolean): number {
  if (depth === 8) return row[offset + index]!;
  if (depth === 16) return Math.round(((row[offset + 2 * index]! << 8) | row[offset + 2 * index + 1]!) / 257);
  const perByte = 8 / depth;
  const byte = row[offset + Math.floor(index / perByte)]!;
  const shift = 8 - depth * (1 + (index % perByte));
  const value = (byte >> shift) & ((1 << depth) - 1);
  return scale ? Math.round((value * 255) / ((1 << depth) - 1)) : value;
}

/** The tEXt chunks of a PNG (keyword → text), read without decoding the image; {} for a file that is not a PNG. */
export function pngText(bytes: Uint8Array): Record<string, string> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text: Record<string, string> = {};
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) return text;
  for (let pos = 8; pos + 12 <= buf.length;) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (type === 'IDAT' || type === 'IEND' || pos + 12 + length > buf.length) break;
    if (type === 'tEXt') {
      const body = buf.toString('latin1', pos + 8, pos + 8 + length);
      const zero = body.indexOf('\0');
      if (zero > 0) text[body.slice(0, zero)] = body.slice(zero + 1);
    }
    pos += 12 + length;
  }
  return text;
}

/**
 * Decodes a non-interlaced PNG of any colour type into 8-bit samples: grey (1 channel), grey+alpha
 * (2), RGB (3), RGBA (4); palette images become RGB, or RGBA when they carry transparency. 16-bit
 * samples are rounded to 8 bits.
 */
export function decodePng(bytes: Uint8Array): Image {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('decodePng: not a PNG (bad signature)');
  let width = 0,
    height = 0,
    depth = 0,
    colorType = -1,
    interlace = 0;
  let palette: Uint8Array | undefined;
  let paletteAlpha: Uint8Array | undefined;
  const idat: Buffer[] = [];
  let pos = 8;
  let ended = false;
  while (pos + 12 <= buf.length && !ended) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (pos + 12 + length > buf.length) throw new Error(`decodePng: chunk ${type} runs past the end of the file`);
    const body = buf.subarray(pos + 8, pos + 8 + length);
    const expected = buf.readUInt32BE(pos + 8 + length);
    if ((crc32(buf.subarray(pos + 4, pos + 8 + length)) ^ 0xffffffff) >>> 0 !== expected) {
      throw new Error(`decodePng: CRC mismatch in chunk ${type}`);
    }
    switch (type) {
      case 'IHDR':
        width = body.readUInt32BE(0);
        height = body.readUInt32BE(4);
        depth = body[8]!;
        colorType = body[9]!;
        interlace = body[12]!;
        break;
      case 'PLTE':
        palette = body;
        break;
      case 'tRNS':
        if (colorType === 3) paletteAlpha = body;
        break;
      case 'IDAT':
        idat.push(body);
        break;
      case 'IEND':
        ended = true;
        break;
    }
    pos += 12 + length;
  }
  if (colorType < 0) throw new Error('decodePng: no IHDR chunk');
  if (!(colorType in SAMPLES_PER_PIXEL) || !ALLOWED_DEPTHS[colorType]!.includes(depth)) {
    throw new Error(`decodePng: unsupported colour type ${colorType} with bit depth ${depth}`);
  }
  if (interlace !== 0) throw new Error('decodePng: interlaced (Adam7) PNGs are not supported');
  if (colorType === 3 && !palette) throw new Error('decodePng: palette image without a PLTE chunk');
  if (idat.length === 0) throw new Error('decodePng: no IDAT chunk');

  const samples = SAMPLES_PER_PIXEL[colorType]!;
  const rowBytes = Math.ceil((width * samples * depth) / 8);
  const bpp = Math.max(1, (samples * depth) / 8);
  const inflated = inflateSync(Buffer.concat(idat));
  if (inflated.length < (rowBytes + 1) * height) {
    throw new Error(`decodePng: image data is ${inflated.length} bytes, ${(rowBytes + 1) * height} expected`);
  }
  const rows = unfilter(inflated, rowBytes, height, bpp);

  if (colorType === 3) {
    const channels = paletteAlpha ? 4 : 3;
    const out = new Uint8Array(width * height * channels);
    const entries = palette!.length / 3;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const index = sampleAt(rows, y * rowBytes, x, depth, false);
        if (index >= entries) throw new Error(`decodePng: palette index ${index} out of range`);
        const o = (y * width + x) * channels;
        out[o] = palette![3 * index]!;
        out[o + 1] = palette![3 * index + 1]!;
        out[o + 2] = palette![3 * index + 2]!;
        if (channels === 4) out[o + 3] = index < paletteAlpha!.length ? paletteAlpha![index]! : 255;
      }
    }
    return { width, height, channels, data: out };
  }

  const channels = samples as Image['channels'];
  if (depth === 8) return { width, height, channels, data: rows };
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * channels; i++)
      out[y * width * channels + i] = sampleAt(rows, y * rowBytes, i, depth, true);
  }
  return { width, height, channels, data: out };
}

/** The image as 3-channel RGB; alpha is composited over `background`. */
export function toRgb(image: Image, background: [number, number, number] = [0, 0, 0]): Image {
  const { width, height, channels, data } = image;
  if (channels === 3) return image;
  const out = new Uint8Array(width * height * 3);
  const hasAlpha = channels === 2 || channels === 4;
  const colorCount = hasAlpha ? channels - 1 : channels;
  for (let p = 0; p < width * height; p++) {
    const alpha = hasAlpha ? data[p * channels + channels - 1]! / 255 : 1;
    for (let c = 0; c < 3; c++) {
      const value = data[p * channels + (colorCount === 1 ? 0 : c)]!;
      out[p * 3 + c] = Math.round(value * alpha + background[c]! * (1 - alpha));
    }
  }
  return { width, height, channels: 3, data: out };
}
