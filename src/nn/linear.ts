// torch.nn.Linear with an optional LoRA adapter slot, as PEFT's LoraLayer holds one:
// y = x Wᵀ + b + (α/r)·B(A x), A [r, in] Kaiming-uniform, B [out, r] zero, children `lora_A`
// and `lora_B` (so the keys are `to_q.lora_A.weight`, PEFT's and diffusers' names).
import { linear, noGrad, scope, type Tensor } from '../torch/index.js';
import { uniformParameter, type LayerOptions } from './init.js';
import { Module } from './module.js';

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
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  lora_A: Linear | null = null;
  lora_B: Linear | null = null;
  loraAlpha = 0;

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
    noGrad(() => scope(() => this.weight.add_(b.weight.matmul(a.weight).mul(this.loraScaling).typeAs(this.weight))));
    this.unregisterModule('lora_A');
    this.unregisterModule('lora_B');
    a.dispose();
    b.dispose();
    this.lora_A = this.lora_B = null;
  }

  forward(x: Tensor): Tensor {
    const [a, b] = [this.lora_A, this.lora_B];
    if (!a || !b) return linear(x, this.weight, this.bias);
    return scope(() => {
      const y = linear(x, this.weight, this.bias);
      const delta = b.forward(a.forward(x.typeAs(a.weight)));
      return y.add((this.loraScaling === 1 ? delta : delta.mul(this.loraScaling)).typeAs(y));
    });
  }
}
