// LPIPS (Zhang et al. 2018; the `lpips` package, v0.1 linear heads) from files the user already
// has, for the standard perceptual number beside the PerceptionNet's: a torchvision backbone
// (alexnet-owt-7be5be79.pth or vgg16-397923af.pth: features.N.weight/bias) and the LPIPS heads
// (lpips/weights/v0.1/alex.pth or vgg.pth: linK.model.1.weight, [1, C, 1, 1]), as .pth in either
// of torch.save's formats or as .safetensors with the same keys. Which network it is comes from
// the backbone's keys. Per frame: inputs in [-1, 1], shifted and scaled by the ScalingLayer's
// constants; at each tap (the ReLU ending each of the five slices) features unit-normalised over
// channels, their squared difference weighted per channel by the head, averaged over pixels;
// the five summed.
import { FileFormatError } from '../errors.js';
import {
  conv2d,
  noGrad,
  openWeights,
  scope,
  tensor,
  TorchCheckpoint,
  callAten,
  type Tensor,
  type TensorSource,
} from '../torch/index.js';
import { framesToTensor } from './perceptual.js';

export type LpipsNet = 'alex' | 'vgg';

type Layer = { conv: number; stride: number; padding: number } | { pool: number; stride: number } | 'tap';

const conv = (index: number, stride = 1, padding = 1): Layer => ({ conv: index, stride, padding });
const pool = (size: number, stride: number): Layer => ({ pool: size, stride });

/**
 * torchvision's `features` as LPIPS slices them (lpips/pretrained_networks.py): conv indices,
 * strides, paddings, pools, taps.
 */
const LAYERS: Record<LpipsNet, Layer[]> = {
  alex: [
    conv(0, 4, 2),
    'tap',
    pool(3, 2),
    conv(3, 1, 2),
    'tap',
    pool(3, 2),
    conv(6),
    'tap',
    conv(8),
    'tap',
    conv(10),
    'tap',
  ],
  vgg: [
    conv(0),
    conv(2),
    'tap',
    pool(2, 2),
    conv(5),
    conv(7),
    'tap',
    pool(2, 2),
    conv(10),
    conv(12),
    conv(14),
    'tap',
    pool(2, 2),
    conv(17),
    conv(19),
    conv(21),
    'tap',
    pool(2, 2),
    conv(24),
    conv(26),
    conv(28),
    'tap',
  ],
};

const SHIFT = [-0.03, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.45];
const BATCH = 16;

/** A state dict from a .safetensors file or a PyTorch .pth (zip or legacy format). */
function stateDict(file: string): TensorSource {
  return file.endsWith('.safetensors') ? openWeights(file) : TorchCheckpoint.open(file).tensorsAt([]);
}

const convIndices = (layers: readonly Layer[]): number[] =>
  layers.flatMap((l) => (typeof l === 'object' && 'conv' in l ? [l.conv] : []));

export class Lpips {
  private constructor(
    readonly net: LpipsNet,
    /** The backbone and heads files, for reports. */
    readonly files: readonly [string, string],
    private readonly weights: Map<string, Tensor>,
    private readonly heads: Tensor[],
    private readonly shift: Tensor,
    private readonly scale: Tensor,
  ) {}

