import { path as pathArg, weightFileOptions, type Register } from '../command.js';

export const register: Register = (program) => {
  const command = program
    .command('cache-latents')
    .description("VAE-encode a config's clips once into its latent cache (dataset.latent_cache), ahead of training")
    .argument('[overrides...]', 'config overrides, key.path=value')
    .requiredOption('--config <file>', 'a training config', pathArg)
    .option(
      '--model-dir <dir>',
      "the Wan2.2-TI2V-5B folder, diffusers' or the original release's (default: the config's model_id)",
      pathArg,
    )
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu');
  weightFileOptions(command, ['vae', 'vaeConfig']).action(
    async (
      overrides: string[],
      flags: { config: string; modelDir?: string; vae?: string; vaeConfig?: string; device: string },
    ) => {
      const { cacheLatents } = await import('../../train/cache_latents.js');
      const { Progress } = await import('../../data/progress.js');
      let bar: InstanceType<typeof Progress> | undefined;
      const result = await cacheLatents({
        ...flags,
        overrides,
        onNote: (text) => console.error(`note: ${text}`),
        onProgress: (done, total) => {
          bar ??= new Progress('latent cache', total, { unit: 'clips' });
          bar.update(done);
          if (done === total) bar.finish();
        },
      });
      console.log(
        `${result.dir}: ${result.clips} clips, ${result.written} entries encoded, ${result.found} already there`,
      );
    },
  );
};
