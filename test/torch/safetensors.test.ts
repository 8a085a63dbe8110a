import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import {
  openWeights,
  saveSafetensors,
  SafetensorsFile,
  ShardedSafetensors,
  scope,
  tensor,
  type DType,
} from '../../src/torch/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ww-safetensors-'));

/** A safetensors file built by hand from its spec: u64 LE header length, JSON header, data. */
function handMade(name: string, header: unknown, data: Uint8Array, headerLength?: number): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerLength ?? json.length));
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([length, json, data]));
  return file;
}

describe('safetensors', () => {
  test('reads a file written by hand from the spec (F32, BF16, I64)', () =>
    scope(() => {
      const f32 = new Float32Array([1.5, -2, 3, 4]);
      const bf16 = new Uint16Array([0x3fc0, 0xc000]); // 1.5, -2
      const i64 = new BigInt64Array([7n, -9n]);
      const data = Buffer.concat([Buffer.from(f32.buffer), Buffer.from(bf16.buffer), Buffer.from(i64.buffer)]);
      const file = handMade(
        'hand.safetensors',
        {
          __metadata__: { format: 'pt' },
          'a.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
          b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] },
          c: { dtype: 'I64', shape: [2], data_offsets: [20, 36] },
        },
        data,
      );
      const st = SafetensorsFile.open(file);
      assert.deepEqual(st.keys().sort(), ['a.weight', 'b', 'c']);
      assert.deepEqual(st.metadata, { format: 'pt' });
      const a = st.get('a.weight');
      assert.deepEqual(a.shape, [2, 2]);
      assert.deepEqual(a.toArray(), [1.5, -2, 3, 4]);
      assert.equal(st.get('b').dtype, 'bfloat16');
      assert.deepEqual(st.get('b').toArray(), [1.5, -2]);
      assert.deepEqual(st.get('b', { dtype: 'float32' }).toArray(), [1.5, -2]);
      assert.deepEqual(st.get('c').toArray(), [7, -9]);
    }));

  test('round trip of every dtype, atomically written with an 8-byte aligned header', () =>
    scope(() => {
      const dtypes: DType[] = [
        'float32',
        'float64',
        'bfloat16',
        'float16',
        'int64',
        'int32',
        'int16',
        'int8',
        'uint8',
        'bool',
      ];
      const tensors = new Map(
        dtypes.map((dtype, i) => [
          `t.${dtype}`,
          tensor(
            [
              [1, 0, i],
              [2, 1, 0],
            ],
            { dtype },
          ),
        ]),
      );
      tensors.set('empty', tensor([], { shape: [0, 3] }));
      tensors.set('scalar', tensor([5], { shape: [] }));
      const file = path.join(dir, 'round.safetensors');
      saveSafetensors(file, tensors, { note: 'test' });
      assert.deepEqual(
        readdirSync(dir).filter((n) => n.includes('.tmp-')),
        [],
        'no temp file left behind',
      );
      const raw = readFileSync(file);
      assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0);
      const st = SafetensorsFile.open(file);
      assert.deepEqual(st.metadata, { note: 'test' });
      for (const [key, t] of tensors) {
        const back = st.get(key);
        assert.equal(back.dtype, t.dtype, key);
        assert.deepEqual(back.shape, t.shape, key);
        assert.deepEqual(back.toArray(), t.toArray(), key);
      }
    }));

  test('sharded checkpoints load through their index, and openWeights finds them in a folder', () =>
    scope(() => {
      const shardDir = mkdtempSync(path.join(dir, 'sharded-'));
      saveSafetensors(path.join(shardDir, 'model-00001-of-00002.safetensors'), { x: tensor([1, 2]) });
      saveSafetensors(path.join(shardDir, 'model-00002-of-00002.safetensors'), { y: tensor([3]) });
      writeFileSync(
        path.join(shardDir, 'model.safetensors.index.json'),
        JSON.stringify({
          metadata: { total_size: 12 },
          weight_map: { x: 'model-00001-of-00002.safetensors', y: 'model-00002-of-00002.safetensors' },
        }),
      );
      const source = openWeights(shardDir, 'model');
      assert.ok(source instanceof ShardedSafetensors);
      assert.deepEqual(source.keys().sort(), ['x', 'y']);
      assert.deepEqual(source.get('y').toArray(), [3]);
      assert.throws(() => source.get('z'), /no tensor named 'z'/);
      writeFileSync(
        path.join(shardDir, 'bad.safetensors.index.json'),
        JSON.stringify({ weight_map: { x: 'gone.safetensors' } }),
      );
      assert.throws(
        () => openWeights(path.join(shardDir, 'bad.safetensors.index.json')),
        /names shard 'gone.safetensors', which is missing/,
      );
      assert.throws(() => openWeights(dir, 'nothing'), /no weights found/);
    }));

  describe('corrupt files get an error naming the file and the fault', () => {
    const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
    const eight = new Uint8Array(8);
    const cases: [string, () => string, RegExp][] = [
      [
        'short file',
        () => {
          const f = path.join(dir, 'short.safetensors');
          writeFileSync(f, Buffer.from([1, 2, 3]));
          return f;
        },
        /fewer than the 8-byte header length/,
      ],
      [
        'header length past the end',
        () => handMade('long.safetensors', { a: ok }, eight, 1 << 20),
        /runs past the end of the file/,
      ],
      ['bad JSON', () => handMade('json.safetensors', '{"a": [', eight), /not valid JSON/],
      [
        'offsets out of range',
        () => handMade('range.safetensors', { a: { ...ok, data_offsets: [0, 16] } }, eight),
        /out of range/,
      ],
      [
        'unknown dtype',
        () => handMade('dtype.safetensors', { a: { ...ok, dtype: 'F8_E5M2' } }, eight),
        /unknown dtype 'F8_E5M2' \(supported: .*F8_E4M3\)/,
      ],
      [
        'size disagrees with shape',
        () => handMade('size.safetensors', { a: { ...ok, shape: [3] } }, new Uint8Array(12)),
        /needs 12 bytes, data_offsets span 8/,
      ],
      [
        'overlapping ranges',
        () =>
          handMade(
            'overlap.safetensors',
            { a: ok, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } },
            new Uint8Array(12),
          ),
        /'a' and 'b' overlap/,
      ],
      [
        'bad shape',
        () => handMade('shape.safetensors', { a: { ...ok, shape: [-2] } }, eight),
        /shape must be a list of non-negative integers/,
      ],
    ];
    for (const [name, make, message] of cases) {
      test(name, () => {
        const file = make();
        assert.throws(
          () => SafetensorsFile.open(file),
          (error: Error) => {
            assert.match(error.message, message);
            assert.ok(error.message.includes(file), `message names the file: ${error.message}`);
            return true;
          },
        );
      });
    }
    test('missing file', () =>
      assert.throws(
        () => SafetensorsFile.open(path.join(dir, 'absent.safetensors')),
        /absent.safetensors: cannot open/,
      ));
  });
});
