// RGB frames ↔ the VAE's video tensors: [B, 3, F, H, W] with values in [-1, 1].
import { scope, tensor, type DType, type Device, type Tensor } from '../torch/index.js';

/** Frames of one size (H·W·3 bytes each) as [1, 3, F, H, W] in [-1, 1]. */
export function framesToTensor(
  frames: readonly Uint8Array[],
  width: number,
  height: number,
  { dtype = 'float32', device }: { dtype?: DType; device?: Device } = {},
): Tensor {
  const size = width * height * 3;
  const bytes = new Uint8Array(frames.length * size);
  frames.forEach((frame, f) => {
    if (frame.length !== size)
      throw new RangeError(
        `framesToTensor: frame ${f} has ${frame.length} bytes, ${size} expected (${width}x${height} RGB)`,
      );
    bytes.set(frame, f * size);
  });
  // [F, H, W, 3] → [1, 3, F, H, W]
  return scope(() =>
    tensor(bytes, { shape: [frames.length, height, width, 3] })
      .permute(3, 0, 1, 2)
      .unsqueeze(0)
      .to({ dtype: 'float32' })
      .div(127.5)
      .sub(1)
      .to({ dtype, device })
      .contiguous(),
  );
}

/** [1, 3, F, H, W] in [-1, 1] (clamped) → F frames of H·W·3 bytes, rounded. */
export function tensorToFrames(video: Tensor): Uint8Array[] {
  if (video.ndim !== 5 || video.size(0) !== 1 || video.size(1) !== 3)
    throw new RangeError(`tensorToFrames: expected [1, 3, F, H, W], got [${video.shape.join(', ')}]`);
  const [, , frames, height, width] = video.shape as [number, number, number, number, number];
  const bytes = scope(() =>
    video
      .float()
      .clamp(-1, 1)
      .add(1)
      .mul(127.5)
      .round()
      .to({ dtype: 'uint8', device: 'cpu' })
      .permute(0, 2, 3, 4, 1)
      .contiguous()
      .toTypedArray(),
  ) as Uint8Array;
  const size = height * width * 3;
  return Array.from({ length: frames }, (_, f) => bytes.slice(f * size, (f + 1) * size));
}
