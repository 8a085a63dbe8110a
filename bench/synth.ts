/**
 * Frames per second of the synthetic world at 64, 128 and 256 pixels square with 1 and 2 worker
 * threads: "render" counts frames rendered in memory, "write" frames rendered and written as the
 * release layout (H.264 mp4 through ffmpeg, reference PNG). Each figure is the median of 3 runs.
 *
 *   node dist/bench/synth.js [--frames 49] [--runs 3] [--sizes 64,128,256] [--workers 1,2]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { SampleRenderer } from '../src/synth/sample.js';
import { makeSampleSpec } from '../src/synth/spec.js';
import { synthesize } from '../src/synth/run.js';

interface RenderJob {
  indices: number[];
  size: { width: number; height: number; frames: number; fps: number };
}

/** Worker side: render the given samples' frames in memory and report how many. */
function renderInWorker(): void {
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

async function renderFps(side: number, frames: number, samples: number, workers: number): Promise<number> {
  const size = { width: side, height: side, frames, fps: 8 };
  const start = performance.now();
  const counts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const indices = Array.from({ length: samples }, (_, i) => i).filter((i) => i % workers === w);
      const worker = new Worker(new URL(import.meta.url), { workerData: { indices, size } satisfies RenderJob });
      return new Promise<number>((resolve, reject) => {
        worker.once('message', (n: number) => { resolve(n); void worker.terminate(); });
        worker.once('error', reject);
      });
    }),
  );
  return counts.reduce((a, b) => a + b, 0) / ((performance.now() - start) / 1000);
}

async function writeFps(side: number, frames: number, samples: number, workers: number): Promise<number> {
  const out = mkdtempSync(join(tmpdir(), 'synth-bench-'));
  try {
    const result = await synthesize({ out, count: samples, width: side, height: side, frames, fps: 8, seed: 0, format: 'mp4', workers, overwrite: true });
    return result.framesPerSecond;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1]!;

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
  for (const side of sizes) {
    // About the same amount of pixel work at every size.
    const samples = Math.max(4, Math.round((8 * 64 * 64) / (side * side)) * 2);
    for (const workers of workerCounts) {
      const render: number[] = [], write: number[] = [];
      for (let r = 0; r < runs; r++) {
        render.push(await renderFps(side, frames, samples, workers));
        write.push(await writeFps(side, frames, samples, workers));
      }
      const row = { size: `${side}x${side}`, workers, samples, renderFps: Math.round(median(render)), writeFps: Math.round(median(write)), renderRuns: render.map(Math.round), writeRuns: write.map(Math.round) };
      console.error(JSON.stringify(row));
      results.push(row);
    }
  }
  const cpu = cpus();
  console.log(JSON.stringify({ machine: { cpus: cpu.length, model: cpu[0]?.model, node: process.version }, framesPerSample: 2 * frames + 1, runs, results }, null, 2));
}

if (isMainThread) await bench();
else renderInWorker();
