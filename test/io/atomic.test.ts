// Atomic writes leave either the old file or the whole new one, and never a temporary file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { produceAtomically, writeAll, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic.js';

const dir = mkdtempSync(path.join(tmpdir(), 'atomic-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const temporaries = (): string[] => readdirSync(dir).filter((f) => /\.tmp-\d+$/.test(f));

test('a write that fails part-way leaves the previous file and no temporary', async () => {
  const file = path.join(dir, 'a.bin');
  writeFileSync(file, 'old');
  assert.throws(
    () =>
      writeFileAtomicSync(file, (fd) => {
        writeAll(fd, Buffer.from('half of the new'));
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.equal(readFileSync(file, 'utf8'), 'old');
  await assert.rejects(
    produceAtomically(file, async (temp) => {
      writeFileSync(temp, 'partial');
      throw new Error('encoder died');
    }),
    /encoder died/,
  );
  assert.equal(readFileSync(file, 'utf8'), 'old');
  assert.deepEqual(temporaries(), []);
});

test('a rename that fails (the name is a non-empty folder) leaves no temporary', async () => {
  const folder = path.join(dir, 'taken');
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'x'), '1');
  assert.throws(() => writeFileAtomicSync(folder, (fd) => writeAll(fd, Buffer.from('data'))));
  await assert.rejects(writeFileAtomic(folder, 'data'));
  assert.deepEqual(temporaries(), []);
  writeFileAtomicSync(path.join(dir, 'b.bin'), (fd) => writeAll(fd, Buffer.from('new')));
  assert.equal(readFileSync(path.join(dir, 'b.bin'), 'utf8'), 'new');
});

test('a process that exits in the middle of an atomic write removes its temporary', () => {
  const module = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/io/atomic.js');
  const script = `import { produceAtomically } from ${JSON.stringify(module)};
    import { writeFileSync } from 'node:fs';
    await produceAtomically(${JSON.stringify(path.join(dir, 'c.bin'))}, async (temp) => { writeFileSync(temp, 'x'); process.exit(3); });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  assert.deepEqual(temporaries(), []);
});
