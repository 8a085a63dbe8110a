// The web app under load: N jobs in a row through HTTP (example clips, both tasks in turn, the
// model's default settings), the time from the POST to the job's first progress event and to its
// first denoising step, and the resident memory of the server and of the translation process
// after each job (flat, or something leaks).
//   node dist/bench/serve.js [--model-dir M] [--jobs 20] [--json]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { startServer } from '../src/app/server.js';
import { BUNDLED_MODEL } from '../src/worldwander/model_defaults.js';
import { median } from './stats.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : fallback;
};
const modelDir = flag('--model-dir', BUNDLED_MODEL);
const count = Number(flag('--jobs', '20'));
const json = args.includes('--json');

const rssMiB = (pid: number | undefined): number => {
  if (pid === undefined) return NaN;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(line.split(/\s+/)[1]) / 1024;
};

const root = mkdtempSync(path.join(tmpdir(), 'ww-bench-serve-'));
const server = await startServer({ modelDir, root, port: 0 });
const rows: {
  job: number;
  firstEventMs: number;
  firstStepMs: number;
  totalMs: number;
  serverMiB: number;
  workerMiB: number;
}[] = [];
try {
  const info = (await (await fetch(`${server.url}/api/info`)).json()) as { examples: string[] };
  for (let job = 0; job < count; job++) {
    const form = new FormData();
    form.append('task', job % 2 ? 'one2three' : 'three2one');
    form.append('example', info.examples[job % info.examples.length]!);
    const started = performance.now();
    const { id } = (await (await fetch(`${server.url}/api/jobs`, { method: 'POST', body: form })).json()) as {
      id: string;
    };
    const reader = (await fetch(`${server.url}/api/jobs/${id}/events`)).body!.getReader();
    let text = '',
      firstEventMs = NaN,
      firstStepMs = NaN;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
      if (Number.isNaN(firstEventMs) && text.includes('event: progress')) firstEventMs = performance.now() - started;
      if (Number.isNaN(firstStepMs) && text.includes('"stage":"denoising"')) firstStepMs = performance.now() - started;
    }
    if (!text.includes('event: done')) throw new Error(`job ${job} did not finish: ${text.slice(-300)}`);
    rows.push({
      job,
      firstEventMs,
      firstStepMs,
      totalMs: performance.now() - started,
      serverMiB: rssMiB(process.pid),
      workerMiB: rssMiB(server.jobs.workerPid),
    });
    if (!json)
      console.error(
        `job ${job + 1}/${count}: first event ${firstEventMs.toFixed(0)} ms, first step ${firstStepMs.toFixed(0)} ms, done ${rows.at(-1)!.totalMs.toFixed(0)} ms; RSS server ${rows.at(-1)!.serverMiB.toFixed(0)} MiB, worker ${rows.at(-1)!.workerMiB.toFixed(0)} MiB`,
      );
  }
} finally {
  await server.close();
  rmSync(root, { recursive: true, force: true });
}

const later = rows.slice(1);
const summary = {
  modelDir,
  jobs: count,
  first_job: {
    first_event_ms: Math.round(rows[0]!.firstEventMs),
    first_step_ms: Math.round(rows[0]!.firstStepMs),
    total_ms: Math.round(rows[0]!.totalMs),
  },
  median_later: {
    first_event_ms: Math.round(median(later.map((r) => r.firstEventMs))),
    first_step_ms: Math.round(median(later.map((r) => r.firstStepMs))),
    total_ms: Math.round(median(later.map((r) => r.totalMs))),
  },
  rss_mib: {
    server_after_job_2: Math.round(rows[1]!.serverMiB),
    server_last: Math.round(rows.at(-1)!.serverMiB),
    worker_after_job_2: Math.round(rows[1]!.workerMiB),
    worker_last: Math.round(rows.at(-1)!.workerMiB),
  },
};
console.log(json ? JSON.stringify(summary) : JSON.stringify(summary, null, 2));
