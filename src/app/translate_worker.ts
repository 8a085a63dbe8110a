// The app's translation process (forked by jobs.ts): loads the pipeline once, then runs one job at
// a time off the server's event loop, reporting stage and step over IPC; a cancel message aborts
// the job between denoising steps or between the files it writes, and one that arrives before its
// job has started here keeps it from starting. Writes the run into the partial folder it is given.
// No message it sends names a path of the server's: the job's files are named as the user knows
// them (redact.ts).
import path from 'node:path';

import { Stopped } from '../errors.js';
import { writePng } from '../data/frames.js';
import { readVideoWindow } from '../data/video_reader.js';
import { writeVideo } from '../data/video_writer.js';
import { writeFileAtomic } from '../io/atomic.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import { writeCase } from '../worldwander/outputs.js';
import type { WorldWanderTask } from '../worldwander/prompts.js';
import type { AppRun, RunFile, RunSettings } from './runs.js';
import { jsonText } from '../io/json_text.js';
import { redactPaths } from './redact.js';

/** What to translate: the inputs (paths the server chose or its examples) and the settings. */
export interface JobSpec {
  task: WorldWanderTask;
  video: string;
  reference?: string;
  /** The example's other view, shown beside the result. */
  truth?: string;
  /** What the page shows as the input's name. */
  source: string;
  settings: RunSettings;
}

export interface JobRequest extends JobSpec {
  kind: 'job';
  id: string;
  /** The partial run folder to write. */
  dir: string;
}

export type WorkerMessage =
  | {
      kind: 'progress';
      id: string;
      stage: 'loading' | 'reading' | 'denoising' | 'writing';
      done: number;
      total: number;
    }
  | { kind: 'done'; id: string; run: AppRun }
  | { kind: 'cancelled'; id: string }
  | { kind: 'failed'; id: string; message: string };

// The server gone (killed), nothing is left to report to: the job stops with the process.
const send = (message: WorkerMessage): void => {
  if (!process.connected) process.exit(0);
  process.send!(message, (error: Error | null) => {
    if (error) process.exit(0);
  });
};

const modelDir = process.argv[2]!;
const device = process.argv[3] ?? 'cpu';
let pipeline: WorldWanderPipeline | null = null;
let current: { id: string; controller: AbortController } | null = null;
const queue: JobRequest[] = [];
/** Jobs cancelled before they started here. */
const cancelled = new Set<string>();

function load(id: string): WorldWanderPipeline {
  pipeline ??= WorldWanderPipeline.fromPretrained(modelDir, {
    device,
    onProgress: (_part, done, total) => send({ kind: 'progress', id, stage: 'loading', done, total }),
  });
  return pipeline;
}

async function run(job: JobRequest): Promise<void> {
  const controller = new AbortController();
  if (cancelled.delete(job.id)) controller.abort();
  current = { id: job.id, controller };
  const started = performance.now();
  const stopIfCancelled = (stage: string): void => {
    if (controller.signal.aborted) throw new Stopped(`cancelled while ${stage}`);
  };
  const known = new Map<string, string>([
    [job.video, job.source],
    [job.dir, 'the run'],
    [path.resolve(modelDir), 'the model folder'],
    ...(job.reference ? ([[job.reference, 'the reference image']] as const) : []),
  ]);
  try {
    stopIfCancelled('starting');
    const p = load(job.id);
    stopIfCancelled('loading');
    send({ kind: 'progress', id: job.id, stage: 'reading', done: 0, total: 1 });
    const s = job.settings;
    const translation = await p.translate(job.task, {
      video: job.video,
      referenceImage: job.reference,
      numInferenceSteps: s.steps,
      guidanceScale: s.guidance,
      seed: s.seed,
      sampler: s.sampler,
      start: s.start,
      onStep: (done, total) => send({ kind: 'progress', id: job.id, stage: 'denoising', done, total }),
      signal: controller.signal,
    });
    stopIfCancelled('denoising');
    send({ kind: 'progress', id: job.id, stage: 'writing', done: 0, total: 1 });
    translation.notes = translation.notes.map((note) => redactPaths(note, known));
    const { width, height } = translation;
    const fps = p.defaults.fps;
    // an example's other view, taken at the same instants as the input (held where it ends first)
    const truth = job.truth
      ? await readVideoWindow(job.truth, {
          numFrames: translation.frames.length,
          start: s.start,
          fps,
          width,
          height,
          pad: true,
        })
      : undefined;
    await writeCase(
      job.dir,
      translation,
      {
        case: job.id,
        task: job.task,
        model: path.basename(path.resolve(modelDir)),
        lora: null,
        input: job.source,
        reference: job.reference ? 'reference.png' : undefined,
        groundTruth: truth ? 'truth.mp4' : undefined,
        fps,
      },
      truth,
    );
    stopIfCancelled('writing');
    const files: RunFile[] = ['generated.mp4', 'side_by_side.mp4', 'input.mp4', 'run.json'];
    await writeVideo(path.join(job.dir, 'input.mp4'), translation.input, { width, height, fps });
    if (translation.reference) {
      await writePng(path.join(job.dir, 'reference.png'), { width, height, data: translation.reference });
      files.push('reference.png');
    }
    if (truth) {
      await writeVideo(path.join(job.dir, 'truth.mp4'), truth.frames, { width, height, fps });
      files.push('truth.mp4');
    }
    files.push('app.json');
    const record: AppRun = {
      id: job.id,
      task: job.task,
      created: new Date().toISOString(),
      source: job.source,
      settings: s,
      files,
      seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
      taken: translation.notes[0],
    };
    stopIfCancelled('writing');
    await writeFileAtomic(path.join(job.dir, 'app.json'), jsonText(record, 2));
    send({ kind: 'done', id: job.id, run: record });
  } catch (error) {
    if (error instanceof Stopped || controller.signal.aborted) send({ kind: 'cancelled', id: job.id });
    else
      send({
        kind: 'failed',
        id: job.id,
        message: redactPaths(error instanceof Error ? error.message : String(error), known),
      });
  } finally {
    current = null;
  }
}

async function drain(): Promise<void> {
  while (queue.length > 0) await run(queue.shift()!);
}

let draining: Promise<void> = Promise.resolve();
process.on('message', (message: JobRequest | { kind: 'cancel'; id: string }) => {
  if (message.kind === 'cancel') {
    if (current?.id === message.id) current.controller.abort();
    else if (queue.some((job) => job.id === message.id)) cancelled.add(message.id);
    return;
  }
  queue.push(message);
  draining = draining.then(drain);
});
process.on('disconnect', () => process.exit(0));
