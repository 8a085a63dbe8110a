/// <reference lib="dom" />
// The results page in a real browser (Debian's chromium through playwright-core): it loads with no
// console error, every video has metadata of the clip's length and size, every image loads, and
// one play button drives all the players of a case together; the scrubber seeks them all.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { chromium, type Browser, type Page } from 'playwright-core';

import { evaluate } from '../../src/eval/evaluate.js';
import { PAGE_SCALE, writeResultsPage } from '../../src/eval/page.js';
import { LAYOUT } from '../../src/data/layout.js';
import { synthesize } from '../../src/synth/run.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const CLIP = { width: 48, height: 32, frames: 17, fps: 8 };
const dir = mkdtempSync(path.join(tmpdir(), 'ww-page-'));
let browser: Browser;
let page: Page;
const problems: string[] = [];

before(async () => {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: run \`bash scripts/setup.sh --test\` (installs Debian's chromium) or set CHROMIUM=/path/to/chromium`,
  );
  const data = path.join(dir, 'data');
  await synthesize({ seed: 11, count: 2, ...CLIP, format: 'mp4', out: data });
  // the data itself stands in for the predictions: the page does not care how good they are
  const sections = [];
  for (const task of ['three2one', 'one2three'] as const) {
    const report = await evaluate({ task, predictions: data, groundTruth: data, frames: CLIP.frames });
    const references =
      task === 'one2three'
        ? new Map(report.cases.map((c) => [c.case, path.join(data, LAYOUT.reference, `${c.case}.png`)]))
        : undefined;
    sections.push({ report, references });
  }
  const index = await writeResultsPage(path.join(dir, 'page'), { title: 'page test', fps: CLIP.fps, sections });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => problems.push(`failed request: ${r.url()} (${r.failure()?.errorText})`));
  await page.goto(pathToFileURL(index).href, { waitUntil: 'load' });
});

after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('every video plays in the browser: metadata with the clip length and size, no decode error', async () => {
  await page.waitForFunction(
    () => [...document.querySelectorAll('video')].every((v) => v.readyState >= 2 || v.error),
    null,
    { timeout: 30_000 },
  );
  const videos = await page.$$eval('video', (vs) =>
    vs.map((v) => ({
      src: v.getAttribute('src'),
      duration: v.duration,
      width: v.videoWidth,
      height: v.videoHeight,
      error: v.error?.message ?? null,
    })),
  );
  // per case: input, generated, ground truth; 2 cases, 2 tasks
  assert.equal(videos.length, 12);
  for (const v of videos) {
    assert.equal(v.error, null, `${v.src}: ${v.error}`);
    assert.ok(
      Math.abs(v.duration - CLIP.frames / CLIP.fps) < 0.15,
      `${v.src}: duration ${v.duration} s, expected ${CLIP.frames / CLIP.fps} s`,
    );
    assert.deepEqual(
      [v.width, v.height],
      [CLIP.width * PAGE_SCALE, CLIP.height * PAGE_SCALE],
      `${v.src}: frame size, ${PAGE_SCALE}x the clip's`,
    );
  }
  const images = await page.$$eval('img', (is) =>
    is.map((i) => ({ src: i.getAttribute('src'), ok: i.complete && i.naturalWidth > 0 })),
  );
  assert.ok(
    images.some((i) => i.src?.endsWith('_reference.png')),
    'the one2three reference images are on the page',
  );
  assert.ok(
    images.some((i) => i.src?.endsWith('.svg')),
    'the plots are on the page',
  );
  for (const i of images) assert.ok(i.ok, `${i.src} did not load`);
  assert.deepEqual(problems, []);
});

test('one play button starts every player of a case, they stay together, pause stops them all, the scrubber seeks them all', async () => {
  const group = page.locator('.players').first();
  const times = (): Promise<{ t: number[]; paused: boolean[] }> =>
    group.evaluate((g) => {
      const vs = [...g.querySelectorAll('video')];
      return { t: vs.map((v) => v.currentTime), paused: vs.map((v) => v.paused) };
    });
  await group.locator('button').click();
  // wait (on a condition, not a clock) until the leader is well into the clip
  await group.evaluate(
    (g) =>
      new Promise<void>((resolve) => {
        const leader = g.querySelector('video')!;
        const check = (): void => {
          if (leader.currentTime > 0.6) resolve();
          else requestAnimationFrame(check);
        };
        check();
      }),
  );
  const playing = await times();
  assert.deepEqual(playing.paused, [false, false, false], 'all three players play');
  assert.ok(
    Math.max(...playing.t) - Math.min(...playing.t) < 0.25,
    `players drifted apart while playing: ${playing.t.join(', ')}`,
  );
  await group.locator('button').click();
  const paused = await times();
  assert.deepEqual(paused.paused, [true, true, true], 'pause stops every player');
  assert.ok(
    Math.max(...paused.t) - Math.min(...paused.t) <= 0.05 + 1e-9,
    `after pause the followers are at the leader's time: ${paused.t.join(', ')}`,
  );
  await group.locator('input[type=range]').evaluate((input: HTMLInputElement) => {
    input.value = '1.5';
    input.dispatchEvent(new Event('input'));
  });
  const seeked = await times();
  for (const t of seeked.t) assert.ok(Math.abs(t - 1.5) < 0.01, `scrubbed to 1.5 s, a player is at ${t}`);
  assert.equal(await group.locator('.clock').textContent(), `1.50 / ${(CLIP.frames / CLIP.fps).toFixed(2)} s`);
  assert.deepEqual(problems, []);
});

test('a screenshot of the page renders (the page is not blank)', async () => {
  const file = path.join(dir, 'page.png');
  await page.screenshot({ path: file, fullPage: true });
  assert.ok(statSync(file).size > 10_000, 'a full-page screenshot of real content');
});
