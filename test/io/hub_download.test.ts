// Downloads into the Hugging Face cache from a Hub on loopback (test/helpers/fake_hub.ts): the
// cache layout huggingface_hub writes, the token kept from a CDN of another origin, a connection
// dropped mid-file (resumed by a Range request, in the same run or the next), a killed run resumed,
// a wrong sha256 refused with nothing left in the snapshot, HF_HUB_OFFLINE, .no_exist, refusals.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { repoFolder } from '../../src/io/hub_cache.js';
import {
  fetchFiles,
  fetchHubFile,
  hubSettings,
  repoPattern,
  resolveRevision,
  type HubProgress,
  type HubSettings,
} from '../../src/io/hub_download.js';
import { repoRoot } from '../helpers/release_examples.js';
import { FakeHub, gitSha1, sha256 } from '../helpers/fake_hub.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'hub-download-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const CONFIG = Buffer.from('{"dim": 8}\n');
const WEIGHTS = randomBytes(300_000);
const BIG = randomBytes(9 << 20); // above the 8 MiB a download writes at a time
const files = { 'config.json': CONFIG, 'sub/weights.safetensors': WEIGHTS, 'big.safetensors': BIG };
const hub = await new FakeHub([
  { repo: 'org/model', commit: COMMIT, files },
  { repo: 'org/gated', commit: COMMIT, files, gatedToken: 'hf_right' },
]).start();
after(() => hub.close());

let caches = 0;
/** Settings for a fresh cache folder, as the environment would give them. */
function settings(env: NodeJS.ProcessEnv = {}): HubSettings {
  return hubSettings({
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: path.join(scratch, `cache-${++caches}`),
    HF_HOME: path.join(scratch, 'no-home'),
    ...env,
  });
}
const ref = { repo: 'org/model', revision: 'main' };
const storageOf = (s: HubSettings): string => repoFolder(s.cacheDir, 'org/model');
const quick = { retryDelayMs: 0 };

test('files land in the cache as huggingface_hub lays them out, and are not fetched again', async () => {
  const s = settings();
  const resolved = await resolveRevision(ref, s);
  assert.deepEqual(resolved, { commit: COMMIT, files: Object.keys(files) });
  const events: HubProgress[] = [];
  const snapshot = await fetchFiles(ref, COMMIT, ['config.json', 'sub/weights.safetensors'], s, {
    ...quick,
    onProgress: (p) => events.push({ ...p }),
  });
  const storage = storageOf(s);
  assert.equal(snapshot, path.join(storage, 'snapshots', COMMIT));
  assert.equal(readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), COMMIT);
  assert.deepEqual(readdirSync(path.join(storage, 'blobs')).sort(), [gitSha1(CONFIG), sha256(WEIGHTS)].sort());
  assert.equal(readlinkSync(path.join(snapshot, 'config.json')), `../../blobs/${gitSha1(CONFIG)}`);
  assert.equal(readlinkSync(path.join(snapshot, 'sub', 'weights.safetensors')), `../../../blobs/${sha256(WEIGHTS)}`);
  assert.deepEqual(readFileSync(path.join(snapshot, 'sub', 'weights.safetensors')), WEIGHTS);
  assert.deepEqual(events.at(-1), {
    label: 'org/model',
    done: CONFIG.length + WEIGHTS.length,
    total: CONFIG.length + WEIGHTS.length,
    resumed: 0,
  });
  const seen = hub.seen.length;
  await fetchFiles(ref, COMMIT, ['config.json', 'sub/weights.safetensors'], s, quick);
  assert.equal(hub.seen.length, seen, 'a file in the snapshot asks the Hub nothing');
});

