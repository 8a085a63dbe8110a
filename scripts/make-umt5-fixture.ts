// Writes test/fixtures/umt5_tiny/: a tiny T5-style Unigram tokenizer.json holding the pieces of
// the two WorldWander task prompts (<pad>=0, </s>=1, <unk>=2), and a 2-layer UMT5 text encoder
// in transformers format (config.json + model.safetensors, with the tied embed_tokens copy).
// Usage: node dist/scripts/make-umt5-fixture.js [out-dir]
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { Generator, saveSafetensors } from '../src/torch/index.js';
import { UMT5EncoderModel } from '../src/models/umt5/model.js';
import { parseUMT5Config } from '../src/models/umt5/config.js';

const out = process.argv[2] ?? 'test/fixtures/umt5_tiny';

/** Word pieces (▁ = word start) with Unigram log-probabilities; whole words score best. */
const PIECES: [string, number][] = [
  ['▁', -3],
  ['▁Transform', -6],
  ['▁it', -5],
  ['▁into', -5.5],
  ['▁the', -4],
  ['▁first', -6.5],
  ['▁third', -7],
  ['-', -5],
  ['person', -7.5],
  ['▁perspective', -8],
  ['.', -4.5],
  ['▁view', -8],
  ['▁a', -4.5],
  ...[...'abcdefghijklmnopqrstuvwxyzTP'].map((c): [string, number] => [c, -10]),
];

export function tokenizerJson(): object {
  const special = (id: number, content: string): object => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
    pre_tokenizer: metaspace,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: metaspace,
    model: {
      type: 'Unigram',
      unk_id: 2,
      vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ...PIECES],
      byte_fallback: false,
    },
  };
}

export const TINY_UMT5_CONFIG = {
  architectures: ['UMT5EncoderModel'],
  model_type: 'umt5',
  vocab_size: 3 + PIECES.length,
  d_model: 8,
  d_kv: 4,
  d_ff: 12,
  num_layers: 2,
  num_heads: 2,
  relative_attention_num_buckets: 32,
  relative_attention_max_distance: 128,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
  dense_act_fn: 'gelu_new',
  is_gated_act: true,
  pad_token_id: 0,
  eos_token_id: 1,
  decoder_start_token_id: 0,
  tie_word_embeddings: false,
  scalable_attention: true,
  torch_dtype: 'float32',
};

/** Writes tokenizer/ and text_encoder/ (the tiny umT5, seeded) under `out`. */
export function writeTinyTextEncoder(out: string): void {
  mkdirSync(path.join(out, 'tokenizer'), { recursive: true });
  mkdirSync(path.join(out, 'text_encoder'), { recursive: true });
  writeFileSync(path.join(out, 'tokenizer', 'tokenizer.json'), JSON.stringify(tokenizerJson()));
  writeFileSync(path.join(out, 'text_encoder', 'config.json'), JSON.stringify(TINY_UMT5_CONFIG, null, 2));
  const model = new UMT5EncoderModel(parseUMT5Config(TINY_UMT5_CONFIG), { generator: new Generator(2024) });
  const tensors = model.stateDict();
  tensors.set('encoder.embed_tokens.weight', model.shared.weight);
  saveSafetensors(path.join(out, 'text_encoder', 'model.safetensors'), tensors, { format: 'pt' });
  console.log(
    `wrote ${out}: tokenizer (${3 + PIECES.length} pieces), text encoder (${model.numParameters()} parameters)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) writeTinyTextEncoder(out);
