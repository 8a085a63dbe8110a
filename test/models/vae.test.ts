// AutoencoderKLWan on tiny configs of the real layouts: frame rule, shapes, chunked = whole-sequence
// causal pass, cache slot counts, and the real TI2V-5B module tree against the published facts.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  Generator,
  memoryStats,
  noGrad,
  randn,
  resetPeakMemory,
  scope,
  tensor,
  type Tensor,
} from '../../src/torch/index.js';
import { AutoencoderKLWan } from '../../src/models/wan/vae.js';
import { FeatureCache } from '../../src/models/wan/vae_cache.js';
import { WAN22_TI2V_5B_VAE } from '../../src/models/wan/vae_config.js';
import { denormalizeLatents, normalizeLatents } from '../../src/models/wan/latents.js';
import { patchify } from '../../src/models/wan/vae_layers.js';
import { DiagonalGaussian } from '../../src/models/wan/vae.js';
import { assertClose } from '../helpers/assert_close.js';
import { TINY_WAN21, TINY_WAN22 } from './vae_tiny_config.js';

const video = (frames: number, size: number, seed = 3): Tensor =>
  randn([1, 3, frames, size, size], new Generator(seed)).mul(0.5).clamp(-1, 1);
const maxAbs = (a: Tensor, b: Tensor): number => a.sub(b).abs().amax([0, 1, 2, 3, 4]).item();

test('Wan2.2 layout: encode/decode shapes for 1, 5, 9 and 49 frames (T ↔ 1 + (T-1)/4, 16x spatial)', () =>
  scope(() => {
    const vae = new AutoencoderKLWan(TINY_WAN22, { generator: new Generator(1) });
    assert.equal(vae.temporalCompression, 4);
    assert.equal(vae.spatialCompression, 16);
    for (const [frames, latentFrames] of [
      [1, 1],
      [5, 2],
      [9, 3],
      [49, 13],
    ] as const) {
      scope(() => {
        const size = frames === 49 ? 16 : 32;
        const posterior = vae.encode(video(frames, size));
        assert.deepEqual(posterior.mean.shape, [1, 4, latentFrames, size / 16, size / 16]);
        assert.deepEqual(posterior.logvar.shape, [1, 4, latentFrames, size / 16, size / 16]);
        const decoded = vae.decode(posterior.mode());
        assert.deepEqual(decoded.shape, [1, 3, frames, size, size]);
        assert.ok(decoded.abs().amax([0, 1, 2, 3, 4]).item() <= 1, 'decode clamps to [-1, 1]');
      });
    }
  }));

test('frame counts other than 4k+1 and sizes not divisible by 16 are refused with a clear error', () =>
  scope(() => {
    const vae = new AutoencoderKLWan(TINY_WAN22, { generator: new Generator(1) });
    for (const frames of [2, 4, 6, 48])
      assert.throws(() => vae.encode(video(frames, 16)), new RegExp(`1 \\+ 4k frames .*got ${frames}`));
    assert.throws(
      () => vae.encode(randn([1, 3, 1, 24, 32], new Generator(0))),
      /height 24 and width 32 must be multiples of 16/,
    );
    assert.throws(() => vae.encode(randn([1, 4, 1, 16, 16], new Generator(0))), /expected video \[B,3,T,H,W\]/);
    assert.throws(() => vae.decode(randn([1, 3, 1, 1, 1], new Generator(0))), /expected latent \[B,4,T,H,W\]/);
  }));

for (const [name, config, size] of [
  ['Wan2.2', TINY_WAN22, 32],
  ['Wan2.1', TINY_WAN21, 16],
] as const) {
  test(`${name} layout: chunked encode/decode (frame 0, then chunks, through the cache) equals one whole-sequence causal pass`, () =>
    scope(() => {
      const vae = new AutoencoderKLWan(config, { generator: new Generator(5) });
      const x = video(13, size);
      const chunked = vae.encodeMoments(x);
      const whole = vae.encodeMoments(x, { chunked: false });
      assert.deepEqual(chunked.shape, whole.shape);
      assert.ok(maxAbs(chunked, whole) < 1e-5, `encode: max |chunked - whole| = ${maxAbs(chunked, whole)}`);
      const z = chunked.narrow(1, 0, config.z_dim);
      const a = vae.decode(z);
      const b = vae.decode(z, { chunked: false });
      assert.deepEqual(a.shape, [1, 3, 13, size, size]);
      assert.ok(maxAbs(a, b) < 1e-5, `decode: max |chunked - whole| = ${maxAbs(a, b)}`);
      // Causality: changing the last chunk leaves earlier latent frames untouched.
      const edited = x.clone();
      edited.narrow(2, 9, 4).fill_(0.25);
      const again = vae.encodeMoments(edited);
      assert.equal(maxAbs(again.narrow(2, 0, 3), chunked.narrow(2, 0, 3)), 0);
      assert.ok(maxAbs(again.narrow(2, 3, 1), chunked.narrow(2, 3, 1)) > 1e-4);
    }));
}

