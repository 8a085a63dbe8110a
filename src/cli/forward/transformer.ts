// `worldwander forward transformer`: one transformer forward from named tensors. With
// condition_states the sequence is WorldWander's in-context one ([ref_states,] condition_states,
// hidden_states); a [B] timestep then becomes per token (0 on condition/ref tokens), a [B, L]
// one must already cover all L tokens.
import { SafetensorsFile, type Tensor } from '../../torch/index.js';
import { loadLora } from '../../nn/index.js';
import { WanTransformer3DModel, type TransformerInputs } from '../../models/wan/transformer.js';
import { buildInContextInputs } from '../../worldwander/in_context.js';
import { ForwardInputError, withModel, type ForwardTarget, type TargetOptions } from './targets.js';

export function transformerInputsFromTensors(
  inputs: Map<string, Tensor>,
  patch: readonly [number, number, number] = [1, 2, 2],
): TransformerInputs {
  const hiddenStates = inputs.get('hidden_states')!;
  const timestep = inputs.get('timestep')!;
  const encoderHiddenStates = inputs.get('encoder_hidden_states')!;
  const condition = inputs.get('condition_states');
  const ref = inputs.get('ref_states') ?? null;
  if (!condition) {
    if (ref)
      throw new ForwardInputError(
        'transformer: ref_states needs condition_states (one2three is [ref, condition, target])',
      );
    return { hiddenStates, timestep, encoderHiddenStates };
  }
  const cpe = inputs.get('use_cpe');
  const shared = {
    target: hiddenStates,
    condition,
    ref,
    encoderHiddenStates,
    useCollaborativePositionEncoding: cpe ? cpe.item() !== 0 : true,
    patchSize: patch,
  };
  if (timestep.ndim === 1) return buildInContextInputs({ ...shared, timestep });
  const built = buildInContextInputs({ ...shared, timestep: 0 });
  const tokens = built.timestep.size(1);
  if (timestep.ndim !== 2 || timestep.size(1) !== tokens) {
    throw new ForwardInputError(
      `transformer: timestep must be [B] or [B, ${tokens}] (every token of the concatenated sequence, zeros on condition/ref), got [${timestep.shape.join(', ')}]`,
    );
  }
  return { ...built, timestep };
}

/** Loads the folder and the LoRA file, if any. */
export function loadTransformer(modelDir: string, options: TargetOptions): WanTransformer3DModel {
  const model = WanTransformer3DModel.fromPretrained(modelDir, {
    dtype: options.dtype,
    device: options.device,
    onProgress: options.onLoadProgress,
  });
  try {
    if (options.lora) loadLora(model, SafetensorsFile.open(options.lora), { where: options.lora });
    return model;
  } catch (error) {
    model.dispose();
    throw error;
  }
}

export const transformerTarget: ForwardTarget = {
  inputs: {
    hidden_states: { kind: 'float', shape: '[B, C, F, H, W]' },
    timestep: { kind: 'number', shape: '[B] or [B, S]' },
    encoder_hidden_states: { kind: 'float', shape: '[B, T, text_dim]' },
    condition_states: { kind: 'float', shape: '[B, C, F, H, W]', optional: true },
    ref_states: { kind: 'float', shape: '[B, C, 1, H, W]', optional: true },
    use_cpe: { kind: 'flag', shape: 'scalar 0 or 1', optional: true },
  },
  takesLora: true,
  run(modelDir, inputs, options) {
    return withModel(
      () => loadTransformer(modelDir, options),
      (model) => {
        const moved = new Map([...inputs].map(([k, t]) => [k, t.to({ device: options.device ?? 'cpu' })]));
        return new Map([['sample', model.forward(transformerInputsFromTensors(moved, model.config.patch_size))]]);
      },
    );
  },
};
