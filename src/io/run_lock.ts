// One live run per output folder: `<output>/.worldwander.lock` holds the owner's pid, host and
// start time, created exclusively. A second run into the folder is refused while the owner
// lives; a lock whose process is gone (killed, crashed, machine rebooted) is taken over, so
// leftovers never hold a folder forever. A lock written on another host cannot be checked and
// is refused with its file named.
import { hostname } from 'node:os';
import { mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, closeSync, writeSync } from 'node:fs';
import path from 'node:path';

import { OptionError } from '../errors.js';
import { checkOutputFolder } from './output_path.js';
import { jsonText } from './json_text.js';

export const LOCK_FILE = '.worldwander.lock';

/** Lock files this process holds (two runs of one process, e.g. a server's jobs, share its pid). */
const held = new Set<string>();

interface LockRecord {
  pid: number;
  host: string;
  started: string;
  command: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function readRecord(file: string): LockRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockRecord>;
    return typeof record.pid === 'number' && typeof record.host === 'string' ? (record as LockRecord) : undefined;
  } catch {
    return undefined; // gone meanwhile, or cut short by a crash while being written
  }
}

export class RunLock {
  #released = false;
  private constructor(
    readonly file: string,
    private readonly onExit: () => void,
  ) {}

  /** Takes `dir`'s lock (creating the folder) or throws an OptionError naming `option` and the live run. */
  static acquire(dir: string, option = 'output', onNote?: (text: string) => void): RunLock {
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, LOCK_FILE);
    const record: LockRecord = {
      pid: process.pid,
      host: hostname(),
      started: new Date().toISOString(),
      command: process.argv.slice(2).join(' '),
    };
    const text = jsonText(record);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(file, 'wx');
        try {
          writeSync(fd, text);
        } finally {
          closeSync(fd);
        }
        return RunLock.#owned(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = readRecord(file);
      if (owner && owner.host !== record.host) {
        throw new OptionError(
          option,
          `${dir} is in use by a run on ${owner.host} (pid ${owner.pid}, started ${owner.started}); if that run is gone, delete ${file}`,
        );
      }
      if (owner && (owner.pid === process.pid ? held.has(file) : alive(owner.pid))) {
        throw new OptionError(
          option,
          `${dir} is in use by a live run (pid ${owner.pid}, started ${owner.started}${owner.command ? `: worldwander ${owner.command}` : ''}); wait for it or stop it, or choose another folder`,
        );
      }
      // the owner is gone: replace its lock atomically, then check that ours is the one that stayed
      const temp = `${file}.tmp-${process.pid}`;
      writeFileSync(temp, text);
      renameSync(temp, file);
      if (readRecord(file)?.pid === process.pid) {
        onNote?.(`${dir}: took over the lock of a run that is no longer alive (pid ${owner?.pid ?? 'unknown'})`);
        return RunLock.#owned(file);
      }
    }
    throw new OptionError(option, `${dir}: another run keeps taking its lock (${file})`);
  }

  static #owned(file: string): RunLock {
    // a process that exits without release() (process.exit, an uncaught error) still frees the folder
    const onExit = (): void => {
      held.delete(file);
      if (readRecord(file)?.pid === process.pid) rmSync(file, { force: true });
    };
    held.add(file);
    process.once('exit', onExit);
    return new RunLock(file, onExit);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    process.removeListener('exit', this.onExit);
    this.onExit();
  }
}

/** Runs `work` holding `dir`'s lock, once the folder is checked against the run's inputs (output_path.ts). */
export async function withRunLock<T>(
  dir: string,
  work: () => Promise<T>,
  { inputs = [], onNote }: { inputs?: readonly (string | undefined)[]; onNote?: (text: string) => void } = {},
): Promise<T> {
  checkOutputFolder(dir, 'output', { inputs });
  const lock = RunLock.acquire(dir, 'output', onNote);
  try {
    return await work();
  } finally {
    lock.release();
  }
}
