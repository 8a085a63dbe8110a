import { Option } from 'commander';

import { path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('forward')
    .description('run one forward of a model part on tensors from a safetensors file (parity checks against Python)')
    .argument('<target>', 'transformer | denoise | vae-encode | vae-decode | text-encoder')
    .requiredOption('--model-dir <dir>', "the model part's diffusers folder (config.json + weights)", pathArg)
    .requiredOption('--inputs <file>', 'named input tensors (.safetensors)', pathArg)
    .requiredOption('--out <file>', 'where the named outputs go (.safetensors, float32)', pathArg)
    .option('--lora <file>', 'a LoRA file applied to the transformer (diffusers or PEFT key names)', pathArg)
    .addOption(new Option('--dtype <dtype>', 'compute dtype').choices(['float32', 'bfloat16']).default('float32'))
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .action(
      async (
        target: string,
        options: {
          modelDir: string;
          inputs: string;
          out: string;
          lora?: string;
          dtype: 'float32' | 'bfloat16';
          device: string;
        },
      ) => {
        const { runForward } = await import('../forward/run.js');
        const result = await runForward({ target, ...options });
        console.log(`${target}: wrote ${result.outputs.join(', ')} to ${result.out} (${result.seconds.toFixed(1)} s)`);
      },
    );
};
