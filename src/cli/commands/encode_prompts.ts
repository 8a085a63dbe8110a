import { Option } from 'commander';

import { integer, path as pathArg, type Register } from '../command.js';

export const register: Register = (program) => {
  program
    .command('encode-prompts')
    .description("pre-compute umT5 prompt embeddings into the prompt cache (the task prompts and '' by default)")
    .argument('[prompts...]', 'prompts to encode (default: both task prompts and the empty prompt)')
    .requiredOption(
      '--model-dir <dir>',
      'a diffusers model folder with text_encoder/ and tokenizer/, or its Hub repository OWNER/NAME[@REVISION] (its text side downloaded into the Hugging Face cache when not there)',
      pathArg,
    )
    .option(
      '--cache-dir <dir>',
      "the prompt cache (default: MODEL_DIR/prompt_embeds; for a Hub model WorldWander's own cache, docs/inference.md)",
      pathArg,
    )
    .option('--max-length <n>', 'tokens per prompt', integer(2), 512)
    .addOption(
      new Option(
        '--dtype <dtype>',
        "dtype of the text encoder and the cached embeddings (default: its weights' own, the embeddings infer and train look up)",
      ).choices(['bfloat16', 'float32']),
    )
    .option('--device <device>', 'cpu or cuda[:N]', 'cpu')
    .action(
      async (
        positional: string[],
        options: {
          modelDir: string;
          cacheDir?: string;
          maxLength: number;
          dtype?: 'bfloat16' | 'float32';
          device: string;
        },
      ) => {
        const { diffusersTextEncoder, promptEmbeddings } = await import('../../models/umt5/prompt_cache.js');
        const { textStampOf } = await import('../../worldwander/text_stamp.js');
        const { ALL_PROMPTS } = await import('../../worldwander/prompts.js');
        const { locateNamedModel, promptCacheDirOf } = await import('../../worldwander/model_folder.js');
        const { ensureModelDir } = await import('../../worldwander/model_hub.js');
        const { downloadProgress } = await import('../download_progress.js');
        const textSide = { transformerWeights: false, vae: false, textEncoder: true, encodes: true };
        const modelDir = await ensureModelDir(locateNamedModel(options.modelDir, textSide), {
          onProgress: downloadProgress(),
        });
        const cacheDir = options.cacheDir ?? promptCacheDirOf(modelDir);
        const prompts = positional.length ? positional : ALL_PROMPTS;
        let encoded: string[] = [];
        const started = performance.now();
        const text = diffusersTextEncoder(modelDir);
        const embeds = promptEmbeddings(text, prompts, {
          stamp: textStampOf(text, modelDir), // recorded: later runs of a Hub snapshot may then skip the encoder
          cacheDir,
          maxLength: options.maxLength,
          dtype: options.dtype,
          device: options.device,
          onEncode: (p) => (encoded = p),
        });
        embeds.dispose();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        console.log(
          `${prompts.length} prompt(s) in ${cacheDir}: ${encoded.length} encoded, ${prompts.length - encoded.length} already cached (${seconds} s)`,
        );
        for (const p of prompts) console.log(`  ${encoded.includes(p) ? 'encoded' : 'cached '}  ${JSON.stringify(p)}`);
      },
    );
};
