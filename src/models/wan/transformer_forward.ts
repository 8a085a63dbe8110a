// One transformer forward from named tensors, for parity checks against a Python port:
// hidden_states, timestep, encoder_hidden_states, optional condition_states / ref_states and
// use_cpe in; sample out.
import { SafetensorsFile, type Tensor } from '../../torch/index.js';
import { loadLora } from '../../nn/index.js';
import { ForwardInputError, withModel, type ParityOptions } from '../parity.js';
import { buildInContextInputs } from './in_context.js';
import type { TransformerInputs } from './transformer.js';
import { loadWanTransformer } from './transformer_load.js';

export interface ForwardOptions extends ParityOptions {
  /** A LoRA file (diffusers or PEFT key names) applied unmerged. */
  lora?: string;
}

const KNOWN = ['hidden_states', 'timestep', 'encoder_hidden_states', 'condition_states', 'ref_states', 'use_cpe'];

/**
 * The transformer inputs from named tensors. With condition_states the sequence is the
 * in-context one ([ref_states,] condition_states, hidden_states); a [B] timestep becomes per
 * token (0 on condition/ref tokens), a [B, L] one must already cover all L tokens.
 */
export function transformerInputsFromTensors(inputs: Map<string, Tensor>, patch: readonly [number, number, number] = [1, 2, 2]): TransformerInputs {
  const unknown = [...inputs.keys()].filter((k) => !KNOWN.includes(k));
  if (unknown.length) throw new ForwardInputError(`unknown input tensor(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  const need = (name: string): Tensor => {
    const t = inputs.get(name);
    if (!t) throw new ForwardInputError(`missing input tensor '${name}'`);
    return t;
  };
  const hiddenStates = need('hidden_states');
  const timestep = need('timestep');
  const encoderHiddenStates = need('encoder_hidden_states');
  const condition = inputs.get('condition_states');
  const ref = inputs.get('ref_states') ?? null;
  if (!condition) {
    if (ref) throw new ForwardInputError('ref_states needs condition_states (one2three is [ref, condition, target])');
    return { hiddenStates, timestep, encoderHiddenStates };
  }
  const cpe = inputs.get('use_cpe');
  if (cpe && cpe.numel() !== 1) throw new ForwardInputError(`use_cpe must be a scalar 0 or 1, got shape [${cpe.shape.join(', ')}]`);
  const useCpe = cpe ? cpe.item() !== 0 : true;
  if (timestep.ndim === 1) {
    return buildInContextInputs({ target: hiddenStates, condition, ref, timestep, encoderHiddenStates, useCollaborativePositionEncoding: useCpe, patchFrames: patch[0], patchArea: patch[1] * patch[2] });
  }
  const built = buildInContextInputs({ target: hiddenStates, condition, ref, timestep: 0, encoderHiddenStates, useCollaborativePositionEncoding: useCpe, patchFrames: patch[0], patchArea: patch[1] * patch[2] });
  const tokens = built.timestep.size(1);
  if (timestep.ndim !== 2 || timestep.size(1) !== tokens) {
    throw new ForwardInputError(`timestep must be [B] or [B, ${tokens}] (every token of the concatenated sequence, zeros on condition/ref), got [${timestep.shape.join(', ')}]`);
  }
  return { ...built, timestep };
}

/** `worldwander forward transformer`: loads the folder (and LoRA), runs once, returns {sample}. */
export function transformerForward(modelDir: string, inputs: Map<string, Tensor>, options: ForwardOptions = {}): Map<string, Tensor> {
  return withModel(() => loadWanTransformer(modelDir, { dtype: options.dtype, device: options.device, onProgress: options.onLoadProgress }), (model) => {
    if (options.lora) loadLora(model, SafetensorsFile.open(options.lora), { where: options.lora });
    const moved = options.device ? new Map([...inputs].map(([k, t]) => [k, t.to({ device: options.device })])) : inputs;
    return new Map([['sample', model.forward(transformerInputsFromTensors(moved, model.config.patch_size))]]);
  });
}
