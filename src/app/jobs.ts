// The app's job queue: translations run one at a time in a forked process (translate_worker.ts),
// so the server stays responsive; every job's events (queued, started, progress with an ETA,
// done, failed, cancelled) go to its listeners, and the last one is kept for late subscribers.
// Each job is journalled (journal.ts) from the moment it is queued until it ends. The queue, not
// the worker, decides how a job ends: a cancel it has accepted wins over a translation the worker
// finishes meanwhile, and a run it cannot move into place fails that job alone.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';

import type { JobJournal, JobRecord } from './journal.js';
import { redactPaths } from './redact.js';
import type { AppRun, RunStore } from './runs.js';
import type { JobRequest, JobSpec, WorkerMessage } from './translate_worker.js';

export interface JobInput extends JobSpec {
  /** Files of the job to delete when it ends (its uploads). */
  cleanup?: string[];
  /** What the journal keeps of it (no paths). */
  record: Omit<JobRecord, 'id' | 'created'>;
}

/** What a cancel found: the job stops (or has stopped), or it had already ended, and how. */
export type CancelAnswer = { cancelling: string } | { finished: string; kind: 'done' | 'failed' | 'cancelled' };

export type JobEvent =
  | { kind: 'queued'; id: string; ahead: number }
  | { kind: 'started'; id: string }
  | { kind: 'progress'; id: string; stage: string; done: number; total: number; etaSeconds: number | null }
  | { kind: 'done'; id: string; run: AppRun }
  | { kind: 'failed'; id: string; message: string }
  | { kind: 'cancelled'; id: string };

interface Job extends JobInput {
  id: string;
  last: JobEvent;
  stepStarted?: number;
  cancelRequested?: boolean;
}

const FINAL = new Set(['done', 'failed', 'cancelled']);

export class JobQueue {
  readonly #events = new EventEmitter();
  readonly #jobs = new Map<string, Job>();
  readonly #waiting: Job[] = [];
  #running: Job | null = null;
  #worker: ChildProcess | null = null;
  #closed = false;

  constructor(
    readonly runs: RunStore,
    readonly journal: JobJournal,
    readonly modelDir: string,
    readonly device = 'cpu',
    readonly onCleanup: (files: string[]) => void = () => {},
  ) {
    this.#events.setMaxListeners(0);
  }

  /** Jobs waiting to start (not counting the running one). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Queues a job (journalled first); returns its id and how many jobs are ahead of it. */
  submit(input: JobInput): { id: string; ahead: number } {
    const id = this.runs.newId();
    this.journal.write({ ...input.record, id, created: new Date().toISOString() });
    const ahead = this.#waiting.length + (this.#running ? 1 : 0);
    const job: Job = { ...input, id, last: { kind: 'queued', id, ahead } };
    this.#jobs.set(id, job);
    this.#waiting.push(job);
    this.#emit(job, job.last);
    this.#next();
    return { id, ahead };
  }

