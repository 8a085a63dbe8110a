/// <reference lib="dom" />
// `worldwander serve` in a real browser (Debian's chromium through playwright-core) on the tiny
// model: an example and an upload translated with their progress events arriving, the result
// playing, the gallery after a reload; cancel; a second job queued and said so; every bad input
// shown on the page with nothing queued; `../` paths refused; a server killed mid-job leaves no
// run that looks complete. WORLDWANDER_SCREENSHOTS=DIR keeps the page's screenshot (docs/app.md).
import assert from 'node:assert/strict';

import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium, type Browser, type Page } from 'playwright-core';

import { startServer, type AppServer } from '../../src/app/server.js';
import { RunStore } from '../../src/app/runs.js';
import { synthesize } from '../../src/synth/run.js';
import { repoRoot } from '../helpers/release_examples.js';
import { codedClip, indexOf, shown } from '../helpers/coded_clips.js';
import { startServeProcess, tokenOf } from '../helpers/serve_process.js';
import { readVideoFrames } from '../../src/data/video_writer.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MODEL = path.join(repoRoot, 'test', 'fixtures', 'tiny_model');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-serve-'));
const root = path.join(scratch, 'root');
const clips = path.join(scratch, 'clips');
const MAX_UPLOAD = 120 * 1024;
let server: AppServer;
let browser: Browser;
let page: Page;
const problems: string[] = [];

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: run \`bash scripts/setup.sh --test\` (installs Debian's chromium) or set CHROMIUM=/path/to/chromium`,
  );
  await synthesize({
    seed: 21,
    count: 1,
    width: 64,
    height: 32,
    frames: 5,
    fps: 8,
    format: 'mp4',
    out: path.join(clips, 'five'),
  });
  await synthesize({
    seed: 22,
    count: 1,
    width: 64,
    height: 32,
    frames: 3,
    fps: 8,
    format: 'mp4',
    out: path.join(clips, 'three'),
  });
  server = await startServer({ modelDir: MODEL, root, port: 0, maxUploadBytes: MAX_UPLOAD });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--autoplay-policy=no-user-gesture-required'],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready=true]');
});

after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

const clip = (set: 'five' | 'three', view: 'First_Video' | 'Third_Video' = 'Third_Video'): string =>
  path.join(clips, set, view, 'sample_000000.mp4');
const reference = (): string => path.join(clips, 'five', 'Reference_Image', 'sample_000000.png');

async function settle(steps: number): Promise<void> {
  await page.fill('#steps', String(steps));
}

async function submit(): Promise<string> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/api/jobs') && r.request().method() === 'POST'),
    page.click('#translate'),
  ]);
  const body = (await response.json()) as { id?: string; error?: string };
  assert.ok(body.id, `the job was accepted: ${body.error}`);
  return body.id;
}

const row = (id: string): string => `#jobs li[data-id="${id}"]`;

async function expectMessage(expected: RegExp, label = ''): Promise<void> {
  await page
    .waitForFunction(
      (re) => new RegExp(re).test(document.querySelector('#message')?.textContent ?? ''),
      expected.source,
      {
        timeout: 30_000,
      },
    )
    .catch(async () => {
      assert.fail(`${label}: the page says ${JSON.stringify(await page.textContent('#message'))}`);
    });
}

