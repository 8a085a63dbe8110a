// safetensors files: a u64 little-endian header length, a JSON header naming each tensor's dtype,
// shape and [begin, end) byte range in the data that follows, then the data. Tensors are read one
// at a time straight into libtorch memory; sharded checkpoints are read through their index.
import { FileFormatError } from '../errors.js';
import { writeAll, writeFileAtomicSync } from '../io/atomic.js';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';

import { dtypeCode, isFloating, itemSize, type DType } from './dtype.js';
import { native } from './native.js';
import { decodeE4m3fn, type Float8Matrix } from './float8.js';
import { Tensor, wrap, type Device } from './tensor.js';

const fromFileDtype: Record<string, DType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const toFileDtype = Object.fromEntries(Object.entries(fromFileDtype).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface TensorInfo {
  /** What the tensor loads as (float32 for float8 e4m3fn, which libtorch 1.13 has no type for). */
  dtype: DType;
  /** Set where the file stores another type than `dtype`. */
  stored?: 'float8_e4m3fn';
  shape: number[];
  /** Byte range in the file (absolute). */
  begin: number;
  end: number;
}

export interface LoadOptions {
  dtype?: DType;
  device?: Device;
  /** A float8 tensor's stored bytes as uint8, undecoded (other tensors ignore it). */
  float8Bytes?: boolean;
}

/** Anything tensors are read from by name: one file or a sharded set. */
export interface TensorSource {
  keys(): string[];
  has(key: string): boolean;
  info(key: string): TensorInfo;
  get(key: string, options?: LoadOptions): Tensor;
  /**
   * The key's e4m3fn bytes and scale as stored, where the source holds it in float8 (a scaled fp8
   * file's weight and its scale_weight: scaled_fp8.ts), else undefined; `get` gives it widened.
   */
  float8?(key: string): Float8Matrix | undefined;
}

/** `source` read under other names: `names` maps each name answered to the source's key. */
export function renamedSource(source: TensorSource, names: ReadonlyMap<string, string>, where: string): TensorSource {
  const keyOf = (name: string): string => {
    const key = names.get(name);
    if (key === undefined) throw new FileFormatError(`${where}: no tensor for ${name}`);
    return key;
  };
  return {
    keys: () => [...names.keys()],
    has: (name) => names.has(name),
    info: (name) => source.info(keyOf(name)),
    get: (name, options) => source.get(keyOf(name), options),
    ...(source.float8 && { float8: (name: string) => source.float8!(keyOf(name)) }),
  };
}

export class SafetensorsError extends FileFormatError {
  override name = 'SafetensorsError';
}

/** Largest header accepted (the format's own reference limit is 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile implements TensorSource {
  readonly metadata: Record<string, string>;
  readonly #entries: Map<string, TensorInfo>;

  private constructor(
    readonly file: string,
    entries: Map<string, TensorInfo>,
    metadata: Record<string, string>,
  ) {
    this.#entries = entries;
    this.metadata = metadata;
  }

  static open(file: string): SafetensorsFile {
    const fail = (why: string): never => {
      throw new SafetensorsError(`${file}: not a valid safetensors file: ${why}`);
    };
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch (error) {
      throw new SafetensorsError(`${file}: cannot open: ${(error as Error).message}`);
    }
    let headerText: string;
    let fileSize: number;
    try {
      fileSize = fstatSync(fd).size;
      if (fileSize < 8) fail(`the file has ${fileSize} bytes, fewer than the 8-byte header length`);
      const lengthBytes = Buffer.alloc(8);
      readSync(fd, lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > MAX_HEADER_BYTES) fail(`header length ${headerLength} exceeds ${MAX_HEADER_BYTES}`);
      if (8 + headerLength > fileSize)
        fail(`header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
      const header = Buffer.alloc(headerLength);
      readSync(fd, header, 0, headerLength, 8);
      headerText = header.toString('utf8');
      const dataStart = 8 + headerLength;
      let parsed: unknown;
      try {
        parsed = JSON.parse(headerText);
      } catch (error) {
        return fail(`the header is not valid JSON (${(error as Error).message})`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        fail('the header is not a JSON object');
      const entries = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [key, raw] of Object.entries(parsed as Record<string, unknown>)) {
        if (key === '__metadata__') {
          metadata = raw as Record<string, string>;
          continue;
        }
        entries.set(key, parseEntry(key, raw, fileSize - dataStart, dataStart, fail));
      }
      checkOverlaps(entries, fail);
      return new SafetensorsFile(file, entries, metadata);
    } finally {
      closeSync(fd);
    }
  }

  keys(): string[] {
    return [...this.#entries.keys()];
  }
  has(key: string): boolean {
    return this.#entries.has(key);
  }
  info(key: string): TensorInfo {
    const entry = this.#entries.get(key);
    if (!entry) throw new SafetensorsError(`${this.file}: no tensor named '${key}'`);
    return entry;
  }
  get(key: string, options: LoadOptions = {}): Tensor {
    const { dtype, shape, begin, stored } = this.info(key);
    if (stored === 'float8_e4m3fn') {
      const bytes = wrap(native.readFile(this.file, begin, shape, dtypeCode('uint8')));
      if (options.float8Bytes) return applyLoadOptions(bytes, { device: options.device });
      const decoded = decodeE4m3fn(bytes);
      bytes.dispose();
      return applyLoadOptions(decoded, options);
    }
    const loaded = wrap(native.readFile(this.file, begin, shape, dtypeCode(dtype)));
    return applyLoadOptions(loaded, options);
  }
}

function parseEntry(
  key: string,
  raw: unknown,
  dataSize: number,
  dataStart: number,
  fail: (why: string) => never,
): TensorInfo {
  const entry = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (entry === null || typeof entry !== 'object') fail(`tensor '${key}': expected an object`);
  const float8 = entry.dtype === 'F8_E4M3';
  const dtype = float8 ? 'float32' : fromFileDtype[String(entry.dtype)];
  if (dtype === undefined) {
    fail(
      `tensor '${key}': unknown dtype '${String(entry.dtype)}' (supported: ${Object.keys(fromFileDtype).join(', ')}, F8_E4M3)`,
    );
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) {
    fail(`tensor '${key}': shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isInteger(n) && n >= 0)) {
    fail(`tensor '${key}': data_offsets must be [begin, end], got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    fail(`tensor '${key}': data_offsets [${begin}, ${end}] out of range (the data has ${dataSize} bytes)`);
  }
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * (float8 ? 1 : itemSize[dtype!]);
  if (end - begin !== expected) {
    fail(
      `tensor '${key}': ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes, data_offsets span ${end - begin}`,
    );
  }
  return {
    dtype: dtype!,
    shape: shape as number[],
    begin: dataStart + begin,
    end: dataStart + end,
    ...(float8 ? { stored: 'float8_e4m3fn' as const } : {}),
  };
}

function checkOverlaps(entries: Map<string, TensorInfo>, fail: (why: string) => never): void {
  const sorted = [...entries].filter(([, e]) => e.end > e.begin).sort((a, b) => a[1].begin - b[1].begin);
  for (let i = 1; i < sorted.length; i++) {
    const [prevKey, prev] = sorted[i - 1]!;
    const [key, entry] = sorted[i]!;
    if (entry.begin < prev.end) fail(`tensors '${prevKey}' and '${key}' overlap in the data`);
  }
}

/** A loaded tensor in the dtype and on the device asked for (the loaded one is disposed when converted). */
export function applyLoadOptions(loaded: Tensor, { dtype, device }: LoadOptions = {}): Tensor {
  if ((dtype === undefined || dtype === loaded.dtype) && (device === undefined || device === 'cpu')) return loaded;
  const converted = loaded.to({ dtype, device });
  loaded.dispose();
  return converted;
}

/** A sharded checkpoint: `{ "metadata": {...}, "weight_map": { key: shard file } }`. */
export class ShardedSafetensors implements TensorSource {
  readonly #shards = new Map<string, SafetensorsFile>();
  readonly #weightMap: Map<string, string>;

  constructor(readonly indexFile: string) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(readFileSync(indexFile, 'utf8'));
    } catch (error) {
      throw new SafetensorsError(`${indexFile}: cannot read the shard index: ${(error as Error).message}`);
    }
    if (!index.weight_map || typeof index.weight_map !== 'object') {
      throw new SafetensorsError(`${indexFile}: the shard index has no "weight_map" object`);
    }
    this.#weightMap = new Map(Object.entries(index.weight_map));
    const dir = path.dirname(indexFile);
    for (const shard of new Set(this.#weightMap.values())) {
      const file = path.join(dir, shard);
      if (!existsSync(file)) throw new SafetensorsError(`${indexFile}: names shard '${shard}', which is missing`);
    }
  }

  #shard(key: string): SafetensorsFile {
    const name = this.#weightMap.get(key);
    if (name === undefined) throw new SafetensorsError(`${this.indexFile}: no tensor named '${key}'`);
    let shard = this.#shards.get(name);
    if (!shard) {
      shard = SafetensorsFile.open(path.join(path.dirname(this.indexFile), name));
      this.#shards.set(name, shard);
    }
    if (!shard.has(key))
      throw new SafetensorsError(`${shard.file}: the index places '${key}' here, but the shard lacks it`);
    return shard;
  }

  keys(): string[] {
    return [...this.#weightMap.keys()];
  }
  has(key: string): boolean {
    return this.#weightMap.has(key);
  }
  info(key: string): TensorInfo {
    return this.#shard(key).info(key);
  }
  get(key: string, options: LoadOptions = {}): Tensor {
    return this.#shard(key).get(key, options);
  }
}

