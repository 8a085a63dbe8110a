// What every subcommand shares: a usage error type (exit 2) and parsers for flag values that
// name the flag and what it needs.
import { InvalidArgumentError, type Command } from 'commander';

/** A user-facing error about the command line: printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A subcommand adds itself to the program; its action loads heavy modules (libtorch) on use. */
export type Register = (program: Command) => void;

/** An integer flag value >= min (and <= max). */
export function integer(min = -Infinity, max = Infinity): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      const range = max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` >= ${min}` : '';
      throw new InvalidArgumentError(`expected an integer${range}`);
    }
    return value;
  };
}

/** A finite number flag value >= min. */
export function number(min = -Infinity): (raw: string) => number {
  return (raw) => {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < min)
      throw new InvalidArgumentError(`expected a number${min > -Infinity ? ` >= ${min}` : ''}`);
    return value;
  };
}

/** A non-empty path. */
export function path(raw: string): string {
  if (raw.trim() === '') throw new InvalidArgumentError('expected a path, got an empty string');
  return raw;
}

const WEIGHT_FILE_FLAGS = {
  transformer: [
    '--transformer <file>',
    "the transformer's weights from one file in any layout (diffusers, original Wan, ComfyUI, fp8 scaled) instead of the model folder's",
  ],
  vae: [
    '--vae <file>',
    "the VAE's weights from one file in any layout (diffusers, the release's Wan2.2_VAE.pth, ComfyUI's wan2.2_vae.safetensors) instead of the model folder's",
  ],
  vaeConfig: [
    '--vae-config <file>',
    "a config.json for --vae, when its shapes are not Wan2.2's own VAE (whose config is read off the weights)",
  ],
  textEncoder: [
    '--text-encoder <file>',
    "the umT5 encoder's weights from one file in any layout (transformers, the release's .pth, ComfyUI's fp8 scaled) instead of the model folder's",
  ],
} as const;

/** Adds the flags naming single weights files in place of the model folder's parts (docs/weights.md). */
export function weightFileOptions(command: Command, parts: readonly (keyof typeof WEIGHT_FILE_FLAGS)[]): Command {
  for (const part of parts) command.option(WEIGHT_FILE_FLAGS[part][0], WEIGHT_FILE_FLAGS[part][1], path);
  return command;
}
