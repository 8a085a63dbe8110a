// The global gradient norm over parameters (torch.nn.utils.clip_grad_norm_): the 2-norm of all
// gradients together; with `maxNorm`, gradients are scaled by maxNorm / (norm + 1e-6) when the norm
// exceeds it. Returns the norm before clipping (NaN or ∞ when a gradient is).
import { noGrad, owned, scope, type Tensor } from '../torch/index.js';

export function clipGradNorm(params: readonly Tensor[], maxNorm: number | null): number {
  return noGrad(() => {
    using grads = owned(params.map((p) => p.grad).filter((g): g is Tensor => g !== null));
    if (grads.length === 0) return 0;
    const total = Math.sqrt(grads.reduce((sum, g) => sum + scope(() => g.float().square().sum().item()), 0));
    if (maxNorm !== null && Number.isFinite(total) && total > maxNorm) {
      const factor = maxNorm / (total + 1e-6);
      for (const g of grads) g.mul_(factor);
    }
    return total;
  });
}
