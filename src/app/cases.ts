// What `infer` translates: one video (a file or a frames folder), or every case of a folder in the
// release's layout (Third_Video/ for three2one; First_Video/ with Reference_Image/ for one2three),
// matched by name. Ground truth, when asked for, is the other view of the same name.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError, OptionError } from '../errors.js';
import { isVideoFile } from '../data/frames.js';
import { LAYOUT, caseName, imageNamed, isReleaseLayout, isVideoEntry, viewEntries } from '../data/layout.js';
import { TASK_VIEWS, type WorldWanderTask } from '../worldwander/prompts.js';

export interface Case {
  name: string;
  /** The condition view: a video file or a frames folder. */
  video: string;
  /** one2three: the reference image file. */
  reference?: string;
  /** The other view of the same moment, when known. */
  groundTruth?: string;
}

export interface CaseOptions {
  task: WorldWanderTask;
  /** A video file, a frames folder, or a folder in the release layout. */
  input: string;
  /** one2three with a single video: an image file, or a folder holding `<case>.<ext>`. */
  ref?: string;
  /** true: the other view of the release layout; a path: a video, frames folder or release-layout folder. */
  groundTruth?: string | true;
}

/** The cases to translate, each checked to exist; an error names what is missing and where. */
export function findCases({ task, input, ref, groundTruth }: CaseOptions): Case[] {
  const info = statSync(input, { throwIfNoEntry: false });
  if (!info) throw new OptionError('input', `${input} does not exist`);
  const inputView = LAYOUT[TASK_VIEWS[task].input];
  const targetView = LAYOUT[TASK_VIEWS[task].target];
  let cases: Case[];
  if (info.isDirectory() && isReleaseLayout(input)) {
    const views = path.join(input, inputView);
    if (!existsSync(views))
      throw new FileFormatError(`${input}: the release layout has no ${inputView}/ (${task} translates ${inputView})`);
    const found = viewEntries(views);
    if (found.size === 0) throw new FileFormatError(`${views}: no videos or frame folders`);
    cases = [...found].map(([name, video]) => ({ name, video }));
    if (task === 'one2three' && !ref) {
      const refs = path.join(input, LAYOUT.reference);
      for (const c of cases) {
        c.reference = existsSync(refs) ? imageNamed(refs, c.name) : undefined;
        if (!c.reference)
          throw new FileFormatError(
            `${input}: case '${c.name}' has no reference image ${LAYOUT.reference}/${c.name}.png (one2three needs one)`,
          );
      }
    }
    if (groundTruth === true) {
      const truths = existsSync(path.join(input, targetView))
        ? viewEntries(path.join(input, targetView))
        : new Map<string, string>();
      for (const c of cases) c.groundTruth = truths.get(c.name);
    }
  } else if (info.isFile() && !isVideoFile(input)) {
    throw new OptionError(
      'input',
      `${input} is not a video file, a folder of frames, or a folder in the release layout`,
    );
  } else if (info.isDirectory() && !isVideoEntry(input)) {
    throw new OptionError(
      'input',
      `${input} holds no image frames and is not in the release layout (${LAYOUT.first}/, ${LAYOUT.third}/)`,
    );
  } else {
    cases = [{ name: caseName(input), video: input }];
    if (groundTruth === true)
      throw new OptionError(
        'groundTruth',
        'without a value needs an input folder in the release layout (the other view is the ground truth); give the ground-truth video instead',
      );
  }
  if (ref) {
    if (task !== 'one2three') throw new OptionError('ref', 'is for one2three (three2one takes no reference image)');
    const refInfo = statSync(ref, { throwIfNoEntry: false });
    if (!refInfo) throw new OptionError('ref', `${ref} does not exist`);
    for (const c of cases) {
      c.reference = refInfo.isDirectory() ? imageNamed(ref, c.name) : ref;
      if (!c.reference) throw new OptionError('ref', `${ref} holds no image named ${c.name} (for case '${c.name}')`);
    }
  }
  if (task === 'one2three') {
    for (const c of cases)
      if (!c.reference)
        throw new OptionError(
          'ref',
          `one2three needs the character's reference image for '${c.name}': give --ref IMAGE, or an input folder in the release layout with ${LAYOUT.reference}/`,
        );
  }
  if (typeof groundTruth === 'string') {
    const truth = statSync(groundTruth, { throwIfNoEntry: false });
    if (!truth) throw new OptionError('groundTruth', `${groundTruth} does not exist`);
    if (truth.isDirectory() && isReleaseLayout(groundTruth)) {
      const truths = viewEntries(path.join(groundTruth, targetView));
      for (const c of cases) c.groundTruth = truths.get(c.name);
    } else {
      if (cases.length !== 1)
        throw new OptionError(
          'groundTruth',
          'one video as ground truth fits one case; give a folder in the release layout for several',
        );
      cases[0]!.groundTruth = groundTruth;
    }
  }
  return cases;
}
