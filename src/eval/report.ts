// What `worldwander eval` writes: report.json (every number), report.md (the tables), plots as
// SVG (PSNR per case, PSNR per frame, the training loss when a metrics.jsonl is given), and with
// `html` a self-contained results page (page.ts).
import { existsSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

import { writeFileAtomicSync } from '../io/atomic.js';
import { formatPaired } from './compare.js';
import { NOT_MEASURED, type EvalReport } from './evaluate.js';
import { barChart, lineChart, smooth } from './plots.js';

const fixed = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

export function markdownReport(report: EvalReport, title = 'Evaluation'): string {
  const o = report.overall;
  const rows = [['model', o.model], ['copy-input baseline', o.copyInput], ...(o.meanFrame ? [['mean-frame baseline', o.meanFrame]] : [])] as [string, { psnr: number; ssim: number }][];
  const best = Math.max(o.copyInput.psnr, o.meanFrame?.psnr ?? -Infinity);
  const bestSsim = Math.max(o.copyInput.ssim, o.meanFrame?.ssim ?? -Infinity);
  const lines = [
    `# ${title}`, '',
    `${report.task}, ${report.cases.length} case(s), ${report.width}x${report.height}, ${report.frames} frames each.`, '',
    '| method | PSNR (dB) | SSIM |', '|---|---|---|',
    ...rows.map(([name, s]) => `| ${name} | ${fixed(s.psnr)} | ${fixed(s.ssim, 4)} |`), '',
    `Model − best baseline: ${fixed(o.model.psnr - best)} dB PSNR, ${fixed(o.model.ssim - bestSsim, 4)} SSIM.`, '',
    '## Per case', '',
    `| case | model PSNR | model SSIM | copy-input PSNR | copy-input SSIM${o.meanFrame ? ' | mean-frame PSNR | mean-frame SSIM' : ''} |`,
    `|---|---|---|---|---${o.meanFrame ? '|---|---' : ''}|`,
    ...report.cases.map((c) => `| ${c.case} | ${fixed(c.model.psnr)} | ${fixed(c.model.ssim, 4)} | ${fixed(c.copyInput.psnr)} | ${fixed(c.copyInput.ssim, 4)}${c.meanFrame ? ` | ${fixed(c.meanFrame.psnr)} | ${fixed(c.meanFrame.ssim, 4)}` : ''} |`), '',
    `Definitions: ${report.definitions}`, '',
    NOT_MEASURED, '',
  ];
  const c = report.comparison;
  if (c) {
    lines.push(`## Against ${c.against}`, '',
      `Paired over the ${c.cases} case(s) both have: this model − that one, mean ± standard error of the per-case differences.`, '',
      '| metric | difference | cases better here |', '|---|---|---|',
      `| PSNR (dB) | ${formatPaired(c.psnr, 2)} | ${c.psnr.better} of ${c.cases} |`,
      `| SSIM | ${formatPaired(c.ssim, 4)} | ${c.ssim.better} of ${c.cases} |`, '');
    if (c.onlyHere.length || c.onlyThere.length) lines.push(`Not compared: only here ${c.onlyHere.join(', ') || 'none'}; only there ${c.onlyThere.join(', ') || 'none'}.`, '');
  }
  if (report.unmatched.predictions.length || report.unmatched.groundTruth.length) {
    lines.push(`Unmatched: predictions without ground truth: ${report.unmatched.predictions.join(', ') || 'none'}; ground truth without predictions: ${report.unmatched.groundTruth.join(', ') || 'none'}.`, '');
  }
  return lines.join('\n');
}

/** The plots of a report, by file name. */
export function reportPlots(report: EvalReport, lossFile?: string): Map<string, string> {
  const plots = new Map<string, string>();
  const methods = (pick: 'psnr' | 'ssim') => [
    { name: 'model', values: report.cases.map((c) => c.model[pick]) },
    { name: 'copy-input', values: report.cases.map((c) => c.copyInput[pick]) },
    ...(report.cases[0]?.meanFrame ? [{ name: 'mean frame', values: report.cases.map((c) => c.meanFrame![pick]) }] : []),
  ];
  plots.set('psnr_per_case.svg', barChart(`PSNR per case (${report.task})`, 'PSNR (dB)', report.cases.map((c) => c.case), methods('psnr')));
  const perFrame = (pick: (c: EvalReport['cases'][number]) => number[] | undefined) => Array.from({ length: report.frames }, (_, f) => {
    const values = report.cases.map((c) => pick(c)?.[f]).filter((v): v is number => v !== undefined);
    return values.reduce((a, b) => a + b, 0) / values.length;
  });
  plots.set('psnr_per_frame.svg', lineChart(`PSNR per frame, mean over cases (${report.task})`, 'PSNR (dB)', 'frame', [
    { name: 'model', values: perFrame((c) => c.model.psnrFrames) },
    { name: 'copy-input', values: perFrame((c) => c.copyInput.psnrFrames) },
    ...(report.cases[0]?.meanFrame ? [{ name: 'mean frame', values: perFrame((c) => c.meanFrame?.psnrFrames) }] : []),
  ]));
  if (lossFile && existsSync(lossFile)) {
    const metrics = readFileSync(lossFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
    const loss = metrics.map((m) => m.loss);
    plots.set('training_loss.svg', lineChart('Training loss', 'loss', 'step', [{ name: 'loss', values: loss }, { name: 'moving average (50)', values: smooth(loss, 50) }], metrics.map((m) => m.step)));
  }
  return plots;
}

/** Writes report.json, report.md and the SVG plots into `dir`; returns the files written. */
export function writeReport(dir: string, report: EvalReport, { title, lossFile }: { title?: string; lossFile?: string } = {}): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    writeFileAtomicSync(path.join(dir, name), (fd) => writeSync(fd, text));
    files.push(path.join(dir, name));
  };
  put('report.json', `${JSON.stringify(report, null, 1)}\n`);
  put('report.md', markdownReport(report, title));
  for (const [name, svg] of reportPlots(report, lossFile)) put(name, svg);
  return files;
}
