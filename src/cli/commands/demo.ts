import { existsSync } from 'node:fs';
import path from 'node:path';

import { path as pathArg, type Register } from '../command.js';

/** The bundled synthetic dataset the demo makes. */
export const BUNDLED_DATASET = { count: 16, width: 128, height: 128, frames: 49, fps: 8, seed: 0, format: 'mp4' } as const;

/**
 * The bundled default run (`npm start`): checks the engine and makes the bundled synthetic
 * ego/exo dataset with its contact sheet, resuming what an earlier run left.
 */
export const register: Register = (program) => {
  program
    .command('demo')
    .description('the bundled default run (npm start): engine check, the bundled synthetic dataset and its contact sheet')
    .option('--out <dir>', 'where the demo writes', pathArg, path.join('outputs', 'demo'))
    .action(async ({ out }: { out: string }) => {
      const { engineInfo } = await import('../../torch/index.js');
      const { synthesize } = await import('../../synth/run.js');
      const info = engineInfo();
      console.log(`engine: libtorch ${info.libtorchVersion}, ${info.intraOpThreads} threads, BLAS ${info.blasKind}, ` +
        `${info.cudaAvailable ? `${info.cudaDeviceCount} CUDA device(s)` : 'no CUDA'}, bf16 ${info.bf16Supported ? 'yes' : 'no'}`);
      const data = path.join(out, 'synthetic');
      const resume = existsSync(path.join(data, 'manifest.json'));
      const result = await synthesize({ ...BUNDLED_DATASET, out: data, resume, preview: path.join(out, 'preview.png'), progress: process.stderr.isTTY });
      console.log(`data: ${result.written} samples written, ${result.skipped} already there, in ${data} (release layout, manifest.json)`);
      console.log(`look: ${result.preview} (first-person | third-person | reference, one row per sample)`);
    });
};
