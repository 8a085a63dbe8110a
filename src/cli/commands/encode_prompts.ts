import path from 'node:path';

import { promptEmbeddings } from '../../models/umt5/prompt_cache.js';
import { ALL_PROMPTS } from '../../worldwander/prompts.js';
import { choiceFlag, intFlag, parseFlags, requiredFlag, stringFlag } from '../args.js';
import type { Command } from '../command.js';

export const encodePromptsCommand: Command = {
  usage: 'worldwander encode-prompts --model-dir DIR [--cache-dir DIR] [--max-length 512] [--dtype bfloat16|float32] [--device cpu|cuda] [PROMPT ...]',
  async run(args) {
    const { flags, positional } = parseFlags(args, { values: ['model-dir', 'cache-dir', 'max-length', 'dtype', 'device'], booleans: [] });
    const modelDir = requiredFlag(flags, 'model-dir');
    const cacheDir = stringFlag(flags, 'cache-dir') ?? path.join(modelDir, 'prompt_embeds');
    const maxLength = intFlag(flags, 'max-length', 512, 2);
    const dtype = choiceFlag(flags, 'dtype', ['bfloat16', 'float32'] as const, 'bfloat16');
    const prompts = positional.length ? positional : ALL_PROMPTS;
    let encoded: string[] = [];
    const started = performance.now();
    const embeds = promptEmbeddings(modelDir, prompts, { cacheDir, maxLength, dtype, device: stringFlag(flags, 'device'), onEncode: (p) => (encoded = p) });
    embeds.dispose();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`${prompts.length} prompt(s) in ${cacheDir}: ${encoded.length} encoded, ${prompts.length - encoded.length} already cached (${seconds} s)`);
    for (const p of prompts) console.log(`  ${encoded.includes(p) ? 'encoded' : 'cached '}  ${JSON.stringify(p)}`);
    return 0;
  },
};
