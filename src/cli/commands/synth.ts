import { join } from 'node:path';
import { choiceFlag, intFlag, parseFlags, requiredFlag } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { synthesize, SynthConfigError, type SynthOptions } from '../../synth/run.js';

const FLAGS = {
  values: ['out', 'count', 'width', 'height', 'frames', 'fps', 'seed', 'format', 'workers'],
  optional: ['preview'],
  booleans: ['overwrite', 'resume', 'quiet'],
};

export const synth: Command = {
  usage: [
    'worldwander synth --out DIR --count N [--width 128] [--height 128] [--frames 49] [--fps 8] [--seed 0]',
    '                  [--format mp4|png] [--workers K] [--preview [PATH]] [--overwrite | --resume] [--quiet]',
    '',
    '  Writes DIR/First_Video/<name>.mp4, DIR/Third_Video/<name>.mp4, DIR/Reference_Image/<name>.png',
    '  (--format png: folders of numbered PNG frames instead of .mp4) and DIR/manifest.json.',
    '  --preview writes a contact sheet of the first samples (default DIR/preview.png).',
    '  --resume finishes an interrupted run (or grows it to a larger --count) without redoing samples.',
  ].join('\n'),
  async run(args) {
    const { flags, positional } = parseFlags(args, FLAGS);
    if (positional.length) throw new UsageError(`unexpected argument '${positional[0]}'`);
    const out = requiredFlag(flags, 'out');
    if (flags.count === undefined) throw new UsageError('--count is required (how many samples to generate)');
    const preview = flags.preview === true ? join(out, 'preview.png') : typeof flags.preview === 'string' ? flags.preview : undefined;
    const options: SynthOptions = {
      out,
      count: intFlag(flags, 'count', 0, 1),
      width: intFlag(flags, 'width', 128, 1),
      height: intFlag(flags, 'height', 128, 1),
      frames: intFlag(flags, 'frames', 49, 1),
      fps: intFlag(flags, 'fps', 8, 1),
      seed: intFlag(flags, 'seed', 0, 0),
      format: choiceFlag(flags, 'format', ['mp4', 'png'] as const, 'mp4'),
      workers: flags.workers === undefined ? undefined : intFlag(flags, 'workers', 1, 1),
      overwrite: flags.overwrite === true,
      resume: flags.resume === true,
      preview,
      progress: flags.quiet !== true,
    };
    try {
      const result = await synthesize(options);
      const skipped = result.skipped ? ` (${result.skipped} already finished)` : '';
      console.log(`wrote ${result.written} samples${skipped} to ${out} in ${result.seconds.toFixed(1)} s: ${result.framesPerSecond.toFixed(0)} frames/s on ${result.workers} worker(s)`);
      if (result.preview) console.log(`contact sheet: ${result.preview}`);
      return 0;
    } catch (error) {
      if (error instanceof SynthConfigError) throw new UsageError(error.message);
      throw error;
    }
  },
};
