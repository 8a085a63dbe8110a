// `npm run recipe`: rebuilds the bundled models/worldwander-small from nothing, running the stages
// of configs/small/recipe.yaml that are not done yet, in order, into outputs/recipe/ (the model:
// outputs/recipe/worldwander-small; models/ is never written). Stop it at any time (Ctrl-C, a kill,
// a reboot) and run it again: finished stages are kept, a stopped one resumes where it stopped.
// One line per stage says what runs and about how long is left.
//   --quick              the same stages at a working session's size, into outputs/recipe-quick/
//   --dry-run            prints the plan (every stage, its command, done or not, the time left) and runs nothing
//   --from-committed     takes the stages whose results the repository holds (models/stages/) instead of running
//                        the stages before them
//   --stage NAME         runs NAME and what it needs, nothing after it
//   --recipe FILE --out DIR   another recipe, another folder
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { hasFastBf16 } from '../src/torch/index.js';
import { BUILT_INS } from './recipe-parts.js';
import {
  doneMarker,
  RecipeError,
  commandLine,
  commandOf,
  describePlan,
  duration,
  isDone,
  loadRecipe,
  neededStages,
  numbersOf,
  resumeFlags,
  type Profile,
} from './recipe-plan.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = path.join(repo, 'bin', 'worldwander.js');

function fail(message: string, code = 2): never {
  console.error(`recipe: ${message}`);
  process.exit(code);
}

const flags = (() => {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        'from-committed': { type: 'boolean' },
        stage: { type: 'string' },
        recipe: { type: 'string', default: path.join(repo, 'configs', 'small', 'recipe.yaml') },
        out: { type: 'string' },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
})();

// the recipe's paths (configs, scripts, outputs/) are the repository's; a folder given here is the caller's
const given = { recipe: path.resolve(flags.recipe!), out: flags.out && path.resolve(flags.out) };
process.chdir(repo);

const { recipe, profile, stages } = (() => {
  try {
    const recipe = loadRecipe(given.recipe);
    const profile: Profile = {
      out: given.out ?? (flags.quick ? recipe.quick_out : recipe.out),
      quick: flags.quick ?? false,
      fromCommitted: flags['from-committed'] ?? false,
      // bf16 matmuls where the CPU has the instructions (the transformer's step 1.7x faster), else float32 (bf16 ~20x slower there)
      precision: hasFastBf16() ? 'bf16-mixed' : '32',
    };
    return { recipe, profile, stages: neededStages(recipe, profile, flags.stage) };
  } catch (error) {
    if (error instanceof RecipeError) return fail(error.message);
    throw error;
  }
})();

if (flags['dry-run']) {
  for (const line of describePlan(recipe, profile, stages)) console.log(line);
  process.exit(0);
}

let stopping = false;
process.on('SIGINT', () => {
  // the running command got the same Ctrl-C: it writes its checkpoint and exits; a second one quits at once
  if (stopping) process.exit(130);
  stopping = true;
  console.error('\nrecipe: stopping once the running stage has saved where it is; Ctrl-C again to quit at once');
});

/** Runs a command line to its end; its exit code, or 128 + the signal number that ended it. */
function spawned(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  const node = command === 'node';
  const child = spawn(process.execPath, node ? args : [cli, command!, ...args], { cwd: repo, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolve(code ?? 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGKILL' ? 9 : 15)),
    );
  });
}

const started = performance.now();
/** Of the stages this run finished that take minutes (a copy's seconds say nothing of the machine): estimated and spent. */
let estimated = 0,
  spent = 0;
const left = (from: number): number =>
  stages
    .slice(from)
    .filter((s) => !isDone(recipe, s, profile))
    .reduce((sum, s) => sum + numbersOf(s, profile.quick).minutes, 0) * (estimated ? spent / estimated : 1);

for (const [i, stage] of stages.entries()) {
  const tag = `[${i + 1}/${stages.length}] ${stage.name}`;
  if (isDone(recipe, stage, profile)) {
    console.error(`recipe: ${tag}: done`);
    continue;
  }
  if (stopping) break;
  const output = path.join(profile.out, stage.name);
  const argv = [...commandLine(recipe, stage, profile), ...resumeFlags(stage, output)];
  const minutes = numbersOf(stage, profile.quick).minutes;
  console.error(
    `recipe: ${tag} (${stage.what}; about ${duration(minutes)}, ${duration(left(i))} left in all): ${argv.join(' ')}`,
  );
  const stageStarted = performance.now();
  mkdirSync(profile.out, { recursive: true });
  const builtIn = BUILT_INS[commandOf(stage)];
  let code = 0;
  if (builtIn) {
    try {
      await builtIn(argv.slice(1), output);
    } catch (error) {
      console.error(`recipe: ${stage.name}: ${(error as Error).message}`);
      code = 1;
    }
  } else code = await spawned(argv);
  const seconds = (performance.now() - stageStarted) / 1000;
  if (code === 0) {
    mkdirSync(path.dirname(doneMarker(profile.out, stage.name)), { recursive: true });
    writeFileSync(
      doneMarker(profile.out, stage.name),
      `${JSON.stringify({ command: argv, seconds: Math.round(seconds), finished: new Date().toISOString() }, null, 2)}\n`,
    );
    if (minutes >= 5) {
      estimated += minutes;
      spent += seconds / 60;
    }
  }
  if (code === 130 || stopping)
    fail(
      `stopped in stage ${stage.name}; what it and the stages before finished is kept: run the recipe again to continue`,
      130,
    );
  if (code !== 0)
    fail(
      `stage ${stage.name} failed (exit ${code}); what it finished is kept: mend what it says and run the recipe again`,
      1,
    );
}
console.error(
  `recipe: ${stages.every((s) => isDone(recipe, s, profile)) ? 'every stage done' : 'stopped'} (${duration((performance.now() - started) / 60000)} this run); the last: ${path.join(profile.out, stages.at(-1)!.name)}`,
);
