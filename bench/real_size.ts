// The whole pipeline at the real size: `worldwander infer` as a user runs it, in a child process
// whose resident memory is sampled every 100 ms from /proc, with a timeline of what it was doing.
// Prints one JSON line per run: peak RSS (the child's VmHWM at its end: exact), seconds per stage
// (weights loading per part from the progress events, the rest from the case's run.json) and the
// RSS timeline's peak per stage.
//
//   node dist/bench/real_size.js --model-dir outputs/real-size [--runs 1] -- [infer flags...]
//   node dist/bench/real_size.js --train --model-dir outputs/real-size [--runs 1] -- [config overrides...]
//
// The infer flags default to the run: the release's three2one config at 256x256, 17
// frames, 1 step, bfloat16, on a 3-second 8-fps clip ffmpeg draws (testsrc2). `--train`: one
// training step of the release's LoRA (its rank, target modules, bf16-mixed, gradient
// checkpointing) at 256x256x17, batch 1, on two synthetic clips; then the checkpoint is checked:
// every adapter's B moved off zero (its gradient was non-zero) and nothing but adapters saved.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { SafetensorsFile, scope } from '../src/torch/index.js';
import { synthesize } from '../src/synth/run.js';
import { flagValue, median, processMemory } from './stats.js';

const GiB = 1024 ** 3;

interface Mark {
  t: number;
  what: string;
  rss: number;
  hwm: number;
}

type MarkFn = (what: string) => void;

function marker(): MarkFn {
  const started = performance.now();
  return (what) => {
    const m = processMemory('self')!;
    console.log(JSON.stringify({ t: (performance.now() - started) / 1000, what, rss: m.rss, hwm: m.hwm }));
  };
}

/** Child mode: runs infer in this process, printing a mark per event (time, what, RSS, high-water mark). */
async function inferChild(args: string[]): Promise<void> {
  const { infer } = await import('../src/app/infer.js');
  const mark = marker();
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
      else if (event.kind === 'written') mark('written');
    },
  });
  mark('end');
}

/** Child mode: runs train in this process, marking the set-up's end, each step and each checkpoint. */
async function trainChild(args: string[]): Promise<void> {
  const { train } = await import('../src/train/trainer.js');
  const mark = marker();
  mark('set-up start');
  await train({
    ...(JSON.parse(args[0]!) as Parameters<typeof train>[0]),
    onEvent: (event) => {
      if (event.kind === 'start') mark('set-up end (prompts, VAE, transformer, LoRA, optimiser, data)');
      else if (event.kind === 'step') mark(`step ${event.metrics.step}/${event.steps}`);
      else if (event.kind === 'checkpoint') mark('checkpoint written');
    },
  });
  mark('end');
}

interface Sampled {
  peakRssGiB: number;
  wallSeconds: number;
  marks: Mark[];
  timeline: [number, number][];
}

interface RunResult extends Sampled {
  stages: Record<string, number>;
}

