// The last resort: a tensor nobody disposed is released when its wrapper is garbage-collected.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';

import { memoryStats, zeros } from '../../src/torch/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('undisposed tensors are freed by the GC finaliser', async () => {
  const before = memoryStats().allocatedBytes;
  (() => {
    for (let i = 0; i < 50; i++) zeros([256, 1024]); // 1 MiB each, never disposed, no scope
  })();
  assert.ok(memoryStats().allocatedBytes - before >= 50 * 2 ** 20, 'the tensors are live before collection');
  // Node-API finalisers run after a collection, on a later turn of the event loop.
  for (let round = 0; round < 20 && memoryStats().allocatedBytes - before >= 2 ** 20; round++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(
    memoryStats().allocatedBytes - before < 2 ** 20,
    `still live: ${memoryStats().allocatedBytes - before} bytes`,
  );
});
