import path from 'node:path';

import { path as pathArg, type Register } from '../command.js';

/**
 * The bundled default run (`npm start`): the bundled small model translates held-out synthetic
 * clips both ways; the scores against the baselines and a results page.
 */
export const register: Register = (program) => {
  program
    .command('demo')
    .description(
      'the bundled default run (npm start): the bundled small model translates held-out clips both ways, scores them, writes a results page',
    )
    .option('--out <dir>', 'where the demo writes', pathArg, path.join('outputs', 'demo'))
    .option('--model-dir <dir>', 'the model folder (default: the bundled models/worldwander-small)', pathArg)
    .action(async ({ out, modelDir }: { out: string; modelDir?: string }) => {
      const { runDemo } = await import('../../app/demo.js');
      const { Progress } = await import('../../data/progress.js');
      const started = performance.now();
      let bar: InstanceType<typeof Progress> | undefined;
      const result = await runDemo({
        out,
        modelDir,
        onNote: (text) => console.error(`note: ${text}`),
        onProgress: (what, done, total) => {
          bar ??= new Progress(what, total, { unit: 'clips' });
          bar.tick();
          if (done === total) bar.finish();
        },
      });
      const { engineInfo } = await import('../../torch/index.js');
      const info = engineInfo();
      console.log(
        `engine: libtorch ${info.libtorchVersion}, ${info.intraOpThreads} threads, BLAS ${info.blasKind}, ${info.cudaAvailable ? `${info.cudaDeviceCount} CUDA device(s)` : 'no CUDA'}`,
      );
      for (const [task, report] of Object.entries(result.reports)) {
        const o = report.overall;
        console.log(
          `${task}: model PSNR ${o.model.psnr.toFixed(2)} dB, SSIM ${o.model.ssim.toFixed(3)} | copy-input ${o.copyInput.psnr.toFixed(2)} dB, ${o.copyInput.ssim.toFixed(3)}${o.meanFrame ? ` | mean frame ${o.meanFrame.psnr.toFixed(2)} dB, ${o.meanFrame.ssim.toFixed(3)}` : ''} (${report.cases.length} held-out clips)`,
        );
      }
      console.log(
        `${result.reused ? 'reused the translations of an earlier run' : 'translated'}; page: ${result.page} (${((performance.now() - started) / 1000).toFixed(1)} s)`,
      );
      console.log(
        `translate your own clips in the browser: node bin/worldwander.js serve${modelDir ? ` --model-dir ${modelDir}` : ''} (then open http://127.0.0.1:7860)`,
      );
    });
};
