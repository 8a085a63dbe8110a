import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { decodePng } from '../../src/data/png.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const cli = path.join(root, 'bin', 'worldwander.js');

test('worldwander demo makes the bundled dataset once, and a second run only checks it', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'ww-demo-'));
  const first = execFileSync(process.execPath, [cli, 'demo', '--out', out], { encoding: 'utf8' });
  assert.match(first, /^engine: libtorch \d/m);
  assert.match(first, /data: 16 samples written, 0 already there/);
  const manifest = JSON.parse(readFileSync(path.join(out, 'synthetic', 'manifest.json'), 'utf8'));
  assert.equal(manifest.status, 'complete');
  assert.equal(manifest.frames, 49);
  for (const folder of ['First_Video', 'Third_Video']) assert.ok(existsSync(path.join(out, 'synthetic', folder, `${manifest.samples[0].name}.mp4`)));
  const preview = decodePng(readFileSync(path.join(out, 'preview.png')));
  assert.ok(preview.width > 128 && preview.height > 128);
  const manifestBytes = readFileSync(path.join(out, 'synthetic', 'manifest.json'));
  const previewBytes = readFileSync(path.join(out, 'preview.png'));
  const second = execFileSync(process.execPath, [cli, 'demo', '--out', out], { encoding: 'utf8' });
  assert.match(second, /data: 0 samples written, 16 already there/);
  // nothing rewritten: the first run's manifest (with its stats) and contact sheet stay as they were
  assert.deepEqual(readFileSync(path.join(out, 'synthetic', 'manifest.json')), manifestBytes);
  assert.deepEqual(readFileSync(path.join(out, 'preview.png')), previewBytes);
});
