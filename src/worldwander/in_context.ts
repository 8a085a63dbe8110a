// WorldWander's two ideas on top of the transformer (docs/method.md).
// In-context perspective alignment: [ref?, condition, target] latents concatenated on the frame
// axis, per-token timesteps 0 on ref/condition tokens and t on target tokens, output sliced to
// the target. Collaborative position encoding: the target reuses the condition's RoPE frame
// positions (CPE on), or positions run on over the whole sequence (uniform).
import { ModelInputError } from '../errors.js';
import { cat, ones, scope, zeros, type Tensor } from '../torch/index.js';
import type { TransformerInputs } from '../models/wan/transformer.js';

export interface FrameCounts {
  /** Latent frames of the reference image (one2three; 1 for one image), 0 for three2one. */
  ref: number;
  condition: number;
  target: number;
}

/**
 * RoPE frame position of each latent frame of [ref, condition, target].
 * CPE: ref 0..R-1, condition R..R+Fc-1, target R..R+Ft-1 (token for token with the condition).
 * Uniform: 0 .. R+Fc+Ft-1.
 */
export function inContextFramePositions(
  { ref, condition, target }: FrameCounts,
  useCollaborativePositionEncoding: boolean,
): number[] {
  const total = ref + condition + target;
  if (!useCollaborativePositionEncoding) return Array.from({ length: total }, (_, i) => i);
  const before = Array.from({ length: ref + condition }, (_, i) => i);
  return [...before, ...Array.from({ length: target }, (_, i) => ref + i)];
}

export interface InContextLatents {
  /** Noisy target latent [B, C, Ft, H, W]. */
  target: Tensor;
  /** Clean, normalised condition-view latent [B, C, Fc, H, W]. */
  condition: Tensor;
  /** Clean, normalised reference-image latent [B, C, R, H, W] (one2three). */
  ref?: Tensor | null;
  /** The target's timestep: [B] (or a number for every sample). */
  timestep: Tensor | number;
  /**
   * Leading target latent frames that are given, clean (a frame the video must start from): their
   * tokens get timestep 0, as the condition's do (Wan2.2 TI2V's first-frame conditioning). Default 0.
   */
  cleanTargetFrames?: number;
  encoderHiddenStates: Tensor;
  useCollaborativePositionEncoding: boolean;
  /**
   * The transformer's patch_size [pt, ph, pw] ([1, 2, 2] for Wan2.2): positions count patched
   * frames, tokens count patches.
   */
  patchSize?: readonly [number, number, number];
}

/**
 * Builds the transformer inputs of one in-context forward: the concatenated sequence, the
 * per-token timestep over all of its tokens (zeros on ref/condition), the RoPE frame
 * positions, and the output slice (the target's frames).
 */
export function buildInContextInputs(latents: InContextLatents): TransformerInputs {
  const { target, condition, encoderHiddenStates } = latents;
  const ref = latents.ref ?? null;
  const [pt, ph, pw] = latents.patchSize ?? [1, 2, 2];
  const parts = ref ? [ref, condition, target] : [condition, target];
  if (target.ndim !== 5)
    throw new ModelInputError(
      `in-context: the target latent must be [B, C, F, H, W], got [${target.shape.join(', ')}]`,
    );
  const [b, c, , h, w] = target.shape as [number, number, number, number, number];
  if (h % ph || w % pw)
    throw new ModelInputError(
      `in-context: latent height ${h} and width ${w} must be multiples of the patch size ${ph}x${pw}`,
    );
  for (const [name, t] of [
    ['condition', condition],
    ['ref', ref],
  ] as const) {
    if (t && (t.ndim !== 5 || t.size(0) !== b || t.size(1) !== c || t.size(3) !== h || t.size(4) !== w)) {
      throw new ModelInputError(
        `in-context: ${name} latent [${t.shape.join(', ')}] must match the target's [${b}, ${c}, *, ${h}, ${w}]`,
      );
    }
  }
  for (const t of parts)
    if (t.size(2) % pt)
      throw new ModelInputError(`in-context: latent frames ${t.size(2)} not divisible by the temporal patch ${pt}`);
  const frames: FrameCounts = {
    ref: ref ? ref.size(2) / pt : 0,
    condition: condition.size(2) / pt,
    target: target.size(2) / pt,
  };
  const perFrame = (h / ph) * (w / pw);
  return scope(() => {
    const hiddenStates = cat(
      parts.map((t) => t.typeAs(target)),
      2,
    );
    const t =
      typeof latents.timestep === 'number'
        ? ones([b], { device: target.device }).mul(latents.timestep)
        : latents.timestep.float();
    if (t.ndim !== 1 || t.size(0) !== b)
      throw new ModelInputError(`in-context: timestep must be [${b}] (one per sample), got [${t.shape.join(', ')}]`);
    const given = latents.cleanTargetFrames ?? 0;
    if (!Number.isInteger(given) || given < 0 || given > frames.target)
      throw new ModelInputError(
        `in-context: cleanTargetFrames ${given} must be 0..${frames.target} (the target's frames)`,
      );
    const clean = (frames.ref + frames.condition + given) * perFrame;
    const noisy = (frames.target - given) * perFrame;
    const timestep = cat([zeros([b, clean], { device: target.device }), t.unsqueeze(1).expand(b, noisy)], 1);
    return {
      hiddenStates,
      timestep,
      encoderHiddenStates,
      framePositions: inContextFramePositions(frames, latents.useCollaborativePositionEncoding),
      outputFrames: frames.target,
    };
  });
}
