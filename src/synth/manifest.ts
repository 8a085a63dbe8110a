import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileFormatError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { LAYOUT, sampleName, type FileRecord, type OutputFormat } from './output.js';
import { makeSampleSpec, type SampleSpec } from './spec.js';

/** The parameters that decide a run's content; a resumed run must match them. */
export interface RunParameters {
  seed: number;
  width: number;
  height: number;
  frames: number;
  fps: number;
  format: OutputFormat;
}

export interface ManifestSample extends SampleSpec {
  name: string;
  /** Size and SHA-256 of the sample's outputs, once written: resume checks them. */
  files?: FileRecord[];
}

/**
 * The dataset's description, made only of what decides its content (no timings), so that the
 * same seed and parameters give a byte-identical folder, manifest included.
 */
export interface Manifest extends RunParameters {
  generator: 'worldwander synth';
  version: number;
  count: number;
  layout: typeof LAYOUT;
  /** 'running' until every sample is written. */
  status: 'running' | 'complete';
  samples: ManifestSample[];
}

export const MANIFEST_FILE = 'manifest.json';
/** Bumped whenever the same parameters would render different pixels or the manifest changes form. */
export const MANIFEST_VERSION = 3;
const DECIDING: (keyof RunParameters)[] = ['seed', 'width', 'height', 'frames', 'fps', 'format'];

export function makeManifest(parameters: RunParameters, count: number): Manifest {
  const samples = Array.from({ length: count }, (_, index) => ({
    name: sampleName(index),
    ...makeSampleSpec(parameters.seed, index),
  }));
  return {
    generator: 'worldwander synth',
    version: MANIFEST_VERSION,
    ...pick(parameters),
    count,
    layout: LAYOUT,
    status: 'running',
    samples,
  };
}

function pick(parameters: RunParameters): RunParameters {
  const { seed, width, height, frames, fps, format } = parameters;
  return { seed, width, height, frames, fps, format };
}

/** The manifest of the run in `out`, undefined when there is none; an unreadable one is an error naming the file. */
export async function readManifest(out: string): Promise<Manifest | undefined> {
  const file = join(out, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (error) {
    throw new FileFormatError(`${file}: not valid JSON (${(error as Error).message})`);
  }
  if (manifest?.generator !== 'worldwander synth' || !Array.isArray(manifest.samples))
    throw new FileFormatError(`${file} was not written by worldwander synth`);
  return manifest;
}

/** Written atomically: readable JSON with one line per sample. */
export async function writeManifest(out: string, manifest: Manifest): Promise<void> {
  const head = JSON.stringify({ ...manifest, samples: [] }, null, 2);
  const samples = manifest.samples.map((sample) => `    ${JSON.stringify(sample)}`).join(',\n');
  const text = head.replace('"samples": []', () =>
    manifest.samples.length ? `"samples": [\n${samples}\n  ]` : '"samples": []',
  );
  await writeFileAtomic(join(out, MANIFEST_FILE), `${text}\n`);
}

/**
 * The deciding parameters in which a manifest differs from a run's, as 'name value (the existing
 * run used ...)' lines.
 */
export function parameterDifferences(manifest: RunParameters, run: RunParameters): string[] {
  return DECIDING.filter((key) => manifest[key] !== run[key]).map(
    (key) => `${key} ${String(run[key])} (the existing run used ${String(manifest[key])})`,
  );
}
