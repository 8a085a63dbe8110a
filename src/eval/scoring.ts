// Scores of several methods' videos against the same ground truth, case by case, and over the set:
// the pixel metrics (metrics.ts, sharpness.ts) always, and with a PerceptionNet the perceptual
// distance, the Fréchet vectors and, where true class maps are given, the content score
// (perceptual.ts). evaluate() runs it over a dataset; the calibration copies of the truth
// (calibration.ts) run through the same code.
import type { RgbVideo } from '../data/frames.js';
import { frechetDistance } from './frechet.js';
import { mean, videoPsnr, videoSsim } from './metrics.js';
import type { Fvd } from './fvd.js';
import type { Lpips } from './lpips.js';
import { ClassOverlap, perceptualDistances, type PerceptualScorer } from './perceptual.js';
import { videoLatticeShare } from './lattice.js';
import { videoEdgeAgreement, videoGradientEnergy, videoSharpness } from './sharpness.js';

export interface MethodScores {
  psnr: number;
  ssim: number;
  /** Per frame, in frame order. */
  psnrFrames: number[];
  ssimFrames: number[];
  /** Mean absolute luma gradient over the truth's (sharpness.ts). */
  sharpness: number;
  /** Squared luma gradient energy over the truth's (sharpness.ts). */
  gradientEnergy: number;
  /** Band-pass edge agreement with the truth, mean of frames (sharpness.ts). */
  edges: number;
  edgesFrames: number[];
  /** The video's period-2 lattice share (lattice.ts): sharpness a decoder's checkerboard would fake. */
  lattice: number;
  /** PerceptionNet metrics (perceptual.ts), where a network was given. */
  perceptual?: number;
  perceptualFrames?: number[];
  /** LPIPS with the user's own standard weights (lpips.ts), where given. */
  lpips?: number;
  lpipsFrames?: number[];
  /** Content score of the case, where the ground truth has class maps. */
  miou?: number;
  /** IoU of the character class alone (null where the true maps never show him). */
  characterIou?: number | null;
}

export interface OverallScores {
  psnr: number;
  ssim: number;
  sharpness: number;
  gradientEnergy: number;
  edges: number;
  lattice: number;
  perceptual?: number;
  lpips?: number;
  /** Fréchet distance between the method's frames and the truth's over the whole set (as FID is computed). */
  frechet?: number;
  /** FVD with the user's I3D (fvd.ts): the method's clips against the same cases' true clips. */
  fvd?: number;
  /** Content score over every pixel of every case (IoU per class summed over the set). */
  miou?: number;
  characterIou?: number | null;
  iou?: (number | null)[];
}

export function pixelScores(prediction: readonly Uint8Array[], truth: RgbVideo): MethodScores {
  const { width, height } = truth;
  const psnrFrames = videoPsnr(prediction, truth.frames);
  const ssimFrames = videoSsim(prediction, truth.frames, width, height);
  const edgesFrames = videoEdgeAgreement(prediction, truth.frames, width, height);
  return {
    psnr: mean(psnrFrames),
    ssim: mean(ssimFrames),
    psnrFrames,
    ssimFrames,
    sharpness: videoSharpness(prediction, truth.frames, width, height),
    gradientEnergy: videoGradientEnergy(prediction, truth.frames, width, height),
    edges: mean(edgesFrames),
    edgesFrames,
    lattice: videoLatticeShare(prediction, width, height),
  };
}

export class SetScores<M extends string> {
  readonly cases: Partial<Record<M, MethodScores>>[] = [];
  readonly #vectors = new Map<M, Float64Array[][]>();
  readonly #truthVectors: Float64Array[][] = [];
  readonly #overlaps = new Map<M, ClassOverlap>();
  readonly #clipFeatures = new Map<M, Float64Array[]>();
  readonly #truthClipFeatures: Float64Array[] = [];

  constructor(
    readonly methods: readonly M[],
    readonly scorer?: PerceptualScorer,
    readonly lpips?: Lpips,
    readonly fvd?: Fvd,
  ) {}

