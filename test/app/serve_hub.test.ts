// `worldwander serve --model-dir OWNER/NAME`: a model from the Hub, as diffusers users name it,
// downloaded into an empty Hugging Face cache from a loopback Hub (test/helpers/fake_hub.ts), its
// prompt embeddings made by its text encoder into WorldWander's cache (the Hugging Face cache
// stays as huggingface_hub writes it), and an example translated with it.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { FakeHub, tinyModelFiles } from '../helpers/fake_hub.js';
import { startServeProcess } from '../helpers/serve_process.js';

const COMMIT = 'c0ffee'.padEnd(40, '0');
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-serve-hub-'));
const hub = await new FakeHub([{ repo: 'org/tiny', commit: COMMIT, files: tinyModelFiles() }]).start();
after(async () => {
  await hub.close();
  rmSync(scratch, { recursive: true, force: true });
});

test('serve a Hub model: downloaded into the cache once, named by its repository on the page, an example translated', async () => {
  const cache = path.join(scratch, 'hf');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
    HF_HOME: path.join(scratch, 'home'),
    WORLDWANDER_CACHE_DIR: path.join(scratch, 'ww-cache'),
  };
  delete env.HF_HUB_OFFLINE;
  const { child, url } = await startServeProcess(
    ['--model-dir', 'org/tiny', '--root', path.join(scratch, 'root')],
    env,
  );
  try {
    assert.ok(existsSync(path.join(cache, 'models--org--tiny', 'snapshots', COMMIT, 'transformer', 'config.json')));
    const info = (await (await fetch(`${url}/api/info`)).json()) as { model: string; token: string };
    assert.equal(info.model, 'org/tiny@main');
    const form = new FormData();
    for (const [k, v] of Object.entries({ task: 'three2one', example: 'sample_000000', steps: '2' })) form.append(k, v);
    const answer = await fetch(`${url}/api/jobs`, {
      method: 'POST',
      body: form,
      headers: { 'x-worldwander-token': info.token },
    });
    const { id } = (await answer.json()) as { id: string };
    const events = await (await fetch(`${url}/api/jobs/${id}/events`)).text();
    assert.match(events, /event: done/, events.slice(-400));
    assert.ok(
      readdirSync(path.join(scratch, 'ww-cache', 'prompt_embeds')).length > 0,
      "the prompt embeddings went to WorldWander's cache",
    );
    assert.ok(!readdirSync(path.join(cache, 'models--org--tiny', 'snapshots', COMMIT)).includes('prompt_embeds'));
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
});
