// Parity tool target `text-encoder`: input_ids, attention_mask → last_hidden_state (the raw encoder output).
import type { Tensor } from '../../torch/index.js';
import { requireInput, withModel, type ParityOptions } from '../parity.js';
import { UMT5EncoderModel } from './model.js';

export function textEncoderForward(modelDir: string, inputs: Map<string, Tensor>, options: ParityOptions = {}): Map<string, Tensor> {
  const ids = requireInput(inputs, 'input_ids', '[B, L]', 'text-encoder');
  const mask = inputs.get('attention_mask') ?? null;
  return withModel(() => UMT5EncoderModel.fromPretrained(modelDir, { ...options, onProgress: options.onLoadProgress }), (model) => new Map([['last_hidden_state', model.forward(ids, mask)]]));
}
