// torch.nn.Linear with an optional LoRA adapter slot, as PEFT's LoraLayer holds one:
// y = x Wᵀ + b + (α/r)·B(A x), A [r, in] Kaiming-uniform, B [out, r] zero, children `lora_A`
// and `lora_B` (so the keys are `to_q.lora_A.weight`, PEFT's and diffusers' names). The weight
// may be kept outside its parameter (`storeWeight`: fp8 bytes, or host memory for block swap) and
// widened only while the layer runs.
import { zeros, linear, noGrad, scope, type Device, type Tensor, type TensorSource } from '../torch/index.js';
import { uniformParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';
import { Float8Weight, HostWeight, type StoredWeight, type WeightStorage } from './stored_weight.js';

export interface LoraOptions {
  rank: number;
  /** Defaults to the rank (scaling 1), as in the release. */
  alpha?: number;
  /** The adapter's dtype; float32 by default whatever the base dtype. */
  dtype?: LayerOptions['dtype'];
  generator?: LayerOptions['generator'];
  init?: LayerOptions['init'];
}

/** y = x Wᵀ + b with W [out, in] (torch.nn.Linear, same initialisation). */
export class Linear extends Module {
  /** The weight; with a stored weight, a placeholder of its shape, dtype and device (one element, expanded). */
  weight: Tensor;
  readonly bias: Tensor | null;
  lora_A: Linear | null = null;
  lora_B: Linear | null = null;
  loraAlpha = 0;
  #storage: WeightStorage | null = null;
  #stored: StoredWeight | null = null;
  #storeDevice: Device = 'cpu';

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    { bias = true, ...options }: LayerOptions & { bias?: boolean } = {},
  ) {
    super();
    // Kaiming-uniform with a = √5 reduces to U(±1/√in), as does the bias.
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.registerParameter('weight', uniformParameter([outFeatures, inFeatures], bound, options));
    this.bias = bias ? this.registerParameter('bias', uniformParameter([outFeatures], bound, options)) : null;
  }

  /** How the weight is kept outside its parameter (null: in it). */
  get storage(): WeightStorage | null {
    return this.#storage;
  }

  /** The stored weight (null until loaded, or when the weight is in its parameter). */
  get stored(): StoredWeight | null {
    return this.#stored;
  }

  /**
   * Keeps the weight outside its parameter from now on: 'fp8' as e4m3fn bytes with a scale per
   * output row (or per tensor, as a scaled fp8 file stores it), 'host' in host memory in the
   * parameter's dtype. The store lives on `device` (default the weight's; 'host' on the CPU): the
   * CPU for block swap, each use then copying it to the weight's device. The parameter's values
   * move into the store (or, for a model built with `init: 'empty'`, the load fills it:
   * `loadParameterFrom`); the parameter becomes a one-element placeholder of the same shape,
   * dtype and device.
   */
  storeWeight(storage: WeightStorage, { values = true, device }: { values?: boolean; device?: Device } = {}): void {
    if (this.#storage) throw new Error(`this Linear's weight is already stored (${this.#storage})`);
    const old = this.weight;
    this.#storeDevice = storage === 'host' ? 'cpu' : (device ?? old.device);
    if (values) {
      using moved = old.to({ device: this.#storeDevice });
      this.#stored = storage === 'fp8' ? Float8Weight.quantize(moved) : new HostWeight(moved.clone());
    }
    this.weight = this.replaceParameter(
      'weight',
      noGrad(() => scope(() => zeros([1, 1], { dtype: old.dtype, device: old.device }).expand(...old.shape))),
    );
    this.#storage = storage;
  }

  /** The weight as the forward uses it: the parameter, or the stored weight widened (the caller disposes it). */
  #weightForForward(): Tensor {
    if (!this.#storage) return this.weight;
    if (!this.#stored)
      throw new Error(`Linear ${this.inFeatures}->${this.outFeatures}: its stored weight was never loaded`);
    return this.#stored.widen(this.weight.dtype, this.weight.device);
  }

  protected override loadParameterFrom(name: string, source: TensorSource, key: string): boolean {
    if (name !== 'weight' || !this.#storage) return false;
    this.#stored?.dispose();
    const device = this.#storeDevice;
    if (this.#storage === 'host') {
      this.#stored = new HostWeight(source.get(key, { dtype: this.weight.dtype, device }));
      return true;
    }
    const raw = source.float8?.(key);
    if (raw) {
      this.#stored = new Float8Weight(raw, device);
    } else {
      using loaded = source.get(key, { device });
      this.#stored = Float8Weight.quantize(loaded);
    }
    return true;
  }

  get loraRank(): number {
    return this.lora_A?.outFeatures ?? 0;
  }

  get loraScaling(): number {
    return this.loraAlpha / this.loraRank;
  }

  /** Adds the adapter: A drawn like a Linear's weight (kaiming_uniform_(a=√5)), B zero, so the output is unchanged. */
  attachLora({ rank, alpha = rank, dtype = 'float32', generator, init }: LoraOptions): void {
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`LoRA rank must be a positive integer, got ${rank}`);
    if (this.lora_A) throw new Error('this Linear already has a LoRA adapter');
    const device = this.weight.device;
    this.lora_A = this.registerModule(
      'lora_A',
      new Linear(this.inFeatures, rank, { bias: false, dtype, device, generator, init }),
    );
    this.lora_B = this.registerModule(
      'lora_B',
      new Linear(rank, this.outFeatures, { bias: false, dtype, device, init: 'empty' }),
    );
    noGrad(() => this.lora_B!.weight.zero_());
    this.loraAlpha = alpha;
  }

  /** W += (α/r)·B·A in W's dtype, and the adapter is removed. */
  mergeLora(): void {
    const [a, b] = [this.lora_A, this.lora_B];
    if (!a || !b) return;
    if (this.#storage)
      throw new Error(`a LoRA cannot be merged into a ${this.#storage}-stored weight; it runs beside it instead`);
    noGrad(() => scope(() => this.weight.add_(b.weight.matmul(a.weight).mul(this.loraScaling).typeAs(this.weight))));
    this.unregisterModule('lora_A');
    this.unregisterModule('lora_B');
    a.dispose();
    b.dispose();
    this.lora_A = this.lora_B = null;
  }

  forward(x: Tensor): Tensor {
    const [a, b] = [this.lora_A, this.lora_B];
    if (!a || !b) {
      if (!this.#storage) return linear(x, this.weight, this.bias);
      using weight = this.#weightForForward();
      return linear(x, weight, this.bias);
    }
    return scope(() => {
      const y = linear(x, this.#weightForForward(), this.bias);
      const delta = b.forward(a.forward(x.typeAs(a.weight)));
      return y.add((this.loraScaling === 1 ? delta : delta.mul(this.loraScaling)).typeAs(y));
    });
  }

  override dispose(): void {
    this.#stored?.dispose();
    this.#stored = null;
    super.dispose();
  }
}