  /** Loads a backbone and its heads; errors name the file and the key that is missing or of the wrong shape. */
  static load(backboneFile: string, headsFile: string): Lpips {
    const backbone = stateDict(backboneFile),
      headSource = stateDict(headsFile);
    const net = (Object.keys(LAYERS) as LpipsNet[]).find((n) =>
      convIndices(LAYERS[n]).every((i) => backbone.has(`features.${i}.weight`)),
    );
    if (!net)
      throw new FileFormatError(
        `${backboneFile}: not an AlexNet or VGG16 backbone of torchvision (looked for features.N.weight of either; the keys start ${backbone.keys().slice(0, 4).join(', ')})`,
      );
    const weights = new Map<string, Tensor>();
    const heads: Tensor[] = [];
    try {
      let channels = 3;
      const taps: number[] = [];
      for (const layer of LAYERS[net]) {
        if (layer === 'tap') {
          taps.push(channels);
          continue;
        }
        if (!('conv' in layer)) continue;
        const key = `features.${layer.conv}`;
        const weight = backbone.get(`${key}.weight`, { dtype: 'float32' });
        weights.set(`${key}.weight`, weight);
        if (weight.ndim !== 4 || weight.size(1) !== channels)
          throw new FileFormatError(
            `${backboneFile}: ${key}.weight is [${weight.shape.join(', ')}], expected [*, ${channels}, k, k]`,
          );
        if (!backbone.has(`${key}.bias`)) throw new FileFormatError(`${backboneFile}: no ${key}.bias`);
        weights.set(`${key}.bias`, backbone.get(`${key}.bias`, { dtype: 'float32' }));
        channels = weight.size(0);
      }
      taps.forEach((c, k) => {
        const key = `lin${k}.model.1.weight`;
        if (!headSource.has(key))
          throw new FileFormatError(`${headsFile}: no ${key} (the LPIPS v0.1 heads of the ${net} network)`);
        const head = headSource.get(key, { dtype: 'float32' });
        heads.push(head);
        if (head.shape.join() !== [1, c, 1, 1].join())
          throw new FileFormatError(
            `${headsFile}: ${key} is [${head.shape.join(', ')}], the ${net} backbone ${backboneFile} needs [1, ${c}, 1, 1]`,
          );
      });
    } catch (error) {
      for (const t of [...weights.values(), ...heads]) t.dispose();
      throw error;
    }
    return new Lpips(
      net,
      [backboneFile, headsFile],
      weights,
      heads,
      tensor(SHIFT, { shape: [1, 3, 1, 1] }),
      tensor(SCALE, { shape: [1, 3, 1, 1] }),
    );
  }

  /** LPIPS of each pair of frames (8-bit RGB, H·W·3 bytes). */
  distances(a: readonly Uint8Array[], b: readonly Uint8Array[], width: number, height: number): number[] {
    if (a.length !== b.length) throw new RangeError(`Lpips.distances: ${a.length} and ${b.length} frames`);
    const out: number[] = [];
    noGrad(() => {
      for (let start = 0; start < a.length; start += BATCH) {
        out.push(
          ...scope(() => {
            const fa = this.features(framesToTensor(a.slice(start, start + BATCH), width, height));
            const fb = this.features(framesToTensor(b.slice(start, start + BATCH), width, height));
            let total: Tensor | undefined;
            fa.forEach((x, k) => {
              const d = conv2d(unitNormalize(x).sub(unitNormalize(fb[k]!)).square(), this.heads[k]!).mean([1, 2, 3]);
              total = total ? total.add(d) : d;
            });
            return total!.toArray();
          }),
        );
      }
    });
    return out;
  }

  private features(x: Tensor): Tensor[] {
    let h = x.sub(this.shift).div(this.scale);
    const taps: Tensor[] = [];
    for (const layer of LAYERS[this.net]) {
      if (layer === 'tap') taps.push(h);
      else if ('conv' in layer)
        h = conv2d(
          h,
          this.weights.get(`features.${layer.conv}.weight`)!,
          this.weights.get(`features.${layer.conv}.bias`)!,
          { stride: layer.stride, padding: layer.padding },
        ).relu();
      else
        h = callAten(
          'aten::max_pool2d',
          '',
          h,
          [layer.pool, layer.pool],
          [layer.stride, layer.stride],
          [0, 0],
          [1, 1],
          false,
        ) as Tensor;
    }
    return taps;
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    for (const t of [...this.weights.values(), ...this.heads, this.shift, this.scale]) t.dispose();
  }
}

/** x / (‖x‖ over channels + 1e-10), as lpips' normalize_tensor. */
function unitNormalize(x: Tensor): Tensor {
  return x.div(x.square().sum(1, true).sqrt().add(1e-10));
}
