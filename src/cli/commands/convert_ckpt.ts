import { path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('convert-ckpt')
    .description("the release's LoRA .ckpt → .safetensors (read safely: nothing in the file runs)")
    .argument('<input>', 'a PyTorch Lightning .ckpt (LoRA tensors under state_dict.lora)', pathArg)
    .argument('<output>', 'the .safetensors to write (diffusers LoRA names, as worldwander saves them)', pathArg)
    .option('--overwrite', 'replace OUTPUT if it exists')
    .action(async (input: string, output: string, flags: { overwrite?: boolean }) => {
      const { convertCheckpoint } = await import('../../worldwander/lora_file.js');
      const { checkOutputFile } = await import('../../io/output_path.js');
      checkOutputFile(output, 'output', { inputs: [input], replace: flags.overwrite === true });
      const result = convertCheckpoint(input, output);
      if (result.unfamiliarGlobals.length)
        console.error(
          `warning: ${input} names Python globals that were recorded, never run: ${result.unfamiliarGlobals.join(', ')}`,
        );
      console.log(`${output}: ${result.tensors} LoRA tensors, rank ${result.rank}`);
    });
};
