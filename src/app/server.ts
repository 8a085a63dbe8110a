// `worldwander serve`: the local web app (fastify). One page; uploads checked before a job is
// queued; jobs run one at a time in a separate process (jobs.ts) with their progress streamed as
// server-sent events; runs kept as folders under the output root (runs.ts) and served by id and
// a fixed list of names, so no path a client sends reaches the file system. One server per root
// (its lock is taken before anything there is touched); jobs journalled until they end, so a
// server killed mid-job shows them as interrupted at the next start (journal.ts); requests from
// other sites and to other names refused (guard.ts).
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { pipeline as pump } from 'node:stream/promises';
import path from 'node:path';

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';

import { OptionError } from '../errors.js';
import { freeBytes, sizeOf } from '../io/disk_space.js';
import { RunLock } from '../io/run_lock.js';
import { LAYOUT } from '../data/layout.js';
import { synthesize } from '../synth/run.js';
import { DEMO_DATA, readDefaults, type ModelDefaults } from '../worldwander/model_defaults.js';
import { modelFolderLayout } from '../worldwander/model_folder.js';
import { TASK_VIEWS } from '../worldwander/prompts.js';
import { guard, newToken } from './guard.js';
import { JobQueue, type JobEvent, type JobInput } from './jobs.js';
import { JobJournal, type JobRecord } from './journal.js';
import { InputRejected, checkImage, checkVideo, parseSettings, shownName, uploadName } from './inputs.js';
import { APP_PAGE, APP_SCRIPT, APP_STYLE } from './page.js';
import { redactPaths } from './redact.js';
import { RunStore, isRunId } from './runs.js';

export interface ServeOptions {
  modelDir: string;
  /** What the page calls the model (a Hub repository's name; default: the folder's name). */
  modelName?: string;
  /** Where runs, uploads and the example clips go. */
  root: string;
  port?: number;
  host?: string;
  /** Whether the host was chosen by the user (a non-loopback host needs it). */
  hostGiven?: boolean;
  maxUploadBytes?: number;
  /** The most bytes all kept uploads may take (those of queued and interrupted jobs). */
  maxUploadsBytes?: number;
  /** The most jobs that may wait behind the running one. */
  maxQueue?: number;
  device?: string;
  onNote?: (text: string) => void;
}

export interface AppServer {
  url: string;
  app: FastifyInstance;
  jobs: JobQueue;
  /** What a client sends as the x-worldwander-token header to change anything (the page carries it). */
  token: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;
export const DEFAULT_MAX_UPLOADS_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_MAX_QUEUE = 16;

interface Example {
  name: string;
  first: string;
  third: string;
  reference: string;
}

/**
 * The bundled example clips: the demo's held-out test split (seed 3) at the model's size, made once
 * under ROOT/examples.
 */
async function examples(root: string, defaults: ModelDefaults): Promise<Example[]> {
  const dir = path.join(root, 'examples');
  await synthesize({
    ...DEMO_DATA,
    width: defaults.width,
    height: defaults.height,
    frames: defaults.num_frames,
    fps: defaults.fps,
    format: 'mp4',
    out: dir,
    resume: existsSync(dir),
  });
  return readdirSync(path.join(dir, LAYOUT.third))
    .filter((n) => n.endsWith('.mp4'))
    .sort()
    .map((file) => {
      const name = file.slice(0, -'.mp4'.length);
      return {
        name,
        first: path.join(dir, LAYOUT.first, file),
        third: path.join(dir, LAYOUT.third, file),
        reference: path.join(dir, LAYOUT.reference, `${name}.png`),
      };
    });
}

function reject(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof InputRejected) return reply.code(error.status).send({ error: error.message });
  throw error;
}

const megabytes = (bytes: number): string => (bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 0);

/** The multipart parser's failures, said for the person at the page. */
function uploadProblem(error: unknown, maxUploadBytes: number): unknown {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'FST_REQ_FILE_TOO_LARGE')
    return new InputRejected(
      `the file is larger than the limit of ${megabytes(maxUploadBytes)} MB (serve --max-upload-mb)`,
      413,
    );
  if (/^FST_(PARTS|FILES|FIELDS)_LIMIT$/.test(code))
    return new InputRejected(
      'the form has more parts than the page sends (a video, a reference image, the settings)',
      413,
    );
  if (code === 'ENOSPC')
    return new InputRejected('the disk holding the uploads is full; nothing of this upload was kept', 507);
  if (/^E[A-Z]+$/.test(code)) return error;
  return new InputRejected(
    'the request body is not well-formed multipart/form-data (as the page sends it); nothing was queued',
  );
}

