import { scope, type Tensor } from '../torch/index.js';

/** Classifier-free guidance: uncond + g·(cond − uncond), in float32. */
export function classifierFreeGuidance(cond: Tensor, uncond: Tensor, scale: number): Tensor {
  return scope(() => {
    const u = uncond.float();
    return u.add(cond.float().sub(u), scale);
  });
}