/** This script in child mode (`--child-infer` / `--child-train`), its RSS sampled every 100 ms and its marks read. */
async function sampledChild(mode: string, flags: Record<string, unknown>): Promise<Sampled> {
  const proc = spawn(process.execPath, [process.argv[1]!, mode, JSON.stringify(flags)], {
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
  if (code !== 0) throw new Error(`the ${mode.slice('--child-'.length)} child exited with ${code}`);
  const marks = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Mark);
  const end = marks[marks.length - 1]!;
  return {
    peakRssGiB: Math.max(end.hwm, last.hwm) / GiB,
    wallSeconds: (performance.now() - started) / 1000,
    marks,
    timeline,
  };
}

async function inferRun(flags: Record<string, unknown>): Promise<RunResult> {
  const output = mkdtempSync(path.join(tmpdir(), 'ww-real-size-'));
  try {
    const sampled = await sampledChild('--child-infer', { ...flags, output });
    const caseDir = readdirSync(output).find((n) => !n.startsWith('.'))!;
    const record = JSON.parse(readFileSync(path.join(output, caseDir, 'run.json'), 'utf8')) as {
      seconds: Record<string, number>;
    };
    const stages: Record<string, number> = { ...record.seconds };
    const { marks } = sampled;
    for (const m of marks) {
      const load = /^load (\S+) start$/.exec(m.what);
      if (!load) continue;
      const done = marks.find((n) => n.what === `load ${load[1]} end` && n.t >= m.t);
      if (done) stages[`load ${load[1]}`] = (stages[`load ${load[1]}`] ?? 0) + done.t - m.t;
    }
    return { ...sampled, stages };
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
}

/** What one training step left in its checkpoint: the adapters, and whether each B moved off zero. */
function checkAdapters(checkpoint: string): { adapters: number; parameters: number; zeroB: string[]; other: string[] } {
  const file = SafetensorsFile.open(path.join(checkpoint, 'pytorch_lora_weights.safetensors'));
  let parameters = 0;
  const zeroB: string[] = [];
  const other: string[] = [];
  for (const key of file.keys()) {
    if (!/\.lora_[AB]\.weight$/.test(key)) other.push(key);
    using t = file.get(key);
    parameters += t.numel();
    // AdamW's first step moves a zero B by lr·m/(√v+ε): off zero exactly where its gradient is not zero
    if (key.endsWith('lora_B.weight') && !scope(() => t.abs().amax([0, 1]).item() > 0)) zeroB.push(key);
  }
  return { adapters: file.keys().length / 2, parameters, zeroB, other };
}

async function trainRun(flags: Record<string, unknown>): Promise<RunResult & { step: Record<string, number> }> {
  const output = mkdtempSync(path.join(tmpdir(), 'ww-real-size-train-'));
  try {
    const sampled = await sampledChild('--child-train', { ...flags, output });
    const metrics = JSON.parse(
      readFileSync(path.join(output, 'metrics.jsonl'), 'utf8').trim().split('\n')[0]!,
    ) as Record<string, number>;
    const adapters = checkAdapters(path.join(output, 'checkpoints', 'step-1'));
    console.error(`  checkpoint: ${JSON.stringify(adapters)}`);
    if (adapters.zeroB.length || adapters.other.length) throw new Error('the step did not train every adapter alone');
    const at = (what: string): number => sampled.marks.find((m) => m.what.startsWith(what))!.t;
    return {
      ...sampled,
      stages: { 'set-up': at('set-up end'), step: at('step 1/') - at('set-up end') },
      step: {
        loss: metrics.loss!,
        grad_norm: metrics.grad_norm!,
        adapters: adapters.adapters,
        parameters: adapters.parameters,
      },
    };
  } finally {
    rmSync(output, { recursive: true, force: true });
  }
}

function testsrcClip(): string {
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
  return clip;
}

/** Two synthetic clips of 33 frames at 256x256: one window of 17 frames at the release's stride 2. */
async function trainingClips(): Promise<string> {
  const data = path.join('outputs', 'bench', 'train-256');
  if (!existsSync(path.join(data, 'manifest.json')))
    await synthesize({ out: data, count: 2, width: 256, height: 256, frames: 33, fps: 8, seed: 50, format: 'mp4' });
  return path.resolve(data);
}

function printTimeline(r: Sampled): void {
  // the child's clock starts a moment after the parent's: align them on the end
  const offset = r.wallSeconds - r.marks[r.marks.length - 1]!.t;
  let from = 0;
  for (const m of r.marks) {
    const peak = Math.max(0, ...r.timeline.filter(([t]) => t - offset >= from && t - offset <= m.t).map(([, v]) => v));
    console.error(
      `  ${m.t.toFixed(1).padStart(7)} s  rss ${(m.rss / GiB).toFixed(2)} GiB (peak since the mark before ${(peak / GiB).toFixed(2)})  ${m.what}`,
    );
    from = m.t;
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child-infer') return inferChild(argv.slice(1));
  if (argv[0] === '--child-train') return trainChild(argv.slice(1));
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const extra = split < 0 ? [] : argv.slice(split + 1);
  const flag = (name: string, fallback: string): string => flagValue(own, name, fallback);
  const runs = Number(flag('--runs', '1'));
  const modelDir = flag('--model-dir', 'outputs/real-size');
  const training = own.includes('--train');
  let flags: Record<string, unknown>;
  if (training) {
    const data = await trainingClips();
    flags = {
      config: 'configs/wan2-2_lora_three2one_synthetic.yaml',
      modelDir,
      overrides: [
        `dataset.first_video_root=${data}/First_Video`,
        `dataset.third_video_root=${data}/Third_Video`,
        'dataset.height=256',
        'dataset.width=256',
        'dataset.resize_long=256',
        'dataset.sample_n_frames=17',
        'training.batch_size=1',
        'training.max_steps=1',
        ...extra,
      ],
    };
  } else {
    flags = {
      config: 'configs/wan2-2_lora_three2one_synthetic.yaml',
      input: testsrcClip(),
      modelDir,
      height: 256,
      width: 256,
      frames: 17,
      steps: 1,
      dtype: 'bfloat16',
      ...(JSON.parse(extra.join(' ') || '{}') as Record<string, unknown>),
    };
  }
  const results: (RunResult & { step?: Record<string, number> })[] = [];
  for (let i = 0; i < runs; i++) {
    const r = training ? await trainRun(flags) : await inferRun(flags);
    results.push(r);
    console.error(`run ${i + 1}: peak ${r.peakRssGiB.toFixed(2)} GiB, ${r.wallSeconds.toFixed(1)} s`);
    printTimeline(r);
  }
  const stageNames = [...new Set(results.flatMap((r) => Object.keys(r.stages)))];
  console.log(
    JSON.stringify({
      flags,
      runs: results.length,
      peakRssGiB: median(results.map((r) => r.peakRssGiB)),
      wallSeconds: median(results.map((r) => r.wallSeconds)),
      stages: Object.fromEntries(stageNames.map((s) => [s, median(results.map((r) => r.stages[s] ?? 0))])),
      perRun: results.map((r) => ({
        peakRssGiB: r.peakRssGiB,
        wallSeconds: r.wallSeconds,
        stages: r.stages,
        step: r.step,
      })),
    }),
  );
}

await main();