type NewJobRecord = Omit<JobRecord, 'id' | 'created'>;

function exampleNamed(exampleClips: Example[], name: string): Example {
  const clip = exampleClips.find((e) => e.name === name);
  if (!clip) throw new InputRejected(`no example clip ${JSON.stringify(name.slice(0, 60))}`);
  return clip;
}

/** The input of a journalled job: its uploads' paths, or the example clip it names. */
function inputOf(record: NewJobRecord, journal: JobJournal, exampleClips: Example[]): JobInput {
  const common = { task: record.task, settings: record.settings, source: record.source };
  const kept = record;
  if (record.uploads) {
    const [video, reference] = journal.uploadFiles(record);
    for (const file of [video, reference])
      if (file && !existsSync(file)) throw new InputRejected(`${record.source}: its upload is no longer kept`, 410);
    return { ...common, video: video!, reference, cleanup: journal.uploadFiles(record), record: kept };
  }
  const clip = exampleNamed(exampleClips, record.example ?? '');
  return record.task === 'three2one'
    ? { ...common, video: clip.third, truth: clip.first, record: kept }
    : { ...common, video: clip.first, reference: clip.reference, truth: clip.third, record: kept };
}

export async function startServer(o: ServeOptions): Promise<AppServer> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !o.hostGiven)
    throw new OptionError(
      'host',
      `${host} is not a loopback address; pass {host} ${host} yourself to serve beyond this machine`,
    );
  if (!modelFolderLayout(o.modelDir)) throw new OptionError('modelDir', `${o.modelDir} is not a model folder`);
  // before anything under the root is touched: a second server there would delete the first's work
  const lock = RunLock.acquire(o.root, 'root', o.onNote);
  try {
    return await serveLocked(o, host, lock);
  } catch (error) {
    lock.release();
    throw error;
  }
}

