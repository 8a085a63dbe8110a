// 3D rotary position embedding of Wan (diffusers WanRotaryPosEmbed), generalised so that each
// latent frame carries an explicit frame position: WorldWander's collaborative position encoding
// gives the condition and target views the same positions.
import { ModelInputError } from '../../errors.js';
import { cat, noGrad, scope, tensor, type Tensor } from '../../torch/index.js';
import { Module } from '../../nn/index.js';
import { ropeSplit } from './transformer_config.js';

/**
 * Token grid of one forward: the frame position of each latent frame (after patching), and the
 * grid's height and width in patches.
 */
export interface RopeGrid {
  framePositions: readonly number[];
  height: number;
  width: number;
}

/** cos and sin of the angles for the even/odd pairs of each head: [1, S, 1, headDim/2], float32. */
export interface RopeTables {
  cos: Tensor;
  sin: Tensor;
}

/** θ_j = θ^(−2j/d), angle = position·θ_j, in float64 then float32 (as diffusers does). */
function axisAngles(maxLen: number, dim: number, theta: number): Float64Array {
  const half = dim / 2;
  const out = new Float64Array(maxLen * half);
  for (let p = 0; p < maxLen; p++) for (let j = 0; j < half; j++) out[p * half + j] = p / theta ** ((2 * j) / dim);
  return out;
}

export class WanRotaryPosEmbed extends Module {
  readonly split: [number, number, number];

  constructor(
    readonly headDim: number,
    readonly maxSeqLen: number,
    { theta = 10000, device }: { theta?: number; device?: string } = {},
  ) {
    super();
    this.split = ropeSplit(headDim);
    const tables = this.split.map((d) => axisAngles(maxSeqLen, d, theta));
    // Per axis (t, h, w): [maxSeqLen, d/2] tables, one value per rotated pair; not saved.
    tables.forEach((a, i) => {
      const shape = [maxSeqLen, this.split[i]! / 2];
      this.registerBuffer(`freqs_cos_${'thw'[i]}`, tensor(a.map(Math.cos), { shape, dtype: 'float32', device }), false);
      this.registerBuffer(`freqs_sin_${'thw'[i]}`, tensor(a.map(Math.sin), { shape, dtype: 'float32', device }), false);
    });
  }

  /** The tables for a grid, tokens ordered f·(H·W) + h·W + w. */
  forward(grid: RopeGrid): RopeTables {
    const { framePositions, height, width } = grid;
    for (const p of framePositions) {
      if (!Number.isInteger(p) || p < 0 || p >= this.maxSeqLen)
        throw new ModelInputError(`RoPE: frame position ${p} outside [0, ${this.maxSeqLen})`);
    }
    if (height > this.maxSeqLen || width > this.maxSeqLen)
      throw new ModelInputError(`RoPE: grid ${height}x${width} exceeds rope_max_seq_len ${this.maxSeqLen}`);
    const frames = framePositions.length;
    const build = (tables: Tensor[]): Tensor =>
      noGrad(() =>
        scope(() => {
          const device = tables[0]!.device;
          const f = tables[0]!.indexSelect(0, tensor([...framePositions], { dtype: 'int64', device }));
          const h = tables[1]!.narrow(0, 0, height);
          const w = tables[2]!.narrow(0, 0, width);
          const [dt, dh, dw] = this.split.map((d) => d / 2) as [number, number, number];
          const grid3 = cat(
            [
              f.view(frames, 1, 1, dt).expand(frames, height, width, dt),
              h.view(1, height, 1, dh).expand(frames, height, width, dh),
              w.view(1, 1, width, dw).expand(frames, height, width, dw),
            ],
            -1,
          );
          return grid3.reshape(1, frames * height * width, 1, this.headDim / 2);
        }),
      );
    const buffers = new Map(this.namedBuffers());
    const axes = (kind: string): Tensor[] => [...'thw'].map((a) => buffers.get(`freqs_${kind}_${a}`)!);
    return { cos: build(axes('cos')), sin: build(axes('sin')) };
  }
}

/**
 * Rotates interleaved pairs (x[2i], x[2i+1]) of x [B, S, H, D] by the tables, in float32:
 * out0 = x0·cos − x1·sin, out1 = x0·sin + x1·cos; returns x's dtype.
 */
export function applyRotaryEmbedding(x: Tensor, { cos, sin }: RopeTables): Tensor {
  return scope(() => {
    const pairs = x.unflatten(-1, [-1, 2]);
    const x0 = pairs.select(-1, 0).float();
    const x1 = pairs.select(-1, 1).float();
    const out0 = x0.mul(cos).sub(x1.mul(sin));
    const out1 = x0.mul(sin).add(x1.mul(cos));
    const out = cat([out0.unsqueeze(-1), out1.unsqueeze(-1)], -1).flatten(-2);
    return out.typeAs(x);
  });
}
