// Per-token timesteps come in runs: WorldWander's in-context sequence is clean condition/ref
// tokens (t = 0) then noisy target tokens (t). Embedding each run's timestep once, and modulating
// run by run, replaces per-token [S, 6, dim] tensors by [R, 6, dim] ones.
import { cat, scope, type Tensor } from '../../torch/index.js';

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
 * when there are more than MAX_RUNS. WorldWander's in-context sequences have two: the clean
 * condition/ref tokens (t = 0) and the noisy target tokens (t).
 */
export function timestepRuns(timestep: Tensor): TimestepRun[] | null {
  if (timestep.ndim === 1) return null;
  const [batch, tokens] = timestep.shape as [number, number];
  const values = timestep.toArray();
  const runs: TimestepRun[] = [];
  let start = 0;
  for (let i = 1; i <= tokens; i++) {
    const boundary = i === tokens || Array.from({ length: batch }, (_, b) => values[b * tokens + i] !== values[b * tokens + i - 1]).some(Boolean);
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

/**
 * f over each run of tokens of `tokens` (all [B, S, …]) with the run's embedding row, joined on
 * the token axis; with per-token rows (runs null) f sees the whole sequence and row null.
 */
export function byRuns(runs: readonly TimestepRun[] | null, tokens: readonly Tensor[], f: (parts: Tensor[], row: number | null) => Tensor): Tensor {
  if (runs === null) return f([...tokens], null);
  if (runs.length === 1) return f([...tokens], runs[0]!.row);
  return scope(() => cat(runs.map((r) => f(tokens.map((t) => t.narrow(1, r.start, r.length)), r.row)), 1));
}

/** Row `row` of [B, R, …] kept as [B, 1, …] (broadcasts over a run), or all rows when null. */
export function rowOf(t: Tensor, row: number | null): Tensor {
  return row === null ? t : t.narrow(1, row, 1);
}
