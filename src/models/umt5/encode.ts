// Prompt → embeddings as Wan uses them: tokenized to max_length, encoded with the attention
// mask, rows past each prompt's length (its tokens and `</s>`) set to zero.
import { noGrad, scope, type Tensor } from '../../torch/index.js';
import type { UMT5EncoderModel } from './model.js';
import type { UMT5Tokenizer } from './tokenizer.js';

/** [B, maxLength, d_model] in the encoder's dtype, zero past each prompt's length. */
export function encodePrompts(model: UMT5EncoderModel, tokenizer: UMT5Tokenizer, prompts: readonly string[], { maxLength = 512 }: { maxLength?: number } = {}): Tensor {
  return scope(() =>
    noGrad(() => {
      const { inputIds, attentionMask } = tokenizer.encodeTensors(prompts, { maxLength });
      const hidden = model.forward(inputIds, attentionMask);
      const keep = attentionMask.to({ dtype: hidden.dtype, device: hidden.device }).unsqueeze(-1);
      return hidden.mul(keep);
    }),
  );
}
