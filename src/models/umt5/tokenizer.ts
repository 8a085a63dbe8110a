// The umT5 tokenizer from the model's tokenizer/tokenizer.json (SentencePiece Unigram, T5 style)
// through @huggingface/tokenizers, with Wan's prompt cleaning, `</s>` appended, truncation and
// padding to max_length (512), and the attention mask.
import { FileFormatError, OptionError } from '../../errors.js';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { Tokenizer } from '@huggingface/tokenizers';

import { readJsonFile, tensor, type Tensor } from '../../torch/index.js';

export interface TokenizedBatch {
  /** [B][maxLength] token ids, `</s>` after the text, then `<pad>`. */
  inputIds: number[][];
  /** 1 for tokens (including `</s>`), 0 for padding. */
  attentionMask: number[][];
  /** Tokens per prompt before padding (Wan's seq_len). */
  lengths: number[];
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: '\u00a0',
  '#39': "'",
};

function htmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+|#39);/g, (whole, name: string) => {
    if (name.startsWith('#x')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(parseInt(name.slice(1), 10));
    return ENTITIES[name] ?? whole;
  });
}

/**
 * Wan's prompt_clean: html-unescape twice, strip, collapse whitespace runs to one space.
 * (Wan also runs ftfy.fix_text first; that mojibake repair is not reproduced: plain prompts such
 * as the task prompts pass through it unchanged.)
 */
export function cleanPrompt(text: string): string {
  return htmlUnescape(htmlUnescape(text)).trim().replace(/\s+/g, ' ');
}

export class UMT5Tokenizer {
  readonly padId: number;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly source = 'tokenizer.json',
  ) {
    const pad = tokenizer.token_to_id('<pad>');
    if (pad === undefined) throw new FileFormatError(`${source}: the vocabulary has no '<pad>' token`);
    this.padId = pad;
  }

  /** A tokenizer.json file, or a `tokenizer/` folder holding one (and optionally tokenizer_config.json). */
  static fromPretrained(location: string): UMT5Tokenizer {
    const file = location.endsWith('.json') ? location : path.join(location, 'tokenizer.json');
    if (!existsSync(file))
      throw new FileFormatError(
        `${location}: no tokenizer.json found (the T5TokenizerFast file of the model's tokenizer/ folder)`,
      );
    const json = readJsonFile(file, 'tokenizer');
    const configFile = path.join(path.dirname(file), 'tokenizer_config.json');
    const config = existsSync(configFile) ? (readJsonFile(configFile, 'tokenizer config') as object) : {};
    try {
      return new UMT5Tokenizer(new Tokenizer(json as object, config), file);
    } catch (error) {
      throw new FileFormatError(`${file}: cannot build the tokenizer: ${(error as Error).message}`);
    }
  }

  /** Ids of one cleaned text with the special tokens the post-processor adds (`</s>`), content truncated first. */
  ids(text: string, maxLength: number): number[] {
    const plain: number[] = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    const full: number[] = this.tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (plain.some((id, i) => full[i] !== id))
      throw new FileFormatError(
        `${this.source}: the post-processor adds tokens in front; only suffixes (T5's '</s>') are supported`,
      );
    const suffix = full.slice(plain.length);
    if (suffix.length >= maxLength)
      throw new OptionError('maxLength', `${maxLength} leaves no room for text after ${suffix.length} special tokens`);
    return [...plain.slice(0, maxLength - suffix.length), ...suffix];
  }

  /** Cleans, tokenizes, truncates and pads every prompt to `maxLength` (padding="max_length"). */
  encode(prompts: readonly string[], { maxLength = 512 }: { maxLength?: number } = {}): TokenizedBatch {
    if (!Number.isInteger(maxLength) || maxLength < 2)
      throw new OptionError('maxLength', `must be an integer >= 2, got ${maxLength}`);
    const batch: TokenizedBatch = { inputIds: [], attentionMask: [], lengths: [] };
    for (const prompt of prompts) {
      const ids = this.ids(cleanPrompt(prompt), maxLength);
      batch.lengths.push(ids.length);
      batch.attentionMask.push([...ids.map(() => 1), ...new Array<number>(maxLength - ids.length).fill(0)]);
      batch.inputIds.push([...ids, ...new Array<number>(maxLength - ids.length).fill(this.padId)]);
    }
    return batch;
  }

  /** input_ids and attention_mask as int64 tensors [B, maxLength]. */
  encodeTensors(
    prompts: readonly string[],
    options: { maxLength?: number } = {},
  ): { inputIds: Tensor; attentionMask: Tensor; lengths: number[] } {
    const b = this.encode(prompts, options);
    const shape = [prompts.length, b.inputIds[0]?.length ?? 0];
    return {
      inputIds: tensor(BigInt64Array.from(b.inputIds.flat(), BigInt), { shape }),
      attentionMask: tensor(BigInt64Array.from(b.attentionMask.flat(), BigInt), { shape }),
      lengths: b.lengths,
    };
  }

  decode(ids: readonly number[], { skipSpecialTokens = true }: { skipSpecialTokens?: boolean } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }
}
