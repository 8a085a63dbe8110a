// Data parallel over libtorch's c10d (the addon's ProcessGroup: a TCPStore rendezvous and Gloo
// collectives on CPU). The environment contract is torchrun's and Slurm users': MASTER_ADDR,
// MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK. `--nproc-per-node N` starts N ranks of the same
// command on this machine; if one fails, the others are stopped and the failure is named.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

import { OptionError, WorldWanderError } from '../errors.js';
import { ProcessGroup as TorchProcessGroup, cat, noGrad, scope, type Tensor } from '../torch/index.js';
import type { ProcessGroup } from './trainer.js';

/** Gradients are all-reduced in flat buckets of about this many bytes (as DDP does). */
const BUCKET_BYTES = 25 * 2 ** 20;

export interface Group extends ProcessGroup {
  destroy(): void;
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The process group the environment describes, or null for a single process. */
export async function processGroupFromEnvironment(): Promise<Group | null> {
  const worldSize = Number(env('WORLD_SIZE') ?? 1);
  if (!Number.isInteger(worldSize) || worldSize < 1)
    throw new OptionError(null, `WORLD_SIZE must be a positive integer, got '${env('WORLD_SIZE')}'`);
  if (worldSize === 1) return null;
  const rank = Number(env('RANK'));
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
    throw new OptionError(null, `RANK must be an integer in [0, ${worldSize}), got '${env('RANK')}'`);
  const host = env('MASTER_ADDR'),
    port = Number(env('MASTER_PORT'));
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new OptionError(null, 'data parallel needs MASTER_ADDR and MASTER_PORT (the rendezvous of rank 0)');
  const timeoutMs = 1000 * Number(env('WORLDWANDER_DIST_TIMEOUT_S') ?? 300);
  const pg = new TorchProcessGroup(host, port, rank, worldSize, timeoutMs);
  const wrap = <T>(what: string, f: () => T): T => {
    try {
      return f();
    } catch (error) {
      throw new WorldWanderError(
        `rank ${rank} of ${worldSize}: ${what} failed (${(error as Error).message.split('\n')[0]}); another rank stopped?`,
      );
    }
  };
  return {
    rank,
    worldSize,
    allReduceMean(tensors: readonly Tensor[]): void {
      noGrad(() => {
        let bucket: Tensor[] = [];
        let bytes = 0;
        const flush = (): void => {
          if (bucket.length === 0) return;
          scope(() => {
            const flat = cat(
              bucket.map((t) => t.reshape(-1)),
              0,
            );
            wrap('an all-reduce', () => pg.allReduceSum(flat));
            flat.div_(worldSize);
            let offset = 0;
            for (const t of bucket) {
              t.copy_(flat.narrow(0, offset, t.numel()).reshape(...t.shape));
              offset += t.numel();
            }
          });
          bucket = [];
          bytes = 0;
        };
        for (const t of tensors) {
          bucket.push(t);
          bytes += t.numel() * 4;
          if (bytes >= BUCKET_BYTES) flush();
        }
        flush();
      });
    },
    barrier: () => wrap('a barrier', () => pg.barrier()),
    destroy: () => pg.destroy(),
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Runs this same command as N ranks on this machine (loopback rendezvous) and waits for them.
 * Rank 0's output is passed through; the others' errors are, prefixed with their rank.
 */
export async function launchLocalRanks(n: number): Promise<void> {
  const port = await freePort();
  const args = process.argv
    .slice(1)
    .filter(
      (a, i, all) =>
        a !== '--nproc-per-node' && all[i - 1] !== '--nproc-per-node' && !a.startsWith('--nproc-per-node='),
    );
  const children: ChildProcess[] = [];
  const exits = Array.from(
    { length: n },
    (_, rank) =>
      new Promise<{ rank: number; code: number | null; signal: string | null }>((resolve) => {
        const child = spawn(process.execPath, args, {
          env: {
            ...process.env,
            MASTER_ADDR: '127.0.0.1',
            MASTER_PORT: String(port),
            WORLD_SIZE: String(n),
            RANK: String(rank),
            LOCAL_RANK: String(rank),
          },
          stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'],
        });
        child.stderr!.on('data', (chunk: Buffer) =>
          process.stderr.write(rank === 0 ? chunk : chunk.toString().replace(/^(?=.)/gm, `[rank ${rank}] `)),
        );
        child.on('exit', (code, signal) => resolve({ rank, code, signal }));
        children.push(child);
      }),
  );
  const forward = (): void => {
    for (const c of children) c.kill('SIGINT');
  };
  process.on('SIGINT', forward);
  try {
    // The first failure stops the others, so that none waits on a dead peer.
    const failed = await Promise.race([
      Promise.all(exits).then(() => null),
      ...exits.map((e) => e.then((r) => (r.code === 0 ? new Promise<never>(() => {}) : r))),
    ]);
    if (failed) {
      for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
      await Promise.all(exits);
      throw new WorldWanderError(
        `rank ${failed.rank} of ${n} stopped (${failed.signal ?? `exit ${failed.code}`}); the other ranks were stopped`,
      );
    }
  } finally {
    process.off('SIGINT', forward);
  }
}
