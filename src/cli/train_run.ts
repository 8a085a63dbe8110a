// The train command's body: progress on stderr, a line per checkpoint and validation.
import { Progress } from '../data/progress.js';
import { train, type TrainOptions } from '../train/trainer.js';
import { processGroupFromEnvironment, launchLocalRanks } from '../train/distributed.js';

export async function runTraining(
  o: Omit<TrainOptions, 'onEvent' | 'group'> & { nprocPerNode?: number; overrides: string[] },
): Promise<void> {
  if (o.nprocPerNode && o.nprocPerNode > 1 && process.env.WORLD_SIZE === undefined) {
    await launchLocalRanks(o.nprocPerNode);
    return;
  }
  const group = await processGroupFromEnvironment();
  const lead = (group?.rank ?? 0) === 0;
  let bar: Progress | undefined;
  let cacheBar: Progress | undefined;
  try {
    const result = await train({
      ...o,
      group,
      onEvent: (event) => {
        if (!lead) return;
        if (event.kind === 'note') console.error(`note: ${event.text}`);
        else if (event.kind === 'cache') {
          cacheBar ??= new Progress('latent cache', event.total, { unit: 'clips' });
          cacheBar.update(event.done);
          if (event.done === event.total) cacheBar.finish();
        } else if (event.kind === 'start') {
          bar = new Progress('train', event.steps, { unit: 'steps', initial: event.step });
        } else if (event.kind === 'step') {
          bar?.tick();
          if (event.metrics.step === event.steps) bar?.finish();
        } else if (event.kind === 'checkpoint') {
          console.error(`\ncheckpoint: ${event.dir}`);
        } else if (event.kind === 'validation') {
          for (const r of event.results)
            console.error(`\nvalidation step ${event.step}: ${r.case} PSNR ${r.psnr.toFixed(2)} dB (${r.dir})`);
        }
      },
    });
    if (lead)
      console.log(
        `trained ${result.steps} steps in ${result.output}${result.lastCheckpoint ? `; last checkpoint ${result.lastCheckpoint}` : ''}`,
      );
  } finally {
    group?.destroy();
  }
}
