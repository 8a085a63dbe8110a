// An independent float64 reference of WanTransformer3DModel's forward in plain JS loops, written
// from the math in docs/wan22.md section 2 (not from the TypeScript model).
import type { WanTransformerConfig } from '../../src/models/wan/transformer_config.js';

export type Weights = Map<string, { data: number[]; shape: readonly number[] }>;
type Vec = number[];

const get = (w: Weights, key: string): number[] => {
  const v = w.get(key);
  if (!v) throw new Error(`reference: no weight ${key}`);
  return v.data;
};

function linear(x: Vec, w: Weights, name: string): Vec {
  const W = get(w, `${name}.weight`);
  const b = w.get(`${name}.bias`)?.data;
  const out = W.length / x.length;
  const y = new Array<number>(out);
  for (let o = 0; o < out; o++) {
    let s = b ? b[o]! : 0;
    for (let i = 0; i < x.length; i++) s += W[o * x.length + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function layerNorm(x: Vec, eps: number, weight?: number[], bias?: number[]): Vec {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
  return x.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * (weight ? weight[i]! : 1) + (bias ? bias[i]! : 0));
}

function rmsNorm(x: Vec, eps: number, weight: number[]): Vec {
  const ms = x.reduce((a, b) => a + b * b, 0) / x.length;
  return x.map((v, i) => (v / Math.sqrt(ms + eps)) * weight[i]!);
}

const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
const silu = (v: number): number => v / (1 + Math.exp(-v));

export interface ReferenceInputs {
  /** [C][F][H][W] for one sample. */
  latent: number[][][][];
  /** One timestep per token. */
  timesteps: number[];
  /** [T][text_dim]. */
  text: number[][];
  framePositions: number[];
  outputFrames: number;
}

/** Returns [C][F_out][H][W]. */
export function referenceForward(config: WanTransformerConfig, w: Weights, input: ReferenceInputs): number[][][][] {
  const [pt, ph, pw] = config.patch_size;
  const heads = config.num_attention_heads;
  const hd = config.attention_head_dim;
  const dim = heads * hd;
  const C = config.in_channels;
  const F = input.latent[0]!.length / pt,
    H = input.latent[0]![0]!.length / ph,
    W = input.latent[0]![0]![0]!.length / pw;
  const eps = config.eps;

  // Patch embedding: weight [dim, C, pt, ph, pw].
  const pe = get(w, 'patch_embedding.weight');
  const peb = get(w, 'patch_embedding.bias');
  const tokens: Vec[] = [];
  const where: [number, number, number][] = [];
  for (let f = 0; f < F; f++)
    for (let h = 0; h < H; h++)
      for (let x = 0; x < W; x++) {
        const tok = new Array<number>(dim).fill(0);
        for (let o = 0; o < dim; o++) {
          let s = peb[o]!;
          for (let c = 0; c < C; c++)
            for (let a = 0; a < pt; a++)
              for (let b = 0; b < ph; b++)
                for (let d = 0; d < pw; d++) {
                  s +=
                    pe[(((o * C + c) * pt + a) * ph + b) * pw + d]! *
                    input.latent[c]![f * pt + a]![h * ph + b]![x * pw + d]!;
                }
          tok[o] = s;
        }
        tokens.push(tok);
        where.push([input.framePositions[f]!, h, x]);
      }
  const S = tokens.length;

  // Time embedding per token.
  const half = config.freq_dim / 2;
  const temb: Vec[] = input.timesteps.map((t) => {
    const emb = [
      ...Array.from({ length: half }, (_, i) => Math.cos(t * Math.exp((-Math.log(10000) * i) / half))),
      ...Array.from({ length: half }, (_, i) => Math.sin(t * Math.exp((-Math.log(10000) * i) / half))),
    ];
    return linear(
      linear(emb, w, 'condition_embedder.time_embedder.linear_1').map(silu),
      w,
      'condition_embedder.time_embedder.linear_2',
    );
  });
  const tproj: Vec[] = temb.map((e) => linear(e.map(silu), w, 'condition_embedder.time_proj'));
  const text: Vec[] = input.text.map((row) =>
    linear(
      linear(row, w, 'condition_embedder.text_embedder.linear_1').map(geluTanh),
      w,
      'condition_embedder.text_embedder.linear_2',
    ),
  );

  // RoPE angle for pair j of a token.
  const hw = 2 * Math.floor(hd / 6);
  const dt = hd - 2 * hw;
  const angle = (pos: [number, number, number], j: number): number => {
    if (j < dt / 2) return pos[0] / 10000 ** ((2 * j) / dt);
    if (j < dt / 2 + hw / 2) return pos[1] / 10000 ** ((2 * (j - dt / 2)) / hw);
    return pos[2] / 10000 ** ((2 * (j - dt / 2 - hw / 2)) / hw);
  };
  const rope = (v: Vec, pos: [number, number, number]): Vec => {
    const out = v.slice();
    for (let h = 0; h < heads; h++)
      for (let j = 0; j < hd / 2; j++) {
        const a = angle(pos, j),
          i0 = h * hd + 2 * j,
          x0 = v[i0]!,
          x1 = v[i0 + 1]!;
        out[i0] = x0 * Math.cos(a) - x1 * Math.sin(a);
        out[i0 + 1] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
    return out;
  };
  const attention = (q: Vec[], k: Vec[], v: Vec[]): Vec[] =>
    q.map((qi) => {
      const out = new Array<number>(dim).fill(0);
      for (let h = 0; h < heads; h++) {
        const scores = k.map((kj) => {
          let s = 0;
          for (let d = 0; d < hd; d++) s += qi[h * hd + d]! * kj[h * hd + d]!;
          return s / Math.sqrt(hd);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j < k.length; j++)
          for (let d = 0; d < hd; d++) out[h * hd + d]! += (e[j]! / z) * v[j]![h * hd + d]!;
      }
      return out;
    });
  const attn = (prefix: string, xs: Vec[], ctx: Vec[] | null): Vec[] => {
    const src = ctx ?? xs;
    let q = xs.map((x) => linear(x, w, `${prefix}.to_q`));
    let k = src.map((x) => linear(x, w, `${prefix}.to_k`));
    const v = src.map((x) => linear(x, w, `${prefix}.to_v`));
    if (config.qk_norm) {
      q = q.map((r) => rmsNorm(r, eps, get(w, `${prefix}.norm_q.weight`)));
      k = k.map((r) => rmsNorm(r, eps, get(w, `${prefix}.norm_k.weight`)));
    }
    if (!ctx) {
      q = q.map((r, i) => rope(r, where[i]!));
      k = k.map((r, i) => rope(r, where[i]!));
    }
    return attention(q, k, v).map((o) => linear(o, w, `${prefix}.to_out.0`));
  };

  let xs = tokens;
  for (let l = 0; l < config.num_layers; l++) {
    const p = `blocks.${l}`;
    const table = get(w, `${p}.scale_shift_table`);
    const mod = (i: number, k: number, d: number): number => table[k * dim + d]! + tproj[i]![k * dim + d]!;
    const h1 = xs.map((x, i) => layerNorm(x, eps).map((v, d) => v * (1 + mod(i, 1, d)) + mod(i, 0, d)));
    const a1 = attn(`${p}.attn1`, h1, null);
    xs = xs.map((x, i) => x.map((v, d) => v + a1[i]![d]! * mod(i, 2, d)));
    const h2 = config.cross_attn_norm
      ? xs.map((x) => layerNorm(x, eps, get(w, `${p}.norm2.weight`), get(w, `${p}.norm2.bias`)))
      : xs;
    const a2 = attn(`${p}.attn2`, h2, text);
    xs = xs.map((x, i) => x.map((v, d) => v + a2[i]![d]!));
    const h3 = xs.map((x, i) => layerNorm(x, eps).map((v, d) => v * (1 + mod(i, 4, d)) + mod(i, 3, d)));
    const ff = h3.map((h) => linear(linear(h, w, `${p}.ffn.net.0.proj`).map(geluTanh), w, `${p}.ffn.net.2`));
    xs = xs.map((x, i) => x.map((v, d) => v + ff[i]![d]! * mod(i, 5, d)));
  }

  const table = get(w, 'scale_shift_table');
  const Cout = config.out_channels;
  const Fo = input.outputFrames;
  const out = Array.from({ length: Cout }, () =>
    Array.from({ length: Fo * pt }, () => Array.from({ length: H * ph }, () => new Array<number>(W * pw).fill(0))),
  );
  const first = S - Fo * H * W;
  for (let i = first; i < S; i++) {
    const n = layerNorm(xs[i]!, eps).map((v, d) => v * (1 + table[dim + d]! + temb[i]![d]!) + table[d]! + temb[i]![d]!);
    const y = linear(n, w, 'proj_out');
    const local = i - first;
    const f = Math.floor(local / (H * W)),
      h = Math.floor((local % (H * W)) / W),
      x = local % W;
    for (let a = 0; a < pt; a++)
      for (let b = 0; b < ph; b++)
        for (let d = 0; d < pw; d++)
          for (let c = 0; c < Cout; c++) {
            out[c]![f * pt + a]![h * ph + b]![x * pw + d] = y[((a * ph + b) * pw + d) * Cout + c]!;
          }
  }
  void S;
  return out;
}
