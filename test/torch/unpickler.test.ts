// The restricted unpickler on checkpoints PyTorch itself wrote (scripts/make-ckpt-fixtures.py):
// the release-shaped one gives back exactly the tensors the script saved; malicious ones run
// nothing (a marker file they would create stays absent) and name their globals; damaged files
// get errors naming the file and the fault.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { SafetensorsFile, StandIn, StandInCall, TorchCheckpoint, TensorRef, unpickle } from '../../src/torch/index.js';
import { convertCheckpoint, openLoraFile } from '../../src/worldwander/lora_file.js';

const FIXTURES = 'test/fixtures/ckpt';
const MARKER = '/tmp/worldwander-unpickler-marker';
const scratch = mkdtempSync(path.join(tmpdir(), 'unpickler-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

test('a hand-assembled pickle of containers, numbers and strings reads back', () => {
  // {'a': [1, 2.5, 'x', None, True], 'b': (7, 65236)}, opcode by opcode
  const ops: (number | number[] | string)[] = [
    0x80,
    2,
    0x7d,
    0x28, // PROTO 2, EMPTY_DICT, MARK
    0x8c,
    1,
    'a',
    0x5d,
    0x28,
    0x4b,
    1,
    0x47,
    [0x40, 0x04, 0, 0, 0, 0, 0, 0],
    0x8c,
    1,
    'x',
    0x4e,
    0x88,
    0x65, // 'a': [1, 2.5, 'x', None, True]
    0x8c,
    1,
    'b',
    0x4b,
    7,
    0x4d,
    [0xd4, 0xfe],
    0x86, // 'b': (7, 65236)
    0x75,
    0x2e, // SETITEMS, STOP
  ];
  const program = Buffer.from(
    ops.flatMap((op) => (typeof op === 'string' ? [...Buffer.from(op)] : Array.isArray(op) ? op : [op])),
  );
  const { value, standIns } = unpickle(program, { builders: new Map(), where: 'inline' });
  assert.ok(value instanceof Map);
  assert.deepEqual(value.get('a'), [1, 2.5, 'x', null, true]);
  assert.deepEqual([...(value.get('b') as number[])], [7, 65236]);
  assert.equal(standIns.size, 0);
  // a global that is not a known builder becomes a stand-in; calling it records the call
  const call = Buffer.from([
    0x80,
    2,
    0x63,
    ...Buffer.from('os\nsystem\n'),
    0x8c,
    2,
    ...Buffer.from('ls'),
    0x85,
    0x52,
    0x2e,
  ]);
  const result = unpickle(call, { builders: new Map(), where: 'inline' });
  assert.ok(result.value instanceof StandInCall);
  assert.deepEqual([result.value.callee.qualifiedName, ...result.value.args], ['os.system', 'ls']);
  assert.deepEqual([...result.standIns], ['os.system']);
});

test('the release-shaped checkpoint converts to exactly the tensors PyTorch saved', () => {
  const expected = SafetensorsFile.open(path.join(FIXTURES, 'release_shaped.expected.safetensors'));
  const ckpt = TorchCheckpoint.open(path.join(FIXTURES, 'release_shaped.ckpt'));
  assert.deepEqual(
    [...ckpt.standIns],
    ['omegaconf.dictconfig.DictConfig'],
    'the hyper-parameters object is a stand-in',
  );
  const hyper = (ckpt.value as Map<string, unknown>).get('hyper_parameters') as Map<string, unknown>;
  const config = hyper.get('config');
  assert.ok(
    config instanceof StandInCall &&
      config.callee instanceof StandIn &&
      config.callee.qualifiedName === 'omegaconf.dictconfig.DictConfig',
  );
  assert.equal((ckpt.value as Map<string, unknown>).get('global_step'), 500);
  const optimizer = ((ckpt.value as Map<string, unknown>).get('optimizer_states') as Map<string, unknown>[])[0]!;
  const state = optimizer.get('state') as Map<number, Map<string, unknown>>;
  assert.ok(state.get(0)!.get('exp_avg') instanceof TensorRef, 'optimiser tensors stay unread references');

  const file = path.join(scratch, 'converted.safetensors');
  const result = convertCheckpoint(path.join(FIXTURES, 'release_shaped.ckpt'), file);
  assert.deepEqual([result.tensors, result.rank], [40, 4]);
  const converted = SafetensorsFile.open(file);
  for (const key of expected.keys()) {
    const ours = `transformer.${key.replace('.default.weight', '.weight')}`;
    assert.ok(converted.has(ours), ours);
    assert.equal(converted.info(ours).dtype, expected.info(key).dtype, `${key} keeps its dtype`);
    assert.deepEqual(converted.info(ours).shape, expected.info(key).shape);
    // bit for bit, the transposed (non-contiguous) and the bfloat16 tensors included
    const a = converted.get(ours),
      b = expected.get(key);
    assert.deepEqual(Buffer.from(a.toTypedArray().buffer), Buffer.from(b.toTypedArray().buffer), key);
  }
  assert.equal(converted.metadata.lora_rank, '4');
});

test('malicious checkpoints run nothing: each loads or is refused, naming the offending global', () => {
  rmSync(MARKER, { force: true });
  const cases: [string, RegExp | string[]][] = [
    ['malicious_os_system_toplevel', /top-level object is a call of posix\.system \(not run\), not a dict; refused/],
    ['malicious_eval_in_hyper_parameters', ['__builtin__.eval']],
    ['malicious_popen_nested', ['commands.Popen']],
    ['malicious_system_in_state_dict', ['posix.system']],
  ];
  for (const [name, outcome] of cases) {
    const file = path.join(FIXTURES, `${name}.ckpt`);
    if (outcome instanceof RegExp) {
      assert.throws(() => openLoraFile(file), outcome, name);
    } else {
      const { source, unfamiliarGlobals } = openLoraFile(file);
      assert.deepEqual(unfamiliarGlobals, outcome, name);
      assert.deepEqual(
        source.keys().sort(),
        ['blocks.0.attn1.to_q.lora_A.default.weight', 'blocks.0.attn1.to_q.lora_B.default.weight'],
        `${name}: the LoRA tensors load, the payload is inert`,
      );
    }
    assert.ok(!existsSync(MARKER), `${name} ran code: ${MARKER} exists`);
  }
});

test('damaged files get errors naming the file and the fault', () => {
  const cut = path.join(scratch, 'cut.ckpt');
  copyFileSync(path.join(FIXTURES, 'release_shaped.ckpt'), cut);
  truncateSync(cut, 4000);
  assert.throws(
    () => TorchCheckpoint.open(cut),
    /cut\.ckpt: not a readable zip archive .*no end-of-central-directory record/,
  );
  assert.throws(
    () => TorchCheckpoint.open(path.join(FIXTURES, 'truncated_pickle.ckpt')),
    /truncated_pickle\.ckpt \(.*data\.pkl\): the pickle ends early .*the file is truncated/,
  );
  const text = path.join(scratch, 'notes.ckpt');
  writeFileSync(text, 'not a checkpoint at all');
  assert.throws(
    () => TorchCheckpoint.open(text),
    /notes\.ckpt: neither a zip archive nor a legacy PyTorch file .*not a PyTorch checkpoint/,
  );
  const missing = path.join(scratch, 'missing-storage.ckpt');
  const bytes = readFileSync(path.join(FIXTURES, 'malicious_system_in_state_dict.ckpt'));
  // rename the storage entry '.../data/0' in both headers: the pickle then names a storage the archive lacks
  writeFileSync(missing, Buffer.from(bytes.toString('latin1').replaceAll('/data/0', '/data/Z'), 'latin1'));
  assert.throws(() => openLoraFile(missing), /missing-storage\.ckpt .*storage '0' is missing from the archive/);
});
