/** Where a progress bar writes: a TTY gets a redrawn bar, anything else occasional plain lines. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  stream?: ProgressStream;
  /** Unit of the counted things, shown after the rate ("samples/s"). */
  unit?: string;
  /** Seconds between plain lines when the stream is not a TTY. */
  lineInterval?: number;
  /** Things already done before this bar started (a resumed run's steps): counted in done/total
   * and the percentage, left out of the rate and so of the ETA. */
  initial?: number;
  /** Injected clock in milliseconds, for tests. */
  now?: () => number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(rest).padStart(2, '0')}s` : `${rest}s`;
}

/** A counter of done/total things on stderr with rate and ETA. */
export class Progress {
  private readonly stream: ProgressStream;
  private readonly unit: string;
  private readonly lineInterval: number;
  private readonly now: () => number;
  private readonly start: number;
  private readonly initial: number;
  private done: number;
  private lastDraw = -Infinity;
  private lastLine: number;
  private lastLineDone = -1;
  private finished = false;

  constructor(
    readonly label: string,
    readonly total: number,
    options: ProgressOptions = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.unit = options.unit ?? 'items';
    this.lineInterval = options.lineInterval ?? 10;
    this.now = options.now ?? (() => performance.now());
    this.start = this.now();
    this.initial = Math.min(total, options.initial ?? 0);
    this.done = this.initial;
    this.lastLine = this.start;
  }

  /** Counts `n` more done things. */
  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    const t = this.now();
    if (this.stream.isTTY) {
      if (t - this.lastDraw >= 100 || this.done === this.total) {
        this.lastDraw = t;
        this.stream.write(`\r${this.line()}\x1b[K`);
      }
    } else if (t - this.lastLine >= this.lineInterval * 1000) {
      this.lastLine = t;
      this.lastLineDone = this.done;
      this.stream.write(`${this.line()}\n`);
    }
  }

  /** Sets the count of done things (for callers told a running total, not each thing). */
  update(done: number): void {
    this.tick(done - this.done);
  }

  /** Ends the bar with a final line. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.stream.isTTY) this.stream.write(`\r${this.line()}\x1b[K\n`);
    else if (this.lastLineDone !== this.done) this.stream.write(`${this.line()}\n`);
  }

  /** done/total, rate per second, and elapsed or remaining time. */
  line(): string {
    const elapsed = (this.now() - this.start) / 1000;
    const rate = elapsed > 0 ? (this.done - this.initial) / elapsed : 0;
    const remaining = rate > 0 ? (this.total - this.done) / rate : Infinity;
    const fraction = this.total > 0 ? this.done / this.total : 1;
    const timing = this.done >= this.total ? `in ${formatDuration(elapsed)}` : `ETA ${formatDuration(remaining)}`;
    const text = `${this.done}/${this.total} ${rate.toFixed(rate < 10 ? 2 : 1)} ${this.unit}/s ${timing}`;
    const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - this.label.length - text.length - 10));
    const filled = Math.round(fraction * width);
    return `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(fraction * 100)}% ${text}`;
  }
}
