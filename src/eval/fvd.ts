// FVD (Unterthiner et al. 2018) from the I3D a user already has: StyleGAN-V's TorchScript export
// (i3d_torchscript.pt, Kinetics-400), called as the field's PyTorch FVD code calls it
// (StyleGAN-V, MCVD, common_metrics_on_video_quality): each clip's frames in [0, 1] scaled
// bilinearly (align_corners false) so the short side is 224, centre-cropped to 224x224, mapped
// to [-1, 1], as [N, 3, T, 224, 224]; detector(x, rescale=False, resize=False,
// return_features=True) gives one feature vector per clip (400 values, before the softmax).
// FVD is the Fréchet distance of the two sets' vectors (frechet.ts).
import { FileFormatError } from '../errors.js';
import { interpolate, noGrad, scope, ScriptModule, Tensor } from '../torch/index.js';
import { framesToTensor } from './perceptual.js';

export const I3D_RESOLUTION = 224;

export class Fvd {
  private constructor(private readonly detector: ScriptModule) {}

  get file(): string {
    return this.detector.file;
  }

  static load(file: string): Fvd {
    return new Fvd(ScriptModule.load(file));
  }

  /** The detector's input for one clip: [1, 3, T, 224, 224] in [-1, 1]. */
  static preprocess(frames: readonly Uint8Array[], width: number, height: number): Tensor {
    return scope(() => {
      const scale = I3D_RESOLUTION / Math.min(width, height);
      const size =
        height < width ? [I3D_RESOLUTION, Math.ceil(width * scale)] : [Math.ceil(height * scale), I3D_RESOLUTION];
      const resized = interpolate(framesToTensor(frames, width, height), { size, mode: 'bilinear' });
      const top = Math.floor((size[0]! - I3D_RESOLUTION) / 2),
        left = Math.floor((size[1]! - I3D_RESOLUTION) / 2);
      const cropped = resized.narrow(2, top, I3D_RESOLUTION).narrow(3, left, I3D_RESOLUTION);
      return cropped.permute(1, 0, 2, 3).unsqueeze(0).contiguous();
    });
  }

  /** One clip's I3D features (float64 for the Fréchet distance). */
  features(frames: readonly Uint8Array[], width: number, height: number): Float64Array {
    return noGrad(() =>
      scope(() => {
        const out = this.detector.forward([Fvd.preprocess(frames, width, height)], {
          rescale: false,
          resize: false,
          return_features: true,
        });
        if (!(out instanceof Tensor) || out.ndim !== 2 || out.shape[0] !== 1) {
          const got = out instanceof Tensor ? `a tensor of shape [${out.shape.join(', ')}]` : `${out.length} tensors`;
          throw new FileFormatError(
            `${this.file}: the detector returned ${got}, not the [1, features] of an I3D called with return_features=True`,
          );
        }
        return Float64Array.from(out.toArray());
      }),
    );
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.detector.dispose();
  }
}
