import { appendFile, mkdir, readdir, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { OptionError, WorldWanderError } from '../errors.js';
import { encodePng, pngText } from '../data/png.js';
import { Progress } from '../data/progress.js';
import { checkFfmpeg, FfmpegMissingError } from '../data/video_writer.js';
import { writeFileAtomic } from '../io/atomic.js';
import {
  makeManifest,
  MANIFEST_FILE,
  MANIFEST_VERSION,
  parameterDifferences,
  readManifest,
  writeManifest,
  type Manifest,
  type RunParameters,
} from './manifest.js';
import {
  isTemporary,
  LAYOUT,
  makeLayout,
  recordsHold,
  removeTemporaries,
  sampleEntries,
  type FileRecord,
} from './output.js';
import { previewSheet } from './preview.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker.js';
import { faultPoint } from '../io/fault.js';
import { jsonText } from '../io/json_text.js';

/** A request that cannot be carried out as asked (bad value, folder in the way, mismatched resume). */
export class SynthConfigError extends OptionError {
  override name = 'SynthConfigError';
}

export interface SynthOptions extends RunParameters {
  out: string;
  count: number;
  /** Worker threads; defaults to the number of cores, and is capped to the cores and the samples to write. */
  workers?: number;
  /** Replace a run of this generator in `out` (only the files its manifest lists). */
  overwrite?: boolean;
  /** Finish an interrupted run in `out`, keeping the samples whose files check out. */
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
/** Marks a contact sheet as this generator's, so that a later run may replace it and nothing else. */
export const PREVIEW_MARK = { Software: 'worldwander synth preview' };
/** The manifest holds every sample's spec (~1.2 KB each): a million samples make a ~1.2 GB file. */
export const MAX_COUNT = 1_000_000;
/** H.264 level 6.2, the highest: at most 8192 pixels a side and 8192x4320 pixels a frame. */
export const MAX_SIDE = 8192;
const MAX_MP4_PIXELS = 8192 * 4320;
/** Bytes a sample in flight holds per pixel of a frame: two RGB views, a depth buffer, the encoder's copies. */
const BYTES_PER_PIXEL_IN_FLIGHT = 24;
/**
 * While a run goes on, each finished sample's file records are appended here (one JSON line), so
 * that a killed run's finished samples are known to a resumed run; the records move into the
 * manifest when the run completes, and the journal goes.
 */
export const JOURNAL_FILE = '.synth-journal.jsonl';

/** Checks values that no run could use, before anything is written; the messages name the option and what it needs. */
export function validateSynthOptions(options: SynthOptions): void {
  const positive = (name: string, value: number): void => {
    if (!Number.isInteger(value) || value < 1)
      throw new SynthConfigError(name, `must be a whole number of at least 1 (got ${value})`);
  };
  positive('count', options.count);
  positive('frames', options.frames);
  positive('fps', options.fps);
  if (options.count > MAX_COUNT) {
    throw new SynthConfigError(
      'count',
      `${options.count} is more than ${MAX_COUNT.toLocaleString('en')}: the manifest holds every sample's spec (~1.2 KB each) in memory and on disk; make several datasets with different seeds`,
    );
  }
  for (const name of ['width', 'height'] as const) {
    const value = options[name];
    positive(name, value);
    if (value % 2 !== 0 || value < 16) {
      throw new SynthConfigError(
        name,
        `must be even and at least 16: H.264 video (yuv420p) halves the colour resolution, so ${value} is refused (try ${Math.max(16, value + 1)})`,
      );
    }
    if (value > MAX_SIDE)
      throw new SynthConfigError(
        name,
        `${value} is more than ${MAX_SIDE}, the largest frame side H.264 (level 6.2) and this renderer take`,
      );
  }
  if (options.format !== 'mp4' && options.format !== 'png')
    throw new SynthConfigError('format', `must be mp4 or png (got '${String(options.format)}')`);
  if (options.format === 'mp4' && options.width * options.height > MAX_MP4_PIXELS) {
    throw new SynthConfigError(
      'width',
      `${options.width}x${options.height} has more pixels than H.264 (level 6.2) allows in a frame (8192x4320); use {format} png or a smaller size`,
    );
  }
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new SynthConfigError('seed', `must be an integer from 0 to 4294967295 (got ${options.seed})`);
  }
  if (options.workers !== undefined) positive('workers', options.workers);
  if (options.overwrite && options.resume)
    throw new SynthConfigError(null, '{overwrite} and {resume} exclude each other: replace the run, or finish it');
  const perWorker = 2 * options.width * options.height * BYTES_PER_PIXEL_IN_FLIGHT;
  if (perWorker > totalmem() / 2) {
    throw new SynthConfigError(
      'width',
      `${options.width}x${options.height} frames need ~${(perWorker / 2 ** 30).toFixed(1)} GiB per worker, more than half of this machine's ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    );
  }
}

/** Worker threads that help: at most one per core and per sample to write, and what memory allows. */
export function workersFor(options: SynthOptions, pending: number): number {
  const perWorker = 2 * options.width * options.height * BYTES_PER_PIXEL_IN_FLIGHT;
  const byMemory = Math.max(1, Math.floor(totalmem() / 2 / perWorker));
  return Math.max(1, Math.min(options.workers ?? availableParallelism(), availableParallelism(), pending, byMemory));
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** A preview may replace only a file that is this generator's preview. */
async function checkPreviewTarget(preview: string): Promise<void> {
  const info = await stat(preview).catch(() => undefined);
  if (!info) return;
  if (!info.isFile() || pngText(await readFile(preview)).Software !== PREVIEW_MARK.Software) {
    throw new SynthConfigError(
      'preview',
      `${preview} exists and is not a contact sheet of worldwander synth; choose another path`,
    );
  }
}

/** What `overwrite` would remove: the files the manifest lists. Anything else in the folder stops it. */
async function ownFiles(out: string, manifest: Manifest): Promise<string[]> {
  const listed = new Set<string>();
  for (const sample of manifest.samples)
    for (const entry of Object.values(sampleEntries(sample.name, manifest.format))) listed.add(entry);
  const own: string[] = [];
  const foreign = (entry: string): never => {
    throw new SynthConfigError(
      'out',
      `${out} holds ${entry}, which the manifest of its run does not list; {overwrite} replaces only a run's own files (move that away first)`,
    );
  };
  for (const entry of await readdir(out)) {
    if (entry === MANIFEST_FILE || entry === JOURNAL_FILE || isTemporary(entry)) {
      own.push(entry);
      continue;
    }
    if (entry === 'preview.png') {
      if (pngText(await readFile(join(out, entry))).Software !== PREVIEW_MARK.Software) foreign(entry);
      own.push(entry);
      continue;
    }
    if (!(Object.values(LAYOUT) as string[]).includes(entry)) foreign(entry);
    for (const inner of await readdir(join(out, entry))) {
      const relative = join(entry, inner);
      if (!listed.has(relative) && !isTemporary(inner)) foreign(relative);
      own.push(relative);
    }
  }
  return own;
}

/** Readies `out` for the run; returns the manifest of the run it resumes and the samples already finished. */
async function prepareFolder(options: SynthOptions): Promise<{ previous?: Manifest; done: Set<number> }> {
  const info = await stat(options.out).catch(() => undefined);
  if (info && !info.isDirectory()) throw new SynthConfigError('out', `${options.out} exists and is not a folder`);
  const entries = await readdir(options.out).catch(() => [] as string[]);
  const manifestOf = (option: string): Promise<Manifest | undefined> =>
    readManifest(options.out).catch((error: Error) => {
      throw new SynthConfigError(option, `cannot use ${join(options.out, MANIFEST_FILE)}: ${error.message}`);
    });
  if (options.resume) {
    const previous = await manifestOf('resume');
    if (!previous) throw new SynthConfigError('resume', `${options.out} holds no ${MANIFEST_FILE} of an earlier run`);
    if (previous.version !== MANIFEST_VERSION) {
      throw new SynthConfigError(
        'resume',
        `${options.out} was made by another version of the generator (${previous.version}, this is ${MANIFEST_VERSION}); start a new run`,
      );
    }
    const differences = parameterDifferences(previous, options);
    if (differences.length)
      throw new SynthConfigError(
        'resume',
        `this run differs from the one in ${options.out}: ${differences.join('; ')}`,
      );
    if (options.count < previous.count) {
      throw new SynthConfigError(
        'resume',
        `count ${options.count} is smaller than the existing run's ${previous.count}; a resumed run can only grow`,
      );
    }
    await removeTemporaries(options.out);
    for (const { index, files } of await readJournal(options.out))
      if (previous.samples[index]) previous.samples[index]!.files = files;
    // A sample counts as finished only when every file it recorded is there with the same bytes.
    const done = new Set<number>();
    for (const sample of previous.samples)
      if (sample.files && (await recordsHold(options.out, sample.files))) done.add(sample.index);
    return { previous, done };
  }
  if (entries.length > 0) {
    if (!options.overwrite) {
      throw new SynthConfigError(
        'out',
        `${options.out} is not empty; pass {overwrite} to replace a run there, or {resume} to finish an interrupted one`,
      );
    }
    const manifest = await manifestOf('out');
    if (!manifest)
      throw new SynthConfigError(
        'out',
        `${options.out} is not empty and holds no ${MANIFEST_FILE}; {overwrite} replaces only a run of this generator`,
      );
    for (const entry of await ownFiles(options.out, manifest))
      await rm(join(options.out, entry), { recursive: true, force: true });
  }
  return { done: new Set() };
}

/** The journal's records; a torn last line (a kill mid-append) is ignored. */
async function readJournal(out: string): Promise<{ index: number; files: FileRecord[] }[]> {
  const text = await readFile(join(out, JOURNAL_FILE), 'utf8').catch(() => '');
  const records: { index: number; files: FileRecord[] }[] = [];
  for (const line of text.split('\n')) {
    try {
      const record = JSON.parse(line) as { index: number; files: FileRecord[] };
      if (Number.isInteger(record.index) && Array.isArray(record.files)) records.push(record);
    } catch {
      // an incomplete line
    }
  }
  return records;
}

/**
 * Samples a worker holds at once: while ffmpeg encodes one sample's videos in its own process, the
 * worker thread renders the next.
 */
const SAMPLES_IN_FLIGHT = 2;

type Done = Extract<FromWorker, { type: 'done' }>;

/** Hands sample indices to worker threads as they become free; resolves when all are written. */
function runWorkers(
  setup: WorkerSetup,
  pending: number[],
  workers: number,
  onDone: (message: Done) => void,
): Promise<void> {
  const queue = [...pending];
  return new Promise<void>((resolve, reject) => {
    let running = workers;
    let failure: Error | undefined;
    // A failure hands out no more samples but lets the ones in flight end (their ffmpeg finished or
    // killed, their files kept or removed) before it is reported: nothing is left writing.
    const fail = (error: Error): void => {
      failure ??= error;
      queue.length = 0;
    };
    for (let k = 0; k < workers; k++) {
      const thread = new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
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
          active--;
          // the worker's expected failures (a full disk, ffmpeg's own error) stay expected here
          const text = `sample ${message.index} failed: ${message.message}`;
          const error = message.expected ? new WorldWanderError(text) : new Error(text);
          error.stack = message.stack;
          fail(error);
        }
        if (message.type === 'done') {
          active--;
          onDone(message);
        }
        feed();
      });
      thread.on('error', fail);
      thread.on('exit', (code) => {
        if (code !== 0) fail(new Error(`a synth worker stopped with exit code ${code}`));
        if (--running === 0) {
          if (failure) reject(failure);
          else resolve();
        }
      });
    }
  });
}

