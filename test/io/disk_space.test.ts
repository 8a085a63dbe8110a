// A full disk (a real ENOSPC, from Linux's /dev/full) is said with the path and the room there.
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { DiskFullError, freeBytes, onDiskFull, sizeOf } from '../../src/io/disk_space.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'ww-disk-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('ENOSPC becomes an error naming the target, the free space and what is needed; other errors pass unchanged', async (t) => {
  if (!existsSync('/dev/full')) return t.skip('no /dev/full on this system');
  const target = path.join(scratch, 'run', 'metrics.jsonl');
  const error = (() => {
    try {
      onDiskFull(target, () => appendFileSync('/dev/full', 'x\n'), {
        needed: 3 * 2 ** 20,
        then: 'continue with --resume latest',
      });
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof DiskFullError);
  assert.match(
    (error as Error).message,
    new RegExp(
      `^${target}: no space left on the device \\(\\d+\\.\\d MB free there, about 3\\.0 MB needed\\); nothing half-written is kept; continue with --resume latest$`,
    ),
  );
  await assert.rejects(
    onDiskFull(target, async () => appendFileSync('/dev/full', 'x\n')),
    DiskFullError,
    'from a promise too',
  );
  assert.throws(
    () =>
      onDiskFull(target, () => {
        throw new RangeError('other');
      }),
    RangeError,
  );
});

test('sizeOf adds the files of a folder; freeBytes answers for a path that does not exist yet', () => {
  const dir = path.join(scratch, 'sized');
  mkdirSync(path.join(dir, 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'a'), Buffer.alloc(1000));
  writeFileSync(path.join(dir, 'sub', 'b'), Buffer.alloc(24));
  assert.equal(sizeOf(dir), 1024);
  assert.ok(freeBytes(path.join(dir, 'not', 'yet')) > 0);
});
