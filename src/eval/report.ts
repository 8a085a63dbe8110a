// What `worldwander eval` writes: report.json (every number), report.md (the tables), plots as
// SVG (PSNR per case, PSNR per frame, the training loss when a metrics.jsonl is given), and with
// `html` a self-contained results page (page.ts).
import { existsSync, mkdirSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

import { writeFileAtomicSync } from '../io/atomic.js';
import { formatPaired } from './compare.js';
import {
  METHOD_LABELS,
  METHODS,
  NOT_MEASURED,
  type EvalReport,
  type MethodScores,
  type OverallScores,
} from './evaluate.js';
import { barChart, lineChart, smooth } from './plots.js';
import { jsonText } from '../io/json_text.js';

const fixed = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

/** A metric's column in the tables: how to read it from overall or per-case scores. */
interface Column {
  name: string;
  value: (s: OverallScores | MethodScores) => number | null | undefined;
  digits: number;
}

const COLUMNS: Column[] = [
  { name: 'PSNR (dB) ↑', value: (s) => s.psnr, digits: 2 },
  { name: 'SSIM ↑', value: (s) => s.ssim, digits: 4 },
  { name: 'sharpness (truth = 1)', value: (s) => s.sharpness, digits: 2 },
  { name: 'gradient energy (truth = 1)', value: (s) => s.gradientEnergy, digits: 2 },
  { name: 'edge agreement ↑', value: (s) => s.edges, digits: 3 },
  { name: 'period-2 lattice share', value: (s) => s.lattice, digits: 4 },
  { name: 'perceptual distance ↓', value: (s) => s.perceptual, digits: 4 },
  { name: 'LPIPS ↓', value: (s) => s.lpips, digits: 4 },
  { name: 'Fréchet distance ↓', value: (s) => ('frechet' in s ? s.frechet : undefined), digits: 3 },
  { name: 'FVD ↓', value: (s) => ('fvd' in s ? s.fvd : undefined), digits: 3 },
  { name: 'mIoU ↑', value: (s) => s.miou, digits: 3 },
  { name: 'character IoU ↑', value: (s) => s.characterIou, digits: 3 },
];

const cell = (v: number | null | undefined, digits: number): string =>
  v === undefined || v === null ? '—' : fixed(v, digits);

/** The columns some row of `rows` has a value for. */
function columnsOf(rows: readonly (OverallScores | MethodScores)[]): Column[] {
  return COLUMNS.filter((c) => rows.some((r) => c.value(r) !== undefined && c.value(r) !== null));
}

export function markdownReport(report: EvalReport, title = 'Evaluation'): string {
  const o = report.overall;
  const rows = METHODS.map((m) => [METHOD_LABELS[m], o[m]] as const).filter(
    (r): r is [string, OverallScores] => r[1] !== undefined,
  );
  const columns = columnsOf(rows.map((r) => r[1]));
  const best = Math.max(o.copyInput.psnr, o.meanFrame?.psnr ?? -Infinity);
  const bestSsim = Math.max(o.copyInput.ssim, o.meanFrame?.ssim ?? -Infinity);
  const caseMethods = (['model', 'copyInput', 'meanFrame'] as const).filter((m) => report.cases[0]?.[m]);
  // per case: the set-level Fréchet distance has no per-case value; gradient energy stays in the overall table and the JSON
  const caseColumns = columnsOf(report.cases.flatMap((c) => caseMethods.map((m) => c[m]!))).filter(
    (c) => !c.name.startsWith('Fréchet') && !c.name.startsWith('gradient energy'),
  );
  const short = { model: 'model', copyInput: 'copy-input', meanFrame: 'mean-frame' } as const;
  const classNames = report.perception?.classNames;
  const lines = [
    `# ${title}`,
    '',
    `${report.task}, ${report.cases.length} case(s), ${report.width}x${report.height}, ${report.frames} frames each.`,
    '',
    `| method | ${columns.map((c) => c.name).join(' | ')} |`,
    `|---|${columns.map(() => '---').join('|')}|`,
    ...rows.map(([name, s]) => `| ${name} | ${columns.map((c) => cell(c.value(s), c.digits)).join(' | ')} |`),
    '',
    `Model − best baseline: ${fixed(o.model.psnr - best)} dB PSNR, ${fixed(o.model.ssim - bestSsim, 4)} SSIM.`,
    '',
    ...(classNames && o.model.iou
      ? [
          '## IoU per class (content score)',
          '',
          `| method | ${classNames.join(' | ')} |`,
          `|---|${classNames.map(() => '---').join('|')}|`,
          ...rows
            .filter(([, s]) => s.iou)
            .map(([name, s]) => `| ${name} | ${s.iou!.map((v) => cell(v, 3)).join(' | ')} |`),
          '',
        ]
      : []),
    '## Per case',
    '',
    `| case | ${caseMethods.flatMap((m) => caseColumns.map((c) => `${short[m]} ${c.name.replace(/ [↑↓]$/, '')}`)).join(' | ')} |`,
    `|---|${caseMethods.flatMap(() => caseColumns.map(() => '---')).join('|')}|`,
    ...report.cases.map(
      (c) =>
        `| ${c.case} | ${caseMethods.flatMap((m) => caseColumns.map((col) => cell(col.value(c[m]!), col.digits))).join(' | ')} |`,
    ),
    '',
    `Definitions: ${report.definitions}`,
    '',
    ...(report.perception ? [`PerceptionNet: ${report.perception.dir}.`, ''] : []),
    NOT_MEASURED,
    '',
    ...report.notes.flatMap((n) => [n, '']),
  ];
  const c = report.comparison;
  if (c) {
    lines.push(
      `## Against ${c.against}`,
      '',
      `Paired over the ${c.cases} case(s) both have: this model − that one, mean ± standard error of the per-case differences.`,
      '',
      '| metric | difference | cases better here |',
      '|---|---|---|',
      `| PSNR (dB) | ${formatPaired(c.psnr, 2)} | ${c.psnr.better} of ${c.cases} |`,
      `| SSIM | ${formatPaired(c.ssim, 4)} | ${c.ssim.better} of ${c.cases} |`,
      '',
    );
    if (c.onlyHere.length || c.onlyThere.length)
      lines.push(
        `Not compared: only here ${c.onlyHere.join(', ') || 'none'}; only there ${c.onlyThere.join(', ') || 'none'}.`,
        '',
      );
  }
  if (report.unmatched.predictions.length || report.unmatched.groundTruth.length) {
    lines.push(
      `Unmatched: predictions without ground truth: ${report.unmatched.predictions.join(', ') || 'none'}; ground truth without predictions: ${report.unmatched.groundTruth.join(', ') || 'none'}.`,
      '',
    );
  }
  return lines.join('\n');
}

/** The plots of a report, by file name. */
export function reportPlots(report: EvalReport, lossFile?: string): Map<string, string> {
  const plots = new Map<string, string>();
  const methods = (pick: 'psnr' | 'ssim' | 'edges' | 'perceptual') => [
    { name: 'model', values: report.cases.map((c) => c.model[pick] ?? NaN) },
    { name: 'copy-input', values: report.cases.map((c) => c.copyInput[pick] ?? NaN) },
    ...(report.cases[0]?.meanFrame
      ? [{ name: 'mean frame', values: report.cases.map((c) => c.meanFrame![pick] ?? NaN) }]
      : []),
    ...(report.cases[0]?.blurredTruth
      ? [{ name: 'truth blurred σ 1.5', values: report.cases.map((c) => c.blurredTruth[pick] ?? NaN) }]
      : []),
  ];
  plots.set(
    'psnr_per_case.svg',
    barChart(
      `PSNR per case (${report.task})`,
      'PSNR (dB)',
      report.cases.map((c) => c.case),
      methods('psnr'),
    ),
  );
  plots.set(
    'edges_per_case.svg',
    barChart(
      `Edge agreement per case (${report.task})`,
      'edge agreement',
      report.cases.map((c) => c.case),
      methods('edges'),
    ),
  );
  if (report.cases[0]?.model.perceptual !== undefined) {
    plots.set(
      'perceptual_per_case.svg',
      barChart(
        `Perceptual distance per case, lower is better (${report.task})`,
        'perceptual distance',
        report.cases.map((c) => c.case),
        methods('perceptual'),
      ),
    );
  }
  const perFrame = (pick: (c: EvalReport['cases'][number]) => number[] | undefined) =>
    Array.from({ length: report.frames }, (_, f) => {
      const values = report.cases.map((c) => pick(c)?.[f]).filter((v): v is number => v !== undefined);
      return values.reduce((a, b) => a + b, 0) / values.length;
    });
  plots.set(
    'psnr_per_frame.svg',
    lineChart(`PSNR per frame, mean over cases (${report.task})`, 'PSNR (dB)', 'frame', [
      { name: 'model', values: perFrame((c) => c.model.psnrFrames) },
      { name: 'copy-input', values: perFrame((c) => c.copyInput.psnrFrames) },
      ...(report.cases[0]?.meanFrame ? [{ name: 'mean frame', values: perFrame((c) => c.meanFrame?.psnrFrames) }] : []),
    ]),
  );
  if (lossFile && existsSync(lossFile)) {
    const metrics = readFileSync(lossFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss: number });
    const loss = metrics.map((m) => m.loss);
    plots.set(
      'training_loss.svg',
      lineChart(
        'Training loss',
        'loss',
        'step',
        [
          { name: 'loss', values: loss },
          { name: 'moving average (50)', values: smooth(loss, 50) },
        ],
        metrics.map((m) => m.step),
      ),
    );
  }
  return plots;
}

