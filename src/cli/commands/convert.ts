import { Option } from 'commander';

import { path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('convert')
    .description(
      "a LoRA file to another tool's format: diffusers/PEFT, ComfyUI or kohya (musubi-tuner); reads those and the release's .ckpt",
    )
    .argument('<input>', 'a LoRA: .safetensors in any of those formats, or the release .ckpt', pathArg)
    .argument('<output>', 'the .safetensors to write', pathArg)
    .addOption(
      new Option('--to <format>', 'the format to write').choices(['diffusers', 'comfy', 'kohya']).makeOptionMandatory(),
    )
    .option('--overwrite', 'replace OUTPUT if it exists')
    .action(
      async (input: string, output: string, flags: { to: 'diffusers' | 'comfy' | 'kohya'; overwrite?: boolean }) => {
        const { convertLora } = await import('../../worldwander/lora_convert.js');
        const { checkOutputFile } = await import('../../io/output_path.js');
        checkOutputFile(output, 'output', { inputs: [input], replace: flags.overwrite === true });
        const result = convertLora(input, output, flags.to);
        console.log(
          `${output}: ${result.tensors} tensors in the ${flags.to} format, rank ${result.rank}, alpha ${result.alpha}`,
        );
      },
    );
};
