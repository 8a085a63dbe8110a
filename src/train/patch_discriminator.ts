// The VAE's adversarial critic, a PatchGAN as the SD and Wan VAEs are trained with
// (taming-transformers' NLayerDiscriminator), with blurred downsampling: per frame, `layers` 3x3
// convolutions of stride 1 each followed by a LeakyReLU(0.2) and a [1 2 1]ᵀ[1 2 1]/16 blur taken
// at every second pixel (anti-aliased downsampling, Zhang 2019; StyleGAN2's critic blurs before
// it strides), then a 4x4 convolution of stride 1 and LeakyReLU, and a 4x4 convolution to one
// logit per patch; GroupNorm before the activation from the second layer on (where SD has
// BatchNorm: a batch of frames of one clip is not i.i.d.). SD's strided 4x4 kernels send back a
// gradient that repeats with period 2, which a decoder learns as a checkerboard; a blurred one
// does not. Feature matching takes each blurred layer's features before their blur, at the
// resolution they were computed: pooled features hardly show a period-2 lattice, which the
// decoder's 2x2 unpatchify could then draw unpunished. Losses (hinge, as SD's): the critic's
//   L_D = mean(relu(1 − D(x))) + mean(relu(1 + D(x̂)))
// and the decoder's −mean(D(x̂)), plus feature matching (pix2pixHD): the mean over the critic's
// hidden layers of mean|f(x̂) − f(x)|, the real features held fixed. No pretrained perceptual term.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { Conv2d, GroupNorm, Module, ModuleList, type LayerOptions } from '../nn/index.js';
import {
  callAten,
  conv2d,
  noGrad,
  openWeights,
  pad,
  saveSafetensors,
  scope,
  tensor,
  type Tensor,
} from '../torch/index.js';
import { AdamW } from './adamw.js';
import { loadOptimizerState, saveOptimizerState } from './checkpoint.js';

export interface CriticOutput {
  /** One logit per patch, [N, 1, h, w]. */
  logits: Tensor;
  /** Each hidden layer's output after its activation. */
  features: Tensor[];
}

export class PatchDiscriminator extends Module {
  readonly convs: ModuleList<Conv2d>;
  readonly norms: ModuleList<GroupNorm>;
  /** Per downsampling layer: the depthwise blur kernel [C, 1, 3, 3] (not in the state dict). */
  readonly #blurs: Tensor[] = [];

  constructor(inChannels = 3, width = 32, layers = 2, options: LayerOptions = {}) {
    super();
    const widths = Array.from({ length: layers + 1 }, (_, i) => width * 2 ** i);
    const convs = widths.map(
      (w, i) =>
        new Conv2d(i === 0 ? inChannels : widths[i - 1]!, w, i < layers ? 3 : 4, {
          stride: 1,
          padding: 1,
          bias: i === 0,
          ...options,
        }),
    );
    const taps = [1, 2, 1].flatMap((a) => [1, 2, 1].map((b) => (a * b) / 16));
    widths.slice(0, layers).forEach((w, i) => {
      const kernel = tensor(Array.from({ length: w }, () => taps).flat(), {
        shape: [w, 1, 3, 3],
        device: options.device,
        dtype: options.dtype,
      });
      this.#blurs.push(this.registerBuffer(`blur${i}`, kernel, false));
    });
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
      // features at the resolution they were computed, before the blur
      features.push(h);
      const kernel = this.#blurs[i];
      // replicate padding: a zero border would be an edge the critic sees in every frame
      if (kernel) h = conv2d(pad(h, [1, 1, 1, 1], 'replicate'), kernel, null, { stride: 2, groups: kernel.size(0) });
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

/**
 * What the generator adds to its loss: weight·(−mean D(fake)) + feature_matching_weight · the mean
 * over layers of mean |f(fake) − f(real)| (the real side carries no gradient).
 */
export function generatorTerms(
  net: PatchDiscriminator,
  real: Tensor,
  fake: Tensor,
  w: { weight: number; feature_matching_weight: number },
): Tensor {
  const realOut = noGrad(() => net.forward(real));
  const fakeOut = net.forward(fake);
  return fakeOut.logits
    .mean()
    .neg()
    .mul(w.weight)
    .add(featureMatching(fakeOut.features, realOut.features).mul(w.feature_matching_weight));
}

/**
 * A critic in training: its weights, its own AdamW (betas 0.5, 0.9, as SD's), its hinge step, and
 * its place in a checkpoint (discriminator/model.safetensors and discriminator/optimizer.safetensors).
 */
export class CriticTraining {
  readonly trainable: [string, Tensor][];
  readonly optimizer: AdamW;

  constructor(
    readonly net: PatchDiscriminator,
    learningRate: number,
  ) {
    this.trainable = net.trainableParameters();
    this.optimizer = new AdamW(
      this.trainable.map(([, p]) => p),
      { lr: learningRate, betas: [0.5, 0.9], eps: 1e-8, weightDecay: 0 },
    );
  }

  /**
   * The critic's step on real and generated inputs (the latter detached here); clears first what
   * the generator's backward left on the critic's gradients. Returns the hinge loss.
   */
  step(real: Tensor, fake: Tensor): number {
    return scope(() => {
      this.optimizer.zeroGrad();
      const loss = criticLoss(this.net.forward(real).logits, this.net.forward(fake.detach()).logits);
      loss.backward();
      this.optimizer.step();
      this.optimizer.zeroGrad();
      return loss.item();
    });
  }

  save(checkpoint: string): void {
    const dir = path.join(checkpoint, 'discriminator');
    mkdirSync(dir, { recursive: true });
    saveSafetensors(path.join(dir, 'model.safetensors'), this.net.stateDict(), { format: 'pt' });
    saveOptimizerState(path.join(dir, 'optimizer.safetensors'), this.trainable, this.optimizer);
  }

  /** Restores what save() wrote; `steps` is the critic optimiser's step count the checkpoint recorded. */
  load(checkpoint: string, steps: number): void {
    const dir = path.join(checkpoint, 'discriminator');
    if (!existsSync(path.join(dir, 'model.safetensors')))
      throw new FileFormatError(
        `${checkpoint} has no discriminator/: it was saved without training.adversarial; resume it without, or start a new run`,
      );
    this.net.loadStateDict(openWeights(dir, 'model'), { where: checkpoint });
    loadOptimizerState(path.join(dir, 'optimizer.safetensors'), this.trainable, this.optimizer, steps);
  }

  dispose(): void {
    this.optimizer.dispose();
    this.net.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
