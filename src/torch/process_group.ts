// c10d's process group through the addon: a TCPStore rendezvous (rank 0 serves it) and Gloo
// collectives on CPU tensors, blocking the calling thread like the rest of a training step.
import { native } from './native.js';
import type { Tensor } from './tensor.js';

interface NativeProcessGroup {
  allReduceSum(tensor: unknown): void;
  barrier(): void;
  destroy(): void;
}

export class ProcessGroup {
  readonly #native: NativeProcessGroup;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
  ) {
    const Native = (native as unknown as { ProcessGroup: new (...args: unknown[]) => NativeProcessGroup }).ProcessGroup;
    this.#native = new Native(host, port, rank, worldSize, timeoutMs);
  }

  /** Sums the tensor across ranks, in place. */
  allReduceSum(tensor: Tensor): void {
    this.#native.allReduceSum(tensor.handle);
  }

  barrier(): void {
    this.#native.barrier();
  }

  destroy(): void {
    this.#native.destroy();
  }
}