test('cache slots in forward call order: 24 for the Wan2.2 encoder and 32 for its decoder (num_res_blocks 2)', () =>
  scope(() => {
    // encoder: conv_in + 4 stages x 2 resnets x 2 convs + 2 time convs + mid 2x2 + conv_out = 24;
    // decoder: conv_in + mid 4 + 4 stages x 3 resnets x 2 + 2 time convs + conv_out = 32.
    const vae = new AutoencoderKLWan({ ...TINY_WAN22, num_res_blocks: 2 }, { generator: new Generator(1) });
    const enc = new FeatureCache();
    enc.startChunk();
    vae.encoder.forward(patchify(video(1, 16), 2), enc);
    assert.equal(enc.used, 24);
    const dec = new FeatureCache();
    for (let i = 0; i < 2; i++) {
      dec.startChunk();
      vae.decoder.forward(randn([1, 4, 1, 1, 1], new Generator(i)), dec, i === 0);
    }
    assert.equal(dec.used, 32);
    enc.clear();
    dec.clear();
  }));

test('the real Wan2.2-TI2V-5B config builds the published tree: 196 tensors, 704,688,668 parameters (encoder 149.6M, decoder 555.0M)', () =>
  scope(() => {
    // init 'empty' allocates without touching memory: the 2.8 GB are never written.
    const vae = new AutoencoderKLWan(WAN22_TI2V_5B_VAE, { init: 'empty' });
    const shapes = new Map([...vae.stateDict()].map(([k, t]) => [k, [...t.shape]]));
    const count = (prefix: string): number =>
      [...shapes].filter(([k]) => k.startsWith(prefix)).reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
    assert.equal(shapes.size, 196);
    assert.equal(count(''), 704_688_668);
    assert.equal((count('encoder.') / 1e6).toFixed(1), '149.6');
    assert.equal((count('decoder.') / 1e6).toFixed(1), '555.0');
    const expected: [string, number[]][] = [
      ['encoder.conv_in.weight', [160, 12, 3, 3, 3]],
      ['encoder.down_blocks.0.resnets.0.norm1.gamma', [160, 1, 1, 1]],
      ['encoder.down_blocks.1.resnets.0.conv_shortcut.weight', [320, 160, 1, 1, 1]],
      ['encoder.down_blocks.0.downsampler.resample.1.weight', [160, 160, 3, 3]],
      ['encoder.down_blocks.1.downsampler.time_conv.weight', [320, 320, 3, 1, 1]],
      ['encoder.down_blocks.2.downsampler.time_conv.weight', [640, 640, 3, 1, 1]],
      ['encoder.mid_block.attentions.0.norm.gamma', [640, 1, 1]],
      ['encoder.mid_block.attentions.0.to_qkv.weight', [1920, 640, 1, 1]],
      ['encoder.mid_block.attentions.0.proj.weight', [640, 640, 1, 1]],
      ['encoder.norm_out.gamma', [640, 1, 1, 1]],
      ['encoder.conv_out.weight', [96, 640, 3, 3, 3]],
      ['quant_conv.weight', [96, 96, 1, 1, 1]],
      ['post_quant_conv.weight', [48, 48, 1, 1, 1]],
      ['decoder.conv_in.weight', [1024, 48, 3, 3, 3]],
      ['decoder.up_blocks.0.resnets.2.conv2.weight', [1024, 1024, 3, 3, 3]],
      ['decoder.up_blocks.0.upsampler.time_conv.weight', [2048, 1024, 3, 1, 1]],
      ['decoder.up_blocks.1.upsampler.time_conv.weight', [2048, 1024, 3, 1, 1]],
      ['decoder.up_blocks.2.upsampler.resample.1.weight', [512, 512, 3, 3]],
      ['decoder.up_blocks.3.resnets.0.conv_shortcut.weight', [256, 512, 1, 1, 1]],
      ['decoder.norm_out.gamma', [256, 1, 1, 1]],
      ['decoder.conv_out.weight', [12, 256, 3, 3, 3]],
    ];
    for (const [key, shape] of expected) assert.deepEqual(shapes.get(key), shape, key);
    // Every key is one of the key names listed in reference/wan22.md.
    const res = String.raw`resnets\.\d\.(norm1\.gamma|norm2\.gamma|(conv1|conv2|conv_shortcut)\.(weight|bias))`;
    const conv = String.raw`\.(weight|bias)`;
    const patterns = [
      String.raw`encoder\.conv_in${conv}`,
      String.raw`encoder\.down_blocks\.[0-3]\.${res}`,
      String.raw`encoder\.down_blocks\.[0-2]\.downsampler\.resample\.1${conv}`,
      String.raw`encoder\.down_blocks\.[12]\.downsampler\.time_conv${conv}`,
      String.raw`(en|de)coder\.mid_block\.(${res}|attentions\.0\.(norm\.gamma|(to_qkv|proj)${conv}))`,
      String.raw`(en|de)coder\.norm_out\.gamma`,
      String.raw`(en|de)coder\.conv_out${conv}`,
      String.raw`(post_)?quant_conv${conv}`,
      String.raw`decoder\.conv_in${conv}`,
      String.raw`decoder\.up_blocks\.[0-3]\.${res}`,
      String.raw`decoder\.up_blocks\.[0-2]\.upsampler\.resample\.1${conv}`,
      String.raw`decoder\.up_blocks\.[01]\.upsampler\.time_conv${conv}`,
    ].map((p) => new RegExp(`^${p}$`));
    for (const key of shapes.keys())
      assert.ok(
        patterns.some((p) => p.test(key)),
        `${key} is not a published key name`,
      );
    for (const absent of [
      'encoder.down_blocks.3.downsampler.resample.1.weight',
      'encoder.down_blocks.0.downsampler.time_conv.weight',
      'decoder.up_blocks.2.upsampler.time_conv.weight',
      'decoder.up_blocks.3.upsampler.resample.1.weight',
    ]) {
      assert.ok(!shapes.has(absent), `${absent} must not exist`);
    }
  }));

