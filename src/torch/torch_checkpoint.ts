// PyTorch checkpoints, read through the restricted unpickler, in both of torch.save's formats:
// the zip format (`<name>/data.pkl`, `<name>/data/<key>` storages; torch >= 1.6) and the legacy
// one (torch < 1.6, and `_use_new_zipfile_serialization=False`): five pickles in a row (magic
// number, protocol 1001, system info, the object, its storage keys), then each storage in key
// order as a little-endian int64 element count and its bytes. Read: tensors come back as references to their stored bytes,
// read into libtorch only when asked for, and nothing in the file ever runs. This is how the
// release's Lightning .ckpt files (LoRA tensors under state_dict.lora, beside pickled OmegaConf
// hyper-parameters and optimiser state) are read.
import { dtypeCode, itemSize, type DType } from './dtype.js';
import { FileFormatError } from '../errors.js';
import { native } from './native.js';
import { unpickle, StandIn, StandInCall, type Builder } from './pickle.js';
import { callAten } from './call_aten.js';
import { wrap, type Tensor } from './tensor.js';
import type { LoadOptions, TensorInfo, TensorSource } from './safetensors.js';
import { readZipDirectory, readZipEntry, type ZipEntry } from './zip_directory.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

class StorageType {
  constructor(readonly dtype: DType) {}
}

interface StorageRef {
  key: string;
  dtype: DType;
  entry: ZipEntry;
}

/** A tensor of the checkpoint, not read yet. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
  get dtype(): DType {
    return this.storage.dtype;
  }
  get contiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d]! !== 1 && this.stride[d]! !== expected) return false;
      expected *= this.shape[d]!;
    }
    return true;
  }
}

function isIntList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((n) => Number.isInteger(n) && n >= 0);
}

export class TorchCheckpoint {
  private constructor(
    readonly file: string,
    readonly value: unknown,
    readonly standIns: ReadonlySet<string>,
  ) {}

  /**
   * Unpickles the checkpoint's object (a zip archive's data.pkl, or a legacy file's pickles); no
   * tensor data is read yet.
   */
  static open(file: string): TorchCheckpoint {
    const fd = openSync(file, 'r');
    let head: Buffer;
    try {
      head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
    } finally {
      closeSync(fd);
    }
    const { value, standIns } = head.readUInt32LE(0) === ZIP_LOCAL_HEADER ? openZip(file) : openLegacy(file);
    return new TorchCheckpoint(file, value, standIns);
  }

  /** Reads a tensor's bytes into a new libtorch tensor. */
  load(ref: TensorRef, { dtype, device }: LoadOptions = {}): Tensor {
    const { entry } = ref.storage;
    if (entry.method !== 0)
      throw new FileFormatError(
        `${this.file}: storage '${ref.storage.key}' is compressed; PyTorch stores them uncompressed`,
      );
    const size = itemSize[ref.dtype];
    let t: Tensor;
    if (ref.contiguous) {
      t = wrap(native.readFile(this.file, entry.dataOffset + ref.offset * size, ref.shape, dtypeCode(ref.dtype)));
    } else {
      const whole = wrap(native.readFile(this.file, entry.dataOffset, [entry.size / size], dtypeCode(ref.dtype)));
      const view = callAten('aten::as_strided', '', whole, ref.shape, ref.stride, ref.offset) as Tensor;
      t = view.contiguous();
      view.dispose();
      whole.dispose();
    }
    if ((dtype === undefined || dtype === t.dtype) && (device === undefined || device === 'cpu')) return t;
    const converted = t.to({ dtype, device });
    t.dispose();
    return converted;
  }

  /** The tensors of a dict found at `path` (e.g. ['state_dict', 'lora']), as a source to load from. */
  tensorsAt(path: readonly string[]): TensorSource {
    let node: unknown = this.value;
    for (const key of path) {
      if (!(node instanceof Map) || !node.has(key))
        throw new FileFormatError(`${this.file}: no '${path.join('.')}' in the checkpoint (stopped at '${key}')`);
      node = node.get(key);
    }
    if (!(node instanceof Map)) throw new FileFormatError(`${this.file}: '${path.join('.')}' is not a dict of tensors`);
    const refs = new Map(
      [...node].filter((e): e is [string, TensorRef] => typeof e[0] === 'string' && e[1] instanceof TensorRef),
    );
    const info = (key: string): TensorInfo => {
      const ref = refs.get(key);
      if (!ref) throw new FileFormatError(`${this.file}: no tensor '${key}' under ${path.join('.')}`);
      const begin = ref.storage.entry.dataOffset + ref.offset * itemSize[ref.dtype];
      return {
        dtype: ref.dtype,
        shape: ref.shape,
        begin,
        end: begin + ref.shape.reduce((a, b) => a * b, 1) * itemSize[ref.dtype],
      };
    };
    return {
      keys: () => [...refs.keys()],
      has: (key) => refs.has(key),
      info,
      get: (key, options) => (info(key), this.load(refs.get(key)!, options)),
    };
  }
}

