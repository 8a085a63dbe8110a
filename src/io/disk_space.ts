// A full disk, said with the path being written and the room there: Node's ENOSPC from a write
// names neither ("ENOSPC: no space left on device, write").
import { readdirSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';

import { WorldWanderError } from '../errors.js';

export class DiskFullError extends WorldWanderError {
  override name = 'DiskFullError';
}

const megabytes = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** Bytes of the files under `p` (a file or a folder). */
export function sizeOf(p: string): number {
  const stat = statSync(p, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(p).reduce((sum, name) => sum + sizeOf(path.join(p, name)), 0);
}

/** Free bytes for this user on the disk that holds `p` (or its nearest existing folder). */
export function freeBytes(p: string): number {
  let at = path.resolve(p);
  while (!statSync(at, { throwIfNoEntry: false })) at = path.dirname(at);
  const s = statfsSync(at);
  return s.bavail * s.bsize;
}

/**
 * Runs `write`; a full disk becomes a DiskFullError naming `target`, the free space and, when
 * known, the space needed.
 */
export function onDiskFull<T>(
  target: string,
  write: () => T,
  { needed, then }: { needed?: number; then?: string } = {},
): T {
  try {
    const result = write();
    if (result instanceof Promise)
      return result.catch((error: unknown) => {
        throw diskFull(error, target, needed, then);
      }) as T;
    return result;
  } catch (error) {
    throw diskFull(error, target, needed, then);
  }
}

function diskFull(error: unknown, target: string, needed: number | undefined, then: string | undefined): unknown {
  if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') return error;
  const need = needed ? `, about ${megabytes(needed)} needed` : '';
  return new DiskFullError(
    `${target}: no space left on the device (${megabytes(freeBytes(target))} free there${need}); nothing half-written is kept${then ? `; ${then}` : ''}`,
  );
}
