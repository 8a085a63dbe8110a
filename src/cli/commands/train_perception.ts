import { integer, number, path as pathArg, type Register } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import type { PerceptionTrainOptions } from '../../train/perception_trainer.js';

/** The flags: the data and output, and the library's schedule options where given (PERCEPTION_DEFAULTS otherwise). */
type TrainPerceptionFlags = Pick<PerceptionTrainOptions, 'data' | 'output' | 'validationData' | 'resume'> &
  Partial<Pick<PerceptionTrainOptions, 'clips' | 'frames' | 'steps' | 'batchSize' | 'learningRate' | 'seed'>>;

export const register: Register = (program) => {
  program
    .command('train-perception')
    .description(
      "train the PerceptionNet that eval's perceptual, Fréchet and content scores use: a small segmenter of ground-truth renders (frames and the synth's class maps)",
    )
    .requiredOption(
      '--data <dir>',
      'a synthetic dataset (release layout with First_Label/ and Third_Label/), e.g. the training split',
      pathArg,
    )
    .requiredOption('--output <dir>', 'the run folder: checkpoints/step-N/, perception/ (the trained network)', pathArg)
    .option(
      '--validation-data <dir>',
      'another synthetic split, scored at the end (mIoU of its ground truth), never trained on',
      pathArg,
    )
    .option('--resume <checkpoint>', "'latest' or OUTPUT/checkpoints/step-N", pathArg)
    .option('--clips <n>', 'clips read from the dataset (both views of each)', integer(1))
    .option('--frames <n>', 'frames read from each video', integer(1))
    .option('--steps <n>', 'training steps', integer(1))
    .option('--batch-size <n>', 'frames per step', integer(1))
    .option('--learning-rate <lr>', 'AdamW peak learning rate', number(0))
    .option('--seed <n>', 'initialisation and batch order', integer(0))
    .action(async (flags: TrainPerceptionFlags) => {
      const { trainPerception, PERCEPTION_DEFAULTS } = await import('../../train/perception_trainer.js');
      const { STOPPING } = await import('../../train/loop.js');
      const { Progress } = await import('../../data/progress.js');
      const defined = Object.fromEntries(Object.entries(flags).filter(([, v]) => v !== undefined));
      let bar: InstanceType<typeof Progress> | undefined;
      let last = 0;
      const { controller, release } = onInterrupt(STOPPING);
      try {
        const result = await trainPerception({
          ...PERCEPTION_DEFAULTS,
          ...defined,
          data: flags.data,
          output: flags.output,
          signal: controller.signal,
          onEvent: (e) => {
            if (e.kind === 'note') console.error(`note: ${e.text}`);
            else {
              bar ??= new Progress('train-perception', e.steps, { unit: 'steps', initial: e.step - 1 });
              bar.tick();
              last = e.loss;
            }
          },
        });
        bar?.finish();
        console.log(`trained the PerceptionNet into ${result.dir} (last loss ${last.toFixed(4)})`);
        if (result.validation)
          console.log(
            `validation mIoU ${result.validation.miou.toFixed(3)}; IoU per class ${result.validation.iou.map((v) => (v === null ? '—' : v.toFixed(3))).join(' ')}`,
          );
      } finally {
        release();
      }
    });
};
