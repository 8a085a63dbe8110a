// Checks made on an output path before any work starts, so that an hour of compute never ends
// in "cannot write": the path is not empty, not a folder, not one of the inputs, and its folder
// exists and takes new files.
import { closeSync, existsSync, openSync, realpathSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';

/** Throws an OptionError naming `option` (e.g. 'out') and the fault; returns the path. */
export function checkOutputFile(file: string, option: string, { inputs = [] }: { inputs?: readonly string[] } = {}): string {
  if (file.trim() === '') throw new OptionError(option, 'is empty; give the file to write');
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw new OptionError(option, `${file} is a folder; give a file name inside it`);
  for (const input of inputs) {
    if (existsSync(input) && stat && realpathSync(input) === realpathSync(file)) throw new OptionError(option, `${file} is also an input; writing it would destroy the input`);
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
    throw new OptionError(option, `cannot create files in ${dir} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  rmSync(probe, { force: true });
}
