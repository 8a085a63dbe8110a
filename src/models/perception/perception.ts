// PerceptionNet: the feature network of the project's perceptual, distribution and content
// metrics (src/eval/perceptual.ts). An FCN-style segmenter: down blocks of two 3x3 convs with
// ReLU (the first conv of every block after the first has stride 2), one 1x1 class head per
// block, the heads' logits upsampled bilinearly to the input size and summed (FCN-8s' skip
// fusion). Keys: down_blocks.{i}.conv1/conv2.{weight,bias}, heads.{i}.{weight,bias}.
import { mkdirSync, writeSync } from 'node:fs';
import path from 'node:path';

import { ModelInputError } from '../../errors.js';
import { writeFileAtomicSync } from '../../io/atomic.js';
import { Conv2d, loadPretrained, Module, ModuleList, type LayerOptions } from '../../nn/index.js';
import { interpolate, openWeights, saveSafetensors, scope, type Tensor } from '../../torch/index.js';
import { readPerceptionConfig, type PerceptionConfig } from './config.js';
import { jsonText } from '../../io/json_text.js';

class DownBlock extends Module {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;

  constructor(inChannels: number, outChannels: number, stride: number, options: LayerOptions) {
    super();
    this.conv1 = this.registerModule(
      'conv1',
      new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, ...options }),
    );
    this.conv2 = this.registerModule('conv2', new Conv2d(outChannels, outChannels, 3, { padding: 1, ...options }));
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.conv2.forward(this.conv1.forward(x).relu()).relu());
  }
}

export interface PerceptionOutput {
  /** Each down block's output (after its ReLU), [N, C_i, H/2^i, W/2^i]. */
  features: Tensor[];
  /** Class logits at the input's size, [N, classes, H, W]; absent when only features were asked for. */
  logits?: Tensor;
}

export class PerceptionNet extends Module {
  readonly down_blocks: ModuleList<DownBlock>;
  readonly heads: ModuleList<Conv2d>;

  constructor(
    readonly config: PerceptionConfig,
    options: LayerOptions = {},
  ) {
    super();
    const widths = config.block_out_channels;
    this.down_blocks = this.registerModule(
      'down_blocks',
      new ModuleList(
        widths.map((w, i) => new DownBlock(i === 0 ? config.in_channels : widths[i - 1]!, w, i === 0 ? 1 : 2, options)),
      ),
    );
    this.heads = this.registerModule(
      'heads',
      new ModuleList(widths.map((w) => new Conv2d(w, config.class_names.length, 1, options))),
    );
    this.eval();
  }

  /** The size an input's height and width must be a multiple of. */
  get stride(): number {
    return 2 ** (this.config.block_out_channels.length - 1);
  }

  static fromPretrained(dir: string): PerceptionNet {
    const config = readPerceptionConfig(path.join(dir, 'config.json'));
    return loadPretrained(new PerceptionNet(config, { init: 'empty' }), openWeights(dir, 'model'), dir);
  }

  /** config.json and model.safetensors into `dir`, each written atomically. */
  savePretrained(dir: string): void {
    mkdirSync(dir, { recursive: true });
    const json = jsonText({ _class_name: 'PerceptionNet', ...this.config }, 2);
    writeFileAtomicSync(path.join(dir, 'config.json'), (fd) => writeSync(fd, json));
    saveSafetensors(path.join(dir, 'model.safetensors'), this.stateDict());
  }

  /** Frames as [N, 3, H, W] in [-1, 1]. */
  forward(x: Tensor, { logits = true }: { logits?: boolean } = {}): PerceptionOutput {
    const [, c, h, w] = x.shape as [number, number, number, number];
    if (x.ndim !== 4 || c !== this.config.in_channels || h % this.stride || w % this.stride) {
      throw new ModelInputError(
        `PerceptionNet: expected frames [N, ${this.config.in_channels}, H, W] with H and W multiples of ${this.stride}, got [${x.shape.join(', ')}]`,
      );
    }
    return scope(() => {
      const features: Tensor[] = [];
      let y = x;
      for (const block of this.down_blocks.items) features.push((y = block.forward(y)));
      if (!logits) return { features };
      let sum: Tensor | undefined;
      features.forEach((f, i) => {
        const head = this.heads.at(i).forward(f);
        const up = i === 0 ? head : interpolate(head, { size: [h, w], mode: 'bilinear' });
        sum = sum ? sum.add(up) : up;
      });
      return { features, logits: sum! };
    });
  }
}