const ZIP_LOCAL_HEADER = 0x04034b50;
/** The legacy format's first pickle. */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

type Unpickled = { value: unknown; standIns: Set<string> };

/** The globals a checkpoint may name, with `storage` resolving persistent ids to storages. */
function checkpointBuilders(where: string): Map<string, Builder> {
  const builders = new Map<string, Builder>();
  const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef => {
    if (
      !(storage && typeof storage === 'object' && 'entry' in storage) ||
      !Number.isInteger(offset) ||
      !isIntList(size) ||
      !isIntList(stride) ||
      size.length !== stride.length
    ) {
      throw new FileFormatError(`${where}: a tensor rebuild with malformed arguments`);
    }
    const ref = new TensorRef(storage as StorageRef, offset as number, [...size], [...stride]);
    const last = ref.shape.reduce((end, n, d) => (n === 0 ? end : end + (n - 1) * ref.stride[d]!), ref.offset) + 1;
    if (ref.shape.every((n) => n > 0) && last * itemSize[ref.dtype] > ref.storage.entry.size) {
      throw new FileFormatError(
        `${where}: a tensor [${ref.shape.join(', ')}] at offset ${ref.offset} runs past its storage '${ref.storage.key}' (${ref.storage.entry.size} bytes)`,
      );
    }
    return ref;
  };
  builders.set('torch._utils._rebuild_tensor_v2', (storage, offset, size, stride) =>
    rebuild(storage, offset, size, stride),
  );
  builders.set('torch._utils._rebuild_tensor', (storage, offset, size, stride) =>
    rebuild(storage, offset, size, stride),
  );
  builders.set('torch._utils._rebuild_parameter', (data) => data);
  builders.set('torch._utils._rebuild_parameter_with_state', (data) => data);
  builders.set(
    'collections.OrderedDict',
    (items) => new Map(Array.isArray(items) ? (items as [unknown, unknown][]) : []),
  );
  builders.set('builtins.set', (items) => new Set(Array.isArray(items) ? items : []));
  builders.set('builtins.frozenset', (items) => new Set(Array.isArray(items) ? items : []));
  builders.set('torch.Size', (dims) => (Array.isArray(dims) ? [...dims] : []));
  builders.set('torch.device', (type, index) =>
    index === undefined || index === null ? String(type) : `${String(type)}:${String(index)}`,
  );
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
    const type = new StorageType(dtype);
    builders.set(
      `torch.${name}`,
      Object.assign(() => type, { storageType: type }),
    );
  }
  return builders;
}

/** The storage type and key of a persistent id `('storage', type, key, ...)`; an error for anything else. */
function storageId(pid: unknown, where: string): { type: StorageType; key: string; rest: unknown[] } {
  const [kind, type, key, ...rest] = Array.isArray(pid) ? pid : [];
  const storageType =
    typeof type === 'function' && 'storageType' in type
      ? (type as unknown as { storageType: StorageType }).storageType
      : null;
  if (kind !== 'storage' || !storageType || typeof key !== 'string') {
    const shown = type instanceof StandIn ? type.qualifiedName : JSON.stringify(kind);
    throw new FileFormatError(`${where}: a persistent id that is not a known storage (${shown})`);
  }
  return { type: storageType, key, rest };
}

