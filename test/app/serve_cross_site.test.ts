/// <reference lib="dom" />
// `worldwander serve` against a hostile web page, in real chromium: a page on another origin (a
// second loopback port) posting forms and no-cors fetches to the app, a page on a foreign name
// that resolves to 127.0.0.1 (DNS rebinding, through --host-resolver-rules), the app in a frame;
// and the headers every answer carries. The app must change nothing and show nothing to them.
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { chromium, type Browser } from 'playwright-core';

import { startServer, type AppServer } from '../../src/app/server.js';
import { repoRoot } from '../helpers/release_examples.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const MODEL = path.join(repoRoot, 'test', 'fixtures', 'tiny_model');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-cross-site-'));
const root = path.join(scratch, 'root');
let server: AppServer;
let hostile: Server;
let hostileUrl: string;
let hostilePage = '';
let browser: Browser;
let appPort: number;
let jobId = '';

before(async () => {
  server = await startServer({ modelDir: MODEL, root, port: 0 });
  appPort = Number(new URL(server.url).port);
  hostile = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(hostilePage));
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--host-resolver-rules=MAP evil.example 127.0.0.1',
    ],
  });
});

after(async () => {
  await browser?.close();
  await new Promise((resolve) => hostile?.close(resolve));
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** Answers of the app to a raw request (node:http, so any Host header can be sent). */
function raw(
  urlPath: string,
  { method = 'GET', headers = {}, body }: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port: appPort, path: urlPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        if (res.headers['content-type']?.startsWith('text/event-stream')) res.destroy(); // the first event is enough
      });
      const done = (): void =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() });
      res.on('end', done);
      res.on('close', done);
    });
    r.on('error', reject);
    r.end(body);
  });
}

const nothingQueued = (): void => {
  assert.deepEqual(server.jobs.active(), [], 'no job queued or running');
  const journal = path.join(root, 'jobs');
  assert.deepEqual(readdirSync(journal, { withFileTypes: true }).length, 0, 'nothing journalled');
};

test('DNS rebinding: a page on a foreign name that resolves to 127.0.0.1 gets nothing, not the page, not the runs, not an upload', async () => {
  const page = await browser.newPage();
  try {
    for (const p of ['/', '/api/runs', '/api/info', '/api/jobs']) {
      const response = await page.goto(`http://evil.example:${appPort}${p}`);
      assert.equal(response?.status(), 421, p);
      assert.doesNotMatch(await page.content(), /worldwander-token|"token"|examples/, p);
    }
  } finally {
    await page.close();
  }
  for (const host of [
    'evil.example',
    `evil.example:${appPort}`,
    `127.0.0.1:${appPort + 1}`,
    `localhost.evil:${appPort}`,
  ])
    assert.equal((await raw('/api/runs', { headers: { host } })).status, 421, host);
  for (const host of [`127.0.0.1:${appPort}`, `localhost:${appPort}`, `[::1]:${appPort}`])
    assert.equal((await raw('/api/runs', { headers: { host } })).status, 200, host);
});

test('cross-site requests: a page on another origin posts forms and no-cors fetches to queue a job and cancel one; nothing is queued or cancelled', async () => {
  const token = ((await (await fetch(`${server.url}/api/info`)).json()) as { token?: string }).token ?? '';
  const running = await fetch(`${server.url}/api/jobs`, {
    method: 'POST',
    body: Object.entries({ task: 'three2one', example: 'sample_000000', steps: '200' }).reduce((f, [k, v]) => {
      f.append(k, v);
      return f;
    }, new FormData()),
    headers: { 'x-worldwander-token': token },
  });
  assert.equal(running.status, 202, 'the page of the app itself (with its token) may queue');
  const { id } = (await running.json()) as { id: string };
  jobId = id;
  const app = `http://127.0.0.1:${appPort}`;
  const evil = `http://evil.example:${appPort}`;
  hostilePage = `<!doctype html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" enctype="multipart/form-data" action="${app}/api/jobs" target="sink">
<input name="task" value="three2one"><input name="example" value="sample_000000"><input name="steps" value="200">
</form>
<script>
const loaded = new Promise((resolve) => document.querySelector('iframe').addEventListener('load', resolve, { once: true }));
document.getElementById('f').submit();
const form = () => { const f = new FormData(); f.append('task', 'three2one'); f.append('example', 'sample_000000'); f.append('steps', '200'); return f; };
const tries = [
  loaded,
  fetch('${app}/api/jobs', { method: 'POST', mode: 'no-cors', body: form() }),
  fetch('${app}/api/jobs', { method: 'POST', mode: 'no-cors', body: 'task=three2one&example=sample_000000', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
  fetch('${app}/api/jobs/${id}/cancel', { method: 'POST', mode: 'no-cors' }),
  fetch('${evil}/api/jobs/${id}/cancel', { method: 'POST', mode: 'no-cors' }),
  fetch('${app}/api/jobs', { method: 'POST', body: form(), headers: { 'x-worldwander-token': 'guess' } }).catch(() => 'blocked'),
  fetch('${app}/api/runs').then((r) => r.text()).catch(() => 'blocked'),
];
Promise.allSettled(tries).then((r) => { window.outcome = r.map((x) => x.status === 'fulfilled' ? String(x.value && x.value.type || x.value) : 'rejected'); });
</script></body>`;
  const page = await browser.newPage();
  try {
    await page.goto(hostileUrl);
    const outcome = (await (
      await page.waitForFunction(() => (window as { outcome?: string[] }).outcome)
    ).jsonValue()) as string[] | undefined;
    assert.ok(outcome, 'every attempt reached the app or was blocked');
    assert.equal(outcome!.at(-1), 'blocked', 'the runs cannot be read from another origin');
  } finally {
    await page.close();
  }
  const active = server.jobs.active();
  assert.deepEqual(
    active.map((e) => e.id),
    [id],
    'only the job the app itself queued, not cancelled',
  );
  const cancel = await fetch(`${server.url}/api/jobs/${id}/cancel`, {
    method: 'POST',
    headers: { 'x-worldwander-token': token },
  });
  assert.equal(cancel.status, 200);
  const events = await (await fetch(`${server.url}/api/jobs/${id}/events`)).text();
  assert.match(events, /event: cancelled/);
  nothingQueued();
});

