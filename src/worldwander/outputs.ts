// What a translated case leaves on disk, the release's outputs and more, in OUTPUT/<case>/:
//   side_by_side.mp4   three2one [input | generated], one2three [ref | input | generated], then
//                      | ground truth when one is given (the release's video, at the config's fps)
//   generated.mp4      the generated view alone
//   frames/00000.png…  the generated view as PNG frames
//   run.json           what ran: model, LoRA, task, seed, steps, guidance, sizes, notes, seconds per stage
// The case is written into a temporary folder beside it (OUTPUT/<case>.tmp-<pid>) and renamed into
// place when whole, replacing an earlier run's only then: a run stopped at any point (a second
// Ctrl-C, a kill) leaves the earlier case or the new one, never a mix.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { coverFit, sideBySide, writePng, type RgbVideo } from '../data/frames.js';
import { writeVideo } from '../data/video_writer.js';
import { produceAtomically, writeFileAtomic } from '../io/atomic.js';
import { faultPoint } from '../io/fault.js';
import type { Translation } from './pipeline.js';
import type { Join, WholeClipTranslation } from './whole_clip.js';
import { jsonText } from '../io/json_text.js';

export interface CaseRecord {
  case: string;
  task: string;
  model: string;
  lora: string | null;
  input: string;
  /** The source seconds the input's frames were taken at (a video; frames folders: absent): first, last, rate. */
  window?: { start: number; end: number; fps: number };
  reference?: string;
  groundTruth?: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  seed: number;
  steps: number;
  guidance_scale: number;
  flow_shift: number;
  negative_prompt: string;
  use_collaborative_position_encoding: boolean;
  sampler: string;
  notes: string[];
  /** A whole clip (infer --whole): its windows and where each window after the first begins. */
  windows?: number;
  joins?: Join[];
  seconds: Translation['timings'] & { write: number };
}

/** What writeCase needs of a translation: one window's, or a whole clip's. */
export type WrittenTranslation = Omit<Translation, 'window'> & Partial<Pick<WholeClipTranslation, 'windows' | 'joins'>>;

function frameName(index: number): string {
  return `${String(index).padStart(5, '0')}.png`;
}

/** What a case's record says beyond the translation itself (its sizes, settings and timings come from it). */
export type CaseContext = Pick<
  CaseRecord,
  'case' | 'task' | 'model' | 'lora' | 'input' | 'window' | 'reference' | 'groundTruth' | 'fps'
>;

/**
 * Writes one case's outputs into `dir` (replacing an earlier run's) and returns the record.
 * `groundTruth`, when given, is fitted to the generated size and joins the side-by-side video.
 */
export async function writeCase(
  dir: string,
  translation: WrittenTranslation,
  context: CaseContext,
  groundTruth?: RgbVideo,
): Promise<CaseRecord> {
  return produceAtomically(dir, (temp) => writeCaseInto(temp, translation, context, groundTruth));
}

async function writeCaseInto(
  dir: string,
  translation: WrittenTranslation,
  context: CaseContext,
  groundTruth?: RgbVideo,
): Promise<CaseRecord> {
  const started = performance.now();
  const { width, height, frames } = translation;
  await mkdir(path.join(dir, 'frames'), { recursive: true });
  const truth = groundTruth
    ? await Promise.all(
        frames.map(
          async (_, i) =>
            (
              await coverFit(
                {
                  width: groundTruth.width,
                  height: groundTruth.height,
                  data: groundTruth.frames[Math.min(i, groundTruth.frames.length - 1)]!,
                },
                width,
                height,
              )
            ).data,
        ),
      )
    : null;
  const panels = frames.map((generated, i) => [
    ...(translation.reference ? [translation.reference] : []),
    translation.input[i]!,
    generated,
    ...(truth ? [truth[i]!] : []),
  ]);
  const columns = panels[0]!.length;
  const joined = panels.map((parts) => sideBySide(parts.map((data) => ({ width, height, data }))).data);
  await writeVideo(path.join(dir, 'side_by_side.mp4'), joined, { width: width * columns, height, fps: context.fps });
  await writeVideo(path.join(dir, 'generated.mp4'), frames, { width, height, fps: context.fps });
  faultPoint('case-write');
  for (let i = 0; i < frames.length; i++)
    await writePng(path.join(dir, 'frames', frameName(i)), { width, height, data: frames[i]! });
  const { case: name, task, model, lora, input, window, reference, groundTruth: truthSource, fps } = context;
  const t = translation.settings;
  const full: CaseRecord = {
    case: name,
    task,
    model,
    lora,
    input,
    ...(window ? { window } : {}),
    reference,
    groundTruth: truthSource,
    width,
    height,
    frames: frames.length,
    fps,
    seed: t.seed,
    steps: t.steps,
    guidance_scale: t.guidanceScale,
    flow_shift: t.flowShift,
    negative_prompt: t.negativePrompt,
    use_collaborative_position_encoding: t.useCollaborativePositionEncoding,
    sampler: t.sampler,
    notes: translation.notes,
    ...(translation.joins ? { windows: translation.windows, joins: translation.joins } : {}),
    seconds: { ...translation.timings, write: Number(((performance.now() - started) / 1000).toFixed(3)) },
  };
  await writeFileAtomic(path.join(dir, 'run.json'), jsonText(full, 2));
  return full;
}
