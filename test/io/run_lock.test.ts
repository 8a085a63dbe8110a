// The output folder's run lock: a live owner (another process, or another run of this one) keeps
// it; a dead owner's lock is taken over; another host's lock is refused with the file named.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';

import { LOCK_FILE, RunLock } from '../../src/io/run_lock.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'ww-lock-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const lockOf = (dir: string, pid: number, host = hostname()): void =>
  writeFileSync(
    path.join(dir, LOCK_FILE),
    JSON.stringify({ pid, host, started: '2026-01-01T00:00:00.000Z', command: 'train --output x' }),
  );

test('a lock held by a live process is refused, naming its pid; released, the folder is free again', async () => {
  const dir = path.join(scratch, 'live');
  const child = spawn(process.execPath, ['-e', 'process.stdin.resume()'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await once(child, 'spawn');
  RunLock.acquire(dir).release(); // creates the folder; nothing is left
  assert.ok(!existsSync(path.join(dir, LOCK_FILE)));
  lockOf(dir, child.pid!);
  try {
    assert.throws(
      () => RunLock.acquire(dir),
      new RegExp(
        `in use by a live run \\(pid ${child.pid}, started 2026-01-01T00:00:00.000Z: worldwander train --output x\\)`,
      ),
    );
  } finally {
    child.stdin!.end();
    await once(child, 'exit');
  }
  const notes: string[] = [];
  const lock = RunLock.acquire(dir, 'output', (n) => notes.push(n));
  assert.match(
    notes.join(''),
    new RegExp(`took over the lock of a run that is no longer alive \\(pid ${child.pid}\\)`),
  );
  assert.equal(JSON.parse(readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, process.pid);
  assert.throws(() => RunLock.acquire(dir), /in use by a live run/, 'a second run of this process is refused too');
  lock.release();
  assert.ok(!existsSync(path.join(dir, LOCK_FILE)));
});

test('a lock cut short by a crash is taken over; one of another host is refused with the file to delete', () => {
  const dir = path.join(scratch, 'odd');
  RunLock.acquire(dir).release();
  writeFileSync(path.join(dir, LOCK_FILE), '{"pid":');
  RunLock.acquire(dir).release();
  lockOf(dir, 1, 'another-machine');
  assert.throws(
    () => RunLock.acquire(dir),
    new RegExp(`in use by a run on another-machine \\(pid 1, .*delete ${path.join(dir, LOCK_FILE)}`),
  );
});
