// Loading a diffusers-format vae/ folder (sharded, real key names) made by scripts/make-vae-fixture.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { Generator, openWeights, randn, scope } from '../../src/torch/index.js';
import { AutoencoderKLWan } from '../../src/models/wan/vae.js';
import { vaeDecodeTarget, vaeEncodeTarget } from '../../src/cli/forward/vae.js';
import { checkInputs } from '../../src/cli/forward/targets.js';

const FIXTURE = 'test/fixtures/vae_tiny';

test('fromPretrained reads config.json and the sharded weights by their diffusers names', () =>
  scope(() => {
    const vae = AutoencoderKLWan.fromPretrained(FIXTURE);
    const source = openWeights(FIXTURE, 'diffusion_pytorch_model');
    for (const key of [
      'encoder.down_blocks.1.downsampler.time_conv.weight',
      'decoder.up_blocks.0.upsampler.time_conv.bias',
      'encoder.mid_block.attentions.0.to_qkv.weight',
      'decoder.norm_out.gamma',
    ]) {
      assert.deepEqual(vae.stateDict().get(key)!.toArray(), source.get(key).toArray(), key);
    }
    assert.equal(vae.temporalCompression, 2);
    assert.equal(vae.spatialCompression, 8);
    assert.deepEqual(vae.config.latents_mean, [0.5, -0.25]);
  }));

test('parity targets: vae-encode gives latent_mean/latent_logvar, vae-decode gives video', () =>
  scope(() => {
    const video = randn([1, 3, 5, 16, 16], new Generator(1)).clamp(-1, 1);
    const encoded = vaeEncodeTarget.run(FIXTURE, new Map([['video', video]]), {});
    assert.deepEqual([...encoded.keys()], ['latent_mean', 'latent_logvar']);
    assert.deepEqual(encoded.get('latent_mean')!.shape, [1, 2, 3, 2, 2]);
    const decoded = vaeDecodeTarget.run(FIXTURE, new Map([['latent', encoded.get('latent_mean')!]]), {});
    assert.deepEqual(decoded.get('video')!.shape, [1, 3, 5, 16, 16]);
    assert.throws(
      () => checkInputs('vae-decode', vaeDecodeTarget.inputs, new Map([['video', video]])),
      /vae-decode: unknown input 'video'; missing input 'latent' \[B, z_dim, T, H, W\]/,
    );
  }));

test('strict loading names the folder and every bad key; a bad config names its file and key', () =>
  scope(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vae-'));
    try {
      cpSync(FIXTURE, dir, { recursive: true });
      const indexFile = path.join(dir, 'diffusion_pytorch_model.safetensors.index.json');
      const index = JSON.parse(readFileSync(indexFile, 'utf8'));
      delete index.weight_map['decoder.conv_out.bias'];
      writeFileSync(indexFile, JSON.stringify(index));
      assert.throws(
        () => AutoencoderKLWan.fromPretrained(dir),
        (e: Error) => e.message.includes(dir) && /missing keys \(1\): decoder\.conv_out\.bias/.test(e.message),
      );
      const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, z_dim: 3 }));
      assert.throws(
        () => AutoencoderKLWan.fromPretrained(dir),
        /config\.json: latents_mean and latents_std need z_dim=3 entries, got 2 and 2/,
      );
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, base_channels: 3 }));
      assert.throws(() => AutoencoderKLWan.fromPretrained(dir), /config\.json: unknown keys base_channels/);
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, base_dim: 4 }));
      assert.throws(
        () => AutoencoderKLWan.fromPretrained(dir),
        /encoder\.conv_in\.weight: expected shape \[4, 12, 3, 3, 3\], got \[2, 12, 3, 3, 3\]/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));
