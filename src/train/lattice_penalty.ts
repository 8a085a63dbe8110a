// A penalty on the period-2 lattice a decoder with a 2x2 unpatchify can draw (src/eval/lattice.ts
// measures it). A frame's lattice energy is that of its three bands around the Nyquist
// frequencies (W/2, 0), (0, H/2) and (W/2, H/2): each demodulated to DC by its sign pattern m,
// low-passed by the binomial b = [1 4 6 4 1]/16 in both axes, squared; as one convolution,
// B ∗ (x·m) = m·(B_m ∗ x) with B_m(k) = B(k)·m(k), and m² = 1:
//   E(x) = Σ_bands mean_{c, valid pixels} (B_m ∗ x)²
// b's response is exactly 0 at Nyquist and 1 at DC, so a constant frame or one varying smoothly
// has E ≈ 0, and c + a·(−1)^(x+y) has E = a² exactly. The decoder pays for what it draws beyond
// the truth's own energy there (which real edges have):
//   L = mean over frames of relu(E(x̂) − E(x))
import { conv2d, noGrad, tensor, type Tensor, type TensorOptions } from '../torch/index.js';

const BINOMIAL = [1, 4, 6, 4, 1].map((v) => v / 16);

export class LatticePenalty {
  /** [3C, 1, 5, 5]: per channel, the three demodulating low-pass kernels (x, y, xy). */
  readonly #kernel: Tensor;

  constructor(
    readonly channels = 3,
    options: TensorOptions = {},
  ) {
    const sign = (k: number): number => (k % 2 ? -1 : 1);
    const bands = [(_i: number, j: number) => sign(j), (i: number) => sign(i), (i: number, j: number) => sign(i + j)];
    const taps = bands.flatMap((m) => BINOMIAL.flatMap((bi, i) => BINOMIAL.map((bj, j) => bi * bj * m(i, j))));
    this.#kernel = tensor(Array.from({ length: channels }, () => taps).flat(), {
      ...options,
      shape: [3 * channels, 1, 5, 5],
    });
  }

  /** E of each frame of [N, C, H, W] (H, W ≥ 5): [N]. */
  energy(frames: Tensor): Tensor {
    const bands = conv2d(frames, this.#kernel, null, { groups: this.channels });
    return bands.square().mean([1, 2, 3]).mul(3);
  }

  /** mean over frames of relu(E(decoded) − E(truth)); the truth's side carries no gradient. */
  loss(decoded: Tensor, truth: Tensor): Tensor {
    const floor = noGrad(() => this.energy(truth));
    return this.energy(decoded).sub(floor).relu().mean();
  }

  dispose(): void {
    this.#kernel.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
