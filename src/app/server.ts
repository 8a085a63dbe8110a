// `worldwander serve`: the local web app (fastify). One page; uploads checked before a job is
// queued; jobs run one at a time in a separate process (jobs.ts) with their progress streamed as
// server-sent events; runs kept as folders under the output root (runs.ts) and served by id and
// a fixed list of names, so no path a client sends reaches the file system.
import { createWriteStream, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { pipeline as pump } from 'node:stream/promises';
import path from 'node:path';

import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import multipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';

import { OptionError } from '../errors.js';
import { LAYOUT } from '../data/layout.js';
import { synthesize } from '../synth/run.js';
import { DEMO_DATA, readDefaults, type ModelDefaults } from '../worldwander/model_defaults.js';
import { modelFolderLayout } from '../worldwander/model_folder.js';
import { JobQueue, type JobEvent, type JobInput } from './jobs.js';
import { InputRejected, checkImage, checkVideo, parseSettings, uploadName } from './inputs.js';
import { APP_PAGE } from './page.js';
import { RunStore, isRunId } from './runs.js';

export interface ServeOptions {
  modelDir: string;
  /** Where runs, uploads and the example clips go. */
  root: string;
  port?: number;
  host?: string;
  /** Whether the host was chosen by the user (a non-loopback host needs it). */
  hostGiven?: boolean;
  maxUploadBytes?: number;
  device?: string;
  onNote?: (text: string) => void;
}

export interface AppServer {
  url: string;
  app: FastifyInstance;
  jobs: JobQueue;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
export const DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024;

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

export async function startServer(o: ServeOptions): Promise<AppServer> {
  const host = o.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !o.hostGiven)
    throw new OptionError(
      'host',
      `${host} is not a loopback address; pass {host} ${host} yourself to serve beyond this machine`,
    );
  if (!modelFolderLayout(o.modelDir)) throw new OptionError('modelDir', `${o.modelDir} is not a model folder`);
  const maxUploadBytes = o.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  const defaults = readDefaults(o.modelDir);
  const runs = new RunStore(o.root);
  const removed = runs.removePartial();
  if (removed) o.onNote?.(`removed ${removed} unfinished run(s) of an earlier server`);
  const uploads = path.join(o.root, 'uploads');
  rmSync(uploads, { recursive: true, force: true });
  mkdirSync(uploads, { recursive: true });
  const exampleClips = await examples(o.root, defaults);
  const jobs = new JobQueue(runs, o.modelDir, o.device, (files) => {
    for (const f of files) rmSync(f, { force: true });
  });
  const settingDefaults = {
    steps: defaults.num_inference_steps,
    guidance: defaults.guidance_scale,
    seed: 0,
    sampler: 'unipc' as const,
  };

  const app = Fastify({ logger: false });
  await app.register(multipart, { limits: { fileSize: maxUploadBytes, files: 2, fields: 16, fieldSize: 1024 } });
  await app.register(fastifyStatic, { root: runs.dir, serve: false, dotfiles: 'deny', index: false });

  app.get('/', (_request, reply) => reply.type('text/html; charset=utf-8').send(APP_PAGE));

  app.get('/api/info', () => ({
    model: o.modelDir,
    defaults: settingDefaults,
    size: { width: defaults.width, height: defaults.height, frames: defaults.num_frames, fps: defaults.fps },
    examples: exampleClips.map((e) => e.name),
    maxUploadBytes,
  }));

  app.get('/api/runs', () => runs.list());
  app.get('/api/jobs', () => jobs.active());

  app.get<{ Params: { id: string; file: string } }>('/runs/:id/:file', (request, reply) => {
    const { id, file } = request.params;
    if (!runs.file(id, file))
      return reply.code(404).send({ error: `no file ${JSON.stringify(file)} in run ${JSON.stringify(id)}` });
    return reply.sendFile(path.join(id, file), runs.dir);
  });

  app.post('/api/jobs', async (request, reply) => {
    const fields: Record<string, string> = {};
    const files: { field: string; name: string; file: string }[] = [];
    const kept: string[] = [];
    try {
      if (!request.isMultipart()) throw new InputRejected('send the form as multipart/form-data');
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'video' && part.fieldname !== 'reference')
              throw new InputRejected(`unexpected file field ${JSON.stringify(part.fieldname)}`);
            if (!part.filename) {
              part.file.resume();
              continue;
            }
            const file = path.join(uploads, uploadName(part.fieldname === 'video' ? 'video' : 'image', part.filename));
            kept.push(file);
            await pump(part.file, createWriteStream(file));
            files.push({ field: part.fieldname, name: part.filename, file });
          } else {
            fields[part.fieldname] = String(part.value);
          }
        }
      } catch (error) {
        if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') {
          throw new InputRejected(
            `the file is larger than the limit of ${(maxUploadBytes / 1024 / 1024).toFixed(maxUploadBytes < 1024 * 1024 ? 2 : 0)} MB (serve --max-upload-mb)`,
            413,
          );
        }
        throw error;
      }
      const { example, ...settingFields } = fields;
      const settings = parseSettings(settingFields, settingDefaults);
      const video = files.find((f) => f.field === 'video');
      const reference = files.find((f) => f.field === 'reference');
      let input: JobInput;
      const common = {
        task: settings.task,
        settings: {
          steps: settings.steps,
          guidance: settings.guidance,
          seed: settings.seed,
          sampler: settings.sampler,
        },
      };
      if (video) {
        await checkVideo(video.file, video.name, defaults.num_frames);
        if (settings.task === 'one2three') {
          if (!reference) throw new InputRejected('one2three needs the reference image of the character');
          await checkImage(reference.file, reference.name);
        }
        input = {
          ...common,
          video: video.file,
          reference: settings.task === 'one2three' ? reference!.file : undefined,
          source: video.name,
          cleanup: kept,
        };
      } else if (example) {
        const clip = exampleClips.find((e) => e.name === example);
        if (!clip) throw new InputRejected(`no example clip ${JSON.stringify(example)}`);
        for (const f of kept) rmSync(f, { force: true });
        input =
          settings.task === 'three2one'
            ? { ...common, video: clip.third, truth: clip.first, source: `example ${clip.name}` }
            : {
                ...common,
                video: clip.first,
                reference: clip.reference,
                truth: clip.third,
                source: `example ${clip.name}`,
              };
      } else {
        throw new InputRejected('choose a video to upload or an example clip');
      }
      const { id, ahead } = jobs.submit(input);
      return reply.code(202).send({ id, ahead });
    } catch (error) {
      for (const f of kept) rmSync(f, { force: true });
      return reject(reply, error);
    }
  });

  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', (request, reply) => {
    const { id } = request.params;
    if (!isRunId(id) || !jobs.cancel(id))
      return reply.code(404).send({ error: `no job ${JSON.stringify(id)} to cancel` });
    return reply.send({ cancelling: id });
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

  const address = await app.listen({ port: o.port ?? 7860, host });
  if (!LOOPBACK.has(host))
    o.onNote?.(`serving on ${host}: anyone who can reach this machine can use the app (it has no accounts)`);
  return {
    url: address.replace('[::1]', 'localhost'),
    app,
    jobs,
    close: async () => {
      await jobs.close();
      await app.close();
    },
  };
}