test('latents_mean/std: (z - mean)/std and back, per channel', () =>
  scope(() => {
    const stats = { latents_mean: [1, -2], latents_std: [2, 0.5] };
    const z = tensor([[[[[3]]], [[[-1]]]]]);
    assertClose(normalizeLatents(z, stats).toArray(), [1, 2]);
    assertClose(denormalizeLatents(tensor([[[[[1]]], [[[2]]]]]), stats).toArray(), [3, -1]);
    assert.throws(() => normalizeLatents(randn([1, 3, 1, 1, 1], new Generator(0)), stats), /2 channels at dim 1/);
  }));

test('posterior: mode is the mean; sample = mean + exp(logvar/2)·ε with logvar clamped to [-30, 20]', () =>
  scope(() => {
    const moments = tensor([[[[[0.5]]], [[[-1]]], [[[0]]], [[[100]]]]]);
    const p = new DiagonalGaussian(moments);
    assert.deepEqual(p.mode().toArray(), [0.5, -1]);
    assert.deepEqual(p.logvar.toArray(), [0, 20]);
    const eps = randn([1, 2, 1, 1, 1], new Generator(9)).toArray();
    assertClose(p.sample(new Generator(9)).toArray(), [0.5 + eps[0]!, -1 + Math.exp(10) * eps[1]!], { rtol: 1e-6 });
  }));

test('chunked encoding keeps peak memory flat in the frame count; a whole-sequence pass grows with it', () =>
  scope(() => {
    const vae = new AutoencoderKLWan(TINY_WAN22, { generator: new Generator(1) });
    const peak = (frames: number, chunked: boolean): number =>
      scope(() => {
        const x = video(frames, 32);
        const base = memoryStats().allocatedBytes;
        resetPeakMemory();
        noGrad(() => vae.encodeMoments(x, { chunked }));
        return memoryStats().peakAllocatedBytes - base;
      });
    const [c9, c33, w9, w33] = [peak(9, true), peak(33, true), peak(9, false), peak(33, false)];
    // Chunked, the only growth is the patchified copy of the input and the output moments.
    const extra = (33 - 9) * 3 * 32 * 32 * 4 + (9 - 3) * 8 * 2 * 2 * 4;
    assert.ok(
      c33 - c9 <= extra + 4096,
      `chunked: ${c9} bytes at 9 frames, ${c33} at 33 (input/output growth ${extra})`,
    );
    assert.ok(w33 > 2.5 * w9, `whole: ${w9} bytes at 9 frames, ${w33} at 33`);
  }));