async function serveLocked(o: ServeOptions, host: string, lock: RunLock): Promise<AppServer> {
  const maxUploadBytes = o.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const maxUploadsBytes = o.maxUploadsBytes ?? DEFAULT_MAX_UPLOADS_BYTES;
  const maxQueue = o.maxQueue ?? DEFAULT_MAX_QUEUE;
  const defaults = readDefaults(o.modelDir);
  const runs = new RunStore(o.root);
  const uploads = path.join(o.root, 'uploads');
  mkdirSync(uploads, { recursive: true });
  const journal = new JobJournal(o.root, uploads);
  const removed = runs.removePartial();
  if (removed) o.onNote?.(`removed ${removed} unfinished run folder(s) of an earlier server`);
  const interrupted = new Map(journal.list(o.onNote).map((r) => [r.id, r]));
  journal.removeOrphanUploads([...interrupted.values()]);
  if (interrupted.size)
    o.onNote?.(`${interrupted.size} job(s) of an earlier server did not finish: shown as interrupted on the page`);
  const exampleClips = await examples(o.root, defaults);
  const jobs = new JobQueue(runs, journal, o.modelDir, o.device, (files) => {
    for (const f of files) rmSync(f, { force: true });
  });
  const token = newToken();
  const settingDefaults = {
    steps: defaults.num_inference_steps,
    guidance: defaults.guidance_scale,
    seed: 0,
    sampler: 'unipc' as const,
    start: 0,
  };
  const windowAt = (start: number) => ({
    numFrames: defaults.num_frames,
    fps: defaults.fps,
    width: defaults.width,
    height: defaults.height,
    start,
  });

  const app = Fastify({ logger: false });
  guard(app, { host, port: () => (app.server.address() as AddressInfo | null)?.port ?? -1, token });
  app.setErrorHandler((error, _request, reply) => {
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const text = redactPaths(error instanceof Error ? error.message : String(error));
    if (status >= 400 && status < 500)
      return reply.code(status).send({ error: `the request was not understood (${text})` });
    return reply.code(500).send({ error: `the server failed: ${text}` });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `nothing at ${request.method} ${request.url.slice(0, 200)}` }),
  );
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 2, fields: 16, fieldSize: 1024 } });
  await app.register(fastifyStatic, { root: runs.dir, serve: false, dotfiles: 'deny', index: false });

  const page = APP_PAGE.replace('%TOKEN%', token);
  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(page));
  app.get('/app.js', (_request, reply) => reply.type('text/javascript; charset=utf-8').send(APP_SCRIPT));
  app.get('/app.css', (_request, reply) => reply.type('text/css; charset=utf-8').send(APP_STYLE));
  app.get('/favicon.ico', (_request, reply) => reply.code(204).send());

  app.get('/api/info', () => ({
    model: o.modelName ?? path.basename(path.resolve(o.modelDir)),
    token,
    defaults: settingDefaults,
    size: { width: defaults.width, height: defaults.height, frames: defaults.num_frames, fps: defaults.fps },
    windowSeconds: (defaults.num_frames - 1) / defaults.fps,
    examples: exampleClips.map((e) => e.name),
    maxUploadBytes,
  }));

  app.get('/api/runs', () => runs.list());
  app.get('/api/jobs', () => jobs.active());
  app.get('/api/interrupted', () =>
    [...interrupted.values()].map(({ id, created, task, settings, source }) => ({
      id,
      created,
      task,
      settings,
      source,
    })),
  );

  app.get<{ Params: { id: string; file: string } }>('/runs/:id/:file', (request, reply) => {
    const { id, file } = request.params;
    if (!runs.file(id, file))
      return reply.code(404).send({ error: `no file ${JSON.stringify(file)} in run ${JSON.stringify(id)}` });
    return reply.sendFile(path.join(id, file), runs.dir);
  });

  const refuseIfQueueFull = (): void => {
    if (jobs.waiting >= maxQueue)
      throw new InputRejected(
        `the queue is full: ${jobs.waiting} job(s) are waiting (serve --max-queue ${maxQueue}); try again when one has ended`,
        429,
      );
  };
  const refuseIfFull = (): void => {
    refuseIfQueueFull();
    const kept = sizeOf(uploads);
    if (kept >= maxUploadsBytes)
      throw new InputRejected(
        `the uploads kept take ${megabytes(kept)} MB of the ${megabytes(maxUploadsBytes)} MB allowed (serve --max-uploads-mb): remove interrupted jobs or wait for queued ones`,
        507,
      );
    if (freeBytes(uploads) < maxUploadBytes)
      throw new InputRejected(
        `the disk holding the uploads has ${megabytes(freeBytes(uploads))} MB free, less than one upload may take`,
        507,
      );
  };

  app.post('/api/jobs', async (request, reply) => {
    const fields: Record<string, string> = {};
    const files: { field: string; name: string; file: string }[] = [];
    const kept: string[] = [];
    try {
      if (!request.isMultipart()) throw new InputRejected('send the form as multipart/form-data');
      refuseIfFull();
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'video' && part.fieldname !== 'reference')
              throw new InputRejected(`unexpected file field ${JSON.stringify(part.fieldname.slice(0, 40))}`);
            if (!part.filename) {
              part.file.resume();
              continue;
            }
            const file = path.join(uploads, uploadName(part.fieldname === 'video' ? 'video' : 'image', part.filename));
            kept.push(file);
            await pump(part.file, createWriteStream(file));
            if (part.file.truncated) throw uploadProblem({ code: 'FST_REQ_FILE_TOO_LARGE' }, maxUploadBytes);
            files.push({ field: part.fieldname, name: shownName(part.filename), file });
          } else {
            fields[part.fieldname] = String(part.value);
          }
        }
      } catch (error) {
        throw error instanceof InputRejected ? error : uploadProblem(error, maxUploadBytes);
      }
      if (sizeOf(uploads) > maxUploadsBytes)
        throw new InputRejected(
          `this upload would take the uploads kept past the ${megabytes(maxUploadsBytes)} MB allowed (serve --max-uploads-mb): remove interrupted jobs or wait for queued ones`,
          507,
        );
      const { example, ...settingFields } = fields;
      const settings = parseSettings(settingFields, settingDefaults);
      const video = files.find((f) => f.field === 'video');
      const reference = files.find((f) => f.field === 'reference');
      let record: NewJobRecord;
      const common = {
        task: settings.task,
        settings: {
          steps: settings.steps,
          guidance: settings.guidance,
          seed: settings.seed,
          sampler: settings.sampler,
          start: settings.start,
        },
      };
      if (video) {
        await checkVideo(video.file, video.name, windowAt(settings.start));
        if (settings.task === 'one2three') {
          if (!reference) throw new InputRejected('one2three needs the reference image of the character');
          await checkImage(reference.file, reference.name);
        } else if (reference) {
          rmSync(reference.file, { force: true });
        }
        record = {
          ...common,
          source: video.name,
          uploads: {
            video: path.basename(video.file),
            reference: settings.task === 'one2three' ? path.basename(reference!.file) : undefined,
          },
        };
      } else if (example) {
        for (const f of kept) rmSync(f, { force: true });
        const clip = exampleNamed(exampleClips, example);
        await checkVideo(clip[TASK_VIEWS[settings.task].input], `example ${clip.name}`, windowAt(settings.start));
        record = { ...common, source: `example ${example.slice(0, 60)}`, example };
      } else {
        throw new InputRejected('choose a video to upload or an example clip');
      }
      refuseIfQueueFull();
      const { id, ahead } = jobs.submit(inputOf(record, journal, exampleClips));
      return reply.code(202).send({ id, ahead });
    } catch (error) {
      for (const f of kept) rmSync(f, { force: true });
      return reject(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/rerun', (request, reply) => {
    const record = interrupted.get(request.params.id);
    if (!record) return reply.code(404).send({ error: `no interrupted job ${JSON.stringify(request.params.id)}` });
    try {
      refuseIfQueueFull();
      const { id: _, created: __, ...kept } = record;
      const { id, ahead } = jobs.submit(inputOf(kept, journal, exampleClips));
      interrupted.delete(record.id);
      journal.remove(record.id);
      return reply.code(202).send({ id, ahead });
    } catch (error) {
      return reject(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/remove', (request, reply) => {
    const record = interrupted.get(request.params.id);
    if (!record) return reply.code(404).send({ error: `no interrupted job ${JSON.stringify(request.params.id)}` });
    for (const f of journal.uploadFiles(record)) rmSync(f, { force: true });
    journal.remove(record.id);
    interrupted.delete(record.id);
    return reply.send({ removed: record.id });
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', (request, reply) => {
    const { id } = request.params;
    const answer = isRunId(id) ? jobs.cancel(id) : null;
    if (!answer) return reply.code(404).send({ error: `no job ${JSON.stringify(id.slice(0, 40))} to cancel` });
    if ('finished' in answer)
      return reply
        .code(409)
        .send({ error: `job ${id} had already ended (${answer.kind}) when the cancel came`, ...answer });
    return reply.send(answer);
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/events', (request, reply) => {
    const { id } = request.params;
    const last = isRunId(id) ? jobs.last(id) : undefined;
    if (!last) return reply.code(404).send({ error: `no job ${JSON.stringify(id)}` });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const write = (event: JobEvent): void => {
      res.write(`event: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`);
      if (event.kind === 'done' || event.kind === 'failed' || event.kind === 'cancelled') {
        unsubscribe();
        res.end();
      }
    };
    const unsubscribe = jobs.subscribe(id, write);
    request.raw.on('close', unsubscribe);
    write(last);
  });

  const port = o.port ?? 7860;
  let address: string;
  try {
    address = await app.listen({ port, host });
  } catch (error) {
    await jobs.close();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new OptionError('port', `${port} on ${host} is in use by another program; choose another {port}`);
    throw error;
  }
  if (!LOOPBACK.has(host))
    o.onNote?.(`serving on ${host}: anyone who can reach this machine can use the app (it has no accounts)`);
  return {
    url: address.replace('[::1]', 'localhost'),
    app,
    jobs,
    token,
    close: async () => {
      await jobs.close();
      await app.close();
      lock.release();
    },
  };
}
