// PyTorch checkpoints (torch.save's zip format: `<name>/data.pkl`, `<name>/data/<key>` storages),
// read through the restricted unpickler: tensors come back as references to their stored bytes,
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

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32', DoubleStorage: 'float64', HalfStorage: 'float16', BFloat16Storage: 'bfloat16',
  LongStorage: 'int64', IntStorage: 'int32', ShortStorage: 'int16', CharStorage: 'int8', ByteStorage: 'uint8', BoolStorage: 'bool',
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
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
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
  private constructor(readonly file: string, readonly value: unknown, readonly standIns: ReadonlySet<string>) {}

  /** Reads the archive's directory and unpickles its data.pkl; no tensor data is read yet. */
  static open(file: string): TorchCheckpoint {
    const entries = readZipDirectory(file);
    const pkl = [...entries.keys()].find((name) => /^[^/]+\/data\.pkl$/.test(name));
    if (!pkl) throw new FileFormatError(`${file}: no '<name>/data.pkl' in the archive; not a PyTorch checkpoint (torch.save's zip format)`);
    const prefix = pkl.slice(0, -'data.pkl'.length);
    const where = `${file} (${pkl})`;
    const builders = new Map<string, Builder>();
    const rebuild = (storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef => {
      if (!(storage && typeof storage === 'object' && 'entry' in storage) || !Number.isInteger(offset) || !isIntList(size) || !isIntList(stride) || size.length !== stride.length) {
        throw new FileFormatError(`${where}: a tensor rebuild with malformed arguments`);
      }
      const ref = new TensorRef(storage as StorageRef, offset as number, [...size], [...stride]);
      const last = ref.shape.reduce((end, n, d) => (n === 0 ? end : end + (n - 1) * ref.stride[d]!), ref.offset) + 1;
      if (ref.shape.every((n) => n > 0) && last * itemSize[ref.dtype] > ref.storage.entry.size) {
        throw new FileFormatError(`${where}: a tensor [${ref.shape.join(', ')}] at offset ${ref.offset} runs past its storage '${ref.storage.key}' (${ref.storage.entry.size} bytes)`);
      }
      return ref;
    };
    builders.set('torch._utils._rebuild_tensor_v2', (storage, offset, size, stride) => rebuild(storage, offset, size, stride));
    builders.set('torch._utils._rebuild_tensor', (storage, offset, size, stride) => rebuild(storage, offset, size, stride));
    builders.set('torch._utils._rebuild_parameter', (data) => data);
    builders.set('torch._utils._rebuild_parameter_with_state', (data) => data);
    builders.set('collections.OrderedDict', (items) => new Map(Array.isArray(items) ? (items as [unknown, unknown][]) : []));
    builders.set('builtins.set', (items) => new Set(Array.isArray(items) ? items : []));
    builders.set('builtins.frozenset', (items) => new Set(Array.isArray(items) ? items : []));
    builders.set('torch.Size', (dims) => (Array.isArray(dims) ? [...dims] : []));
    builders.set('torch.device', (type, index) => (index === undefined || index === null ? String(type) : `${String(type)}:${String(index)}`));
    for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) {
      const type = new StorageType(dtype);
      builders.set(`torch.${name}`, Object.assign(() => type, { storageType: type }));
    }
    const persistentLoad = (pid: unknown): StorageRef => {
      const [kind, type, key] = Array.isArray(pid) ? pid : [];
      const storageType = typeof type === 'function' && 'storageType' in type ? (type as unknown as { storageType: StorageType }).storageType : null;
      if (kind !== 'storage' || !storageType || typeof key !== 'string') {
        const shown = type instanceof StandIn ? type.qualifiedName : JSON.stringify(kind);
        throw new FileFormatError(`${where}: a persistent id that is not a known storage (${shown})`);
      }
      const entry = entries.get(`${prefix}data/${key}`);
      if (!entry) throw new FileFormatError(`${where}: storage '${key}' is missing from the archive`);
      return { key, dtype: storageType.dtype, entry };
    };
    const { value, standIns } = unpickle(readZipEntry(file, entries.get(pkl)!), { builders, persistentLoad, where });
    return new TorchCheckpoint(file, value, standIns);
  }

  /** Reads a tensor's bytes into a new libtorch tensor. */
  load(ref: TensorRef, { dtype, device }: LoadOptions = {}): Tensor {
    const { entry } = ref.storage;
    if (entry.method !== 0) throw new FileFormatError(`${this.file}: storage '${ref.storage.key}' is compressed; PyTorch stores them uncompressed`);
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
      if (!(node instanceof Map) || !node.has(key)) throw new FileFormatError(`${this.file}: no '${path.join('.')}' in the checkpoint (stopped at '${key}')`);
      node = node.get(key);
    }
    if (!(node instanceof Map)) throw new FileFormatError(`${this.file}: '${path.join('.')}' is not a dict of tensors`);
    const refs = new Map([...node].filter((e): e is [string, TensorRef] => typeof e[0] === 'string' && e[1] instanceof TensorRef));
    const info = (key: string): TensorInfo => {
      const ref = refs.get(key);
      if (!ref) throw new FileFormatError(`${this.file}: no tensor '${key}' under ${path.join('.')}`);
      const begin = ref.storage.entry.dataOffset + ref.offset * itemSize[ref.dtype];
      return { dtype: ref.dtype, shape: ref.shape, begin, end: begin + ref.shape.reduce((a, b) => a * b, 1) * itemSize[ref.dtype] };
    };
    return {
      keys: () => [...refs.keys()],
      has: (key) => refs.has(key),
      info,
      get: (key, options) => (info(key), this.load(refs.get(key)!, options)),
    };
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
