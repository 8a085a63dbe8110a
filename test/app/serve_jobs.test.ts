/// <reference lib="dom" />
// `worldwander serve` loses nothing and says what happened: one server per root (a second is
// refused naming the first's pid, before it touches anything); jobs journalled, so after a kill -9
// the next start shows every unfinished job as interrupted, its upload kept, to re-run or remove
// from the page; a run that cannot be moved into place fails its job, not the server; a cancel is
// either obeyed (nothing kept) or answered "already ended"; the queue and the uploads have caps;
// malformed bodies and bad ports get a sentence; no answer names a path of the server's.
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium, type Browser } from 'playwright-core';

import { startServer, type AppServer } from '../../src/app/server.js';
import { RunStore } from '../../src/app/runs.js';
import { synthesize } from '../../src/synth/run.js';
import { repoRoot } from '../helpers/release_examples.js';
import { startServeProcess, tokenOf } from '../helpers/serve_process.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MODEL = path.join(repoRoot, 'test', 'fixtures', 'tiny_model');
const CLI = path.join(repoRoot, 'bin', 'worldwander.js');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-serve-jobs-'));
const clips = path.join(scratch, 'clips');
const servers: AppServer[] = [];
const children: ChildProcess[] = [];

before(async () => {
  await synthesize({ seed: 31, count: 1, width: 64, height: 32, frames: 5, fps: 8, format: 'mp4', out: clips });
});

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const server of servers) await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

const clip = (view = 'Third_Video'): string => path.join(clips, view, 'sample_000000.mp4');
const referenceImage = (): string => path.join(clips, 'Reference_Image', 'sample_000000.png');

async function serve(name: string, options: Partial<Parameters<typeof startServer>[0]> = {}): Promise<AppServer> {
  const server = await startServer({ modelDir: MODEL, root: path.join(scratch, name), port: 0, ...options });
  servers.push(server);
  return server;
}

/** A `worldwander serve` process on `root`: its url once it listens. */
async function serveProcess(root: string): Promise<{ child: ChildProcess; url: string }> {
  const started = await startServeProcess(['--model-dir', MODEL, '--root', root]);
  children.push(started.child);
  return started;
}

type Answer = { status: number; body: Record<string, unknown> };

