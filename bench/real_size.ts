// The whole pipeline at the real size: `worldwander infer` as a user runs it, in a child process
// whose resident memory is sampled every 100 ms from /proc, with a timeline of what it was doing.
// Prints one JSON line per run: peak RSS (the child's VmHWM at its end: exact), seconds per stage
// (weights loading per part from the progress events, the rest from the case's run.json) and the
// RSS timeline's peak per stage.
//
//   node dist/bench/real_size.js --model-dir outputs/real-size [--runs 1] -- [infer flags...]
//
// The infer flags default to the run: the release's three2one config at 256x256, 17
// frames, 1 step, bfloat16, on a 3-second 8-fps clip ffmpeg draws (testsrc2).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { flagValue, median, processMemory } from './stats.js';

const GiB = 1024 ** 3;

interface Mark {
  t: number;
  what: string;
  rss: number;
  hwm: number;
}

/** Child mode: runs infer in this process, printing a mark per event (time, what, RSS, high-water mark). */
async function child(args: string[]): Promise<void> {
  const { infer } = await import('../src/app/infer.js');
  const started = performance.now();
  const mark = (what: string): void => {
    const m = processMemory('self')!;
    console.log(JSON.stringify({ t: (performance.now() - started) / 1000, what, rss: m.rss, hwm: m.hwm }));
  };
  const flags = JSON.parse(args[0]!) as Parameters<typeof infer>[0];
  let lastPart = '';
  await infer({
    ...flags,
    onEvent: (event) => {
      if (event.kind === 'loading') {
        if (event.done === 1 || event.part !== lastPart) mark(`load ${event.part} start`);
        lastPart = event.part;
        if (event.done === event.total) mark(`load ${event.part} end`);
      } else if (event.kind === 'step') mark(`step ${event.done}/${event.total}`);
      else if (event.kind === 'case') mark(`case ${event.name}`);
      else if ((event as { kind: string }).kind === 'stage') {
        const e = event as unknown as { stage: string; phase: string };
        mark(`${e.stage} ${e.phase}`);
      } else if (event.kind === 'written') mark('written');
    },
  });
  mark('end');
}

interface RunResult {
  peakRssGiB: number;
  wallSeconds: number;
  stages: Record<string, number>;
  marks: Mark[];
  timeline: [number, number][];
}

async function run(flags: Record<string, unknown>): Promise<RunResult> {
  const output = mkdtempSync(path.join(tmpdir(), 'ww-real-size-'));
  try {
    const proc = spawn(process.execPath, [process.argv[1]!, '--child', JSON.stringify({ ...flags, output })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const timeline: [number, number][] = [];
    const started = performance.now();
    let last = { rss: 0, hwm: 0 };
    const sampler = setInterval(() => {
      const m = processMemory(proc.pid!);
      if (!m || !Number.isFinite(m.rss) || !Number.isFinite(m.hwm)) return; // gone, or a zombie
      last = m;
      timeline.push([(performance.now() - started) / 1000, m.rss]);
    }, 100);
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number>((resolve) => proc.on('exit', (c) => resolve(c ?? 1)));
    clearInterval(sampler);
    if (code !== 0) throw new Error(`infer exited with ${code}`);
    const marks = out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Mark);
    const end = marks[marks.length - 1]!;
    const caseDir = readdirSync(output).find((n) => !n.startsWith('.'))!;
    const record = JSON.parse(readFileSync(path.join(output, caseDir, 'run.json'), 'utf8')) as {
      seconds: Record<string, number>;
    };
    const stages: Record<string, number> = { ...record.seconds };
    for (const m of marks) {
      const load = /^load (\S+) start$/.exec(m.what);
      if (!load) continue;
      const done = marks.find((n) => n.what === `load ${load[1]} end` && n.t >= m.t);
      if (done) stages[`load ${load[1]}`] = (stages[`load ${load[1]}`] ?? 0) + done.t - m.t;
    }
    return {
      peakRssGiB: Math.max(end.hwm, last.hwm) / GiB,
      wallSeconds: (performance.now() - started) / 1000,
      stages,
      marks,
      timeline,
    };
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv.slice(1));
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const flag = (name: string, fallback: string): string => flagValue(own, name, fallback);
  const runs = Number(flag('--runs', '1'));
  const overrides = split < 0 ? {} : (JSON.parse(argv.slice(split + 1).join(' ') || '{}') as Record<string, unknown>);
  const clip = path.join('outputs', 'bench', 'testsrc2-256.mp4');
  if (!existsSync(clip)) {
    mkdirSync(path.dirname(clip), { recursive: true });
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=256x256:rate=8',
      '-t',
      '3',
      '-pix_fmt',
      'yuv420p',
      clip,
    ]);
  }
  const flags = {
    config: 'configs/wan2-2_lora_three2one_synthetic.yaml',
    input: clip,
    modelDir: flag('--model-dir', 'outputs/real-size'),
    height: 256,
    width: 256,
    frames: 17,
    steps: 1,
    dtype: 'bfloat16',
    ...overrides,
  };
  const results: RunResult[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await run(flags);
    results.push(r);
    console.error(`run ${i + 1}: peak ${r.peakRssGiB.toFixed(2)} GiB, ${r.wallSeconds.toFixed(1)} s`);
    // the child's clock starts a moment after the parent's: align them on the end
    const offset = r.wallSeconds - r.marks[r.marks.length - 1]!.t;
    let from = 0;
    for (const m of r.marks) {
      const peak = Math.max(
        0,
        ...r.timeline.filter(([t]) => t - offset >= from && t - offset <= m.t).map(([, v]) => v),
      );
      console.error(
        `  ${m.t.toFixed(1).padStart(7)} s  rss ${(m.rss / GiB).toFixed(2)} GiB (peak since the mark before ${(peak / GiB).toFixed(2)})  ${m.what}`,
      );
      from = m.t;
    }
  }
  const stageNames = [...new Set(results.flatMap((r) => Object.keys(r.stages)))];
  console.log(
    JSON.stringify({
      flags,
      runs: results.length,
      peakRssGiB: median(results.map((r) => r.peakRssGiB)),
      wallSeconds: median(results.map((r) => r.wallSeconds)),
      stages: Object.fromEntries(stageNames.map((s) => [s, median(results.map((r) => r.stages[s] ?? 0))])),
      perRun: results.map((r) => ({ peakRssGiB: r.peakRssGiB, wallSeconds: r.wallSeconds, stages: r.stages })),
    }),
  );
}

await main();
