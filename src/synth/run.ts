import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { encodePng } from '../data/png.js';
import { Progress } from '../data/progress.js';
import { checkFfmpeg, FfmpegMissingError } from '../data/video_writer.js';
import { makeManifest, MANIFEST_FILE, MANIFEST_VERSION, parameterDifferences, readManifest, writeManifest, type RunParameters } from './manifest.js';
import { isSampleComplete, LAYOUT, makeLayout, removePartials, sampleName, writeFileAtomic } from './output.js';
import { previewSheet } from './preview.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker.js';

/** A request that cannot be carried out as asked (bad value, folder in the way, mismatched resume). */
export class SynthConfigError extends Error {}

export interface SynthOptions extends RunParameters {
  out: string;
  count: number;
  /** Worker threads; defaults to the number of cores, at most one per sample to write. */
  workers?: number;
  /** Replace the generator's own files in a non-empty `out`. */
  overwrite?: boolean;
  /** Finish an interrupted run in `out`, skipping finished samples. */
  resume?: boolean;
  /** Write a contact sheet PNG here after the run. */
  preview?: string;
  /** Show a progress bar on stderr. */
  progress?: boolean;
}

export interface SynthResult {
  written: number;
  skipped: number;
  seconds: number;
  /** Frames rendered and written per second (both views and the reference). */
  framesPerSecond: number;
  workers: number;
  manifest: string;
  preview?: string;
}

const PREVIEW_ROWS = 6;
const OWN_ENTRIES = [...Object.values(LAYOUT), MANIFEST_FILE, 'preview.png'];

/** Checks values that no run could use; the messages name the option and what it needs. */
export function validateSynthOptions(options: SynthOptions): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1) throw new SynthConfigError(`--${name} must be a whole number of at least 1 (got ${value})`);
  };
  positive('count', options.count);
  positive('frames', options.frames);
  positive('fps', options.fps);
  for (const name of ['width', 'height'] as const) {
    const value = options[name];
    positive(name, value);
    if (value % 2 !== 0 || value < 16) {
      throw new SynthConfigError(`--${name} must be even and at least 16: H.264 video (yuv420p) halves the colour resolution, so ${value} is refused (try ${Math.max(16, value + 1)})`);
    }
  }
  if (options.format !== 'mp4' && options.format !== 'png') throw new SynthConfigError(`--format must be mp4 or png (got '${String(options.format)}')`);
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new SynthConfigError(`--seed must be an integer from 0 to 4294967295 (got ${options.seed})`);
  }
  if (options.workers !== undefined) positive('workers', options.workers);
  if (options.overwrite && options.resume) throw new SynthConfigError('--overwrite and --resume exclude each other: replace the run, or finish it');
}

async function prepareFolder(options: SynthOptions): Promise<Set<number>> {
  const info = await stat(options.out).catch(() => undefined);
  if (info && !info.isDirectory()) throw new SynthConfigError(`--out ${options.out} exists and is not a folder`);
  const entries = await readdir(options.out).catch(() => [] as string[]);
  if (options.resume) {
    const manifest = await readManifest(options.out).catch((error: Error) => {
      throw new SynthConfigError(`--resume: cannot use ${join(options.out, MANIFEST_FILE)}: ${error.message}`);
    });
    if (!manifest) throw new SynthConfigError(`--resume: ${options.out} holds no ${MANIFEST_FILE} of an earlier run`);
    if (manifest.version !== MANIFEST_VERSION) {
      throw new SynthConfigError(`--resume: ${options.out} was made by another version of the generator (${manifest.version}, this is ${MANIFEST_VERSION}); start a new run`);
    }
    const differences = parameterDifferences(manifest, options);
    if (differences.length) throw new SynthConfigError(`--resume: this run differs from the one in ${options.out}: ${differences.join('; ')}`);
    if (options.count < manifest.count) {
      throw new SynthConfigError(`--resume: --count ${options.count} is smaller than the existing run's ${manifest.count}; a resumed run can only grow`);
    }
    await removePartials(options.out);
    const done = new Set<number>();
    for (let index = 0; index < options.count; index++) {
      if (await isSampleComplete(options.out, sampleName(index), options.format)) done.add(index);
    }
    return done;
  }
  if (entries.length > 0) {
    if (!options.overwrite) {
      throw new SynthConfigError(`${options.out} is not empty; pass --overwrite to replace a run there, or --resume to finish an interrupted one`);
    }
    for (const entry of entries) if (OWN_ENTRIES.includes(entry)) await rm(join(options.out, entry), { recursive: true, force: true });
  }
  return new Set();
}

