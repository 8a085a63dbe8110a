// The report's plots as standalone SVG: d3's scales and line generator place the marks; the few
// SVG elements around them are written here. Self-contained (no fonts or scripts fetched).
import { scaleBand, scaleLinear } from 'd3-scale';
import { line } from 'd3-shape';

export interface Series {
  name: string;
  values: readonly number[];
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd'];
const W = 720,
  H = 320,
  M = { top: 36, right: 16, bottom: 56, left: 56 };

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function frame(title: string, yLabel: string, body: string, legend: readonly string[]): string {
  const keys = legend
    .map(
      (name, i) =>
        `<g transform="translate(${M.left + i * 150},${H - 14})"><rect width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="16" y="10">${escape(name)}</text></g>`,
    )
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">` +
    `<rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${escape(title)}</text>` +
    `<text transform="translate(14,${H / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>${body}${keys}</svg>\n`
  );
}

function yAxis(y: ReturnType<typeof scaleLinear<number, number>>): string {
  return y
    .ticks(6)
    .map(
      (t) =>
        `<g transform="translate(${M.left},${y(t)})"><line x2="${W - M.left - M.right}" stroke="#ddd"/><text x="-6" dy="0.32em" text-anchor="end">${t}</text></g>`,
    )
    .join('');
}

function extent(series: readonly Series[], pad = 0.05): [number, number] {
  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  const [lo, hi] = [Math.min(...all), Math.max(...all)];
  const span = hi - lo || 1;
  return [lo - pad * span, hi + pad * span];
}

/** Grouped bars: one group per label, one bar per series. */
export function barChart(title: string, yLabel: string, labels: readonly string[], series: readonly Series[]): string {
  const x = scaleBand<string>()
    .domain(labels)
    .range([M.left, W - M.right])
    .padding(0.2);
  const inner = scaleBand<string>()
    .domain(series.map((s) => s.name))
    .range([0, x.bandwidth()])
    .padding(0.05);
  const [, hi] = extent(series);
  const y = scaleLinear()
    .domain([0, hi])
    .nice()
    .range([H - M.bottom, M.top]);
  const bars = series
    .map((s, k) =>
      s.values
        .map(
          (v, i) =>
            `<rect x="${x(labels[i]!)! + inner(s.name)!}" y="${y(v)}" width="${inner.bandwidth()}" height="${y(0) - y(v)}" fill="${COLORS[k % COLORS.length]}"><title>${escape(`${labels[i]} ${s.name}: ${v.toFixed(2)}`)}</title></rect>`,
        )
        .join(''),
    )
    .join('');
  const ticks = labels
    .map(
      (l) =>
        `<text transform="translate(${x(l)! + x.bandwidth() / 2},${H - M.bottom + 12}) rotate(30)" font-size="9">${escape(l)}</text>`,
    )
    .join('');
  return frame(
    title,
    yLabel,
    yAxis(y) + bars + ticks,
    series.map((s) => s.name),
  );
}

/** Lines over x = 1, 2, … (frames, steps). */
export function lineChart(
  title: string,
  yLabel: string,
  xLabel: string,
  series: readonly Series[],
  xs?: readonly number[],
): string {
  const n = Math.max(...series.map((s) => s.values.length));
  const xValues = xs ?? Array.from({ length: n }, (_, i) => i + 1);
  const x = scaleLinear()
    .domain([xValues[0]!, xValues[xValues.length - 1]!])
    .range([M.left, W - M.right]);
  const y = scaleLinear()
    .domain(extent(series))
    .nice()
    .range([H - M.bottom, M.top]);
  const path = line<number>()
    .x((_, i) => x(xValues[i]!))
    .y((v) => y(v));
  const lines = series
    .map(
      (s, k) =>
        `<path d="${path([...s.values]) ?? ''}" fill="none" stroke="${COLORS[k % COLORS.length]}" stroke-width="1.5"/>`,
    )
    .join('');
  const ticks = x
    .ticks(8)
    .map((t) => `<text x="${x(t)}" y="${H - M.bottom + 14}" text-anchor="middle">${t}</text>`)
    .join('');
  return frame(
    title,
    yLabel,
    yAxis(y) +
      lines +
      ticks +
      `<text x="${W / 2}" y="${H - M.bottom + 30}" text-anchor="middle">${escape(xLabel)}</text>`,
    series.map((s) => s.name),
  );
}

/** A moving average (window w) for noisy curves such as a training loss. */
export function smooth(values: readonly number[], w: number): number[] {
  return values.map((_, i) => {
    const part = values.slice(Math.max(0, i - w + 1), i + 1);
    return part.reduce((a, b) => a + b, 0) / part.length;
  });
}
