// Atomic file writes: content goes to `<file>.tmp-<pid>` in the same folder and is renamed over
// the final name only when complete, so a reader never sees half a file and a crash leaves the
// previous one intact. A failing write or rename removes its temporary file; temporaries still
// open when the process exits (process.exit, an uncaught error) are removed by an exit hook.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

const open = new Set<string>();
let hooked = false;

/** Registers a temporary path to be removed if the process exits before it is released. */
export function trackTemporary(temp: string): void {
  track(temp);
}

/** The temporary path was renamed into place or removed. */
export function releaseTemporary(temp: string): void {
  open.delete(temp);
}

function track(temp: string): void {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const path of open) rmSync(path, { force: true, recursive: true });
    });
  }
  open.add(temp);
}

/** Whether a file name is an atomic write's temporary (of any process). */
export function isTemporary(name: string): boolean {
  return /\.tmp-\d+$/.test(name);
}

/** The temporary name next to `file` that an atomic write of it uses. */
export function temporaryPathFor(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/** Writes `file` through `write(fd)` (synchronously, fsync'd), then renames it into place. */
export function writeFileAtomicSync(file: string, write: (fd: number) => void): void {
  const temp = temporaryPathFor(file);
  track(temp);
  try {
    const fd = openSync(temp, 'w');
    try {
      write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  } finally {
    open.delete(temp);
  }
}

/** Writes all of `bytes` at the current position of fd. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

/** Writes data to `file` atomically (asynchronously). */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const temp = temporaryPathFor(file);
  track(temp);
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  } finally {
    open.delete(temp);
  }
}

/**
 * Runs `produce(temp)` to make a file or folder at a temporary path, then renames it to `final`
 * (replacing an earlier one); on failure the temporary path is removed.
 */
export async function produceAtomically<T>(final: string, produce: (temp: string) => Promise<T>): Promise<T> {
  const temp = temporaryPathFor(final);
  track(temp);
  try {
    await rm(temp, { force: true, recursive: true });
    const result = await produce(temp);
    await rm(final, { force: true, recursive: true });
    await rename(temp, final);
    return result;
  } catch (error) {
    await rm(temp, { force: true, recursive: true });
    throw error;
  } finally {
    open.delete(temp);
  }
}
