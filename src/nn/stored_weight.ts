// Linear weights kept outside their parameter and widened as the layer runs (then released):
// - `Float8Weight`: e4m3fn bytes with a float32 scale per output row (quantised on load from a
//   bfloat16/float32 checkpoint) or per tensor (ComfyUI's scaled fp8 files, kept as stored): one
//   byte per parameter resident, widened to the compute dtype on the compute device;
// - `HostWeight`: the weight in the compute dtype in host memory, copied to the compute device as
//   the layer runs (block swap: a model larger than a GPU's memory runs with one layer's weights
//   on it at a time). On the CPU it is the weight itself.
import {
  itemSize,
  keep,
  quantizeRowsE4m3fn,
  widenE4m3fn,
  type DType,
  type Device,
  type Float8Matrix,
  type Tensor,
} from '../torch/index.js';

export interface StoredWeight {
  /** The weight [out, in] in `dtype` on `device`, the caller's to dispose after one use. */
  widen(dtype: DType, device: Device): Tensor;
  /** Bytes it holds. */
  readonly bytes: number;
  dispose(): void;
}

/** How a Linear's weight is stored: e4m3fn bytes + scale ('fp8'), or in host memory ('host'). */
export type WeightStorage = 'fp8' | 'host';

export class Float8Weight implements StoredWeight {
  readonly bytes: number;
  readonly matrix: Float8Matrix;
  /** Takes `matrix` (moved to `device` when given and elsewhere: the moved copies are kept, the originals released). */
  constructor(matrix: Float8Matrix, device?: Device) {
    const moved = (t: Tensor): Tensor => {
      if (device === undefined || t.device === device) return t;
      const copy = t.to({ device });
      t.dispose();
      return copy;
    };
    this.matrix = { bytes: keep(moved(matrix.bytes)), scale: keep(moved(matrix.scale)) };
    this.bytes = this.matrix.bytes.numel() + 4 * this.matrix.scale.numel();
  }

  /** A weight quantised with one scale per output row (absmax / 448). */
  static quantize(weight: Tensor): Float8Weight {
    return new Float8Weight(quantizeRowsE4m3fn(weight));
  }

  widen(dtype: DType, device: Device): Tensor {
    return widenE4m3fn(this.matrix, dtype, device);
  }

  dispose(): void {
    this.matrix.bytes.dispose();
    this.matrix.scale.dispose();
  }
}

export class HostWeight implements StoredWeight {
  readonly bytes: number;
  readonly #weight: Tensor;
  constructor(weight: Tensor) {
    this.#weight = keep(weight);
    this.bytes = weight.numel() * itemSize[weight.dtype];
  }

  widen(dtype: DType, device: Device): Tensor {
    // On its own device and dtype: an alias (disposing it leaves the weight).
    if (this.#weight.device === device && this.#weight.dtype === dtype) return this.#weight.detach();
    return this.#weight.to({ dtype, device });
  }

  dispose(): void {
    this.#weight.dispose();
  }
}