/**
 * Opens weights given a .safetensors file, a .safetensors.index.json, or a folder holding one
 * of them whose name starts with `prefix` (e.g. `diffusion_pytorch_model`).
 */
export function openWeights(location: string, prefix?: string): TensorSource {
  if (location.endsWith('.index.json')) return new ShardedSafetensors(location);
  if (location.endsWith('.safetensors')) return SafetensorsFile.open(location);
  const names = prefix ? [`${prefix}.safetensors.index.json`, `${prefix}.safetensors`] : [];
  for (const name of names) {
    const file = path.join(location, name);
    if (existsSync(file)) return openWeights(file);
  }
  throw new SafetensorsError(
    `${location}: no weights found (looked for ${names.length ? names.join(' and ') : 'a .safetensors file or index'})`,
  );
}

/** Reads every tensor of a source. */
export function loadAll(source: TensorSource, options: LoadOptions = {}): Map<string, Tensor> {
  return new Map(source.keys().map((key) => [key, source.get(key, options)]));
}

/**
 * Writes tensors to `file` atomically (a temp file in the same folder, fsync, rename): a reader
 * never sees a half-written file, and a crash leaves the previous file intact.
 */
export function saveSafetensors(
  file: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  writeEntries(
    file,
    entries.map(([name, t]) => ({
      name,
      dtype: t.dtype,
      shape: t.shape,
      bytes: () => new Uint8Array(native.toBytes(t.handle)),
    })),
    metadata,
  );
}

