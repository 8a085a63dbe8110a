// The bundled default run (`npm start` = `worldwander demo`) on this machine: wall time of the
// whole command in a fresh output folder (a new process each run: module loading, model loading,
// data, both tasks, evaluation, the page), its stages, and a second run that reuses the first.
//   node dist/bench/demo.js [--runs 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { median } from './stats.js';

const args = process.argv.slice(2);
const runs = Number(args.includes('--runs') ? args[args.indexOf('--runs') + 1] : 3);
const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'worldwander.js');

const walls: number[] = [],
  reruns: number[] = [];
const stages: Record<string, number[]> = {};
for (let r = 0; r < runs; r++) {
  const out = mkdtempSync(path.join(tmpdir(), 'ww-bench-demo-'));
  try {
    const timed = (): number => {
      const started = performance.now();
      execFileSync(process.execPath, [cli, 'demo', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
      return (performance.now() - started) / 1000;
    };
    walls.push(timed());
    for (const [stage, s] of Object.entries(
      JSON.parse(readFileSync(path.join(out, 'demo.json'), 'utf8')).seconds as Record<string, number>,
    ))
      (stages[stage] ??= []).push(s);
    reruns.push(timed());
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
const round = (x: number): number => Number(x.toFixed(2));
console.log(
  JSON.stringify({
    runs,
    wall_seconds: walls.map(round),
    median_wall_seconds: round(median(walls)),
    stages_median_seconds: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, round(median(v))])),
    second_run_median_seconds: round(median(reruns)),
  }),
);
