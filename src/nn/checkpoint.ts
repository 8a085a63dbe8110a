// Gradient checkpointing by segment recomputation, built on plain autograd calls so that it runs
// on any device: the forward keeps only each segment's input; the backward recomputes one
// segment at a time with gradients on and pushes the output gradient through it.
import { backward, enableGrad, noGrad, scope, type Tensor } from '../torch/index.js';

/** One recomputable piece: a pure function of its input and the shared context tensors. */
export type Segment = (x: Tensor, context: readonly Tensor[]) => Tensor;

export interface CheckpointedRun {
  /** The head's scalar loss (detached). */
  loss: Tensor;
}

function leafLike(t: Tensor): Tensor {
  const leaf = t.detach();
  return t.requiresGrad ? leaf.requiresGrad_(true) : leaf;
}

function accumulate(into: (Tensor | null)[], index: number, grad: Tensor | null): void {
  if (!grad) return;
  const previous = into[index];
  into[index] = previous ? previous.add(grad) : grad;
  if (previous) {
    previous.dispose();
    grad.dispose();
  }
}

/**
 * Computes loss = head(segments[n-1](…segments[0](input, context)…, context), context) and accumulates
 * d(loss)/d(every leaf that requires grad) into `.grad`, as `loss.backward()` would, holding
 * only segment inputs between the forward and the backward. `input` and `context` may carry
 * graphs from earlier computation (e.g. embeddings); their gradients are pushed on through them
 * at the end. Peak activation memory: one segment's graph plus the head's, instead of all.
 */
export function forwardBackwardCheckpointed(
  input: Tensor,
  context: readonly Tensor[],
  segments: readonly Segment[],
  head: Segment,
): CheckpointedRun {
  const detachedContext = context.map((c) => c.detach());
  const saved: Tensor[] = [];
  noGrad(() => {
    let x = input.detach();
    for (const segment of segments) {
      saved.push(x);
      x = scope(() => segment(x, detachedContext));
    }
    saved.push(x);
  });

  const last = saved.pop()!.requiresGrad_(true);
  const contextGrads: (Tensor | null)[] = context.map(() => null);
  const headRun = enableGrad(() =>
    scope(() => {
      const leaves = context.map(leafLike);
      const value = head(last, leaves);
      if (value.numel() !== 1)
        throw new RangeError(
          `forwardBackwardCheckpointed: the head must return a scalar loss, got shape [${value.shape.join(', ')}]`,
        );
      backward([value]);
      return { loss: value.detach(), context: leaves.map((l) => (l.requiresGrad ? l.grad : null)) };
    }),
  );
  headRun.context.forEach((grad, k) => accumulate(contextGrads, k, grad));
  const loss = headRun.loss;
  let gradOut = last.grad;
  last.dispose();

  for (let i = segments.length - 1; i >= 0; i--) {
    const x = saved[i]!;
    if (gradOut === null) break; // nothing upstream depends on the loss
    const g: Tensor = gradOut;
    const next = enableGrad(() =>
      scope(() => {
        const leaf = x.requiresGrad_(true);
        const leaves = context.map(leafLike);
        const out = segments[i]!(leaf, leaves);
        backward([out], [g]);
        return { input: leaf.grad, context: leaves.map((l) => (l.requiresGrad ? l.grad : null)) };
      }),
    );
    next.context.forEach((grad, k) => accumulate(contextGrads, k, grad));
    g.dispose();
    x.dispose();
    gradOut = next.input;
  }
  for (const x of saved) if (!x.disposed) x.dispose();

  const roots: Tensor[] = [];
  const grads: Tensor[] = [];
  if (gradOut && input.requiresGrad) {
    roots.push(input);
    grads.push(gradOut);
  }
  context.forEach((c, k) => {
    const g = contextGrads[k];
    if (g && c.requiresGrad) {
      roots.push(c);
      grads.push(g);
    }
  });
  if (roots.length) backward(roots, grads);
  for (const g of [gradOut, ...contextGrads]) if (g && !g.disposed) g.dispose();
  for (const c of detachedContext) c.dispose();
  return { loss };
}