test('the token goes to the Hub and not to the CDN the Hub redirects to', async () => {
  const s = settings({ HF_TOKEN: 'hf_right' });
  const start = hub.seen.length;
  await fetchHubFile({ repo: 'org/gated', revision: 'main', path: 'sub/weights.safetensors' }, s, quick);
  const seen = hub.seen.slice(start);
  assert.ok(seen.some((r) => r.host === 'cdn'));
  for (const r of seen) assert.equal(r.authorization, r.host === 'hub' ? 'Bearer hf_right' : undefined, r.url);
  await assert.rejects(
    fetchHubFile({ repo: 'org/gated', revision: 'main', path: 'config.json' }, settings(), quick),
    /^HubError: org\/gated: access is gated \(Access to this model is restricted\); .* set HF_TOKEN/,
  );
  await assert.rejects(
    resolveRevision({ repo: 'org/nothing', revision: 'main' }, settings()),
    /^HubError: org\/nothing: no such repository at http:\/\/127\.0\.0\.1:\d+, or it is private or gated and no token is set \(HF_TOKEN\)$/,
  );
  await assert.rejects(
    resolveRevision({ repo: 'org/model', revision: 'v9' }, settings()),
    /org\/model@v9: the Hub has no revision 'v9'/,
  );
});

test('a connection dropped mid-file leaves the .incomplete blob, and the next run resumes it with a Range request', async () => {
  const s = settings();
  const storage = storageOf(s);
  const partial = path.join(storage, 'blobs', `${sha256(WEIGHTS)}.incomplete`);
  hub.dropAfter.set('sub/weights.safetensors', 100_000);
  await assert.rejects(
    fetchFiles(ref, COMMIT, ['sub/weights.safetensors'], s, { ...quick, retries: 0 }),
    (error: Error) => {
      assert.match(
        error.message,
        /^org\/model: sub\/weights\.safetensors: the download broke off at \d+ of 300000 bytes \(.*\); run again to resume it from .*\.incomplete$/,
      );
      return true;
    },
  );
  const kept = statSync(partial).size;
  assert.ok(kept > 0 && kept <= 100_000, `${kept} bytes kept`);
  assert.ok(!existsSync(path.join(storage, 'blobs', sha256(WEIGHTS))));
  assert.ok(!existsSync(path.join(storage, 'snapshots', COMMIT, 'sub', 'weights.safetensors')));
  const start = hub.seen.length;
  const events: HubProgress[] = [];
  await fetchFiles(ref, COMMIT, ['sub/weights.safetensors'], s, { ...quick, onProgress: (p) => events.push({ ...p }) });
  assert.deepEqual(hub.cdnRangesSince(start), [`bytes=${kept}-`]);
  assert.equal(events[0]!.resumed, kept);
  assert.deepEqual(readFileSync(path.join(storage, 'snapshots', COMMIT, 'sub', 'weights.safetensors')), WEIGHTS);
  assert.ok(!existsSync(partial));
});

test('a dropped connection is resumed within the run', async () => {
  const s = settings();
  hub.dropAfter.set('sub/weights.safetensors', 50_000);
  const start = hub.seen.length;
  const file = await fetchHubFile({ ...ref, path: 'sub/weights.safetensors' }, s, quick);
  assert.deepEqual(readFileSync(file), WEIGHTS);
  const ranges = hub.cdnRangesSince(start);
  assert.equal(ranges.length, 2);
  assert.equal(ranges[0], undefined);
  assert.match(ranges[1]!, /^bytes=[1-9]\d*-$/);
});

test("a file whose bytes are not the Hub's sha256 is refused, and nothing is left of it", async () => {
  const s = settings();
  hub.wrongSha.add('sub/weights.safetensors');
  try {
    await assert.rejects(fetchHubFile({ ...ref, path: 'sub/weights.safetensors' }, s, quick), (error: Error) => {
      assert.equal(error.name, 'HubError');
      assert.equal(error.message.split('\n').length, 1);
      assert.match(
        error.message,
        new RegExp(
          `^org/model: sub/weights\\.safetensors: sha256 ${sha256(WEIGHTS)} does not match the Hub's [0-9a-f]{64}; the file is refused and removed$`,
        ),
      );
      return true;
    });
  } finally {
    hub.wrongSha.delete('sub/weights.safetensors');
  }
  const storage = storageOf(s);
  assert.deepEqual(readdirSync(path.join(storage, 'blobs')), []);
  assert.ok(!existsSync(path.join(storage, 'snapshots', COMMIT, 'sub', 'weights.safetensors')));
});