  /** The jobs not finished, the running one first. */
  active(): JobEvent[] {
    return [...(this.#running ? [this.#running] : []), ...this.#waiting].map((j) => j.last);
  }

  last(id: string): JobEvent | undefined {
    return this.#jobs.get(id)?.last;
  }

  /** Calls `listener` with the job's events from now on; returns the unsubscribe. */
  subscribe(id: string, listener: (event: JobEvent) => void): () => void {
    const channel = `job:${id}`;
    this.#events.on(channel, listener);
    return () => this.#events.off(channel, listener);
  }

  /**
   * Cancels a queued job at once, a running one at its next step (whatever stage it is in: it ends
   * cancelled with nothing kept, even if its translation finishes meanwhile); null when there is
   * no such job.
   */
  cancel(id: string): CancelAnswer | null {
    const job = this.#jobs.get(id);
    if (!job) return null;
    if (FINAL.has(job.last.kind)) return { finished: id, kind: job.last.kind as 'done' | 'failed' | 'cancelled' };
    const index = this.#waiting.indexOf(job);
    if (index >= 0) {
      this.#waiting.splice(index, 1);
      this.#finish(job, { kind: 'cancelled', id });
    } else {
      job.cancelRequested = true;
      this.#worker?.send({ kind: 'cancel', id });
    }
    return { cancelling: id };
  }

  /** Stops: the worker is killed; jobs not finished stay in the journal (interrupted at the next start). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.splice(0);
    const worker = this.#worker;
    this.#worker = null;
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    if (this.#running) this.runs.discard(this.#running.id);
  }

  /** The worker's pid (for the bench's memory readings), once started. */
  get workerPid(): number | undefined {
    return this.#worker?.pid;
  }

  #emit(job: Job, event: JobEvent): void {
    job.last = event;
    this.#events.emit(`job:${job.id}`, event);
  }

  #finish(job: Job, event: JobEvent): void {
    this.journal.remove(job.id);
    this.#emit(job, event);
    if (job.cleanup?.length) this.onCleanup(job.cleanup);
    if (this.#running === job) this.#running = null;
    this.#next();
  }

  #startWorker(): ChildProcess {
    const worker = fork(
      fileURLToPath(new URL('./translate_worker.js', import.meta.url)),
      [this.modelDir, this.device],
      { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
    );
    worker.on('message', (message: WorkerMessage) => this.#onMessage(message));
    worker.on('exit', (code, signal) => {
      if (this.#worker === worker) this.#worker = null;
      const job = this.#running;
      if (job && !this.#closed) {
        this.runs.discard(job.id);
        this.#finish(
          job,
          job.cancelRequested
            ? { kind: 'cancelled', id: job.id }
            : { kind: 'failed', id: job.id, message: `the translation process ended (${signal ?? `exit ${code}`})` },
        );
      }
    });
    return worker;
  }

  #onMessage(message: WorkerMessage): void {
    const job = this.#running;
    if (!job || job.id !== message.id) return;
    if (message.kind === 'progress') {
      let eta: number | null = null;
      if (message.stage === 'denoising') {
        const now = performance.now();
        if (message.done <= 1 || job.stepStarted === undefined) job.stepStarted = now;
        else
          eta = Number(
            ((((now - job.stepStarted) / (message.done - 1)) * (message.total - message.done)) / 1000).toFixed(1),
          );
      }
      this.#emit(job, {
        kind: 'progress',
        id: job.id,
        stage: message.stage,
        done: message.done,
        total: message.total,
        etaSeconds: eta,
      });
    } else if (message.kind === 'done' && !job.cancelRequested) {
      try {
        this.runs.commit(job.id);
      } catch (error) {
        this.runs.discard(job.id);
        const reason = (error as NodeJS.ErrnoException).code ?? redactPaths((error as Error).message);
        this.#finish(job, {
          kind: 'failed',
          id: job.id,
          message: `the finished run could not be moved into the gallery (${reason}); nothing of it was kept`,
        });
        return;
      }
      this.#finish(job, { kind: 'done', id: job.id, run: message.run });
    } else {
      this.runs.discard(job.id);
      this.#finish(
        job,
        message.kind === 'failed' && !job.cancelRequested
          ? { kind: 'failed', id: job.id, message: message.message }
          : { kind: 'cancelled', id: job.id },
      );
    }
  }

  #next(): void {
    if (this.#running || this.#closed) return;
    const job = this.#waiting.shift();
    if (!job) return;
    this.#running = job;
    this.#worker ??= this.#startWorker();
    for (const [index, waiting] of this.#waiting.entries())
      this.#emit(waiting, { kind: 'queued', id: waiting.id, ahead: index + 1 });
    this.#emit(job, { kind: 'started', id: job.id });
    const { id, task, video, reference, truth, source, settings } = job;
    const request: JobRequest = {
      kind: 'job',
      id,
      dir: this.runs.partialDir(id),
      ...{ task, video, reference, truth, source, settings },
    };
    this.#worker.send(request);
  }
}
