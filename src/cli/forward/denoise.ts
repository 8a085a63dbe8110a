// `worldwander forward denoise`: the whole guided sampling loop of WorldWander on named tensors,
// for checking a port against the release's Python numbers: the target's initial noise, the
// prompt embeddings, the clean condition (and reference) latents and the sampling settings in;
// the final target latents out (float32, still normalised: the release's `latents` before
// de-normalisation and decoding).
import { denoiseInContext } from '../../worldwander/denoise.js';
import { loadTransformer } from './transformer.js';
import { ForwardInputError, type ForwardTarget } from './targets.js';

export const denoiseTarget: ForwardTarget = {
  inputs: {
    noise: { kind: 'float', shape: '[B, C, F, H, W]' },
    prompt_embeds: { kind: 'float', shape: '[B, T, text_dim]' },
    negative_prompt_embeds: { kind: 'float', shape: '[B, T, text_dim]' },
    condition_states: { kind: 'float', shape: '[B, C, F, H, W]' },
    ref_states: { kind: 'float', shape: '[B, C, 1, H, W]', optional: true },
    num_inference_steps: { kind: 'int', shape: 'scalar (int64)' },
    guidance_scale: { kind: 'number', shape: 'scalar' },
    flow_shift: { kind: 'number', shape: 'scalar' },
    use_cpe: { kind: 'flag', shape: 'scalar 0 or 1', optional: true },
  },
  takesLora: true,
  async run(modelDir, inputs, options) {
    const scalar = (name: string): number => {
      const t = inputs.get(name)!;
      if (t.numel() !== 1)
        throw new ForwardInputError(`denoise: '${name}' must be a scalar, got shape [${t.shape.join(', ')}]`);
      return t.item();
    };
    const steps = scalar('num_inference_steps');
    if (!Number.isInteger(steps) || steps < 1)
      throw new ForwardInputError(`denoise: num_inference_steps must be a positive integer, got ${steps}`);
    const cpe = inputs.get('use_cpe');
    using model = loadTransformer(modelDir, options);
    const device = options.device ?? 'cpu';
    const on = (name: string) => inputs.get(name)?.to({ device }) ?? null;
    const latents = await denoiseInContext({
      transformer: model,
      noise: on('noise')!,
      condition: on('condition_states')!,
      ref: on('ref_states'),
      promptEmbeds: on('prompt_embeds')!,
      negativePromptEmbeds: on('negative_prompt_embeds'),
      steps,
      guidanceScale: scalar('guidance_scale'),
      flowShift: scalar('flow_shift'),
      useCollaborativePositionEncoding: cpe ? cpe.item() !== 0 : true,
      onStep: options.onStep,
    });
    return new Map([['latents', latents]]);
  },
};
