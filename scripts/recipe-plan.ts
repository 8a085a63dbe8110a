// The recipe as data (configs/small/recipe.yaml): its schema, each stage's command line with its
// placeholders filled, which stages a run needs, which are done, and the time left. The runner is
// scripts/recipe.ts; the built-in stages (model-folder, part-bf16) are scripts/recipe-parts.ts.
//
// In a stage's `run` (split on spaces, then each word filled in):
//   {out}          the recipe's folder; {output} the stage's own, {out}/<name>
//   {steps} {decay} {every} {keep} {count}   the stage's numbers (under --quick its `quick` ones)
//   {precision}    bf16-mixed where the CPU has fast bfloat16 instructions, else 32
//   {STAGE}        an earlier stage's folder (or its committed copy, with --from-committed)
//   {STAGE:PATH}   PATH in an earlier stage's result: a training stage's kept checkpoint
//                  (checkpoints/step-<keep, else steps>/PATH), any other stage's folder
// A training stage (train, train-vae, train-perception) is done when its output holds the
// checkpoint of its last step (train-perception: its exported network); any other when the
// runner's note says its command ended well. A stopped stage resumes where it stopped: the
// trainers with --resume latest, synth with --resume, the scripts by themselves.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const numbers = {
  steps: z.number().int().positive().optional(),
  decay: z.number().int().min(0).optional(),
  every: z.number().int().positive().optional(),
  keep: z.number().int().positive().optional(),
  count: z.number().int().positive().optional(),
  /** Wall time of the stage here, at the stage's size, for the estimate of the time left. */
  minutes: z.number().positive(),
};

const StageSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case words joined by -'),
  /** What the stage is, in a few words (printed with --dry-run). */
  what: z.string(),
  run: z.string(),
  ...numbers,
  /** The numbers of --quick (minutes: else scaled from the full stage by steps or count). */
  quick: z.strictObject({ ...numbers, minutes: numbers.minutes.optional() }).optional(),
  /** A folder in the repository holding this stage's result, which --from-committed takes instead of running it. */
  committed: z.string().optional(),
});

const RecipeSchema = z.strictObject({
  /** The recipe's folder: full size, and --quick. */
  out: z.string(),
  quick_out: z.string(),
  stages: z.array(StageSchema).min(1),
});

export type Stage = z.infer<typeof StageSchema>;
export type Recipe = z.infer<typeof RecipeSchema>;

/** Commands whose stage is done when its output holds the checkpoint of its last step. */
export const TRAINING = ['train', 'train-vae', 'train-perception'] as const;
/** Where the runner notes each stage whose command ended well: {out}/.recipe-done/<name>.json (not in the stage's folder, which others copy). */
export const doneMarker = (out: string, name: string): string => path.join(out, '.recipe-done', `${name}.json`);

const PLACEHOLDER = /\{([a-z0-9-]+)(?::([^}]*))?\}/g;

export class RecipeError extends Error {
  override name = 'RecipeError';
}

/** Reads and checks a recipe: its schema, unique names, every placeholder known, every reference to an earlier stage. */
export function loadRecipe(file: string): Recipe {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RecipeError(`${file}: ${(error as Error).message}`);
  }
  const parsed = RecipeSchema.safeParse(raw);
  if (!parsed.success)
    throw new RecipeError(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const recipe = parsed.data;
  const seen = new Set<string>();
  for (const stage of recipe.stages) {
    const where = `${file}: stage ${stage.name}`;
    if (seen.has(stage.name)) throw new RecipeError(`${where}: a second stage of that name`);
    if (isTraining(stage) && !stage.steps) throw new RecipeError(`${where}: a training stage needs steps`);
    if (isTraining(stage) && stage.committed)
      throw new RecipeError(`${where}: committed results are for stages without checkpoints`);
    for (const [, name, sub] of stage.run.matchAll(PLACEHOLDER)) {
      const isNumber = (NUMBERS as readonly string[]).includes(name!);
      if (sub === undefined && (VALUES.includes(name!) || isNumber)) {
        if (isNumber && stage[name as (typeof NUMBERS)[number]] === undefined)
          throw new RecipeError(`${where}: {${name}} but the stage has no ${name}`);
        continue;
      }
      if (!seen.has(name!))
        throw new RecipeError(`${where}: {${name}${sub === undefined ? '' : `:${sub}`}} is no earlier stage`);
    }
    seen.add(stage.name);
  }
  return recipe;
}