function openZip(file: string): Unpickled {
  const entries = readZipDirectory(file);
  const pkl = [...entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (!pkl)
    throw new FileFormatError(
      `${file}: no '<name>/data.pkl' in the archive; not a PyTorch checkpoint (torch.save's zip format)`,
    );
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const where = `${file} (${pkl})`;
  const persistentLoad = (pid: unknown): StorageRef => {
    const { type, key } = storageId(pid, where);
    const entry = entries.get(`${prefix}data/${key}`);
    if (!entry) throw new FileFormatError(`${where}: storage '${key}' is missing from the archive`);
    return { key, dtype: type.dtype, entry };
  };
  return unpickle(readZipEntry(file, entries.get(pkl)!), {
    builders: checkpointBuilders(where),
    persistentLoad,
    where,
  });
}

function openLegacy(file: string): Unpickled {
  const where = `${file} (torch.save's legacy format)`;
  const fd = openSync(file, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    // The pickles are small and come first: read a growing head of the file until all five parse.
    for (let length = Math.min(fileSize, 1 << 20); ; length = Math.min(fileSize, length * 8)) {
      const head = Buffer.alloc(length);
      readSync(fd, head, 0, length, 0);
      if (head[0] !== 0x80)
        throw new FileFormatError(
          `${file}: neither a zip archive nor a legacy PyTorch file (no pickle at its start); not a PyTorch checkpoint`,
        );
      const storages = new Map<string, StorageRef>();
      const persistentLoad = (pid: unknown): StorageRef => {
        const { type, key, rest } = storageId(pid, where);
        const [, numel, view] = rest;
        if (view !== null && view !== undefined)
          throw new FileFormatError(
            `${where}: storage '${key}' is a view of another storage (a format of torch < 0.4 this loader does not read)`,
          );
        if (!Number.isInteger(numel)) throw new FileFormatError(`${where}: storage '${key}' has no element count`);
        let ref = storages.get(key);
        if (!ref) {
          const bytes = (numel as number) * itemSize[type.dtype];
          ref = {
            key,
            dtype: type.dtype,
            entry: { name: key, method: 0, compressedSize: bytes, size: bytes, dataOffset: -1 },
          };
          storages.set(key, ref);
        }
        return ref;
      };
      let parsed: { object: Unpickled; keys: unknown; end: number };
      try {
        const builders = checkpointBuilders(where);
        const next = (at: number, load?: typeof persistentLoad) => {
          const r = unpickle(head.subarray(at), { builders, persistentLoad: load, where });
          return { ...r, end: at + r.end };
        };
        const magic = next(0);
        if (magic.value !== LEGACY_MAGIC)
          throw new FileFormatError(
            `${file}: neither a zip archive nor a legacy PyTorch file (no magic number); not a PyTorch checkpoint`,
          );
        const protocol = next(magic.end);
        if (protocol.value !== LEGACY_PROTOCOL)
          throw new FileFormatError(
            `${where}: protocol ${String(protocol.value)}, this loader reads ${LEGACY_PROTOCOL}`,
          );
        const system = next(protocol.end);
        const object = next(system.end, persistentLoad);
        const keys = next(object.end);
        parsed = { object, keys: keys.value, end: keys.end };
      } catch (error) {
        if (length < fileSize && error instanceof FileFormatError && /ends early/.test(error.message)) continue;
        throw error;
      }
      const keys = parsed.keys;
      if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string'))
        throw new FileFormatError(`${where}: the storage key list is not a list of strings`);
      let at = parsed.end;
      const count = Buffer.alloc(8);
      for (const key of keys as string[]) {
        if (readSync(fd, count, 0, 8, at) !== 8)
          throw new FileFormatError(`${where}: the file ends before storage '${key}'; the file is truncated`);
        const numel = Number(count.readBigInt64LE(0));
        const ref = storages.get(key);
        if (!ref) throw new FileFormatError(`${where}: storage '${key}' is listed but no tensor uses it`);
        if (numel * itemSize[ref.dtype] !== ref.entry.size)
          throw new FileFormatError(
            `${where}: storage '${key}' holds ${numel} elements, its tensors were saved with ${ref.entry.size / itemSize[ref.dtype]}`,
          );
        ref.entry.dataOffset = at + 8;
        at += 8 + ref.entry.size;
        if (at > fileSize)
          throw new FileFormatError(
            `${where}: storage '${key}' runs past the end of the file (${fileSize} bytes); the file is truncated`,
          );
      }
      for (const ref of storages.values())
        if (ref.entry.dataOffset < 0)
          throw new FileFormatError(`${where}: storage '${ref.key}' is used but not stored`);
      return { value: parsed.object.value, standIns: parsed.object.standIns };
    }
  } finally {
    closeSync(fd);
  }
}

/** Describes a value for messages: a stand-in call names its global. */
export function describePickled(value: unknown): string {
  if (value instanceof StandInCall) return `a call of ${value.callee.qualifiedName} (not run)`;
  if (value instanceof StandIn) return `the global ${value.qualifiedName}`;
  if (value instanceof Map) return 'a dict';
  if (Array.isArray(value)) return Object.isFrozen(value) ? 'a tuple' : 'a list';
  return value === null ? 'None' : typeof value;
}
