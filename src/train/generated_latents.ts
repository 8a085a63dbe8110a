// The transformer's own outputs as training data for its decoder: for each case of a split in the
// release layout, the latents a model folder's pipeline denoises for both tasks (its shipped
// sampling settings, a seed of its own per case), one file per case and task:
//   OUT/<task>/<case>.safetensors   latents [1, z_dim, F', H', W'] as the VAE decodes them
//   OUT/source.json                 the model folder, its transformer's identity, and the split
// A decoder fine-tuned on them (train-vae's data.generated) learns to decode what the transformer
// makes, not only what the encoder makes; the target of each file is the first frames of its
// case's other view in the same split. Each file is written atomically and kept: a run that stops
// resumes where it stopped, and one over another model's, split's or transformer's folder is refused.
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { ConfigError } from '../worldwander/config.js';
import { WorldWanderPipeline } from '../worldwander/pipeline.js';
import { TASK_VIEWS, type WorldWanderTask } from '../worldwander/prompts.js';
import { LAYOUT, imageNamed, viewEntries } from '../data/layout.js';
import { saveSafetensors } from '../torch/index.js';
import { weightsIdentity } from '../data/latent_cache.js';
import { modelFiles } from '../worldwander/model_folder.js';
import { jsonText } from '../io/json_text.js';
import { sampleSeed } from './data.js';

export const GENERATED_TASKS: readonly WorldWanderTask[] = ['three2one', 'one2three'];

export interface GeneratedSource {
  /** The model folder (real path) whose pipeline made the latents. */
  model: string;
  /** Its transformer's identity (config and weights digests): retrained weights make other latents. */
  transformer: string;
  /** The split folder (real path, release layout) of the inputs and the targets. */
  data: string;
}

export interface GeneratedLatentsOptions {
  model: string;
  /** A split folder in the release layout (First_Video, Third_Video, Reference_Image). */
  data: string;
  out: string;
  /** The first `cases` cases of the split, by name (all when omitted). */
  cases?: number;
  onProgress?: (done: number, total: number, file: string) => void;
  signal?: AbortSignal;
}

/** The seed of a case's noise: fixed by its name, so a resumed run makes the same files. */
export function generatedSeed(caseName: string): number {
  return Number(sampleSeed(caseName, 'generated-latents') % 2n ** 31n);
}

/** Reads OUT/source.json; names the folder when it is missing or not one. */
export function readGeneratedSource(dir: string): GeneratedSource {
  const file = path.join(dir, 'source.json');
  if (!existsSync(file))
    throw new ConfigError(`${dir}: no source.json; not a folder of generated latents (scripts/generated-latents.ts)`);
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<GeneratedSource>;
  if (typeof raw.model !== 'string' || typeof raw.transformer !== 'string' || typeof raw.data !== 'string')
    throw new ConfigError(
      `${file}: expected {"model": "...", "transformer": "...", "data": "..."}, got ${jsonText(raw)}`,
    );
  return { model: raw.model, transformer: raw.transformer, data: raw.data };
}

export async function writeGeneratedLatents(o: GeneratedLatentsOptions): Promise<{ written: number; kept: number }> {
  const files = modelFiles(o.model);
  const source: GeneratedSource = {
    model: realpathSync(o.model),
    transformer: weightsIdentity(
      files.transformer.weights ?? files.transformer.dir,
      path.join(files.transformer.dir, 'config.json'),
    ),
    data: realpathSync(o.data),
  };
  mkdirSync(o.out, { recursive: true });
  if (existsSync(path.join(o.out, 'source.json'))) {
    const was = readGeneratedSource(o.out);
    if (was.model !== source.model || was.data !== source.data)
      throw new ConfigError(
        `${o.out}: holds latents of ${was.model} on ${was.data}; asked for ${source.model} on ${source.data}: choose another folder`,
      );
    if (was.transformer !== source.transformer)
      throw new ConfigError(
        `${o.out}: made with other transformer weights than ${o.model}'s now (${was.transformer}, now ${source.transformer}): remove the folder to make them anew`,
      );
  } else writeFileSync(path.join(o.out, 'source.json'), jsonText(source, 2));
  const third = viewEntries(path.join(o.data, LAYOUT.third)),
    first = viewEntries(path.join(o.data, LAYOUT.first));
  const names = [...third.keys()].filter((n) => first.has(n)).slice(0, o.cases);
  const jobs = GENERATED_TASKS.flatMap((task) => names.map((name) => ({ task, name })));
  using pipeline = WorldWanderPipeline.fromPretrained(o.model);
  let written = 0,
    kept = 0;
  for (const [k, { task, name }] of jobs.entries()) {
    if (o.signal?.aborted) break;
    const file = path.join(o.out, task, `${name}.safetensors`);
    if (existsSync(file)) kept++;
    else {
      const reference = imageNamed(path.join(o.data, LAYOUT.reference), name);
      if (task === 'one2three' && !reference)
        throw new ConfigError(`${path.join(o.data, LAYOUT.reference)}: no reference image for ${name}`);
      const seed = generatedSeed(name);
      const result = await pipeline.translateLatents(task, {
        video: { first, third }[TASK_VIEWS[task].input].get(name)!,
        referenceImage: reference,
        seed,
        signal: o.signal,
      });
      using latents = result.latents;
      mkdirSync(path.dirname(file), { recursive: true });
      saveSafetensors(file, { latents }, { task, case: name, seed: String(seed) });
      written++;
    }
    o.onProgress?.(k + 1, jobs.length, file);
  }
  return { written, kept };
}

export interface GeneratedLatent {
  file: string;
  task: WorldWanderTask;
  case: string;
}

/** The files of a generated-latents folder, task by task, cases by name. */
export function listGeneratedLatents(dir: string): GeneratedLatent[] {
  readGeneratedSource(dir);
  return GENERATED_TASKS.flatMap((task) => {
    const folder = path.join(dir, task);
    if (!existsSync(folder)) return [];
    return readdirSync(folder)
      .filter((n) => n.endsWith('.safetensors'))
      .sort()
      .map((n) => ({ file: path.join(folder, n), task, case: n.slice(0, -'.safetensors'.length) }));
  });
}
