// The VAE's adversarial critic, as the SD and Wan VAEs are trained (taming-transformers'
// NLayerDiscriminator, a PatchGAN): per frame, 4x4 convolutions, stride 2 for the first
// `layers`, then one of stride 1, each followed by a LeakyReLU(0.2) (GroupNorm before it from the
// second on, where SD has BatchNorm: a batch of frames of one clip is not i.i.d.), and a 4x4
// convolution to one logit per patch. Losses (hinge, as SD's): the critic's
//   L_D = mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))
// and the decoder's −mean(D(x̂)), plus feature matching (pix2pixHD): the mean over the critic's
// hidden layers of mean|f(x̂) − f(x)|, the real features held fixed. No pretrained perceptual term.
import { Conv2d, GroupNorm, Module, ModuleList, type LayerOptions } from '../nn/index.js';
import { callAten, type Tensor } from '../torch/index.js';

export interface CriticOutput {
  /** One logit per patch, [N, 1, h, w]. */
  logits: Tensor;
  /** Each hidden layer's output after its activation. */
  features: Tensor[];
}

export class PatchDiscriminator extends Module {
  readonly convs: ModuleList<Conv2d>;
  readonly norms: ModuleList<GroupNorm>;

  constructor(inChannels = 3, width = 32, layers = 2, options: LayerOptions = {}) {
    super();
    const widths = Array.from({ length: layers + 1 }, (_, i) => width * 2 ** i);
    const convs = widths.map(
      (w, i) =>
        new Conv2d(i === 0 ? inChannels : widths[i - 1]!, w, 4, {
          stride: i < layers ? 2 : 1,
          padding: 1,
          bias: i === 0,
          ...options,
        }),
    );
    convs.push(new Conv2d(widths[layers]!, 1, 4, { padding: 1, ...options }));
    this.convs = this.registerModule('convs', new ModuleList(convs));
    this.norms = this.registerModule(
      'norms',
      new ModuleList(widths.slice(1).map((w) => new GroupNorm(Math.min(32, w / 4), w, options))),
    );
  }

  /** Frames [N, C, H, W] in [-1, 1]. */
  forward(x: Tensor): CriticOutput {
    const features: Tensor[] = [];
    let h = x;
    const hidden = this.convs.length - 1;
    for (let i = 0; i < hidden; i++) {
      h = this.convs.at(i).forward(h);
      if (i > 0) h = this.norms.at(i - 1).forward(h);
      h = callAten('aten::leaky_relu', '', h, 0.2) as Tensor;
      features.push(h);
    }
    return { logits: this.convs.at(hidden).forward(h), features };
  }
}

/** The critic's hinge loss on real and reconstructed frames. */
export function criticLoss(real: Tensor, fake: Tensor): Tensor {
  return real.neg().add(1).relu().mean().add(fake.add(1).relu().mean());
}

/** Mean over layers of mean |f(x̂) − f(x)|, the real features held fixed. */
export function featureMatching(fake: readonly Tensor[], real: readonly Tensor[]): Tensor {
  let sum: Tensor | undefined;
  fake.forEach((f, i) => {
    const d = f.sub(real[i]!.detach()).abs().mean();
    sum = sum ? sum.add(d) : d;
  });
  return sum!.div(fake.length);
}
