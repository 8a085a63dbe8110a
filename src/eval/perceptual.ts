// The metrics that score with the project's own PerceptionNet (src/models/perception), in the way
// the field computes them (definitions once):
//   perceptual distance (LPIPS-style, Zhang et al. 2018 with uniform layer weights): each down
//     block's features unit-normalised over channels at every pixel, the squared difference summed
//     over channels, averaged over pixels, then over the blocks; per frame, a video's the mean of
//     its frames'. 0 is identical features; at most 2.
//   Fréchet distance (FID/FVD-style, frechet.ts): the features of `frechet_blocks` averaged over
//     each frame's pixels and concatenated, one vector per frame of every video of a set.
//   content score (pix2pix's FCN-score): the network's class of every pixel (argmax) against the
//     renderer's true class map; IoU per class = intersection / union of pixels, summed over the
//     frames counted; mIoU the mean over the classes the true maps show (a class the truth never
//     shows has no IoU to score: the first-person view never sees the character; predicting it
//     still costs, through the unions of the true classes those pixels belong to).
import { PerceptionNet } from '../models/perception/index.js';
import { cat, noGrad, pad, scope, tensor, type Tensor } from '../torch/index.js';

/** One video as the network sees it; the caller disposes it. */
export interface Percept {
  /** Per block, the unit-normalised features [frames, C, h, w]. */
  normalized: Tensor[];
  /** Per frame, the Fréchet feature vector. */
  vectors: Float64Array[];
  /** Per frame, the class of every pixel (width·height). */
  labels: Uint8Array[];
  dispose(): void;
  [Symbol.dispose](): void;
}

/** 8-bit RGB frames (H·W·3 bytes each) as [N, 3, H, W] in [-1, 1]. */
export function framesToTensor(frames: readonly Uint8Array[], width: number, height: number): Tensor {
  const data = new Float32Array(frames.length * 3 * width * height);
  const plane = width * height;
  frames.forEach((frame, n) => {
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < 3; c++) data[(n * 3 + c) * plane + p] = frame[p * 3 + c]! / 127.5 - 1;
  });
  return tensor(data, { shape: [frames.length, 3, height, width] });
}

const BATCH = 32;

export class PerceptualScorer {
  constructor(
    readonly net: PerceptionNet,
    readonly where: string,
  ) {}

  static load(dir: string): PerceptualScorer {
    return new PerceptualScorer(PerceptionNet.fromPretrained(dir), dir);
  }

  /** `using scorer = PerceptualScorer.load(dir)`: the network is released at the end of the block. */
  [Symbol.dispose](): void {
    this.net.dispose();
  }

  get classNames(): readonly string[] {
    return this.net.config.class_names;
  }

  /** Runs the frames through the network in batches (edges replicated up to the network's stride). */
  perceive(frames: readonly Uint8Array[], width: number, height: number): Percept {
    const stride = this.net.stride;
    const [padW, padH] = [(stride - (width % stride)) % stride, (stride - (height % stride)) % stride];
    const parts: Tensor[][] = [];
    const vectors: Float64Array[] = [];
    const labels: Uint8Array[] = [];
    noGrad(() => {
      for (let start = 0; start < frames.length; start += BATCH) {
        const out = scope(() => {
          let x = framesToTensor(frames.slice(start, start + BATCH), width, height);
          if (padW || padH) x = pad(x, [0, padW, 0, padH], 'replicate');
          const { features, logits } = this.net.forward(x);
          const normalized = features.map((f, i) => {
            const cropped = i === 0 ? f.narrow(2, 0, height).narrow(3, 0, width) : f;
            return cropped.div(cropped.square().sum(1, true).sqrt().add(1e-10));
          });
          const pooled = this.net.config.frechet_blocks.map((b) => features[b]!.mean([2, 3]));
          const classes = logits!.narrow(2, 0, height).narrow(3, 0, width).argmax(1).to({ dtype: 'uint8' });
          return { normalized, pooled, classes };
        });
        parts.push(out.normalized);
        const n = out.classes.size(0);
        const pooled = out.pooled.map((p) => p.toFloat32Array());
        const dims = out.pooled.map((p) => p.size(1));
        for (let k = 0; k < n; k++) {
          const v = new Float64Array(dims.reduce((a, b) => a + b, 0));
          let o = 0;
          pooled.forEach((p, j) => {
            for (let d = 0; d < dims[j]!; d++) v[o++] = p[k * dims[j]! + d]!;
          });
          vectors.push(v);
        }
        const classes = out.classes.toTypedArray() as Uint8Array;
        for (let k = 0; k < n; k++) labels.push(classes.slice(k * width * height, (k + 1) * width * height));
        for (const t of [...out.pooled, out.classes]) t.dispose();
      }
    });
    const normalized = parts.length === 1 ? parts[0]! : parts[0]!.map((_, i) => cat(parts.map((p) => p[i]!)));
    if (parts.length > 1) for (const p of parts) for (const t of p) t.dispose();
    const dispose = (): void => normalized.forEach((t) => t.dispose());
    return { normalized, vectors, labels, dispose, [Symbol.dispose]: dispose };
  }
}

/** Per-frame perceptual distance of two percepts of one size and frame count (definition at the top). */
export function perceptualDistances(a: Percept, b: Percept): number[] {
  if (a.labels.length !== b.labels.length)
    throw new RangeError(`perceptualDistances: ${a.labels.length} and ${b.labels.length} frames`);
  return noGrad(() =>
    scope(() => {
      let sum: Tensor | undefined;
      a.normalized.forEach((x, i) => {
        const d = x.sub(b.normalized[i]!).square().sum(1).mean([1, 2]);
        sum = sum ? sum.add(d) : d;
      });
      return sum!.div(a.normalized.length).toArray();
    }),
  );
}

/** Pixel counts per class of predicted against true class maps, for IoU (definition at the top). */
export class ClassOverlap {
  readonly intersection: number[];
  readonly union: number[];
  /** Pixels of each class in the true maps. */
  readonly truth: number[];

  constructor(readonly classes: number) {
    this.intersection = new Array<number>(classes).fill(0);
    this.union = new Array<number>(classes).fill(0);
    this.truth = new Array<number>(classes).fill(0);
  }

  add(predicted: Uint8Array, truth: Uint8Array): this {
    if (predicted.length !== truth.length)
      throw new RangeError(`ClassOverlap: maps of ${predicted.length} and ${truth.length} pixels`);
    for (let i = 0; i < truth.length; i++) {
      const p = predicted[i]!,
        t = truth[i]!;
      this.truth[t]!++;
      if (p === t) {
        this.intersection[t]!++;
        this.union[t]!++;
      } else {
        this.union[t]!++;
        this.union[p]!++;
      }
    }
    return this;
  }

  merge(other: ClassOverlap): this {
    for (let c = 0; c < this.classes; c++) {
      this.intersection[c]! += other.intersection[c]!;
      this.union[c]! += other.union[c]!;
      this.truth[c]! += other.truth[c]!;
    }
    return this;
  }

  /** IoU per class, null where the true maps do not show the class. */
  iou(): (number | null)[] {
    return this.union.map((u, c) => (this.truth[c] === 0 ? null : this.intersection[c]! / u));
  }

  miou(): number {
    const present = this.iou().filter((v): v is number => v !== null);
    return present.length ? present.reduce((a, b) => a + b, 0) / present.length : NaN;
  }
}
