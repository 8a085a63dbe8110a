// What every subcommand shares: a usage error type (exit 2) and parsers for flag values that
// name the flag and what it needs.
import { InvalidArgumentError, type Command } from 'commander';

/** A user-facing error about the command line: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A subcommand adds itself to the program; its action loads heavy modules (libtorch) on use. */
export type Register = (program: Command) => void;

/** An integer flag value >= min. */
export function integer(min = -Infinity): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(value) || value < min) throw new InvalidArgumentError(`expected an integer${min > -Infinity ? ` >= ${min}` : ''}`);
    return value;
  };
}

/** A finite number flag value >= min. */
export function number(min = -Infinity): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < min) throw new InvalidArgumentError(`expected a number${min > -Infinity ? ` >= ${min}` : ''}`);
    return value;
  };
}

/** A non-empty path. */
export function path(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('expected a path, got an empty string');
  return raw;
}
