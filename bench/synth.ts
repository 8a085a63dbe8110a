/**
 * Frames per second of the synthetic world at 64, 128 and 256 pixels square with 1 and 2 worker
 * threads: "render" counts frames rendered in memory, "write" frames rendered and written as the
 * release layout (H.264 mp4 through ffmpeg, reference PNG). Each figure is the median of 3 runs.
 * The machine's load average before each run, and a check that two threads really run twice the
 * work of one in the same time, are printed with the figures (other work on the machine skews them).
 *
 *   node dist/bench/synth.js [--frames 49] [--runs 3] [--sizes 64,128,256] [--workers 1,2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SampleRenderer } from '../src/synth/sample.js';
import { makeSampleSpec } from '../src/synth/spec.js';
import { median } from './stats.js';
import { synthesize } from '../src/synth/run.js';

interface RenderJob {
  indices: number[];
  size: { width: number; height: number; frames: number; fps: number };
}

/** Worker side: render the given samples' frames in memory and report how many. */
function renderInWorker(): void {
  if (workerData === 'spin') {
    parentPort!.postMessage(spin());
    return;
  }
  const { indices, size } = workerData as RenderJob;
  let frames = 0;
  for (const index of indices) {
    const renderer = new SampleRenderer(makeSampleSpec(0, index), size);
    for (let k = 0; k < size.frames; k++) {
      renderer.firstPerson(k);
      renderer.thirdPerson(k);
    }
    renderer.reference();
    frames += 2 * size.frames + 1;
  }
  parentPort!.postMessage(frames);
}

/** A fixed amount of pure CPU work, to see whether two threads really get two cores. */
function spin(): number {
  let x = 0;
  for (let i = 0; i < 1e8; i++) x = (x + i * 7) % 1000003;
  return x;
}

/** Seconds for 1 and 2 threads to do the same spin each: equal when two cores are free. */
async function parallelCheck(): Promise<{ oneThread: number; twoThreads: number }> {
  const timed = async (threads: number): Promise<number> => {
    const start = performance.now();
    await Promise.all(
      Array.from(
        { length: threads },
        () =>
          new Promise((resolve) =>
            new Worker(new URL(import.meta.url), { workerData: 'spin' }).once('message', resolve),
          ),
      ),
    );
    return Number(((performance.now() - start) / 1000).toFixed(2));
  };
  return { oneThread: await timed(1), twoThreads: await timed(2) };
}

async function renderFps(side: number, frames: number, samples: number, workers: number): Promise<number> {
  const size = { width: side, height: side, frames, fps: 8 };
  const start = performance.now();
  const counts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const indices = Array.from({ length: samples }, (_, i) => i).filter((i) => i % workers === w);
      const worker = new Worker(new URL(import.meta.url), { workerData: { indices, size } satisfies RenderJob });
      return new Promise<number>((resolve, reject) => {
        worker.once('message', (n: number) => {
          resolve(n);
          void worker.terminate();
        });
        worker.once('error', reject);
      });
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
}

async function writeFps(side: number, frames: number, samples: number, workers: number): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'synth-bench-'));
  try {
    const result = await synthesize({
      out,
      count: samples,
      width: side,
      height: side,
      frames,
      fps: 8,
      seed: 0,
      format: 'mp4',
      workers,
      overwrite: true,
    });
    return result.framesPerSecond;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function bench(): Promise<void> {
  const frames = Number(option('frames', '49'));
  const runs = Number(option('runs', '3'));
  const sizes = option('sizes', '64,128,256').split(',').map(Number);
  const workerCounts = option('workers', '1,2').split(',').map(Number);
  const results = [];
  const before = await parallelCheck();
  for (const side of sizes) {
    // A few seconds of work per run at every size, so thread start-up and JIT warm-up weigh little.
    const samples = Math.max(6, Math.round((48 * 64 * 64) / (side * side)));
    for (const workers of workerCounts) {
      const render: number[] = [],
        write: number[] = [],
        load: number[] = [];
      for (let r = 0; r < runs; r++) {
        load.push(loadavg()[0]!);
        render.push(await renderFps(side, frames, samples, workers));
        write.push(await writeFps(side, frames, samples, workers));
      }
      const row = {
        size: `${side}x${side}`,
        workers,
        samples,
        renderFps: Math.round(median(render)),
        writeFps: Math.round(median(write)),
        renderRuns: render.map(Math.round),
        writeRuns: write.map(Math.round),
        loadBefore: load.map((l) => Number(l.toFixed(2))),
      };
      console.error(JSON.stringify(row));
      results.push(row);
    }
  }
  const cpu = cpus();
  const after = await parallelCheck();
  const machine = { cpus: cpu.length, model: cpu[0]?.model, node: process.version, parallelCheck: { before, after } };
  console.log(JSON.stringify({ machine, framesPerSample: 2 * frames + 1, runs, results }, null, 2));
}

if (isMainThread) await bench();
else renderInWorker();
