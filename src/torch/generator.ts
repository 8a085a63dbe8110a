// Seeded random-number generators: same seed, same numbers, on every device (tensors for other
// devices are drawn on CPU and copied).
import { native, type NativeGenerator } from './native.js';

export class Generator {
  readonly handle: NativeGenerator;

  constructor(seed: number | bigint) {
    this.handle = new native.Generator(seed);
  }

  get initialSeed(): bigint {
    return this.handle.initialSeed();
  }

  /** The state as raw bytes (to checkpoint a run and resume it). */
  getState(): Uint8Array {
    const state = this.handle.getState();
    try {
      return new Uint8Array(native.toBytes(state));
    } finally {
      state.dispose();
    }
  }

  setState(bytes: Uint8Array): void {
    const state = native.fromBytes(bytes, [bytes.length], 0);
    try {
      this.handle.setState(state);
    } finally {
      state.dispose();
    }
  }
}
