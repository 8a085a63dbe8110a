// Fault injection for the tests of crash safety: WORLDWANDER_FAULT names a point of the run where
// the process dies on purpose (SIGKILL, as a power cut or the OOM killer would), e.g.
// `checkpoint-write:3` (half-way through writing checkpoint step-3), `rank-1-step:2` (rank 1
// before its second step) or `synth-journaled:2` (synth, once two samples are recorded).
// WORLDWANDER_INTERRUPT names a point where the process sends itself SIGINT, as Ctrl-C would (the
// tests of stopping a run). Unset, each costs one string comparison.
export function faultPoint(point: string): void {
  if (process.env.WORLDWANDER_FAULT === point) process.kill(process.pid, 'SIGKILL');
  if (process.env.WORLDWANDER_INTERRUPT === point) process.kill(process.pid, 'SIGINT');
}
