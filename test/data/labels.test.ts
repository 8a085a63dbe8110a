// Label strips: a hand-made strip read back frame by frame; every malformed strip refused naming the file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { labelPath, readLabelStrip } from '../../src/data/labels.js';
import { encodePng } from '../../src/data/png.js';

const root = mkdtempSync(path.join(tmpdir(), 'ww-labels-'));
after(() => rmSync(root, { recursive: true, force: true }));

const strip = (name: string, width: number, height: number, channels: 1 | 3, value: (i: number) => number): string => {
  const file = path.join(root, name);
  writeFileSync(
    file,
    encodePng({
      width,
      height,
      channels,
      data: Uint8Array.from({ length: width * height * channels }, (_, i) => value(i)),
    }),
  );
  return file;
};

test('a strip of 3 frames of 4x2 comes back as 3 maps, frame 0 on top', () => {
  const file = strip('ok.png', 4, 6, 1, (i) => Math.floor(i / 8) + (i % 2));
  const maps = readLabelStrip(file, { width: 4, height: 2 });
  assert.equal(maps.length, 3);
  assert.deepEqual([...maps[2]!], [2, 3, 2, 3, 2, 3, 2, 3]);
  assert.equal(readLabelStrip(file, { width: 4, height: 2, frames: 2 }).length, 2);
  mkdirSync(path.join(root, 'First_Label'));
  assert.equal(labelPath(root, 'first', 'sample_000001'), path.join(root, 'First_Label', 'sample_000001.png'));
});

test('bad strips are refused naming the file and what was expected', () => {
  assert.throws(
    () =>
      readLabelStrip(
        strip('rgb.png', 4, 2, 3, () => 0),
        { width: 4, height: 2 },
      ),
    /rgb\.png: a label strip is 8-bit greyscale/,
  );
  assert.throws(
    () =>
      readLabelStrip(
        strip('odd.png', 4, 5, 1, () => 0),
        { width: 4, height: 2 },
      ),
    /odd\.png: 4x5 is not a strip of 4x2 frames/,
  );
  assert.throws(
    () =>
      readLabelStrip(
        strip('short.png', 4, 4, 1, () => 0),
        { width: 4, height: 2, frames: 3 },
      ),
    /short\.png: holds 2 frames, 3 are needed/,
  );
  assert.throws(
    () =>
      readLabelStrip(
        strip('class.png', 4, 2, 1, (i) => (i === 5 ? 9 : 0)),
        { width: 4, height: 2 },
      ),
    /class\.png: frame 0 holds class 9 at pixel 5/,
  );
  writeFileSync(path.join(root, 'junk.png'), 'not a png');
  assert.throws(
    () => readLabelStrip(path.join(root, 'junk.png'), { width: 4, height: 2 }),
    /junk\.png: not a readable PNG label strip/,
  );
});
