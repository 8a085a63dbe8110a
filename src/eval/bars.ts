// The sharp-translations bars (the model card's five), on one task's overall scores against the
// baselines and the truth floor of the same cases: sharpness 0.75-1.3 of the truth's, band-pass
// edge agreement >= 0.45, mIoU well above both baselines (by MIOU_MARGIN), perceptual and Fréchet
// distance at least halfway from the mean-frame baseline to the truth-vs-truth floor, and PSNR at
// least 2 dB over the best baseline.
import type { EvalReport } from './evaluate.js';

export const BAR_NAMES = ['sharpness', 'edges', 'content', 'features', 'psnr'] as const;
export type Bar = (typeof BAR_NAMES)[number];
/** How far above the better baseline's mIoU "well above" is. */
export const MIOU_MARGIN = 0.1;

/** Which bars a task's scores pass; needs the mean-frame baseline and the PerceptionNet's metrics. */
export function translationBars(overall: EvalReport['overall']): Record<Bar, boolean> {
  const { model, copyInput, meanFrame, truth } = overall;
  const needed = [model, copyInput, meanFrame, truth].map((s) => [s?.perceptual, s?.frechet, s?.miou]).flat();
  if (!meanFrame || needed.some((v) => v === undefined))
    throw new Error(
      'translation bars need the mean-frame baseline and the PerceptionNet metrics (perceptual, Fréchet, mIoU)',
    );
  const midway = (key: 'perceptual' | 'frechet'): number => (meanFrame[key]! + truth[key]!) / 2;
  return {
    sharpness: model.sharpness >= 0.75 && model.sharpness <= 1.3,
    edges: model.edges >= 0.45,
    content: model.miou! >= Math.max(copyInput.miou!, meanFrame.miou!) + MIOU_MARGIN,
    features: model.perceptual! <= midway('perceptual') && model.frechet! <= midway('frechet'),
    psnr: model.psnr >= Math.max(copyInput.psnr, meanFrame.psnr) + 2,
  };
}