/** Writes report.json, report.md and the SVG plots into `dir`; returns the files written. */
export function writeReport(
  dir: string,
  report: EvalReport,
  { title, lossFile }: { title?: string; lossFile?: string } = {},
): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const put = (name: string, text: string): void => {
    writeFileAtomicSync(path.join(dir, name), (fd) => writeSync(fd, text));
    files.push(path.join(dir, name));
  };
  put('report.json', jsonText(report, 1));
  put('report.md', markdownReport(report, title));
  for (const [name, svg] of reportPlots(report, lossFile)) put(name, svg);
  return files;
}

/** The console's summary of a report: a line per method with every metric it has. */
export function summaryLines(report: EvalReport): string[] {
  const o = report.overall;
  const rows = METHODS.map((m) => [METHOD_LABELS[m], o[m]] as const).filter(
    (r): r is [string, OverallScores] => r[1] !== undefined,
  );
  const columns = columnsOf(rows.map((r) => r[1]));
  return [
    `${report.task}, ${report.cases.length} case(s):`,
    ...rows.map(
      ([name, s]) =>
        `  ${name}: ${columns.map((c) => `${c.name.replace(/ \(.*\)| [↑↓]$/g, '')} ${cell(c.value(s), c.digits)}`).join(', ')}`,
    ),
  ];
}