test('an example clip: its progress events arrive, the result plays in synchronised players at 4x, and after a reload the run is in the gallery', async () => {
  await page.check('input[name=task][value=three2one]');
  await page.check('input[name=source][value=example]');
  await settle(30);
  const id = await submit();
  await page.waitForSelector(`${row(id)}[data-state=done]`, { timeout: 60_000 });
  const events = (await page.getAttribute(row(id), 'data-events'))!.split(' ');
  assert.equal(events.filter((e) => e === 'denoising').length > 1, true, `step events arrived: ${events.join(' ')}`);
  assert.equal(events.at(-1), 'done');
  await page.waitForFunction(
    () => {
      const v = document.querySelector<HTMLVideoElement>('#players video.generated');
      return v !== null && !v.paused && v.currentTime > 0;
    },
    null,
    { timeout: 30_000 },
  );
  const players = await page.$$eval('#players video', (vs) =>
    (vs as HTMLVideoElement[]).map((v) => ({
      cls: v.className,
      width: v.width,
      videoWidth: v.videoWidth,
      error: v.error?.message ?? null,
    })),
  );
  assert.deepEqual(
    players.map((p) => p.cls),
    ['input', 'generated', 'truth'],
    "input, generated and the example's ground truth",
  );
  for (const p of players) assert.deepEqual([p.width, p.videoWidth, p.error], [64 * 4, 64, null]);
  const downloads = await page.$$eval('a.download', (as) => as.map((a) => a.getAttribute('href')));
  assert.ok(downloads.includes(`/runs/${id}/generated.mp4`) && downloads.includes(`/runs/${id}/side_by_side.mp4`));
  const shot = path.join(scratch, 'app.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000);
  if (process.env.WORLDWANDER_SCREENSHOTS)
    copyFileSync(shot, path.join(process.env.WORLDWANDER_SCREENSHOTS, 'app.png'));
  await page.reload();
  await page.waitForSelector('body[data-ready=true]');
  await page.click(`#gallery li.run[data-run="${id}"] button`);
  await page.waitForSelector(`#result[data-run="${id}"]`);
  assert.deepEqual(problems, []);
});

test('an uploaded clip and reference (one2three) is translated; the upload is stored under a name the server chose and removed after', async () => {
  await page.check('input[name=task][value=one2three]');
  await page.check('input[name=source][value=upload]');
  await settle(3);
  await page.setInputFiles('#video', {
    name: '../../escape.mp4',
    mimeType: 'video/mp4',
    buffer: readFileSync(clip('five', 'First_Video')),
  });
  await page.setInputFiles('#reference', reference());
  const id = await submit();
  await page.waitForSelector(`${row(id)}[data-state=done]`, { timeout: 60_000 });
  const run = new RunStore(root).get(id)!;
  assert.equal(run.source, 'escape.mp4', 'the name the browser sent is shown');
  assert.ok(run.files.includes('reference.png'));
  assert.deepEqual(readdirSync(root).sort(), ['.worldwander.lock', 'examples', 'jobs', 'runs', 'uploads']);
  assert.deepEqual(readdirSync(path.join(root, 'jobs')), [], 'no job left in the journal');
  assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'uploads go when their job ends');
  // a client that is not a browser may send any name: it is shown, never used as a path
  const form = new FormData();
  for (const [k, v] of Object.entries({ task: 'three2one', steps: '2' })) form.append(k, v);
  form.append('video', new Blob([readFileSync(clip('five'))]), '../../escape.mp4');
  const { id: raw } = (await (
    await fetch(`${server.url}/api/jobs`, {
      method: 'POST',
      body: form,
      headers: { 'x-worldwander-token': server.token },
    })
  ).json()) as {
    id: string;
  };
  const events = await (await fetch(`${server.url}/api/jobs/${raw}/events`)).text();
  assert.match(events, /event: done/);
  assert.equal(new RunStore(root).get(raw)!.source, 'escape.mp4', 'the multipart parser keeps only the base name');
  assert.ok(
    !existsSync(path.join(scratch, 'escape.mp4')) && !existsSync(path.join(root, 'escape.mp4')),
    'nothing written where the name points',
  );
  assert.deepEqual(readdirSync(path.join(root, 'uploads')), []);
});