const VALUES = ['out', 'output', 'precision'];
const NUMBERS = ['steps', 'decay', 'every', 'keep', 'count'] as const;

export const commandOf = (stage: Stage): string => stage.run.trim().split(/\s+/)[0]!;
export const isTraining = (stage: Stage): boolean => (TRAINING as readonly string[]).includes(commandOf(stage));

/** How a run goes: the folder, full size or quick, committed results taken or not, and the CPU's precision. */
export interface Profile {
  out: string;
  quick: boolean;
  fromCommitted: boolean;
  precision: 'bf16-mixed' | '32';
}

/** The stage's numbers under the profile. */
export function numbersOf(stage: Stage, quick: boolean): Pick<Stage, (typeof NUMBERS)[number] | 'minutes'> {
  const full = { steps: stage.steps, decay: stage.decay, every: stage.every, keep: stage.keep, count: stage.count };
  if (!quick || !stage.quick) return { ...full, minutes: stage.minutes };
  const q = { ...full, ...stage.quick };
  const main = stage.steps ? q.steps! / stage.steps : stage.count ? q.count! / stage.count : 1;
  return { ...q, minutes: stage.quick.minutes ?? stage.minutes * main };
}

/** Where a stage's result is: its folder, or with --from-committed its committed copy. */
export function folderOf(recipe: Recipe, name: string, profile: Profile): string {
  const stage = recipe.stages.find((s) => s.name === name)!;
  return profile.fromCommitted && stage.committed ? stage.committed : path.join(profile.out, name);
}

/** A training stage's kept checkpoint folder (its `keep`, else its last step). */
export function resultOf(recipe: Recipe, name: string, profile: Profile): string {
  const stage = recipe.stages.find((s) => s.name === name)!;
  const folder = folderOf(recipe, name, profile);
  if (!isTraining(stage) || commandOf(stage) === 'train-perception') return folder;
  const n = numbersOf(stage, profile.quick);
  return path.join(folder, 'checkpoints', `step-${n.keep ?? n.steps}`);
}

/** The stage's command line, word by word, with its placeholders filled. */
export function commandLine(recipe: Recipe, stage: Stage, profile: Profile): string[] {
  const n = numbersOf(stage, profile.quick);
  const values: Record<string, string> = {
    out: profile.out,
    output: path.join(profile.out, stage.name),
    precision: profile.precision,
  };
  return stage.run
    .trim()
    .split(/\s+/)
    .map((word) =>
      word.replace(PLACEHOLDER, (_, name: string, sub: string | undefined) => {
        if (sub === undefined && name in values) return values[name]!;
        if (sub === undefined && (NUMBERS as readonly string[]).includes(name))
          return String(n[name as (typeof NUMBERS)[number]]);
        if (sub === undefined) return folderOf(recipe, name, profile);
        return path.join(resultOf(recipe, name, profile), sub);
      }),
    );
}

