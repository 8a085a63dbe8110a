// `worldwander forward text-encoder`: input_ids, attention_mask → last_hidden_state (the raw encoder output).
import { UMT5EncoderModel } from '../../models/umt5/model.js';
import { withModel, type ForwardTarget } from './targets.js';

export const textEncoderTarget: ForwardTarget = {
  inputs: {
    input_ids: { kind: 'int', shape: '[B, L]' },
    attention_mask: { kind: 'int', shape: '[B, L] (1 = token, 0 = padding)', optional: true },
  },
  run(modelDir, inputs, options) {
    return withModel(
      () =>
        UMT5EncoderModel.fromPretrained(modelDir, {
          dtype: options.dtype,
          device: options.device,
          onProgress: options.onLoadProgress,
        }),
      (model) =>
        new Map([['last_hidden_state', model.forward(inputs.get('input_ids')!, inputs.get('attention_mask') ?? null)]]),
    );
  },
};
