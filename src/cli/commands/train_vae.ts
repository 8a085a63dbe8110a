import { path as pathArg, type Register } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import type { VaeTrainOptions } from '../../train/vae_trainer.js';

/** The flags: the library's options but those the command supplies itself. */
type TrainVaeFlags = Omit<VaeTrainOptions, 'overrides' | 'signal' | 'onEvent'>;

export const register: Register = (program) => {
  program
    .command('train-vae')
    .description(
      'train a Wan2.2-layout VAE from scratch on video windows, or fine-tune the decoder of a trained one (reconstruction objective, chunked causal encode/decode)',
    )
    .requiredOption('--config <file>', 'a VAE training config (configs/small/vae.yaml)', pathArg)
    .requiredOption(
      '--output <dir>',
      'the run folder: checkpoints/step-N/vae/, metrics.jsonl, validation.jsonl',
      pathArg,
    )
    .argument('[overrides...]', 'config overrides, key.path=value (e.g. training.max_steps=200)')
    .option('--resume <checkpoint>', "'latest' or OUTPUT/checkpoints/step-N", pathArg)
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .action(async (overrides: string[], flags: TrainVaeFlags) => {
      const { trainVae } = await import('../../train/vae_trainer.js');
      const { STOPPING } = await import('../../train/loop.js');
      const { Progress } = await import('../../data/progress.js');
      const { controller, release } = onInterrupt(STOPPING);
      let bar: InstanceType<typeof Progress> | undefined;
      try {
        const result = await trainVae({
          ...flags,
          overrides,
          signal: controller.signal,
          onEvent: (e) => {
            if (e.kind === 'note') console.error(`note: ${e.text}`);
            else if (e.kind === 'step') {
              bar ??= new Progress('train-vae', e.steps, { unit: 'steps', initial: e.step - 1 });
              bar.tick();
            } else console.error(`\ncheckpoint ${e.dir}: validation PSNR ${e.validationPsnr.toFixed(2)} dB`);
          },
        });
        bar?.finish();
        console.log(`trained the VAE to step ${result.steps} in ${result.dir}`);
      } finally {
        release();
      }
    });
};
