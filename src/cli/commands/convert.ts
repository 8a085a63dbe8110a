import { Option } from 'commander';

import { UsageError } from '../command.js';
import { path as pathArg, type Register } from '../command.js';

type Format = 'diffusers' | 'comfy' | 'kohya' | 'original';

export const register: Register = (program) => {
  program
    .command('convert')
    .description(
      "a LoRA or a model's weights to another tool's layout: LoRAs to diffusers/PEFT, ComfyUI or kohya (musubi-tuner); a transformer, VAE or umT5 file to diffusers', the original Wan release's or ComfyUI's names",
    )
    .argument(
      '<input>',
      "a LoRA (any of those formats, or the release's .ckpt) or one model weights file in any layout",
      pathArg,
    )
    .argument('<output>', 'the .safetensors to write', pathArg)
    .addOption(
      new Option(
        '--to <format>',
        'the layout to write (LoRA: diffusers, comfy, kohya; model: diffusers, original, comfy)',
      )
        .choices(['diffusers', 'comfy', 'kohya', 'original'])
        .makeOptionMandatory(),
    )
    .addOption(
      new Option(
        '--dtype <dtype>',
        'model weights: write the floating-point tensors in this dtype (default: each as it is)',
      ).choices(['float32', 'bfloat16', 'float16']),
    )
    .option('--overwrite', 'replace OUTPUT if it exists')
    .action(
      async (
        input: string,
        output: string,
        flags: { to: Format; dtype?: 'float32' | 'bfloat16' | 'float16'; overwrite?: boolean },
      ) => {
        const { checkOutputFile } = await import('../../io/output_path.js');
        const { isLoraFile } = await import('../../worldwander/lora_file.js');
        checkOutputFile(output, 'output', { inputs: [input], replace: flags.overwrite === true });
        if (isLoraFile(input)) {
          if (flags.dtype)
            throw new UsageError(
              `${input} is a LoRA: --dtype is for model weights (a LoRA is written as it is stored)`,
            );
          if (flags.to === 'original')
            throw new UsageError(
              `${input} is a LoRA: --to original is for model weights (a LoRA's ComfyUI format, --to comfy, uses the original names)`,
            );
          const { convertLora } = await import('../../worldwander/lora_convert.js');
          const result = convertLora(input, output, flags.to);
          console.log(
            `${output}: ${result.tensors} tensors in the ${flags.to} format, rank ${result.rank}, alpha ${result.alpha}`,
          );
          return;
        }
        if (flags.to === 'kohya')
          throw new UsageError(
            `${input} holds model weights: --to kohya is a LoRA format (model weights: diffusers, original, comfy)`,
          );
        const { convertModelFile } = await import('../../worldwander/model_convert.js');
        const result = convertModelFile(input, output, flags.to, { dtype: flags.dtype });
        console.log(
          `${output}: the ${result.part}'s ${result.tensors} tensors from the ${result.from} layout in the ${flags.to} layout${flags.dtype ? `, floating-point tensors in ${flags.dtype}` : ''}`,
        );
      },
    );
};