test('a request that changes state needs the token, and a browser origin of its own: refused otherwise with a sentence', async () => {
  const form = 'task=three2one';
  const token = ((await (await fetch(`${server.url}/api/info`)).json()) as { token?: string }).token ?? '';
  const host = `127.0.0.1:${appPort}`;
  const cases: [string, Record<string, string>][] = [
    ['no token', { host }],
    ['a wrong token', { host, 'x-worldwander-token': 'x'.repeat(token.length) }],
    ['another origin', { host, origin: 'http://127.0.0.1:1', 'x-worldwander-token': token }],
    ['origin null', { host, origin: 'null', 'x-worldwander-token': token }],
    ['a cross-site fetch', { host, 'sec-fetch-site': 'cross-site', 'x-worldwander-token': token }],
  ];
  for (const [label, headers] of cases) {
    const answer = await raw('/api/jobs/abcdefgh-01234567/cancel', { method: 'POST', headers, body: form });
    assert.equal(answer.status, 403, label);
    assert.match(JSON.parse(answer.text).error as string, /another site|token/, label);
  }
  const own = await raw('/api/jobs/abcdefgh-01234567/cancel', {
    method: 'POST',
    headers: { host, origin: `http://${host}`, 'x-worldwander-token': token },
  });
  assert.equal(own.status, 404, 'with the token and its own origin the request reaches the route');
  nothingQueued();
});

test('the app cannot be framed by another page', async () => {
  hostilePage = `<!doctype html><body><iframe id="app" src="http://127.0.0.1:${appPort}/" width="800" height="600"></iframe></body>`;
  const page = await browser.newPage();
  try {
    await page.goto(hostileUrl);
    await page.waitForFunction(() => document.querySelector('iframe') !== null);
    const frames = page.frames().filter((f) => f !== page.mainFrame());
    assert.equal(frames.length, 1);
    const form = await frames[0]!.$('#job-form').catch(() => null);
    assert.equal(form, null, 'the app did not render inside the frame');
  } finally {
    await page.close();
  }
});

test('every answer carries the security headers: the page, its script, the API, files, errors, refusals, the event stream', async () => {
  const host = `127.0.0.1:${appPort}`;
  const answers = [
    await raw('/', { headers: { host } }),
    await raw('/app.js', { headers: { host } }),
    await raw('/api/info', { headers: { host } }),
    await raw('/api/runs', { headers: { host } }),
    await raw('/runs/abcdefgh-01234567/generated.mp4', { headers: { host } }),
    await raw('/nothing/here', { headers: { host } }),
    await raw('/api/runs', { headers: { host: 'evil.example' } }),
    await raw('/api/jobs', { method: 'POST', headers: { host } }),
    await raw(`/api/jobs/${jobId}/events`, { headers: { host } }),
  ];
  assert.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200, 404, 404, 421, 403, 200],
  );
  for (const [i, a] of answers.entries()) {
    assert.match(String(a.headers['content-security-policy']), /default-src 'self'.*frame-ancestors 'none'/, `${i}`);
    assert.equal(a.headers['x-content-type-options'], 'nosniff', `${i}`);
    assert.equal(a.headers['x-frame-options'], 'DENY', `${i}`);
    assert.equal(a.headers['cross-origin-resource-policy'], 'same-origin', `${i}`);
  }
  assert.doesNotMatch(answers[0]!.text, /<script>|<style>|style="/, 'nothing inline for the policy to forbid');
  const info = JSON.parse(answers[2]!.text) as { model: string };
  assert.equal(info.model, 'tiny_model', 'the model folder by name, not by its path on the server');
  assert.ok(
    !answers.some((a) => a.text.includes(scratch) || a.text.includes(repoRoot)),
    'no server path in any answer',
  );
});

test('the page itself works under its policy: no console error, no violation', async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  try {
    await page.goto(`http://localhost:${appPort}/`);
    await page.waitForSelector('body[data-ready=true]');
    assert.deepEqual(problems, []);
  } finally {
    await page.close();
  }
});