/**
 * Writes `names` (name in the file → key of `source`) from `source` to `file` atomically, one
 * tensor in memory at a time: converting a 10 GB model needs no 10 GB of memory. With
 * `floatDtype`, floating-point tensors are written in that dtype (integer ones as they are).
 */
export function saveSafetensorsFrom(
  file: string,
  source: TensorSource,
  names: ReadonlyMap<string, string>,
  metadata: Record<string, string> = {},
  { floatDtype }: { floatDtype?: DType } = {},
): void {
  writeEntries(
    file,
    [...names].map(([name, key]) => {
      const info = source.info(key);
      const dtype = floatDtype && isFloating(info.dtype) ? floatDtype : info.dtype;
      return {
        name,
        dtype,
        shape: info.shape,
        bytes: () => {
          using t = source.get(key, { dtype });
          return new Uint8Array(native.toBytes(t.handle));
        },
      };
    }),
    metadata,
  );
}

function writeEntries(
  file: string,
  entries: { name: string; dtype: DType; shape: readonly number[]; bytes: () => Uint8Array }[],
  metadata: Record<string, string>,
): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, dtype, shape } of entries) {
    const bytes = shape.reduce((a, b) => a * b, 1) * itemSize[dtype];
    header[name] = { dtype: toFileDtype[dtype], shape: [...shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));

  writeFileAtomicSync(file, (fd) => {
    writeAll(fd, length);
    writeAll(fd, headerBytes);
    for (const entry of entries) writeAll(fd, entry.bytes());
  });
}