test('an upload at another rate is sampled in its own time from the start asked; the page says which seconds were taken; a start past the end is refused with the lengths', async () => {
  const walk = codedClip(scratch, 'walk30.mp4', '30', 2, '96x54');
  await page.check('input[name=task][value=three2one]');
  await page.check('input[name=source][value=upload]');
  await settle(2);
  await page.setInputFiles('#video', walk);
  await page.fill('#start', '1.7');
  await page.click('#translate');
  await expectMessage(/walk30\.mp4: 2\.00 s long; 5 frames at 8 fps from 1\.70 s need a clip longer than 2\.20 s$/);
  await page.fill('#start', '0.5');
  const id = await submit();
  await page.waitForSelector(`${row(id)}[data-state=done]`, { timeout: 60_000 });
  await page.waitForSelector(`#result[data-run="${id}"]`);
  assert.equal(
    await page.textContent('#taken'),
    'seconds 0.50-1.00 of walk30.mp4 (30 fps -> 8 fps), 96x54 frames resized to cover 64x32 and centre-cropped',
  );
  const input = await readVideoFrames(path.join(root, 'runs', id, 'input.mp4'));
  assert.deepEqual(
    input.frames.map((f) => indexOf(f)),
    shown(30, 0.5, 8, 5),
    'the input the model saw: the frames shown at 0.5 + k/8 s',
  );
  assert.equal(new RunStore(root).get(id)!.settings.start, 0.5);
  await page.fill('#start', '0');
});

test('cancel: a running job stops at its next step and leaves no run', async () => {
  await page.check('input[name=task][value=three2one]');
  await page.check('input[name=source][value=example]');
  await settle(200);
  const id = await submit();
  await page.waitForFunction(
    (sel) => (document.querySelector(sel)?.getAttribute('data-events') ?? '').includes('denoising'),
    row(id),
    { timeout: 60_000 },
  );
  await page.click(`${row(id)} button.cancel`);
  await page.waitForSelector(`${row(id)}[data-state=cancelled]`, { timeout: 60_000 });
  assert.equal(new RunStore(root).get(id), null);
  assert.deepEqual(
    readdirSync(path.join(root, 'runs')).filter((n) => n.includes(id)),
    [],
    'no folder, partial or whole',
  );
});

test('a second job while one runs is queued, and the page says so; a queued job cancels at once', async () => {
  await settle(200);
  const first = await submit();
  const second = await submit();
  await page.waitForFunction(() => document.querySelector('#message')?.textContent?.includes('queued behind 1 job(s)'));
  await page.waitForFunction(
    (sel) => document.querySelector(`${sel} .status`)?.textContent === 'queued: 1 job(s) ahead',
    row(second),
  );
  await page.click(`${row(second)} button.cancel`);
  await page.waitForSelector(`${row(second)}[data-state=cancelled]`);
  await page.click(`${row(first)} button.cancel`);
  await page.waitForSelector(`${row(first)}[data-state=cancelled]`, { timeout: 60_000 });
});

