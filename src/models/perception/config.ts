// The perception network's config.json: a small fully convolutional segmenter of 8-bit RGB frames
// (perception.ts), trained by this project on ground-truth renders of its synthetic world.
import { FileFormatError } from '../../errors.js';
import { readJsonFile } from '../../torch/index.js';

export interface PerceptionConfig {
  in_channels: number;
  /** Output channels of each down block; block 0 keeps the input's resolution, each later one halves it. */
  block_out_channels: number[];
  /** One per output class, in class-id order. */
  class_names: string[];
  /** Feature taps (down block indices) whose spatially averaged features make the Fréchet distance's vectors. */
  frechet_blocks: number[];
}

export function parsePerceptionConfig(raw: unknown, where: string): PerceptionConfig {
  const c = raw as Partial<PerceptionConfig> | null;
  const bad = (key: string, expected: string): never => {
    throw new FileFormatError(`${where}: '${key}' must be ${expected}`);
  };
  if (!c || typeof c !== 'object') bad('(root)', 'an object');
  const positive = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
  if (!positive(c!.in_channels)) bad('in_channels', 'a positive integer');
  if (
    !Array.isArray(c!.block_out_channels) ||
    c!.block_out_channels.length === 0 ||
    !c!.block_out_channels.every(positive)
  )
    bad('block_out_channels', 'a non-empty list of positive integers');
  if (
    !Array.isArray(c!.class_names) ||
    c!.class_names.length < 2 ||
    !c!.class_names.every((n) => typeof n === 'string')
  )
    bad('class_names', 'a list of at least two names');
  const blocks = c!.block_out_channels!.length;
  if (
    !Array.isArray(c!.frechet_blocks) ||
    c!.frechet_blocks.length === 0 ||
    !c!.frechet_blocks.every((b) => Number.isInteger(b) && b >= 0 && b < blocks)
  )
    bad('frechet_blocks', `a non-empty list of block indices in 0..${blocks - 1}`);
  return {
    in_channels: c!.in_channels!,
    block_out_channels: [...c!.block_out_channels!],
    class_names: [...c!.class_names!],
    frechet_blocks: [...c!.frechet_blocks!],
  };
}

export function readPerceptionConfig(file: string): PerceptionConfig {
  return parsePerceptionConfig(readJsonFile(file, 'perception network config'), file);
}