async function post(
  url: string,
  fields: Record<string, string>,
  files: Record<string, [string, Buffer]> = {},
): Promise<Answer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const [k, [name, bytes]] of Object.entries(files)) form.append(k, new Blob([new Uint8Array(bytes)]), name);
  const r = await fetch(url, {
    method: 'POST',
    body: form,
    headers: { 'x-worldwander-token': await tokenOf(new URL(url).origin) },
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

const submit = (server: { url: string }, fields: Record<string, string>, files?: Record<string, [string, Buffer]>) =>
  post(`${server.url}/api/jobs`, fields, files);

async function cancel(url: string, id: string): Promise<Answer> {
  const r = await fetch(`${url}/api/jobs/${id}/cancel`, {
    method: 'POST',
    headers: { 'x-worldwander-token': await tokenOf(url) },
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

/** Reads a job's events until `until` says stop (default: its last event); returns them all. */
async function events(
  url: string,
  id: string,
  until: (text: string) => boolean = (t) => /event: (done|failed|cancelled)/.test(t),
): Promise<string> {
  const response = await fetch(`${url}/api/jobs/${id}/events`);
  const reader = response.body!.getReader();
  let text = '';
  while (!until(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  return text;
}

/** Every file and folder under `dir`, as relative paths. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

test('a second serve on the same root is refused naming the live one, before it touches anything; a port in use is said so', async () => {
  const first = await serve('shared');
  const root = path.join(scratch, 'shared');
  const running = await submit(first, { task: 'three2one', example: 'sample_000000', steps: '200' });
  const queued = await submit(
    first,
    { task: 'three2one', steps: '200' },
    { video: ['mine.mp4', readFileSync(clip())] },
  );
  assert.equal(queued.status, 202);
  const before = listing(root);
  assert.ok(
    before.some((p) => p.startsWith('uploads/video-')),
    'the queued job has its upload',
  );
  const second = spawnSync(process.execPath, [CLI, 'serve', '--model-dir', MODEL, '--root', root, '--port', '0'], {
    encoding: 'utf8',
  });
  assert.equal(second.status, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`in use by a live run \\(pid ${process.pid}\\b`));
  assert.deepEqual(listing(root), before, 'nothing under the root changed');
  const port = new URL(first.url).port;
  const other = path.join(scratch, 'other-root');
  const busy = spawnSync(process.execPath, [CLI, 'serve', '--model-dir', MODEL, '--root', other, '--port', port], {
    encoding: 'utf8',
  });
  assert.equal(busy.status, 2, busy.stderr);
  assert.match(busy.stderr, new RegExp(`--port: ${port} on 127\\.0\\.0\\.1 is in use by another program`));
  assert.ok(!existsSync(path.join(other, '.worldwander.lock')), 'its lock released');
  for (const r of [queued, running]) assert.equal((await cancel(first.url, r.body.id as string)).status, 200);
  await events(first.url, running.body.id as string);
});

test('a server killed with SIGKILL: the next start shows its unfinished jobs as interrupted with their settings, uploads kept; the page re-runs one and removes the other', async () => {
  const root = path.join(scratch, 'killed');
  const { child, url } = await serveProcess(root);
  const upload = await submit(
    { url },
    { task: 'three2one', steps: '60', seed: '7' },
    { video: ['walk in the park.mp4', readFileSync(clip())] },
  );
  const example = await submit({ url }, { task: 'three2one', example: 'sample_000000', steps: '4', guidance: '3' });
  assert.equal(example.body.ahead, 1);
  await events(url, upload.body.id as string, (t) => t.includes('"stage":"denoising"'));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const kept = readdirSync(path.join(root, 'uploads'));
  assert.equal(kept.length, 1);

  const notes: string[] = [];
  const again = await serve('killed', { onNote: (t) => notes.push(t) });
  assert.ok(
    notes.some((n) => /2 job\(s\) of an earlier server did not finish/.test(n)),
    notes.join('\n'),
  );
  const interrupted = (await (await fetch(`${again.url}/api/interrupted`)).json()) as {
    id: string;
    source: string;
    settings: { steps: number; seed: number; guidance: number };
  }[];
  assert.deepEqual(
    interrupted.map((j) => [j.id, j.source, j.settings.steps, j.settings.seed]),
    [
      [upload.body.id, 'walk in the park.mp4', 60, 7],
      [example.body.id, 'example sample_000000', 4, 0],
    ],
  );
  assert.deepEqual(readdirSync(path.join(root, 'uploads')), kept, 'the upload is kept');
  assert.deepEqual(
    readdirSync(path.join(root, 'runs')).filter((n) => n.startsWith('.partial')),
    [],
    'no partial run',
  );

  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    const page = await browser.newPage();
    await page.goto(again.url);
    await page.waitForSelector('body[data-ready=true]');
    assert.equal(await page.isVisible('#interrupted-section'), true);
    const rows = await page.$$eval('#interrupted li', (lis) => lis.map((li) => li.textContent ?? ''));
    assert.match(rows[0]!, /walk in the park\.mp4 · 60 steps, guidance \d+(\.\d+)?, seed 7/);
    await page.click(`#interrupted li[data-id="${upload.body.id as string}"] button.remove`);
    await page.waitForFunction((id) => !document.querySelector(`#interrupted li[data-id="${id}"]`), upload.body.id);
    assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'removed: its upload is gone');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/rerun')),
      page.click(`#interrupted li[data-id="${example.body.id as string}"] button.rerun`),
    ]);
    const { id } = (await response.json()) as { id: string };
    await page.waitForSelector(`#jobs li[data-id="${id}"][data-state=done]`, { timeout: 60_000 });
    assert.equal(await page.isVisible('#interrupted-section'), false);
    assert.deepEqual(new RunStore(root).get(id)?.settings, {
      steps: 4,
      guidance: 3,
      seed: 0,
      sampler: 'unipc',
      start: 0,
    });
  } finally {
    await browser.close();
  }
  assert.deepEqual(readdirSync(path.join(root, 'jobs')), [], 'the journal is empty');
});

test('a run that cannot be moved into place fails its job with a sentence; the server goes on', async () => {
  const server = await serve('commit');
  const answer = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '3' });
  const id = answer.body.id as string;
  // a folder already standing where the run would go: the rename fails (ENOTEMPTY or EEXIST)
  mkdirSync(path.join(scratch, 'commit', 'runs', id, 'blocker'), { recursive: true });
  const text = await events(server.url, id);
  assert.match(text, /event: failed/);
  assert.match(
    text,
    /the finished run could not be moved into the gallery \((ENOTEMPTY|EEXIST)\); nothing of it was kept/,
  );
  assert.ok(!text.includes(scratch), 'no server path in the message');
  assert.deepEqual(
    readdirSync(path.join(scratch, 'commit', 'runs')).filter((n) => n.startsWith('.partial')),
    [],
  );
  const next = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '2' });
  assert.match(await events(server.url, next.body.id as string), /event: done/);
});

test('cancel means cancel: right after submit on a fresh worker, while queued, while writing; otherwise the answer says the job had ended', async () => {
  const server = await serve('cancel');
  const runs = new RunStore(path.join(scratch, 'cancel'));
  for (let i = 0; i < 4; i++) {
    const { body } = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '3' });
    const answer = await cancel(server.url, body.id as string);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.match(await events(server.url, body.id as string), /event: cancelled/, `try ${i}`);
    assert.equal(runs.get(body.id as string), null);
  }
  let obeyed = 0;
  let ended = 0;
  for (let i = 0; i < 6; i++) {
    const { body } = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '1' });
    const id = body.id as string;
    await events(server.url, id, (t) => t.includes('"stage":"writing"') || /event: (done|failed)/.test(t));
    const answer = await cancel(server.url, id);
    const last = await events(server.url, id);
    if (answer.status === 200) {
      obeyed++;
      assert.match(last, /event: cancelled/);
      assert.equal(runs.get(id), null, 'a cancel accepted keeps nothing');
      assert.ok(!existsSync(path.join(runs.dir, id)));
    } else {
      ended++;
      assert.equal(answer.status, 409);
      assert.match(answer.body.error as string, /had already ended \(done\)/);
      assert.ok(runs.get(id), 'the answer says it had ended, and it is in the gallery');
    }
  }
  assert.equal(obeyed + ended, 6);
  assert.deepEqual(readdirSync(path.join(scratch, 'cancel', 'jobs')), []);
  assert.deepEqual(
    readdirSync(runs.dir).filter((n) => n.startsWith('.partial')),
    [],
  );
});

test('limits: a full queue is a 429, uploads past their disk cap a 507, a malformed body a 400, each with a sentence', async () => {
  const server = await serve('limits', { maxQueue: 1, maxUploadsBytes: Math.floor(statSync(clip()).size / 2) });
  const first = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '200' });
  const second = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '200' });
  const third = await submit(server, { task: 'three2one', example: 'sample_000000', steps: '200' });
  assert.deepEqual([first.status, second.status, third.status], [202, 202, 429]);
  assert.match(third.body.error as string, /the queue is full: 1 job\(s\) are waiting \(serve --max-queue 1\)/);
  assert.equal((await cancel(server.url, second.body.id as string)).status, 200);
  const big = await submit(server, { task: 'three2one' }, { video: ['big.mp4', readFileSync(clip())] });
  assert.equal(big.status, 507);
  assert.match(big.body.error as string, /past the [\d.]+ MB allowed \(serve --max-uploads-mb\)/);
  assert.deepEqual(readdirSync(path.join(scratch, 'limits', 'uploads')), [], 'nothing of it kept');
  const token = await tokenOf(server.url);
  const malformed = await fetch(`${server.url}/api/jobs`, {
    method: 'POST',
    headers: { 'x-worldwander-token': token, 'content-type': 'multipart/form-data; boundary=xyz' },
    body: '--xyz\r\nContent-Disposition: form-data; name="video"; filename="a.mp4"\r\n\r\nabc',
  });
  assert.equal(malformed.status, 400);
  assert.match(
    ((await malformed.json()) as { error: string }).error,
    /^the request body is not well-formed multipart\/form-data/,
  );
  const wrongType = await fetch(`${server.url}/api/jobs`, {
    method: 'POST',
    headers: { 'x-worldwander-token': token, 'content-type': 'text/plain' },
    body: 'hello',
  });
  assert.equal(wrongType.status, 400);
  assert.match(((await wrongType.json()) as { error: string }).error, /^send the form as multipart\/form-data/);
  const badJson = await fetch(`${server.url}/api/jobs/${first.body.id as string}/cancel`, {
    method: 'POST',
    headers: { 'x-worldwander-token': token, 'content-type': 'application/json' },
    body: '{',
  });
  assert.equal(badJson.status, 400);
  assert.match(((await badJson.json()) as { error: string }).error, /^the request was not understood \(/);
  assert.equal((await cancel(server.url, first.body.id as string)).status, 200);
  await events(server.url, first.body.id as string);
  for (const port of ['70000', '-1', 'http']) {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--model-dir', MODEL, '--port', port], { encoding: 'utf8' });
    assert.equal(r.status, 2, port);
    assert.match(r.stderr, /--port.*expected an integer from 0 to 65535/, port);
    assert.doesNotMatch(r.stderr, /bug/);
  }
});

test('names: a failing job and a resized upload name no path of the server, only the upload as the user named it; a 100 KB file name is cut for display', async () => {
  const server = await serve('names');
  const png = readFileSync(referenceImage());
  const failing = await submit(
    server,
    { task: 'one2three', steps: '2' },
    { video: ['me.mp4', readFileSync(clip('First_Video'))], reference: ['back.png', png.subarray(0, 120)] },
  );
  assert.equal(failing.status, 202, JSON.stringify(failing.body));
  const failed = await events(server.url, failing.body.id as string);
  assert.match(failed, /event: failed/);
  assert.match(failed, /the reference image/);
  assert.ok(!failed.includes(scratch) && !failed.includes('/uploads/'), failed);

  const wide = path.join(scratch, 'wide.mp4');
  spawnSync('ffmpeg', ['-v', 'error', '-i', clip(), '-vf', 'scale=96:40', '-y', wide]);
  const long = `${'a'.repeat(100_000)}.mp4`;
  const ok = await submit(server, { task: 'three2one', steps: '2' }, { video: [long, readFileSync(wide)] });
  assert.equal(ok.status, 202, JSON.stringify(ok.body));
  assert.match(await events(server.url, ok.body.id as string), /event: done/);
  const runs = await (await fetch(`${server.url}/api/runs`)).text();
  const run = (JSON.parse(runs) as { id: string; source: string }[]).find((r) => r.id === ok.body.id)!;
  assert.ok(run.source.length <= 120 && run.source.startsWith('aaaa') && run.source.includes('…'), run.source);
  assert.ok(runs.length < 2000, 'the gallery does not carry the long name');
  const record = await (await fetch(`${server.url}/runs/${run.id}/run.json`)).text();
  assert.match(record, /96x40 frames resized to cover/, 'the note is there');
  for (const text of [runs, record, await (await fetch(`${server.url}/runs/${run.id}/app.json`)).text()])
    assert.ok(!text.includes(scratch) && !text.includes(repoRoot), text.slice(0, 400));
});