/**
 * Samples a worker holds at once: while ffmpeg encodes one sample's videos in its own process, the
 * worker thread renders the next.
 */
const SAMPLES_IN_FLIGHT = 2;

/** Hands sample indices to worker threads as they become free; resolves when all are written. */
function runWorkers(setup: WorkerSetup, pending: number[], workers: number, onDone: (index: number, frames: number) => void): Promise<void> {
  const queue = [...pending];
  const threads: Worker[] = [];
  return new Promise<void>((resolve, reject) => {
    let running = workers;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      for (const thread of threads) void thread.terminate();
      reject(error);
    };
    for (let k = 0; k < workers; k++) {
      const thread = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
      threads.push(thread);
      let active = 0;
      const feed = (): void => {
        while (active < SAMPLES_IN_FLIGHT && queue.length > 0) {
          active++;
          thread.postMessage({ type: 'sample', index: queue.shift()! } satisfies ToWorker);
        }
        if (active === 0) thread.postMessage({ type: 'stop' } satisfies ToWorker);
      };
      thread.on('message', (message: FromWorker) => {
        if (message.type === 'error') {
          const error = new Error(`sample ${message.index} failed: ${message.message}`);
          error.stack = message.stack;
          return fail(error);
        }
        if (message.type === 'done') {
          active--;
          onDone(message.index, message.frames);
        }
        feed();
      });
      thread.on('error', fail);
      thread.on('exit', (code) => {
        if (failed) return;
        if (code !== 0) return fail(new Error(`a synth worker stopped with exit code ${code}`));
        if (--running === 0) resolve();
      });
    }
  });
}

/** Generates `count` synchronized samples into `out` in the release's layout, with a manifest. */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  validateSynthOptions(options);
  if (options.format === 'mp4') {
    await checkFfmpeg().catch((error: Error) => {
      throw error instanceof FfmpegMissingError ? new SynthConfigError(`--format mp4 needs ffmpeg: ${error.message}; or use --format png`) : error;
    });
  }
  const done = await prepareFolder(options);
  await makeLayout(options.out);
  const manifest = makeManifest(options, options.count);
  const pending = Array.from({ length: options.count }, (_, i) => i).filter((i) => !done.has(i));
  // A resumed run with nothing left to write keeps its manifest (and stats) and preview as they are.
  const previous = options.resume ? await readManifest(options.out) : undefined;
  const changed = pending.length > 0 || previous?.status !== 'complete' || previous.count !== options.count;
  if (changed) await writeManifest(options.out, manifest);

  const workers = Math.max(1, Math.min(options.workers ?? availableParallelism(), pending.length));
  const size = { width: options.width, height: options.height, frames: options.frames, fps: options.fps };
  const progress = options.progress ? new Progress('synth', pending.length, { unit: 'samples' }) : undefined;
  const start = performance.now();
  let frames = 0;
  if (pending.length > 0) {
    await runWorkers({ out: options.out, seed: options.seed, size, format: options.format }, pending, workers, (_, n) => {
      frames += n;
      progress?.tick();
    });
  }
  progress?.finish();
  const seconds = (performance.now() - start) / 1000;
  const framesPerSecond = seconds > 0 ? frames / seconds : 0;
  if (changed) {
    manifest.status = 'complete';
    manifest.stats = pending.length > 0
      ? { seconds: Number(seconds.toFixed(3)), samplesWritten: pending.length, framesPerSecond: Number(framesPerSecond.toFixed(1)), workers }
      : previous?.stats;
    await writeManifest(options.out, manifest);
  }

  let preview: string | undefined;
  if (options.preview) {
    preview = options.preview;
    if (changed || !(await stat(preview).then(() => true, () => false))) {
      await mkdir(dirname(preview), { recursive: true });
      await writeFileAtomic(preview, encodePng(previewSheet(manifest.samples.slice(0, PREVIEW_ROWS), size)));
    }
  }
  return { written: pending.length, skipped: done.size, seconds, framesPerSecond, workers, manifest: join(options.out, MANIFEST_FILE), preview };
}
