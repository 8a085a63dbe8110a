// The umT5 tokenizer over the tiny tokenizer.json fixture (made by scripts/make-umt5-fixture.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { cleanPrompt, UMT5Tokenizer } from '../../src/models/umt5/tokenizer.js';

const tokenizer = UMT5Tokenizer.fromPretrained('test/fixtures/umt5_tiny/tokenizer');
const FIRST = 'Transform it into the first-person perspective.';
const THIRD = 'Transform it into the third-person perspective.';
// Fixture vocabulary: <pad>=0 </s>=1 <unk>=2 ▁=3 ▁Transform=4 ▁it=5 ▁into=6 ▁the=7 ▁first=8 ▁third=9 -=10 person=11 ▁perspective=12 .=13
const FIRST_IDS = [4, 5, 6, 7, 8, 10, 11, 12, 13, 1];
const THIRD_IDS = [4, 5, 6, 7, 9, 10, 11, 12, 13, 1];

test('the two task prompts tokenize to the expected pieces with </s> appended, and decode back', () => {
  const batch = tokenizer.encode([FIRST, THIRD], { maxLength: 512 });
  assert.deepEqual(batch.lengths, [10, 10]);
  assert.deepEqual(batch.inputIds[0]!.slice(0, 10), FIRST_IDS);
  assert.deepEqual(batch.inputIds[1]!.slice(0, 10), THIRD_IDS);
  assert.equal(tokenizer.decode(batch.inputIds[0]!), FIRST);
  assert.equal(tokenizer.decode(batch.inputIds[1]!), THIRD);
});

test('padding to max length 512 with <pad>=0 and an attention mask of 1 for tokens and </s>', () => {
  const { inputIds, attentionMask } = tokenizer.encodeTensors([FIRST, ''], { maxLength: 512 });
  assert.deepEqual(inputIds.shape, [2, 512]);
  assert.equal(inputIds.dtype, 'int64');
  const ids = inputIds.toArray();
  const mask = attentionMask.toArray();
  assert.deepEqual(ids.slice(0, 10), FIRST_IDS);
  assert.ok(ids.slice(10, 512).every((v) => v === 0));
  assert.deepEqual(mask.slice(0, 512), [...new Array(10).fill(1), ...new Array(502).fill(0)]);
  // The empty prompt (classifier-free guidance) is just </s>.
  assert.equal(ids[512], 1);
  assert.deepEqual(mask.slice(512), [1, ...new Array(511).fill(0)]);
});

test('truncation keeps the first max_length − 1 text tokens and still ends with </s>', () => {
  const b = tokenizer.encode([FIRST], { maxLength: 5 });
  assert.deepEqual(b.inputIds[0], [4, 5, 6, 7, 1]);
  assert.deepEqual(b.attentionMask[0], [1, 1, 1, 1, 1]);
  assert.throws(() => tokenizer.encode([FIRST], { maxLength: 1 }), /maxLength: must be an integer >= 2/);
});

test('prompts are cleaned as Wan does: html entities (twice), trimmed, whitespace runs collapsed', () => {
  assert.equal(cleanPrompt('  Transform &amp;amp; it\n\tinto   &#39;x&#x27;  '), "Transform & it into 'x'");
  assert.deepEqual(
    tokenizer
      .encode(['  Transform   it\ninto the first-person perspective. '], { maxLength: 16 })
      .inputIds[0]!.slice(0, 10),
    FIRST_IDS,
  );
});

test('a folder without tokenizer.json is a clear error', () => {
  assert.throws(() => UMT5Tokenizer.fromPretrained('test/fixtures/umt5_tiny/text_encoder'), /no tokenizer\.json found/);
});
