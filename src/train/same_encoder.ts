// A decoder tuned apart is only valid with the encoder whose latents it learned to decode
// (decoder-only training freezes encoder and quant_conv: src/train/vae_trainer.ts).
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { SafetensorsFile, scope } from '../torch/index.js';

const weights = (dir: string): string => path.join(dir, 'diffusion_pytorch_model.safetensors');

/**
 * Throws unless the VAE folder `tuned` holds the encoder of the VAE folder `encoderOf`
 * (`encoder.*`, `quant_conv.*`) as the bundled models store it: equal in bfloat16.
 */
export function assertSameEncoder(tuned: string, encoderOf: string): void {
  const a = SafetensorsFile.open(weights(tuned)),
    b = SafetensorsFile.open(weights(encoderOf));
  const keys = b.keys().filter((k) => k.startsWith('encoder.') || k.startsWith('quant_conv.'));
  if (!keys.length)
    throw new FileFormatError(`${weights(encoderOf)}: no encoder.* or quant_conv.* weights (not a VAE?)`);
  for (const key of keys) {
    if (!a.has(key)) throw new FileFormatError(`${weights(tuned)}: no ${key} (the encoder of ${encoderOf} has it)`);
    const [shape, expected] = [a.info(key).shape, b.info(key).shape];
    if (shape.join() !== expected.join())
      throw new FileFormatError(
        `${weights(tuned)}: ${key} has shape [${shape}], ${encoderOf}'s [${expected}]: another VAE's encoder`,
      );
    const differs = scope(
      () =>
        a
          .get(key, { dtype: 'bfloat16' })
          .to('float32')
          .sub(b.get(key, { dtype: 'bfloat16' }).to('float32'))
          .abs()
          .sum()
          .item() !== 0,
    );
    if (differs)
      throw new FileFormatError(
        `${weights(tuned)}: ${key} differs from ${encoderOf}'s: its decoder was tuned on another encoder's latents`,
      );
  }
}
