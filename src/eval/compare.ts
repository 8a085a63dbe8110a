// `worldwander eval --compare OTHER/report.json`: this run's model against another run's model on
// the same cases (matched by name), paired case by case: the mean of the per-case differences
// (this − other), its standard error (sample standard deviation / √n) and how many cases are
// better. Pairing removes the spread between cases, which is most of the spread: two models that
// differ by 0.1 dB on average can be told apart on 32 cases where their overall means could not.
import { readFileSync } from 'node:fs';

import { FileFormatError, OptionError } from '../errors.js';
import type { EvalReport, PairedComparison, PairedDifference } from './evaluate.js';

export type { PairedComparison, PairedDifference } from './evaluate.js';

/** Reads a report.json written by `worldwander eval`, checking what the comparison needs. */
export function readEvalReport(file: string): EvalReport {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new FileFormatError(`${file}: not a report.json of worldwander eval (${(error as Error).message})`);
  }
  const report = parsed as Partial<EvalReport>;
  const caseOk = (c: unknown): boolean => {
    const r = c as Partial<EvalReport['cases'][number]>;
    return typeof r?.case === 'string' && typeof r.model?.psnr === 'number' && typeof r.model.ssim === 'number';
  };
  if (
    typeof report?.task !== 'string' ||
    typeof report.frames !== 'number' ||
    !Array.isArray(report.cases) ||
    !report.cases.every(caseOk)
  ) {
    throw new FileFormatError(
      `${file}: not a report.json of worldwander eval (expected task, frames and cases[] with case and model.psnr / model.ssim)`,
    );
  }
  return report as EvalReport;
}

/** `+0.34 ± 0.03`: a paired difference, signed, with its standard error (`—` where there is none: one case). */
export function formatPaired(d: PairedDifference, digits: number): string {
  const fixed = (v: number): string => (Number.isFinite(v) ? v.toFixed(digits) : '—');
  return `${d.meanDifference >= 0 ? '+' : ''}${fixed(d.meanDifference)} ± ${fixed(d.standardError)}`;
}

function pairedDifference(differences: number[]): PairedDifference {
  const n = differences.length;
  const mean = differences.reduce((a, b) => a + b, 0) / n;
  const variance = differences.reduce((a, d) => a + (d - mean) ** 2, 0) / (n - 1);
  return {
    meanDifference: mean,
    standardError: n > 1 ? Math.sqrt(variance / n) : NaN,
    better: differences.filter((d) => d > 0).length,
  };
}

/** Refuses a report of another task or frame count (callers check before scoring, so a wrong file costs nothing). */
export function checkComparable(other: EvalReport, run: { task: string; frames: number }, against: string): void {
  if (other.task !== run.task)
    throw new OptionError(
      'compare',
      `${against} scores ${other.task}, this run ${run.task}: only the same task's reports compare`,
    );
  if (other.frames !== run.frames)
    throw new OptionError(
      'compare',
      `${against} scores ${other.frames} frames per video, this run ${run.frames} (set {frames} alike)`,
    );
}

/** `report`'s model against `other`'s, on the cases both have; `against` names the other in the report. */
export function pairedComparison(report: EvalReport, other: EvalReport, against: string): PairedComparison {
  checkComparable(other, report, against);
  const theirs = new Map(other.cases.map((c) => [c.case, c.model]));
  const shared = report.cases.filter((c) => theirs.has(c.case));
  if (shared.length === 0)
    throw new OptionError(
      'compare',
      `${against} has none of this run's cases (${report.cases
        .slice(0, 3)
        .map((c) => c.case)
        .join(', ')}, ...)`,
    );
  const ours = new Set(report.cases.map((c) => c.case));
  return {
    against,
    cases: shared.length,
    psnr: pairedDifference(shared.map((c) => c.model.psnr - theirs.get(c.case)!.psnr)),
    ssim: pairedDifference(shared.map((c) => c.model.ssim - theirs.get(c.case)!.ssim)),
    onlyHere: report.cases.filter((c) => !theirs.has(c.case)).map((c) => c.case),
    onlyThere: other.cases.filter((c) => !ours.has(c.case)).map((c) => c.case),
  };
}
