// AdamW (Loshchilov & Hutter) with PyTorch's semantics: decoupled weight decay p ← p(1 − lr·λ),
// then the Adam update with bias correction, denominator √v̂ + ε.
import { keep, noGrad, scope, zerosLike, type Tensor } from '../torch/index.js';

export interface AdamWOptions {
  lr: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}

interface State {
  expAvg: Tensor;
  expAvgSq: Tensor;
}

export class AdamW {
  lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  stepCount = 0;
  readonly #params: Tensor[];
  readonly #state = new Map<Tensor, State>();

  constructor(params: Iterable<Tensor>, { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 1e-2 }: AdamWOptions) {
    this.#params = [...params];
    if (this.#params.length === 0) throw new Error('AdamW: no parameters to optimise');
    for (const p of this.#params) if (!p.requiresGrad) throw new Error(`AdamW: a parameter ${p} does not require grad`);
    if (!(lr >= 0)) throw new RangeError(`AdamW: lr must be >= 0, got ${lr}`);
    if (!(betas[0] >= 0 && betas[0] < 1 && betas[1] >= 0 && betas[1] < 1))
      throw new RangeError(`AdamW: betas must be in [0, 1), got ${betas.join(', ')}`);
    this.lr = lr;
    this.betas = betas;
    this.eps = eps;
    this.weightDecay = weightDecay;
  }

  get params(): readonly Tensor[] {
    return this.#params;
  }

  /** One update from the accumulated `.grad`s; parameters without a gradient are skipped. */
  step(): void {
    this.stepCount++;
    const [beta1, beta2] = this.betas;
    const bias1 = 1 - beta1 ** this.stepCount;
    const bias2Sqrt = Math.sqrt(1 - beta2 ** this.stepCount);
    noGrad(() => {
      for (const p of this.#params) {
        using grad = p.grad;
        if (!grad) continue;
        let state = this.#state.get(p);
        if (!state) {
          // kept: optimiser state outlives any scope a step runs in
          state = { expAvg: keep(zerosLike(p)), expAvgSq: keep(zerosLike(p)) };
          this.#state.set(p, state);
        }
        if (this.weightDecay !== 0) p.mul_(1 - this.lr * this.weightDecay);
        state.expAvg.lerp_(grad, 1 - beta1);
        state.expAvgSq.mul_(beta2).addcmul_(grad, grad, 1 - beta2);
        using denom = state.expAvgSq.sqrt().div_(bias2Sqrt).add_(this.eps);
        p.addcdiv_(state.expAvg, denom, -this.lr / bias1);
      }
    });
  }

  /** Clears every parameter's gradient (set to None, as PyTorch's default). */
  zeroGrad(): void {
    for (const p of this.#params) p.grad = null;
  }

  /** Moment buffers by parameter index, for checkpoints. */
  stateOf(index: number): { expAvg: Tensor; expAvgSq: Tensor } | undefined {
    const p = this.#params[index];
    return p ? this.#state.get(p) : undefined;
  }

  /** Restores a parameter's moment buffers (copies; a resumed run continues bit for bit). */
  setStateOf(index: number, expAvg: Tensor, expAvgSq: Tensor): void {
    const p = this.#params[index];
    if (!p) throw new RangeError(`AdamW: no parameter ${index}`);
    if (expAvg.numel() !== p.numel() || expAvgSq.numel() !== p.numel())
      throw new RangeError(
        `AdamW: state of parameter ${index} has ${expAvg.numel()} elements, the parameter ${p.numel()}`,
      );
    this.#state.get(p)?.expAvg.dispose();
    this.#state.get(p)?.expAvgSq.dispose();
    const own = (t: Tensor): Tensor =>
      keep(scope(() => t.to({ dtype: p.dtype, device: p.device, copy: true }).reshape(...p.shape)));
    this.#state.set(p, { expAvg: own(expAvg), expAvgSq: own(expAvgSq) });
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const s of this.#state.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    this.#state.clear();
  }
}