  get #characterClass(): number {
    return this.scorer?.classNames.indexOf('character') ?? -1;
  }

  /** Scores one case: each method's video (those given) against the truth, with the truth's class maps when known. */
  addCase(
    videos: Partial<Record<M, readonly Uint8Array[]>>,
    truth: RgbVideo,
    trueMaps?: readonly Uint8Array[],
  ): Partial<Record<M, MethodScores>> {
    const result: Partial<Record<M, MethodScores>> = {};
    for (const m of this.methods) if (videos[m]) result[m] = pixelScores(videos[m]!, truth);
    if (this.lpips) {
      for (const m of this.methods) {
        if (!videos[m]) continue;
        const frames = this.lpips.distances(videos[m]!, truth.frames, truth.width, truth.height);
        Object.assign(result[m]!, { lpipsFrames: frames, lpips: mean(frames) });
      }
    }
    if (this.fvd) {
      const reference = this.fvd.features(truth.frames, truth.width, truth.height);
      this.#truthClipFeatures.push(reference);
      for (const m of this.methods) {
        const frames = videos[m];
        if (!frames) continue;
        if (!this.#clipFeatures.has(m)) this.#clipFeatures.set(m, []);
        this.#clipFeatures
          .get(m)!
          .push(frames === truth.frames ? reference : this.fvd.features(frames, truth.width, truth.height));
      }
    }
    const scorer = this.scorer;
    if (scorer) {
      const classes = scorer.classNames.length;
      using reference = scorer.perceive(truth.frames, truth.width, truth.height);
      this.#truthVectors.push(reference.vectors);
      for (const m of this.methods) {
        const frames = videos[m];
        if (!frames) continue;
        using own = frames === truth.frames ? undefined : scorer.perceive(frames, truth.width, truth.height);
        const percept = own ?? reference;
        const scores = result[m]!;
        scores.perceptualFrames = perceptualDistances(percept, reference);
        scores.perceptual = mean(scores.perceptualFrames);
        if (!this.#vectors.has(m)) this.#vectors.set(m, []);
        this.#vectors.get(m)!.push(percept.vectors);
        if (trueMaps) {
          const overlap = new ClassOverlap(classes);
          percept.labels.forEach((map, f) => overlap.add(map, trueMaps[f]!));
          scores.miou = overlap.miou();
          scores.characterIou = this.#characterClass >= 0 ? (overlap.iou()[this.#characterClass] ?? null) : null;
          if (!this.#overlaps.has(m)) this.#overlaps.set(m, new ClassOverlap(classes));
          this.#overlaps.get(m)!.merge(overlap);
        }
      }
    }
    this.cases.push(result);
    return result;
  }

  /** Means over the cases a method was scored on; the Fréchet distance from two cases on; mIoU over the set. */
  overall(m: M): OverallScores | undefined {
    const all = this.cases.map((c) => c[m]).filter((s): s is MethodScores => s !== undefined);
    if (!all.length) return undefined;
    const out: OverallScores = {
      psnr: mean(all.map((s) => s.psnr)),
      ssim: mean(all.map((s) => s.ssim)),
      sharpness: mean(all.map((s) => s.sharpness)),
      gradientEnergy: mean(all.map((s) => s.gradientEnergy)),
      edges: mean(all.map((s) => s.edges)),
      lattice: mean(all.map((s) => s.lattice)),
    };
    if (all.every((s) => s.perceptual !== undefined)) out.perceptual = mean(all.map((s) => s.perceptual!));
    if (all.every((s) => s.lpips !== undefined)) out.lpips = mean(all.map((s) => s.lpips!));
    const vectors = this.#vectors.get(m);
    if (vectors && vectors.length === this.#truthVectors.length && vectors.length >= 2)
      out.frechet = frechetDistance(vectors.flat(), this.#truthVectors.flat());
    const clips = this.#clipFeatures.get(m);
    if (clips && clips.length === this.#truthClipFeatures.length && clips.length >= 2)
      out.fvd = frechetDistance(clips, this.#truthClipFeatures);
    const overlap = this.#overlaps.get(m);
    if (overlap) {
      const iou = overlap.iou();
      Object.assign(out, {
        miou: overlap.miou(),
        iou,
        characterIou: this.#characterClass >= 0 ? (iou[this.#characterClass] ?? null) : null,
      });
    }
    return out;
  }
}
