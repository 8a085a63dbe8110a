// AdaLN modulation of Wan's blocks and output head: `scale_shift_table + timestep projection`,
// split into named chunks (shift, scale, gate, ...) and applied as norm(x)·(1 + scale) + shift
// and x + y·gate, in float32, returning x's dtype.
//
// Per-token timesteps come in runs: WorldWander's in-context sequence is clean condition/ref
// tokens (t = 0) then noisy target tokens (t). The projection then has one row per run (not one
// per token), and every token of a run is modulated with its run's row: no [S, 6, dim] tensor.
import { cat, consume, empty, randn, scope, type Tensor } from '../../torch/index.js';
import { generatorOf, type LayerNorm, type LayerOptions } from '../../nn/index.js';

/** Tokens [start, start + length) share row `row` of the timestep embeddings in every sample. */
export interface TimestepRun {
  start: number;
  length: number;
  row: number;
}

/** Above this many runs, embeddings are kept per token (runs give no saving then). */
const MAX_RUNS = 16;

/**
 * The runs of equal per-token timesteps of [B, S], with boundaries shared by the batch, or null
 * when there are more than MAX_RUNS.
 */
export function timestepRuns(timestep: Tensor): TimestepRun[] | null {
  if (timestep.ndim === 1) return null;
  const [batch, tokens] = timestep.shape as [number, number];
  const values = timestep.toArray();
  const runs: TimestepRun[] = [];
  let start = 0;
  for (let i = 1; i <= tokens; i++) {
    const boundary =
      i === tokens ||
      Array.from({ length: batch }, (_, b) => values[b * tokens + i] !== values[b * tokens + i - 1]).some(Boolean);
    if (!boundary) continue;
    runs.push({ start, length: i - start, row: runs.length });
    if (runs.length > MAX_RUNS) return null;
    start = i;
  }
  return runs;
}

/** The runs inside tokens [start, start + length), re-based to start there (rows unchanged). */
export function runsWithin(runs: readonly TimestepRun[], start: number, length: number): TimestepRun[] {
  const end = start + length;
  return runs
    .filter((r) => r.start < end && r.start + r.length > start)
    .map((r) => {
      const from = Math.max(r.start, start);
      return { start: from - start, length: Math.min(r.start + r.length, end) - from, row: r.row };
    });
}

/** randn(shape)/√dim, diffusers' init of the modulation tables; float32 always. */
export function scaleShiftTable(shape: readonly number[], dim: number, options: LayerOptions): Tensor {
  if (options.init === 'empty') return empty(shape, { dtype: 'float32', device: options.device });
  return consume(randn(shape, generatorOf(options), { dtype: 'float32', device: options.device }), (t) =>
    t.div(Math.sqrt(dim)),
  );
}

export class Modulation {
  private constructor(
    private readonly chunks: ReadonlyMap<string, Tensor>,
    readonly runs: readonly TimestepRun[] | null,
  ) {}

  /**
   * table [1, k, dim] plus projection [B, R, k, dim] (row r serving the tokens of `runs`, or one
   * row per token when runs is null), chunked on k under `names`.
   */
  static of(
    table: Tensor,
    projection: Tensor,
    runs: readonly TimestepRun[] | null,
    names: readonly string[],
  ): Modulation {
    const chunks = table.unsqueeze(0).add(projection.float()).chunk(names.length, 2);
    return new Modulation(new Map(names.map((name, i) => [name, chunks[i]!.squeeze(2)])), runs);
  }

  /** norm(x)·(1 + scale) + shift for x [B, S, dim], in x's dtype. */
  affine(norm: LayerNorm, x: Tensor, shift: string, scale: string): Tensor {
    return this.#byRuns([x], ([xs], row) =>
      norm.forward(xs!.float()).mul(this.#row(scale, row).add(1)).add(this.#row(shift, row)).typeAs(xs!),
    );
  }

  /** x + y·gate for x, y [B, S, dim], in float32, returned in x's dtype. */
  gated(x: Tensor, y: Tensor, gate: string): Tensor {
    return this.#byRuns([x, y], ([xs, ys], row) =>
      xs!
        .float()
        .add(ys!.float().mul(this.#row(gate, row)))
        .typeAs(xs!),
    );
  }

  /** The modulation of tokens [start, start + length) only (the output head keeps the target's). */
  within(start: number, length: number): Modulation {
    if (this.runs !== null) return new Modulation(this.chunks, runsWithin(this.runs, start, length));
    return new Modulation(new Map([...this.chunks].map(([name, t]) => [name, t.narrow(1, start, length)])), null);
  }

  /** Row `row` of a chunk [B, R, dim] kept as [B, 1, dim] (broadcasts over a run), or every row. */
  #row(name: string, row: number | null): Tensor {
    const chunk = this.chunks.get(name);
    if (!chunk) throw new Error(`Modulation: no chunk '${name}' (has ${[...this.chunks.keys()].join(', ')})`);
    return row === null ? chunk : chunk.narrow(1, row, 1);
  }

  /**
   * f over each run of tokens (all [B, S, …]) with the run's row, joined on the token axis;
   * per-token rows: f once, row null.
   */
  #byRuns(tokens: readonly Tensor[], f: (parts: Tensor[], row: number | null) => Tensor): Tensor {
    const runs = this.runs;
    if (runs === null) return scope(() => f([...tokens], null));
    if (runs.length === 1) return scope(() => f([...tokens], runs[0]!.row));
    return scope(() =>
      cat(
        runs.map((r) =>
          f(
            tokens.map((t) => t.narrow(1, r.start, r.length)),
            r.row,
          ),
        ),
        1,
      ),
    );
  }
}
