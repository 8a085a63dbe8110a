// The transformer's outputs as a decoder's training data (src/train/generated_latents.ts), on the
// tiny model folder: what is stored is exactly what translate() decodes; a second run keeps every
// file; a folder of another model or split is refused, named.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { synthesize } from '../../src/synth/run.js';
import { SafetensorsFile, noGrad, scope } from '../../src/torch/index.js';
import { tensorToFrames } from '../../src/data/video_tensor.js';
import { WorldWanderPipeline } from '../../src/worldwander/pipeline.js';
import {
  generatedSeed,
  listGeneratedLatents,
  readGeneratedSource,
  writeGeneratedLatents,
} from '../../src/train/generated_latents.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'generated-latents-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
// a copy: the writer's pipeline fills the model folder's prompt cache
const model = path.join(scratch, 'model');
cpSync('test/fixtures/tiny_model', model, { recursive: true });
const data = path.join(scratch, 'data');
const ready = synthesize({ out: data, count: 3, width: 64, height: 32, frames: 5, fps: 8, seed: 4, format: 'mp4' });

test('one file per case and task holding the latents translate() decodes; a second run keeps them all', async () => {
  await ready;
  const out = path.join(scratch, 'generated');
  assert.deepEqual(await writeGeneratedLatents({ model, data, out, cases: 2 }), { written: 4, kept: 0 });
  const files = listGeneratedLatents(out);
  assert.deepEqual(
    files.map((f) => `${f.task}/${f.case}`),
    ['three2one/sample_000000', 'three2one/sample_000001', 'one2three/sample_000000', 'one2three/sample_000001'],
  );
  const one2three = SafetensorsFile.open(files[3]!.file);
  assert.deepEqual(one2three.metadata, {
    task: 'one2three',
    case: 'sample_000001',
    seed: String(generatedSeed('sample_000001')),
  });
  using pipeline = WorldWanderPipeline.fromPretrained(model);
  const translation = await pipeline.translate('one2three', {
    video: path.join(data, 'First_Video', 'sample_000001.mp4'),
    referenceImage: path.join(data, 'Reference_Image', 'sample_000001.png'),
    seed: generatedSeed('sample_000001'),
  });
  const decoded = noGrad(() => scope(() => tensorToFrames(pipeline.vae.decode(one2three.get('latents')))));
  assert.deepEqual(decoded, translation.frames, 'the stored latents decode to the translation, frame for frame');
  const before = files.map((f) => readFileSync(f.file));
  assert.deepEqual(await writeGeneratedLatents({ model, data, out, cases: 2 }), { written: 0, kept: 4 });
  assert.deepEqual(
    files.map((f) => readFileSync(f.file)),
    before,
  );
  assert.deepEqual(readGeneratedSource(out).data, path.resolve(data));
});

test('a folder of another model, split or transformer is refused, naming them', async () => {
  await ready;
  const out = path.join(scratch, 'other');
  await writeGeneratedLatents({ model, data, out, cases: 1 });
  const elsewhere = path.join(scratch, 'model-copy');
  cpSync(model, elsewhere, { recursive: true });
  await assert.rejects(
    writeGeneratedLatents({ model: elsewhere, data, out, cases: 1 }),
    /other: holds latents of .*model on .*data; asked for .*model-copy on .*data: choose another folder/,
  );
  const config = path.join(elsewhere, 'transformer', 'config.json');
  const other = path.join(scratch, 'other-transformer');
  await writeGeneratedLatents({ model: elsewhere, data, out: other, cases: 1 });
  writeFileSync(config, `${readFileSync(config, 'utf8')}\n`); // another config: other weights for all it knows
  await assert.rejects(
    writeGeneratedLatents({ model: elsewhere, data, out: other, cases: 1 }),
    /other-transformer: made with other transformer weights than .*model-copy's now/,
  );
  assert.throws(() => listGeneratedLatents(scratch), /no source\.json; not a folder of generated latents/);
});
