// The pipeline from a folder in the original Wan-AI release's layout (helpers/original_release.ts)
// and from single files in place of a folder's parts: the same frames as the diffusers folder's.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { writePng } from '../../src/data/frames.js';
import { WorldWanderPipeline } from '../../src/worldwander/pipeline.js';
import { modelFiles, modelFolderLayout } from '../../src/worldwander/model_folder.js';
import { SampleRenderer } from '../../src/synth/sample.js';
import { makeSampleSpec } from '../../src/synth/spec.js';
import { ORIGINAL_PARTS, TINY_MODEL, TINY_VAE_CONFIG, originalReleaseFolder } from '../helpers/original_release.js';

const TINY = TINY_MODEL;
const PARTS = ORIGINAL_PARTS;
const scratch = mkdtempSync(path.join(tmpdir(), 'ww-original-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

async function frames(): Promise<string> {
  const renderer = new SampleRenderer(makeSampleSpec(5, 0), { width: 64, height: 32, frames: 5, fps: 8 });
  const dir = path.join(scratch, 'third');
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 5; i++)
    await writePng(path.join(dir, `${String(i).padStart(5, '0')}.png`), {
      width: 64,
      height: 32,
      data: renderer.thirdPerson(i),
    });
  return dir;
}

const same = (a: Uint8Array[], b: Uint8Array[]): boolean =>
  a.length === b.length && a.every((f, i) => Buffer.from(f).equals(Buffer.from(b[i]!)));

test('a folder in the original release layout translates to the same frames as the diffusers folder (its prompts encoded by the .pth encoder)', async () => {
  const dir = originalReleaseFolder(scratch);
  assert.equal(modelFolderLayout(dir), 'original');
  assert.equal(modelFolderLayout(TINY), 'diffusers');
  const video = await frames();
  const diffusers = WorldWanderPipeline.fromPretrained(TINY, {
    promptCacheDir: path.join(scratch, 'prompts-diffusers'),
  });
  const expected = await diffusers.three2one({ video, seed: 11 });
  diffusers.dispose();
  // The tiny VAE's shapes are not Wan2.2's, so its latent statistics come from a config.json.
  assert.throws(
    () => WorldWanderPipeline.fromPretrained(dir),
    /Wan2\.2_VAE\.pth: a VAE of other shapes than Wan2\.2's .*give its config\.json \(--vae-config\)/,
  );
  const original = WorldWanderPipeline.fromPretrained(dir, {
    vaeConfig: TINY_VAE_CONFIG,
    promptCacheDir: path.join(scratch, 'prompts-original'),
  });
  const got = await original.three2one({ video, seed: 11 });
  original.dispose();
  assert.ok(same(got.frames, expected.frames), 'the same frames');
});

test("single files in place of a diffusers folder's parts (--vae, --text-encoder) give the same frames; a missing file is named", async () => {
  const video = await frames();
  const reference = WorldWanderPipeline.fromPretrained(TINY, { promptCacheDir: path.join(scratch, 'prompts-a') });
  const expected = await reference.three2one({ video, seed: 12 });
  reference.dispose();
  const pipeline = WorldWanderPipeline.fromPretrained(TINY, {
    vaeFile: path.join(PARTS, 'wan2.2_vae.safetensors'),
    vaeConfig: TINY_VAE_CONFIG,
    textEncoderFile: path.join(PARTS, 'models_t5_umt5-xxl-enc-bf16.pth'),
    promptCacheDir: path.join(scratch, 'prompts-b'),
  });
  const got = await pipeline.three2one({ video, seed: 12 });
  pipeline.dispose();
  assert.ok(same(got.frames, expected.frames));
  assert.throws(
    () => modelFiles(TINY, { vae: path.join(scratch, 'nope.pth') }),
    (e: Error & { option?: string }) => e.message.includes('nope.pth is not a file'),
  );
  assert.throws(
    () => modelFiles(scratch),
    /is not a Wan2\.2-TI2V-5B folder: diffusers \(transformer\/, vae\/, text_encoder\/, tokenizer\/\) or the original release/,
  );
});
