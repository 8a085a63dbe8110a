import { integer, path as pathArg, weightFileOptions, type Register } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import type { TrainOptions } from '../../train/trainer.js';

/** The flags: the library's options but those the command supplies itself, and the ranks to start. */
type TrainFlags = Omit<TrainOptions, 'overrides' | 'group' | 'signal' | 'onEvent'> & { nprocPerNode?: number };

export const register: Register = (program) => {
  const command = program
    .command('train')
    .description(
      'fine-tune the transformer on ego/exo triplets with a release config (LoRA, or all weights with use_lora: False)',
    )
    .argument('[overrides...]', 'config overrides, key.path=value (e.g. training.learning_rate=1e-4)')
    .requiredOption('--config <file>', "one of the release's YAML configs, or one of the same keys", pathArg)
    .requiredOption('--output <dir>', 'the run folder: checkpoints/, metrics.jsonl, validation/', pathArg)
    .option('--resume <checkpoint>', "continue a run: 'latest' or OUTPUT/checkpoints/step-N", pathArg)
    .option('--seed <n>', 'the run seed (default: training.seed, else 0)', integer(0))
    .option(
      '--model-dir <dir>',
      "the Wan2.2-TI2V-5B folder, diffusers' or the original release's, or its Hub repository OWNER/NAME[@REVISION] (from the Hugging Face cache, else downloaded there; default: the config's model_id)",
      pathArg,
    )
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .option(
      '--nproc-per-node <n>',
      'data-parallel processes on this machine (c10d; Gloo on CPU, NCCL on CUDA)',
      integer(1),
    )
    .addHelpText(
      'after',
      '\nMulti-node: start one `worldwander train` per process with MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK set, as torchrun and Slurm users do (docs/training.md).',
    );
  weightFileOptions(command, ['transformer', 'vae', 'vaeConfig', 'textEncoder']).action(
    async (overrides: string[], flags: TrainFlags) => {
      const { runTraining } = await import('../train_run.js');
      const { STOPPING } = await import('../../train/loop.js');
      const { controller, release } = onInterrupt(STOPPING);
      try {
        // a Hub model is downloaded here, once, before any rank starts (ranks a launcher started read the cache)
        if (process.env.WORLD_SIZE === undefined) {
          const { loadConfig } = await import('../../worldwander/config.js');
          const { locateModel } = await import('../../worldwander/model_folder.js');
          const { ensureModelDir } = await import('../../worldwander/model_hub.js');
          const { downloadProgress } = await import('../download_progress.js');
          const model = locateModel(loadConfig(flags.config, overrides), flags.config, flags.modelDir, flags);
          if (model.kind === 'hub')
            flags.modelDir = await ensureModelDir(model, { onProgress: downloadProgress(), signal: controller.signal });
        }
        await runTraining({ ...flags, overrides, signal: controller.signal });
      } finally {
        release();
      }
    },
  );
};
