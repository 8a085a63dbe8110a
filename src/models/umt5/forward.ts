// Parity tool target `text-encoder`: input_ids, attention_mask → last_hidden_state (the raw encoder output).
import { noGrad, type DType, type Tensor } from '../../torch/index.js';
import { ForwardInputError } from '../wan/transformer_forward.js';
import { UMT5EncoderModel } from './model.js';

export function textEncoderForward(modelDir: string, inputs: Map<string, Tensor>, options: { dtype?: DType; device?: string } = {}): Map<string, Tensor> {
  const ids = inputs.get('input_ids');
  if (!ids) throw new ForwardInputError(`text-encoder: the inputs need 'input_ids' [B, L] (got ${[...inputs.keys()].join(', ') || 'nothing'})`);
  const mask = inputs.get('attention_mask') ?? null;
  const model = UMT5EncoderModel.fromPretrained(modelDir, options);
  try {
    return new Map([['last_hidden_state', noGrad(() => model.forward(ids, mask))]]);
  } finally {
    model.dispose();
  }
}
