import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Linear, loadPretrained, StateDictError } from '../../src/nn/index.js';
import { tensor } from '../../src/torch/index.js';

test('loading reports progress tensor by tensor and copies the values in', () => {
  const layer = new Linear(2, 1);
  const calls: [number, number][] = [];
  layer.loadStateDict(
    new Map([
      ['weight', tensor([[3, 4]])],
      ['bias', tensor([5])],
    ]),
    { onProgress: (done, total) => calls.push([done, total]) },
  );
  assert.deepEqual(calls, [
    [1, 2],
    [2, 2],
  ]);
  assert.deepEqual(layer.forward(tensor([[1, 1]])).toArray(), [12]);
});

test('loadPretrained releases the model when its weights do not fit', () => {
  const layer = new Linear(2, 1);
  assert.throws(
    () =>
      loadPretrained(
        layer,
        new Map([
          ['weight', tensor([[1, 2, 3]])],
          ['bias', tensor([0])],
        ]),
        'dir/',
      ),
    (error: Error) => {
      assert.ok(error instanceof StateDictError);
      assert.match(error.message, /^dir\/: state dict does not match the model/);
      assert.match(error.message, /weight: expected shape \[1, 2\], got \[1, 3\]/);
      return true;
    },
  );
  assert.equal(layer.weight.disposed, true);
});