test('HF_HUB_OFFLINE: a file not in the cache is one line naming the repository and the variable, and no request', async () => {
  const s = settings({ HF_HUB_OFFLINE: '1' });
  const start = hub.seen.length;
  await assert.rejects(
    fetchHubFile({ ...ref, path: 'config.json' }, s, quick),
    new RegExp(
      `^HubError: config\\.json of org/model is not in the Hugging Face cache \\(${s.cacheDir}\\), and HF_HUB_OFFLINE=1 forbids downloading it$`,
    ),
  );
  assert.equal(hub.seen.length, start);
  assert.equal(settings({ HF_HUB_OFFLINE: 'true' }).offline, 'HF_HUB_OFFLINE=true');
  assert.equal(
    settings({ HF_HUB_OFFLINE: '0', TRANSFORMERS_OFFLINE: '1' }).offline,
    undefined,
    "huggingface_hub's precedence",
  );
  assert.equal(settings({ TRANSFORMERS_OFFLINE: 'yes' }).offline, 'TRANSFORMERS_OFFLINE=yes');
});

test('a file the Hub lacks is recorded in .no_exist, which an offline run then reports', async () => {
  const s = settings();
  await assert.rejects(
    fetchHubFile({ ...ref, path: 'lora/missing.safetensors' }, s, quick),
    new RegExp(`^HubError: org/model: the Hub has no file lora/missing\\.safetensors at commit ${COMMIT}$`),
  );
  const storage = storageOf(s);
  assert.equal(readFileSync(path.join(storage, '.no_exist', COMMIT, 'lora', 'missing.safetensors'), 'utf8'), '');
  assert.equal(readFileSync(path.join(storage, 'refs', 'main'), 'utf8'), COMMIT);
  await assert.rejects(
    fetchHubFile({ ...ref, path: 'lora/missing.safetensors' }, { ...s, offline: 'HF_HUB_OFFLINE=1' }, quick),
    /the Hub has no file lora\/missing\.safetensors at commit 0123456789abcdef0123456789abcdef01234567 \(recorded in the cache\)/,
  );
});

test('a run killed mid-file is resumed from the bytes it wrote', async () => {
  const s = settings();
  const module = pathToFileURL(path.join(repoRoot, 'dist/src/io/hub_download.js')).href;
  const script = `const { fetchHubFile, hubSettings } = await import(${JSON.stringify(module)});
await fetchHubFile({ repo: 'org/model', revision: 'main', path: 'big.safetensors' }, hubSettings());`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: s.cacheDir, WORLDWANDER_FAULT: 'hub-download' },
    stdio: 'inherit',
  });
  const signal = await new Promise((ok) => child.on('exit', (_code, sig) => ok(sig)));
  assert.equal(signal, 'SIGKILL', 'the fault point killed it after its first write');
  const partial = path.join(storageOf(s), 'blobs', `${sha256(BIG)}.incomplete`);
  const kept = statSync(partial).size;
  assert.ok(kept >= 8 << 20 && kept < BIG.length, `${kept} bytes kept`);
  const start = hub.seen.length;
  const file = await fetchHubFile({ ...ref, path: 'big.safetensors' }, s, quick);
  assert.deepEqual(hub.cdnRangesSince(start), [`bytes=${kept}-`]);
  assert.ok(readFileSync(file).equals(BIG));
});

test("include patterns match as huggingface_hub's fnmatch allow_patterns", () => {
  const match = (pattern: string, file: string): boolean => repoPattern(pattern).test(file);
  assert.ok(match('*.json', 'vae/config.json'), '* crosses folders');
  assert.ok(match('vae/', 'vae/config.json'), 'a folder means all below it');
  assert.ok(match('text_encoder/model-0000?-of-00003.safetensors', 'text_encoder/model-00002-of-00003.safetensors'));
  assert.ok(match('[!a]*.md', 'README.md'));
  assert.ok(!match('[!R]*.md', 'README.md'));
  assert.ok(!match('vae/*', 'transformer/config.json'));
  assert.ok(!match('model.safetensors', 'modelXsafetensors'), 'a dot is a dot');
});
