import { Option } from 'commander';

import { integer, path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('eval')
    .description(
      'scores predicted videos against the ground truth (PSNR, SSIM, sharpness, edges, PerceptionNet and, from your files, LPIPS), with the baselines and calibration rows; a report and a results page',
    )
    .addOption(
      new Option('--task <task>', 'which view was predicted').choices(['three2one', 'one2three']).makeOptionMandatory(),
    )
    .requiredOption(
      '--predictions <dir>',
      'predicted videos: a folder in the release layout, or an infer output folder',
      pathArg,
    )
    .requiredOption('--ground-truth <dir>', 'the ground truth (and the input views) in the release layout', pathArg)
    .requiredOption('--output <dir>', 'where report.json, report.md, the plots (and page/) go', pathArg)
    .option('--frames <n>', 'frames compared per video (the first ones)', integer(1), 17)
    .option('--train-data <dir>', 'training data in the release layout, for the mean-frame baseline', pathArg)
    .option('--metrics <file>', "a training run's metrics.jsonl, for the loss plot", pathArg)
    .option(
      '--perception <dir>',
      'the PerceptionNet for the perceptual, Fréchet and content scores (default: models/worldwander-small/perception, where it exists)',
      pathArg,
    )
    .option('--no-perception', 'leave the PerceptionNet scores out')
    .option(
      '--lpips-backbone <file>',
      'standard LPIPS: your torchvision backbone (alexnet-owt-7be5be79.pth or vgg16-397923af.pth; .pth or .safetensors)',
      pathArg,
    )
    .option(
      '--lpips-heads <file>',
      'standard LPIPS: the matching lpips v0.1 heads (lpips/weights/v0.1/alex.pth or vgg.pth)',
      pathArg,
    )
    .option('--fvd-i3d <file>', "FVD: your I3D as StyleGAN-V's TorchScript export (i3d_torchscript.pt)", pathArg)
    .option(
      '--compare <report.json>',
      "another run's report on the same cases: the model against it, paired case by case",
      pathArg,
    )
    .option('--html', 'also write the results page (OUTPUT/page/index.html)')
    .option('--title <text>', 'the report title')
    .option('--fps <n>', 'frame rate of the page videos', integer(1), 8)
    .action(
      async (flags: {
        task: 'three2one' | 'one2three';
        predictions: string;
        groundTruth: string;
        output: string;
        frames: number;
        trainData?: string;
        metrics?: string;
        perception?: string | false;
        lpipsBackbone?: string;
        lpipsHeads?: string;
        fvdI3d?: string;
        compare?: string;
        html?: boolean;
        title?: string;
        fps: number;
      }) => {
        const { runEval } = await import('../../eval/run_eval.js');
        const { BUNDLED_PERCEPTION } = await import('../../worldwander/model_defaults.js');
        const { existsSync } = await import('node:fs');
        const perception =
          flags.perception === false
            ? undefined
            : (flags.perception ?? (existsSync(BUNDLED_PERCEPTION) ? BUNDLED_PERCEPTION : undefined));
        const { report, files, page } = await runEval({ ...flags, perception });
        const { summaryLines } = await import('../../eval/report.js');
        for (const line of summaryLines(report)) console.log(line);
        const c = report.comparison;
        if (c) {
          const { formatPaired } = await import('../../eval/compare.js');
          console.log(
            `against ${c.against}, paired over ${c.cases} case(s): PSNR ${formatPaired(c.psnr, 2)} dB (better on ${c.psnr.better}), SSIM ${formatPaired(c.ssim, 4)} (better on ${c.ssim.better})`,
          );
        }
        console.log(`report: ${files.join(', ')}`);
        const { NOT_MEASURED } = await import('../../eval/evaluate.js');
        console.error(`note: ${NOT_MEASURED}`);
        for (const note of report.notes) console.error(`note: ${note}`);
        if (page) console.log(`page: ${page}`);
      },
    );
};
