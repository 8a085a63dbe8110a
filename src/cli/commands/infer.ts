import { Option } from 'commander';

import { integer, number, path as pathArg, weightFileOptions, type Register } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import type { InferOptions } from '../../app/infer.js';

type InferFlags = Omit<InferOptions, 'config' | 'overrides' | 'signal' | 'onEvent'> & { config: string; seed: number };

export const register: Register = (program) => {
  const command = program
    .command('infer')
    .description("translate videos to the other perspective with a release config (the release's inference)")
    .argument('[overrides...]', 'config overrides, key.path=value')
    .requiredOption(
      '--config <file>',
      "one of the release's YAML configs (read unchanged): the task, CPE and sizes come from it",
      pathArg,
    )
    .option(
      '--ckpt <file>',
      'LoRA weights: the release .ckpt or a .safetensors, a local file or hf://OWNER/NAME[@REVISION]/PATH on the Hub',
      pathArg,
    )
    .requiredOption(
      '--input <path>',
      'a frames folder, a video file, or a folder of cases in the release layout',
      pathArg,
    )
    .option('--ref <path>', 'one2three: the reference image (or a folder of <case>.png)', pathArg)
    .option(
      '--ground-truth [path]',
      "add the ground truth to the side-by-side video: the release layout's other view (no value), or a video/folder",
    )
    .requiredOption('--output <dir>', 'where each case goes (OUTPUT/<case>/)', pathArg)
    .option(
      '--model-dir <dir>',
      "the Wan2.2-TI2V-5B folder, diffusers' or the original release's, or its Hub repository OWNER/NAME[@REVISION] (from the Hugging Face cache, else downloaded there; default: the config's model_id)",
      pathArg,
    )
    .option('--steps <n>', 'denoising steps (default 50, or the config/model folder)', integer(1))
    .option('--guidance <g>', 'classifier-free guidance scale (default 5)', number(0))
    .option('--seed <n>', 'noise seed (the release uses 1234)', integer(0), 1234)
    .option('--height <px>', 'model height (default: the config)', integer(1))
    .option('--width <px>', 'model width (default: the config)', integer(1))
    .option('--frames <n>', 'frames, 4k+1 (default: the config)', integer(1))
    .option(
      '--start <seconds>',
      "where each video's window starts: frame k is the one shown at START + k / the config's fps (default 0)",
      number(0),
    )
    .option('--pad', 'translate a video shorter than the window by holding its last frame (else it is refused)')
    .option(
      '--whole',
      "translate each video whole: every window from --start to its end, back to back, into one output as long as the clip (at the config's fps)",
    )
    .addOption(new Option('--dtype <dtype>', 'transformer dtype').choices(['float32', 'bfloat16']).default('float32'))
    .addOption(
      new Option(
        '--weights-dtype <dtype>',
        "keep the transformer's block weights in fp8 (e4m3fn, a scale per output row; an fp8 file's as stored), widened to --dtype a layer at a time: half the memory of bfloat16",
      ).choices(['fp8']),
    )
    .addOption(
      new Option(
        '--vae-dtype <dtype>',
        "the VAE's dtype (default: bfloat16 on a CPU with bf16 instructions, else float32, the release's)",
      ).choices(['float32', 'bfloat16']),
    )
    .addOption(
      new Option(
        '--offload <mode>',
        "what stays in memory between stages: none (both parts), model (one part at a time, each read again when needed), blocks (model, and the transformer's block weights in host memory, a layer at a time on the GPU); auto: model when the parts would fill over a quarter of the memory, on a CPU",
      )
        .choices(['auto', 'none', 'model', 'blocks'])
        .default('auto'),
    )
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .addOption(new Option('--sampler <name>', 'sampler (default unipc)').choices(['unipc', 'euler']))
    .addOption(
      new Option('--guidance-mode <mode>', 'both guidance branches in one batched forward, or two (less memory)')
        .choices(['batched', 'sequential'])
        .default('batched'),
    )
    .option('--overwrite', 'write into an output folder that is not empty (replacing its cases)');
  weightFileOptions(command, ['transformer', 'vae', 'vaeConfig', 'textEncoder']).action(
    async (overrides: string[], flags: InferFlags) => {
      const { infer } = await import('../../app/infer.js');
      const { Progress } = await import('../../data/progress.js');
      const { downloadProgress } = await import('../download_progress.js');
      const download = downloadProgress();
      const { controller, release } = onInterrupt('stopping after this step; Ctrl-C again to quit at once');
      let bar: InstanceType<typeof Progress> | undefined;
      let loading: InstanceType<typeof Progress> | undefined;
      let caseLabel = '';
      let windowLabel = '';
      const started = performance.now();
      try {
        const result = await infer({
          ...flags,
          overrides,
          signal: controller.signal,
          onEvent: (event) => {
            if (event.kind === 'download') {
              download(event.progress);
            } else if (event.kind === 'loading') {
              loading ??= new Progress(`loading ${event.part}`, event.total, { unit: 'tensors' });
              loading.tick();
              if (event.done === event.total) {
                loading.finish();
                loading = undefined;
              }
            } else if (event.kind === 'case') {
              const elapsed = (performance.now() - started) / 1000;
              const eta =
                event.index > 0
                  ? ` (ETA of all cases ${Math.round((elapsed / event.index) * (event.cases - event.index))} s)`
                  : '';
              caseLabel = `case ${event.index + 1}/${event.cases} ${event.name}`;
              windowLabel = '';
              console.error(`${caseLabel}${eta}`);
            } else if (event.kind === 'window') {
              windowLabel = ` window ${event.index + 1}/${event.windows}`;
            } else if (event.kind === 'step') {
              bar ??= new Progress(`${caseLabel}${windowLabel}`, event.total, { unit: 'steps' });
              bar.tick();
              if (event.done === event.total) {
                bar.finish();
                bar = undefined;
              }
            } else if (event.kind === 'note') {
              console.error(`note: ${event.text}`);
            } else {
              console.log(
                `${event.record.case}: ${event.dir}/side_by_side.mp4 (${event.record.frames} frames ${event.record.width}x${event.record.height}, ${event.record.seconds.denoise.toFixed(1)} s denoising)`,
              );
            }
          },
        });
        console.log(`${result.records.length} case(s) in ${result.output}`);
      } finally {
        release();
      }
    },
  );
};
