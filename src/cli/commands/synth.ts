import { join } from 'node:path';

import { Option } from 'commander';

import { integer, path as pathArg, type Register } from '../command.js';

interface SynthFlags {
  out: string;
  count: number;
  width: number;
  height: number;
  frames: number;
  fps: number;
  seed: number;
  format: 'mp4' | 'png';
  workers?: number;
  preview?: string | true;
  overwrite?: boolean;
  resume?: boolean;
  quiet?: boolean;
}

export const register: Register = (program) => {
  program
    .command('synth')
    .description('generate synchronized first-person / third-person / reference triplets from a synthetic 3D world')
    .requiredOption('--out <dir>', 'the dataset folder', pathArg)
    .requiredOption('--count <n>', 'how many samples', integer(1))
    .option('--width <px>', 'frame width (even, 16-8192)', integer(1), 128)
    .option('--height <px>', 'frame height (even, 16-8192)', integer(1), 128)
    .option('--frames <n>', 'frames per video', integer(1), 49)
    .option('--fps <n>', 'frame rate', integer(1), 8)
    .option('--seed <n>', 'dataset seed (0 to 4294967295)', integer(0), 0)
    .addOption(
      new Option('--format <format>', 'mp4 videos or folders of PNG frames').choices(['mp4', 'png']).default('mp4'),
    )
    .option('--workers <n>', 'worker threads (capped to the cores and the samples to write)', integer(1))
    .option('--preview [path]', 'write a contact sheet of the first samples (default DIR/preview.png)')
    .option('--overwrite', 'replace a run in a non-empty folder (only the files its manifest lists)')
    .option(
      '--resume',
      'finish an interrupted run (or grow it to a larger --count), keeping samples whose files check out',
    )
    .option('--quiet', 'no progress bar')
    .addHelpText(
      'after',
      '\nWrites DIR/First_Video/<name>.mp4, DIR/Third_Video/<name>.mp4, DIR/Reference_Image/<name>.png\n(--format png: folders of numbered PNG frames instead of .mp4) and DIR/manifest.json.',
    )
    .action(async (flags: SynthFlags) => {
      const { synthesize } = await import('../../synth/run.js');
      const preview = flags.preview === true ? join(flags.out, 'preview.png') : flags.preview;
      const result = await synthesize({ ...flags, preview, progress: flags.quiet !== true });
      const skipped = result.skipped ? ` (${result.skipped} already finished)` : '';
      console.log(
        `wrote ${result.written} samples${skipped} to ${flags.out} in ${result.seconds.toFixed(1)} s: ${result.framesPerSecond.toFixed(0)} frames/s on ${result.workers} worker(s)`,
      );
      if (result.preview) console.log(`contact sheet: ${result.preview}`);
    });
};