/** The stages a stage reads from (the names in its placeholders). */
export function inputsOf(stage: Stage): string[] {
  const names = [...stage.run.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  return [...new Set(names.filter((n) => !VALUES.includes(n) && !(NUMBERS as readonly string[]).includes(n)))];
}

/**
 * The stages a run needs, in the recipe's order: `target` (default: every stage) and what it reads,
 * transitively; with --from-committed a committed stage is a leaf, taken from the repository.
 */
export function neededStages(recipe: Recipe, profile: Profile, target?: string): Stage[] {
  if (target === undefined) {
    if (!profile.fromCommitted) return recipe.stages;
    // every stage not made unnecessary by a committed one: the closure of those nothing else reads
    const read = new Set(recipe.stages.flatMap(inputsOf));
    return closure(
      recipe,
      profile,
      recipe.stages.filter((s) => !read.has(s.name)).map((s) => s.name),
    );
  }
  if (!recipe.stages.some((s) => s.name === target))
    throw new RecipeError(`no stage ${target}; the stages: ${recipe.stages.map((s) => s.name).join(', ')}`);
  return closure(recipe, profile, [target]);
}

function closure(recipe: Recipe, profile: Profile, targets: string[]): Stage[] {
  const needed = new Set<string>();
  const visit = (name: string, asInput: boolean): void => {
    if (needed.has(name)) return;
    const stage = recipe.stages.find((s) => s.name === name)!;
    if (asInput && profile.fromCommitted && stage.committed) return; // taken from the repository
    needed.add(name);
    for (const input of inputsOf(stage)) visit(input, true);
  };
  for (const target of targets) visit(target, false);
  return recipe.stages.filter((s) => needed.has(s.name));
}

/** A stage is done when its result is there (see the top of this file). */
export function isDone(recipe: Recipe, stage: Stage, profile: Profile): boolean {
  const folder = path.join(profile.out, stage.name);
  const command = commandOf(stage);
  if (command === 'train-perception') return existsSync(path.join(folder, 'perception', 'model.safetensors'));
  if (isTraining(stage))
    return existsSync(
      path.join(folder, 'checkpoints', `step-${numbersOf(stage, profile.quick).steps}`, 'trainer_state.json'),
    );
  return existsSync(doneMarker(profile.out, stage.name));
}

/** Whether a stopped stage has something to resume from: checkpoints, or synth's manifest. */
export function resumeFlags(stage: Stage, folder: string): string[] {
  const command = commandOf(stage);
  if (isTraining(stage)) {
    const checkpoints = path.join(folder, 'checkpoints');
    const any = existsSync(checkpoints) && readdirSync(checkpoints).some((n) => /^step-\d+$/.test(n));
    return any ? ['--resume', 'latest'] : [];
  }
  if (command === 'synth' && existsSync(path.join(folder, 'manifest.json'))) return ['--resume'];
  return [];
}

/** Minutes as people say them: "2 h 05 min", "7 min", "under a minute". */
export function duration(minutes: number): string {
  if (minutes < 1) return 'under a minute';
  const whole = Math.round(minutes);
  if (whole < 60) return `${whole} min`;
  return `${Math.floor(whole / 60)} h ${String(whole % 60).padStart(2, '0')} min`;
}

/** The plan, a line per stage: what it is, its command, and whether it is done (--dry-run). */
export function describePlan(recipe: Recipe, profile: Profile, stages: readonly Stage[]): string[] {
  const lines: string[] = [];
  let left = 0;
  stages.forEach((stage, i) => {
    const done = isDone(recipe, stage, profile);
    const n = numbersOf(stage, profile.quick);
    if (!done) left += n.minutes;
    lines.push(
      `[${i + 1}/${stages.length}] ${stage.name}: ${stage.what} (${done ? 'done' : `about ${duration(n.minutes)}`})`,
      `    ${commandLine(recipe, stage, profile).join(' ')}`,
    );
  });
  const taken = recipe.stages.filter(
    (s) =>
      profile.fromCommitted && s.committed && !stages.includes(s) && stages.some((t) => inputsOf(t).includes(s.name)),
  );
  for (const stage of taken) lines.push(`${stage.name}: taken from ${stage.committed} (committed)`);
  lines.push(
    `about ${duration(left)} left here (${stages.filter((s) => !isDone(recipe, s, profile)).length} stages to run)`,
  );
  return lines;
}
