// Module: a tree of named parameters, buffers and child modules, like torch.nn.Module. State-dict
// keys are the dotted paths (`blocks.0.attn1.to_q.weight`). Parameters keep their identity for
// life: loading copies into them, so fields that reference them stay valid.
import { FileFormatError } from '../errors.js';
import {
  applyLoadOptions,
  callAten,
  isFloating,
  keep,
  noGrad,
  type DType,
  type Tensor,
  type TensorSource,
} from '../torch/index.js';

export interface LoadReport {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; expected: readonly number[]; got: readonly number[] }[];
  /** Keys whose values are of another kind than the parameter's (integers or booleans for floats, or the reverse). */
  wrongKind: { key: string; expected: DType; got: DType }[];
}

export class StateDictError extends FileFormatError {
  override name = 'StateDictError';
  constructor(
    readonly report: LoadReport,
    where: string,
  ) {
    const parts: string[] = [];
    if (report.missing.length) parts.push(`missing keys (${report.missing.length}): ${report.missing.join(', ')}`);
    if (report.unexpected.length)
      parts.push(`unexpected keys (${report.unexpected.length}): ${report.unexpected.join(', ')}`);
    for (const m of report.mismatched)
      parts.push(`${m.key}: expected shape [${m.expected.join(', ')}], got [${m.got.join(', ')}]`);
    for (const m of report.wrongKind) parts.push(`${m.key}: holds ${m.got} values, the parameter is ${m.expected}`);
    super(`${where}: state dict does not match the model:\n  ${parts.join('\n  ')}`);
  }
}

/** Called after each tensor is loaded: how many of `total` are done (a real model has hundreds). */
export type LoadProgress = (done: number, total: number) => void;

export class Module {
  training = true;
  readonly #parameters = new Map<string, Tensor>();
  readonly #buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();
  readonly #children = new Map<string, Module>();

  protected registerParameter(name: string, tensor: Tensor, requiresGrad = true): Tensor {
    keep(tensor);
    if (tensor.requiresGrad !== requiresGrad) tensor.requiresGrad_(requiresGrad);
    this.#parameters.set(name, tensor);
    return tensor;
  }