/** Generates `count` synchronized samples into `out` in the release's layout, with a manifest. */
export async function synthesize(options: SynthOptions): Promise<SynthResult> {
  validateSynthOptions(options);
  if (options.format === 'mp4') {
    await checkFfmpeg().catch((error: Error) => {
      throw error instanceof FfmpegMissingError
        ? new SynthConfigError('format', `mp4 needs ffmpeg: ${error.message}; or use {format} png`)
        : error;
    });
  }
  if (options.preview) await checkPreviewTarget(options.preview);
  const { previous, done } = await prepareFolder(options);
  await makeLayout(options.out);
  const manifest = makeManifest(options, options.count);
  for (const sample of previous?.samples ?? [])
    if (done.has(sample.index)) manifest.samples[sample.index]!.files = sample.files;
  const pending = Array.from({ length: options.count }, (_, i) => i).filter((i) => !done.has(i));
  // A resumed run with nothing left to write keeps its manifest and preview as they are.
  const changed = pending.length > 0 || previous?.status !== 'complete' || previous.count !== options.count;

  if (changed) await writeManifest(options.out, manifest);

  const journal = join(options.out, JOURNAL_FILE);
  let journaling: Promise<void> = Promise.resolve();
  let journalError: unknown;
  let journaled = 0;
  const workers = workersFor(options, pending.length);
  const size = { width: options.width, height: options.height, frames: options.frames, fps: options.fps };
  const progress = options.progress ? new Progress('synth', pending.length, { unit: 'samples' }) : undefined;
  const start = performance.now();
  let frames = 0;
  if (pending.length > 0) {
    try {
      await runWorkers(
        { out: options.out, seed: options.seed, size, format: options.format },
        pending,
        workers,
        (message) => {
          frames += message.frames;
          manifest.samples[message.index]!.files = message.files;
          const line = jsonText({ index: message.index, files: message.files });
          const recorded = ++journaled;
          journaling = journaling
            .then(() => appendFile(journal, line))
            .then(() => faultPoint(`synth-journaled:${recorded}`))
            .catch((error: unknown) => void (journalError ??= error));
          progress?.tick();
        },
      );
    } finally {
      await journaling;
    }
    if (journalError) throw journalError;
  }
  progress?.finish();
  const seconds = (performance.now() - start) / 1000;
  if (changed) {
    manifest.status = 'complete';
    await writeManifest(options.out, manifest);
  }
  await rm(journal, { force: true });

  let preview: string | undefined;
  if (options.preview) {
    preview = options.preview;
    if (changed || !(await exists(preview))) {
      await mkdir(dirname(preview), { recursive: true });
      await writeFileAtomic(
        preview,
        encodePng(previewSheet(manifest.samples.slice(0, PREVIEW_ROWS), size), { text: PREVIEW_MARK }),
      );
    }
  }
  return {
    written: pending.length,
    skipped: done.size,
    seconds,
    framesPerSecond: seconds > 0 ? frames / seconds : 0,
    workers,
    manifest: join(options.out, MANIFEST_FILE),
    preview,
  };
}
