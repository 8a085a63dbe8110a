import { existsSync } from 'node:fs';
import path from 'node:path';

import { synthesize } from '../../synth/run.js';
import { engineInfo } from '../../torch/index.js';
import { parseFlags, stringFlag } from '../args.js';
import type { Command } from '../command.js';

/**
 * The bundled default run (`npm start`): checks the engine and makes the bundled synthetic
 * ego/exo dataset with its contact sheet, resuming what an earlier run left. Training and
 * sampling join it as they land.
 */
export const BUNDLED_DATASET = { count: 16, width: 128, height: 128, frames: 49, fps: 8, seed: 0, format: 'mp4' } as const;

export const demo: Command = {
  usage: 'worldwander demo [--out outputs/demo]',
  async run(args) {
    const { flags } = parseFlags(args, { values: ['out'], booleans: [] });
    const out = stringFlag(flags, 'out') ?? path.join('outputs', 'demo');
    const info = engineInfo();
    console.log(`engine: libtorch ${info.libtorchVersion}, ${info.intraOpThreads} threads, BLAS ${info.blasKind}, ` +
      `${info.cudaAvailable ? `${info.cudaDeviceCount} CUDA device(s)` : 'no CUDA'}, bf16 ${info.bf16Supported ? 'yes' : 'no'}`);

    const data = path.join(out, 'synthetic');
    const resume = existsSync(path.join(data, 'manifest.json'));
    const result = await synthesize({ ...BUNDLED_DATASET, out: data, resume, preview: path.join(out, 'preview.png'), progress: process.stderr.isTTY });
    console.log(`data: ${result.written} samples written, ${result.skipped} already there, in ${data} (release layout, manifest.json)`);
    console.log(`look: ${result.preview} (first-person | third-person | reference, one row per sample)`);
    return 0;
  },
};