  /** Non-persistent buffers (e.g. RoPE tables) are not part of the state dict. */
  protected registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    keep(tensor);
    this.#buffers.set(name, { tensor, persistent });
    return tensor;
  }

  /** Puts `tensor` in place of the parameter `name` (which is released): a stored weight's placeholder. */
  protected replaceParameter(name: string, tensor: Tensor, requiresGrad = false): Tensor {
    const old = this.#parameters.get(name);
    if (!old) throw new Error(`${this.constructor.name} has no parameter '${name}'`);
    this.#parameters.delete(name);
    old.dispose();
    return this.registerParameter(name, tensor, requiresGrad);
  }

  /**
   * Loads this module's own parameter `name` from `source[key]` its own way (a weight kept
   * outside its parameter: linear.ts); false leaves it to the plain copy.
   */
  protected loadParameterFrom(_name: string, _source: TensorSource, _key: string): boolean {
    return false;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#children.set(name, module);
    return module;
  }

  /** Removes a child (the caller disposes it). */
  protected unregisterModule(name: string): void {
    if (!this.#children.delete(name)) throw new Error(`${this.constructor.name} has no child module '${name}'`);
  }

  child(name: string): Module | undefined {
    return this.#children.get(name);
  }

  *namedChildren(): Generator<[string, Module]> {
    yield* this.#children;
  }

  /** Every module in the tree with its dotted path ('' for this one). */
  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.#children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [name, p] of this.#parameters) yield [prefix ? `${prefix}.${name}` : name, p];
    for (const [name, child] of this.#children) yield* child.namedParameters(prefix ? `${prefix}.${name}` : name);
  }

  *namedBuffers(prefix = '', persistentOnly = false): Generator<[string, Tensor]> {
    for (const [name, b] of this.#buffers)
      if (!persistentOnly || b.persistent) yield [prefix ? `${prefix}.${name}` : name, b.tensor];
    for (const [name, child] of this.#children)
      yield* child.namedBuffers(prefix ? `${prefix}.${name}` : name, persistentOnly);
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  /** Parameters that will receive gradients. */
  trainableParameters(): [string, Tensor][] {
    return [...this.namedParameters()].filter(([, p]) => p.requiresGrad);
  }

  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.numel(), 0);
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad_(on);
    return this;
  }

  /** Parameters and persistent buffers by dotted key (references, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers('', true)]);
  }

  /**
   * Copies tensors into this module's parameters and persistent buffers by key, converting dtype
   * and device. `strict` (the default) rejects missing and unexpected keys; a shape mismatch is
   * always an error. Every bad key is named at once.
   */
  loadStateDict(
    source: Map<string, Tensor> | TensorSource,
    {
      strict = true,
      where = 'loadStateDict',
      onProgress,
    }: { strict?: boolean; where?: string; onProgress?: LoadProgress } = {},
  ): LoadReport {
    const own = this.stateDict();
    const keys = source instanceof Map ? [...source.keys()] : source.keys();
    const infoOf = (key: string): { shape: readonly number[]; dtype: DType } =>
      source instanceof Map ? source.get(key)! : source.info(key);
    const ownKeys = new Set(keys);
    const report: LoadReport = {
      missing: [...own.keys()].filter((k) => !ownKeys.has(k)),
      unexpected: keys.filter((k) => !own.has(k)),
      mismatched: [],
      wrongKind: [],
    };
    for (const key of keys) {
      const target = own.get(key);
      if (!target) continue;
      const { shape: got, dtype } = infoOf(key);
      if (got.length !== target.shape.length || got.some((n, i) => n !== target.shape[i])) {
        report.mismatched.push({ key, expected: target.shape, got });
      }
      if (isFloating(dtype) !== isFloating(target.dtype))
        report.wrongKind.push({ key, expected: target.dtype, got: dtype });
    }
    if (
      report.mismatched.length ||
      report.wrongKind.length ||
      (strict && (report.missing.length || report.unexpected.length))
    ) {
      throw new StateDictError(report, where);
    }
    const total = keys.filter((key) => own.has(key)).length;
    const owners = new Map<string, [Module, string]>();
    for (const [prefix, module] of this.namedModules())
      for (const name of module.#parameters.keys()) owners.set(prefix ? `${prefix}.${name}` : name, [module, name]);
    const asSource = source instanceof Map ? mapSource(source) : source;
    let done = 0;
    noGrad(() => {
      for (const key of keys) {
        const target = own.get(key);
        if (!target) continue;
        const owner = owners.get(key);
        if (owner && owner[0].loadParameterFrom(owner[1], asSource, key)) {
          onProgress?.(++done, total);
          continue;
        }
        if (source instanceof Map) {
          target.copy_(source.get(key)!);
        } else {
          using read = source.get(key, { dtype: target.dtype, device: target.device });
          // The parameter adopts the buffer the file was read into (its own, built empty, was never
          // touched): the weights are in memory once, not read into a buffer and copied.
          using loaded = read.contiguous();
          (callAten('aten::set_', 'source_Tensor', target, loaded) as Tensor).dispose(); // set_ returns target: a new handle
        }
        onProgress?.(++done, total);
      }
    });
    return report;
  }

  /** `using model = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const p of this.#parameters.values()) p.dispose();
    for (const b of this.#buffers.values()) b.tensor.dispose();
    for (const c of this.#children.values()) c.dispose();
  }
}

/** A map of tensors as a TensorSource whose `get` gives aliases (the map keeps its tensors). */
function mapSource(map: Map<string, Tensor>): TensorSource {
  return {
    keys: () => [...map.keys()],
    has: (key) => map.has(key),
    info: (key) => ({ dtype: map.get(key)!.dtype, shape: [...map.get(key)!.shape], begin: 0, end: 0 }),
    get: (key, options) => applyLoadOptions(map.get(key)!.detach(), options),
  };
}

/** Loads weights into a just-built model, strictly; if that fails the model is released first. */
export function loadPretrained<M extends Module>(
  model: M,
  source: Map<string, Tensor> | TensorSource,
  where: string,
  onProgress?: LoadProgress,
): M {
  try {
    model.loadStateDict(source, { where, onProgress });
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/** Children named '0', '1', … (torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(modules: M[] = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(module: M): void {
    this.registerModule(String(this.items.length), module);
    this.items.push(module);
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const m = this.items[index];
    if (!m) throw new RangeError(`ModuleList index ${index} out of range (${this.items.length})`);
    return m;
  }
}
