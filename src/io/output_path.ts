// Checks made on an output path before any work starts, so that an hour of compute never ends
// in "cannot write": the path is not empty, not a folder, not one of the inputs, and its folder
// exists and takes new files.
import { closeSync, existsSync, openSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';

/** Throws an OptionError naming `option` (e.g. 'out') and the fault; returns the path. */
export function checkOutputFile(
  file: string,
  option: string,
  { inputs = [], replace = true }: { inputs?: readonly string[]; replace?: boolean } = {},
): string {
  if (file.trim() === '') throw new OptionError(option, 'is empty; give the file to write');
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw new OptionError(option, `${file} is a folder; give a file name inside it`);
  if (stat && !replace)
    throw new OptionError(option, `${file} exists; give another name, or {overwrite} to replace it`);
  for (const input of inputs) {
    if (existsSync(input) && stat && realpathSync(input) === realpathSync(file))
      throw new OptionError(option, `${file} is also an input; writing it would destroy the input`);
  }
  checkWritableFolder(path.dirname(path.resolve(file)), option);
  return file;
}

/** The folder exists and a new file can be created in it (tried, not guessed: root ignores permission bits). */
export function checkWritableFolder(dir: string, option: string): void {
  const stat = statSync(dir, { throwIfNoEntry: false });
  if (!stat) throw new OptionError(option, `the folder ${dir} does not exist`);
  if (!stat.isDirectory()) throw new OptionError(option, `${dir} is not a folder`);
  const probe = path.join(dir, `.worldwander-probe-${process.pid}`);
  try {
    closeSync(openSync(probe, 'wx'));
  } catch (error) {
    throw new OptionError(
      option,
      `cannot create files in ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  rmSync(probe, { force: true });
}

/** The real path of `p`, also where its last parts do not exist yet (resolved from the nearest folder that does). */
function realPathOf(p: string): string {
  const absolute = path.resolve(p);
  const rest: string[] = [];
  let at = absolute;
  while (!existsSync(at) && path.dirname(at) !== at) {
    rest.unshift(path.basename(at));
    at = path.dirname(at);
  }
  return path.join(realpathSync(at), ...rest);
}

const within = (inner: string, outer: string): boolean =>
  inner === outer || inner.startsWith(outer.endsWith(path.sep) ? outer : outer + path.sep);

/**
 * An output folder, before any work: not a file, not equal to, inside or around any of `inputs`
 * (each named in the error), and its nearest existing folder takes new files. Returns the path.
 */
export function checkOutputFolder(
  dir: string,
  option: string,
  { inputs = [] }: { inputs?: readonly (string | undefined)[] } = {},
): string {
  if (dir.trim() === '') throw new OptionError(option, 'is empty; give the folder to write');
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(dir, { throwIfNoEntry: false });
  } catch {
    stat = undefined; // ENOTDIR: a file stands where a parent folder should; said below
  }
  if (stat && !stat.isDirectory()) throw new OptionError(option, `${dir} exists and is not a folder`);
  const out = realPathOf(dir);
  for (const input of inputs) {
    if (!input || !existsSync(input)) continue;
    const real = realPathOf(input);
    if (within(out, real))
      throw new OptionError(
        option,
        `${dir} is ${out === real ? '' : 'inside '}the input ${input}; writing there would change the input. Choose a folder outside it`,
      );
    if (within(real, out))
      throw new OptionError(
        option,
        `${dir} holds the input ${input}; writing there could replace it. Choose a folder that holds no input`,
      );
  }
  let existing = path.resolve(dir);
  while (!existsSync(existing)) existing = path.dirname(existing);
  checkWritableFolder(existing, option);
  return dir;
}