test('bad input is shown on the page and queues nothing: not a video, truncated, too few frames, too large, a reference that is not an image, settings out of range', async () => {
  const bad = path.join(scratch, 'bad');
  mkdirSync(bad, { recursive: true });
  const whole = readFileSync(clip('five'));
  writeFileSync(path.join(bad, 'notes.mp4'), 'these are not frames\n'.repeat(20));
  writeFileSync(path.join(bad, 'cut.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));
  writeFileSync(path.join(bad, 'big.mp4'), Buffer.alloc(MAX_UPLOAD + 4096, 7));
  writeFileSync(path.join(bad, 'face.png'), 'not a picture');
  const cases: [string, () => Promise<void>, RegExp][] = [
    [
      'not a video',
      () => page.setInputFiles('#video', path.join(bad, 'notes.mp4')),
      /notes\.mp4: not a video ffmpeg can read/,
    ],
    [
      'truncated',
      () => page.setInputFiles('#video', path.join(bad, 'cut.mp4')),
      /cut\.mp4: the MP4 is truncated or damaged/,
    ],
    [
      'too few frames',
      () =>
        page.setInputFiles('#video', { name: 'short.mp4', mimeType: 'video/mp4', buffer: readFileSync(clip('three')) }),
      /short\.mp4: 0\.375 s long; 5 frames at 8 fps from 0\.00 s need a clip longer than 0\.50 s$/,
    ],
    [
      'too large',
      () => page.setInputFiles('#video', path.join(bad, 'big.mp4')),
      /the file is larger than the limit of 0\.12 MB/,
    ],
    [
      'steps out of range',
      async () => {
        await page.setInputFiles('#video', clip('five'));
        await page.fill('#steps', '0');
      },
      /settings out of range: steps 0: too small/,
    ],
    [
      'guidance out of range',
      async () => {
        await page.fill('#steps', '3');
        await page.fill('#guidance', '99');
      },
      /settings out of range: guidance 99: too big/,
    ],
  ];
  await page.check('input[name=task][value=three2one]');
  await page.check('input[name=source][value=upload]');
  for (const [label, prepare, expected] of cases) {
    await prepare();
    await page.click('#translate');
    await expectMessage(expected, label);
  }
  await page.fill('#guidance', '5');
  await page.check('input[name=task][value=one2three]');
  await page.setInputFiles('#video', clip('five', 'First_Video'));
  await page.setInputFiles('#reference', path.join(bad, 'face.png'));
  await page.click('#translate');
  await page.waitForFunction(() =>
    /face\.png: the reference is not an image/.test(document.querySelector('#message')?.textContent ?? ''),
  );
  assert.deepEqual(server.jobs.active(), [], 'nothing queued');
  assert.deepEqual(readdirSync(path.join(root, 'uploads')), [], 'refused uploads are not kept');
});

function rawGet(urlPath: string): Promise<number> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const r = request({ host: url.hostname, port: url.port, path: urlPath, method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end();
  });
}

test('paths with ../ (plain, encoded, in the file name) never reach outside the runs', async () => {
  const [run] = new RunStore(root).list();
  assert.ok(run);
  for (const p of [
    '/runs/../../package.json',
    '/runs/..%2F..%2Fpackage.json/x',
    `/runs/${run.id}/..%2Fapp.json`,
    `/runs/${run.id}/%2e%2e%2f%2e%2e%2fexamples`,
    '/runs/%2e%2e/%2e%2e',
    `/runs/${run.id}/frames`,
  ]) {
    assert.equal(await rawGet(p), 404, p);
  }
  assert.equal(await rawGet(`/runs/${run.id}/generated.mp4`), 200);
});

test('a non-loopback host needs --host said explicitly', async () => {
  await assert.rejects(
    startServer({ modelDir: MODEL, root: path.join(scratch, 'other'), host: '0.0.0.0', port: 0 }),
    /0\.0\.0\.0 is not a loopback address; pass (--)?host 0\.0\.0\.0 yourself/,
  );
});

test('a server killed (SIGKILL) mid-job leaves no run that looks complete; the next start removes the partial one and shows the job interrupted', async () => {
  const killRoot = path.join(scratch, 'killed');
  const { child, url } = await startServeProcess(['--model-dir', MODEL, '--root', killRoot]);
  const form = new FormData();
  for (const [k, v] of Object.entries({ task: 'three2one', example: 'sample_000000', steps: '200' })) form.append(k, v);
  const token = await tokenOf(url);
  const { id } = (await (
    await fetch(`${url}/api/jobs`, { method: 'POST', body: form, headers: { 'x-worldwander-token': token } })
  ).json()) as { id: string };
  const events = await fetch(`${url}/api/jobs/${id}/events`);
  const reader = events.body!.getReader();
  for (let text = ''; !text.includes('"stage":"denoising"');) {
    const { value, done } = await reader.read();
    assert.ok(!done, `the event stream ended before denoising: ${text}`);
    text += new TextDecoder().decode(value);
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  const store = new RunStore(killRoot);
  assert.deepEqual(store.list(), [], 'no run in the gallery');
  assert.ok(
    readdirSync(store.dir).every((n) => n.startsWith('.partial-')),
    'only a partial folder',
  );
  const again = await startServer({ modelDir: MODEL, root: killRoot, port: 0 });
  assert.deepEqual(readdirSync(store.dir), [], 'the partial run is gone at the next start');
  const interrupted = (await (await fetch(`${again.url}/api/interrupted`)).json()) as { id: string }[];
  assert.deepEqual(
    interrupted.map((j) => j.id),
    [id],
    'and its job is shown as interrupted',
  );
  await again.close();
});
