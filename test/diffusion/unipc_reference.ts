// An independent float64 transliteration of diffusers' UniPCMultistepScheduler.step for flow
// prediction (predict_x0, bh2, solver_order 2, lower_order_final, final σ zero), on plain
// number arrays, with the general R·ρ = b solve of any order written out: the tensor sampler in
// src/diffusion/unipc.ts is checked against it.

function lam(sigma: number): number {
  return Math.log(1 - sigma) - Math.log(sigma);
}

/** Gaussian elimination for a small dense system. */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

export class ReferenceUniPC {
  modelOutputs: (number[] | null)[] = [null, null];
  lowerOrderNums = 0;
  lastSample: number[] | null = null;
  thisOrder = 0;
  stepIndex = 0;
  constructor(
    readonly sigmas: number[],
    readonly solverOrder = 2,
  ) {}

  #coefficients(order: number, h: number, rks: number[]): { hPhi1: number; bH: number; R: number[][]; b: number[] } {
    const hh = -h;
    const hPhi1 = Math.expm1(hh);
    let hPhiK = hPhi1 / hh - 1;
    let factorial = 1;
    const bH = Math.expm1(hh);
    const R: number[][] = [];
    const b: number[] = [];
    for (let i = 1; i <= order; i++) {
      R.push(rks.map((r) => r ** (i - 1)));
      b.push((hPhiK * factorial) / bH);
      factorial *= i + 1;
      hPhiK = hPhiK / hh - 1 / factorial;
    }
    return { hPhi1, bH, R, b };
  }

  #predict(x: number[], order: number): number[] {
    const i = this.stepIndex;
    const [sT, sS0] = [this.sigmas[i + 1]!, this.sigmas[i]!];
    const m0 = this.modelOutputs[this.modelOutputs.length - 1]!;
    const h = lam(sT) - lam(sS0);
    const rks: number[] = [];
    const d1s: number[][] = [];
    for (let k = 1; k < order; k++) {
      const mi = this.modelOutputs[this.modelOutputs.length - (k + 1)]!;
      const rk = (lam(this.sigmas[i - k]!) - lam(sS0)) / h;
      rks.push(rk);
      d1s.push(mi.map((v, j) => (v - m0[j]!) / rk));
    }
    rks.push(1);
    const { hPhi1, bH, R, b } = this.#coefficients(order, h, rks);
    const rhos = d1s.length
      ? order === 2
        ? [0.5]
        : solve(
            R.slice(0, -1).map((r) => r.slice(0, -1)),
            b.slice(0, -1),
          )
      : [];
    const alphaT = 1 - sT;
    return x.map((v, j) => {
      const base = sT === 0 ? m0[j]! : (sT / sS0) * v - alphaT * hPhi1 * m0[j]!;
      const res = d1s.reduce((s, d, k) => s + rhos[k]! * d[j]!, 0);
      return base - alphaT * bH * res;
    });
  }

  #correct(modelT: number[], last: number[], order: number): number[] {
    const i = this.stepIndex;
    const [sT, sS0] = [this.sigmas[i]!, this.sigmas[i - 1]!];
    const m0 = this.modelOutputs[this.modelOutputs.length - 1]!;
    const h = lam(sT) - lam(sS0);
    const rks: number[] = [];
    const d1s: number[][] = [];
    for (let k = 1; k < order; k++) {
      const mi = this.modelOutputs[this.modelOutputs.length - (k + 1)]!;
      const rk = (lam(this.sigmas[i - (k + 1)]!) - lam(sS0)) / h;
      rks.push(rk);
      d1s.push(mi.map((v, j) => (v - m0[j]!) / rk));
    }
    rks.push(1);
    const { hPhi1, bH, R, b } = this.#coefficients(order, h, rks);
    const rhos = order === 1 ? [0.5] : solve(R, b);
    const alphaT = 1 - sT;
    return last.map((v, j) => {
      const base = (sT / sS0) * v - alphaT * hPhi1 * m0[j]!;
      const corr = d1s.reduce((s, d, k) => s + rhos[k]! * d[j]!, 0);
      return base - alphaT * bH * (corr + rhos[rhos.length - 1]! * (modelT[j]! - m0[j]!));
    });
  }

  /** diffusers' step(model_output = velocity, sample). */
  step(velocity: number[], sample: number[]): number[] {
    const steps = this.sigmas.length - 1;
    const x0 = sample.map((v, j) => v - this.sigmas[this.stepIndex]! * velocity[j]!);
    let x = sample;
    if (this.stepIndex > 0 && this.lastSample) x = this.#correct(x0, this.lastSample, this.thisOrder);
    this.modelOutputs = [...this.modelOutputs.slice(1), x0];
    this.thisOrder = Math.min(Math.min(this.solverOrder, steps - this.stepIndex), this.lowerOrderNums + 1);
    this.lastSample = x;
    const next = this.#predict(x, this.thisOrder);
    if (this.lowerOrderNums < this.solverOrder) this.lowerOrderNums++;
    this.stepIndex++;
    return next;
  }
}
