// UniPC multistep (Zhao et al. 2023) as diffusers' UniPCMultistepScheduler runs it for Wan: flow
// prediction converted to x0 = x − σ·v, predict_x0, solver bh2 (B(h) = e^{−h} − 1... as expm1),
// order 2 with the lower order at the first step (warm-up) and the last (lower_order_final), the
// corrector UniC after every step but the first, final σ zero (the last step lands on x0).
// With α = 1 − σ and λ = log α − log σ, a step from s0 = σ_i to t = σ_{i+1}, h = λ_t − λ_s0:
//   predictor  x_t = σ_t/σ_s0·x − α_t·expm1(−h)·m0 − α_t·B_h·ρ_p·D1,  D1 = (m_{-1} − m0)/r1, ρ_p = 1/2
//   corrector  x_t = σ_t/σ_s0·x_s0 − α_t·expm1(−h)·m0 − α_t·B_h·(Σ ρ_k·D1_k + ρ_last·(m_t − m0))
// where r1 = (λ_{s-1} − λ_s0)/h and ρ solves R·ρ = b (order 1: ρ = 1/2). Scalars are float64 from
// the float32 grid; latents stay float32.
import { keep, scope, type Tensor } from '../torch/index.js';
import { samplingSchedule } from './flow_schedule.js';
import type { FlowSampler } from './sampler.js';

const SOLVER_ORDER = 2;

function lambda(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

export class UniPCMultistepSampler implements FlowSampler {
  readonly timesteps: readonly number[];
  readonly sigmas: readonly number[];
  #index = 0;
  /** x0 predictions of the last steps, oldest first. */
  #outputs: Tensor[] = [];
  /** The sample the last predictor started from (the corrector redoes that step). */
  #lastSample: Tensor | null = null;
  #lastOrder = 1;
  #lowerOrderNums = 0;

  constructor({ steps, shift = 5 }: { steps: number; shift?: number }) {
    ({ timesteps: this.timesteps, sigmas: this.sigmas } = samplingSchedule(steps, shift));
  }

  step(velocity: Tensor, sampleIn: Tensor): Tensor {
    const i = this.#index;
    const steps = this.timesteps.length;
    if (i >= steps) throw new Error(`UniPCMultistepSampler: step ${i + 1} of ${steps}`);
    const out = scope(() => {
      let sample = sampleIn.float();
      const x0 = sample.sub(velocity.float(), this.sigmas[i]!);
      if (i > 0 && this.#lastSample) sample = this.#corrector(x0, this.#lastSample, this.#lastOrder);
      this.#push(keep(x0));
      const order = Math.min(SOLVER_ORDER, steps - i, this.#lowerOrderNums + 1);
      this.#setLastSample(keep(sample.float()));
      this.#lastOrder = order;
      return this.#predictor(sample, order);
    });
    if (this.#lowerOrderNums < SOLVER_ORDER) this.#lowerOrderNums++;
    this.#index++;
    return out;
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const t of this.#outputs) t.dispose();
    this.#outputs = [];
    this.#lastSample?.dispose();
    this.#lastSample = null;
  }

  #push(x0: Tensor): void {
    this.#outputs.push(x0);
    while (this.#outputs.length > SOLVER_ORDER) this.#outputs.shift()!.dispose();
  }

  #setLastSample(sample: Tensor): void {
    this.#lastSample?.dispose();
    this.#lastSample = sample;
  }

  /** UniP from σ_i to σ_{i+1} with the x0 predictions so far (the newest is m0). */
  #predictor(x: Tensor, order: number): Tensor {
    const i = this.#index;
    const [sS0, sT] = [this.sigmas[i]!, this.sigmas[i + 1]!];
    const m0 = this.#outputs[this.#outputs.length - 1]!;
    const h = lambda(sT) - lambda(sS0); // +∞ at the final σ = 0
    const hPhi1 = Math.expm1(-h);
    const alphaT = 1 - sT;
    // x_t = σ_t/σ_s0·x − α_t·h_φ1·m0 (at σ_t = 0: exactly m0)
    let xt = sT === 0 ? m0.clone() : x.mul(sT / sS0).sub(m0, alphaT * hPhi1);
    if (order === 2) {
      const m1 = this.#outputs[this.#outputs.length - 2]!;
      const rk = (lambda(this.sigmas[i - 1]!) - lambda(sS0)) / h;
      // − α_t·B_h·ρ_p·D1 with B_h = h_φ1 (bh2), ρ_p = 1/2, D1 = (m1 − m0)/rk
      xt = xt.add(m1.sub(m0), (-alphaT * hPhi1 * 0.5) / rk);
    }
    return xt;
  }

  /** UniC: redoes the last step from the sample it started at, now knowing m_t = x0 here. */
  #corrector(modelT: Tensor, lastSample: Tensor, order: number): Tensor {
    const i = this.#index;
    const [sS0, sT] = [this.sigmas[i - 1]!, this.sigmas[i]!];
    const m0 = this.#outputs[this.#outputs.length - 1]!;
    const h = lambda(sT) - lambda(sS0);
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    const bH = hPhi1;
    const alphaT = 1 - sT;
    let rhos: number[];
    let rk = 0;
    if (order === 1) {
      rhos = [0.5];
    } else {
      rk = (lambda(this.sigmas[i - 2]!) - lambda(sS0)) / h;
      // R = [[1, 1], [rk, 1]], b_k = h_φk·k!/B_h with h_φ1 = expm1(hh)/hh − 1, h_φ2 = h_φ1/hh − 1/2
      const phi1 = hPhi1 / hh - 1;
      const phi2 = phi1 / hh - 0.5;
      const b = [phi1 / bH, (phi2 * 2) / bH];
      const det = 1 - rk;
      rhos = [(b[0]! - b[1]!) / det, (b[1]! - rk * b[0]!) / det];
    }
    let xt = lastSample.mul(sT / sS0).sub(m0, alphaT * hPhi1);
    if (order === 2) {
      const m1 = this.#outputs[this.#outputs.length - 2]!;
      xt = xt.add(m1.sub(m0), (-alphaT * bH * rhos[0]!) / rk);
    }
    return xt.add(modelT.sub(m0), -alphaT * bH * rhos[rhos.length - 1]!);
  }
}
