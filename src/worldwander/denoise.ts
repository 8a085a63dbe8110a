// WorldWander's guided denoising loop: the clean condition (and reference) latents ride along
// every step in the in-context sequence with timestep 0, the sampler moves only the target's
// latents, and classifier-free guidance contrasts the task prompt with the empty one. Both
// guidance branches go through one batched forward (batch 2B) unless memory asks for two.
import { cat, noGrad, owned, scope, type Tensor } from '../torch/index.js';
import { classifierFreeGuidance, denoise, makeSampler, type SamplerName } from '../diffusion/index.js';
import type { WanTransformer3DModel } from '../models/wan/transformer.js';
import { ModelInputError } from '../errors.js';
import { buildInContextInputs } from './in_context.js';

export type GuidanceMode = 'batched' | 'sequential';

export interface InContextDenoiseOptions {
  transformer: WanTransformer3DModel;
  /** The target's initial latents [B, C, F, H, W] (standard normal noise). */
  noise: Tensor;
  /** Clean, normalised condition-view latents [B, C, F, H, W]. */
  condition: Tensor;
  /** Clean, normalised reference-image latents [B, C, 1, H, W] (one2three). */
  ref?: Tensor | null;
  /**
   * Clean, normalised latents of the target's first frames [B, C, P, H, W] (a window that must start
   * where the previous one ended): held in place at every step, at timestep 0.
   */
  targetPrefix?: Tensor | null;
  /** The task prompt's embeddings [B, T, text_dim]. */
  promptEmbeds: Tensor;
  /** The negative prompt's embeddings (the empty prompt's by default in the release); needed when guidance > 1. */
  negativePromptEmbeds?: Tensor | null;
  steps: number;
  guidanceScale: number;
  flowShift: number;
  useCollaborativePositionEncoding: boolean;
  sampler?: SamplerName;
  /** 'batched': one forward of batch 2B per step (default); 'sequential': two forwards of batch B (less memory). */
  guidance?: GuidanceMode;
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** The final target latents [B, C, F, H, W] in float32 (still normalised). */
export async function denoiseInContext(o: InContextDenoiseOptions): Promise<Tensor> {
  const { transformer, noise, condition, promptEmbeds } = o;
  const ref = o.ref ?? null;
  const prefix = o.targetPrefix ?? null;
  const given = prefix ? prefix.size(2) : 0;
  // the given frames replace the target's first ones before every forward and at the end
  const hold = (latents: Tensor): Tensor =>
    prefix ? cat([prefix.typeAs(latents), latents.narrow(2, given, latents.size(2) - given)], 2) : latents;
  const guided = o.guidanceScale !== 1;
  if (guided && !o.negativePromptEmbeds)
    throw new ModelInputError('guidance scale ≠ 1 needs the negative prompt embeddings');
  const dtype = transformer.patch_embedding.weight;
  const batched = guided && (o.guidance ?? 'batched') === 'batched';
  // What does not change between steps is made once, released when sampling ends: the views in
  // the model's dtype, doubled for a batched guidance, and the text of both branches batched.
  using made = owned(
    scope(() => {
      const double = (t: Tensor): Tensor => (batched ? cat([t, t], 0) : t).typeAs(dtype);
      return {
        condition: double(condition),
        ref: ref ? double(ref) : null,
        text: batched ? cat([promptEmbeds, o.negativePromptEmbeds!], 0) : null,
      };
    }),
  );
  const fixed = {
    condition: made.condition,
    ref: made.ref,
    text: made.text ?? promptEmbeds,
    negative: guided && !batched ? o.negativePromptEmbeds! : null,
  };
  const forward = (target: Tensor, text: Tensor, timestep: number, condition: Tensor, ref: Tensor | null): Tensor =>
    transformer.forward(
      buildInContextInputs({
        target,
        condition,
        ref,
        timestep,
        cleanTargetFrames: given,
        encoderHiddenStates: text,
        useCollaborativePositionEncoding: o.useCollaborativePositionEncoding,
        patchSize: transformer.config.patch_size,
      }),
    );
  // Sampling needs no gradients; each step is a synchronous stretch, so the switch holds for it.
  const velocity = (latents: Tensor, timestep: number): Tensor =>
    noGrad(() => {
      const x = hold(latents).typeAs(dtype);
      if (!guided) return forward(x, fixed.text, timestep, fixed.condition, fixed.ref);
      if (batched) {
        const [cond, uncond] = forward(cat([x, x], 0), fixed.text, timestep, fixed.condition, fixed.ref).chunk(
          2,
          0,
        ) as [Tensor, Tensor];
        return classifierFreeGuidance(cond, uncond, o.guidanceScale);
      }
      const cond = forward(x, fixed.text, timestep, fixed.condition, fixed.ref);
      const uncond = forward(x, fixed.negative!, timestep, fixed.condition, fixed.ref);
      return classifierFreeGuidance(cond, uncond, o.guidanceScale);
    });
  const final = await denoise({
    sampler: makeSampler(o.sampler ?? 'unipc', { steps: o.steps, shift: o.flowShift }),
    latents: noise,
    velocity,
    onStep: o.onStep,
    signal: o.signal,
  });
  if (!prefix) return final;
  using _ = final;
  return noGrad(() => hold(final));
}
