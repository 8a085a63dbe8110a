// fp8 weights kept in fp8 (`storage: 'fp8'`): the blocks' Linear weights stay e4m3fn bytes with a
// scale and are widened as each layer runs. Checked against the float64 reference forward with
// the dequantised weights (decoded here from the bit layout), against the weights as a scaled fp8
// file stores them, and host storage (block swap) against the plain model.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';

import { Generator, SafetensorsFile, noGrad, randn, saveSafetensors, scope, tensor } from '../../src/torch/index.js';
import { Linear, Float8Weight } from '../../src/nn/index.js';
import { WanTransformer3DModel } from '../../src/models/wan/transformer.js';
import { buildInContextInputs } from '../../src/worldwander/in_context.js';
import { referenceForward } from './transformer_reference.js';
import { TINY, maxAbsDiff, nested4, rand, tinyModel, weightsOf } from './transformer_fixtures.js';
import { repoRoot } from '../helpers/release_examples.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'ww-fp8-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** e4m3fn by its bit layout, in float64 (sign, 4 exponent bits with bias 7, 3 mantissa bits, subnormals, NaN). */
function e4m3(byte: number): number {
  const e = (byte >> 3) & 15,
    m = byte & 7;
  if (e === 15 && m === 7) return NaN;
  const magnitude = e === 0 ? m * 2 ** -9 : (8 + m) * 2 ** (e - 10);
  return byte & 0x80 ? -magnitude : magnitude;
}

/** A stored weight's values in float64: e4m3(byte) · its row's (or the tensor's) scale. */
function dequantised(store: Float8Weight): { data: number[]; shape: readonly number[] } {
  const { bytes, scale } = store.matrix;
  const cols = bytes.size(1);
  const s = scale.toArray();
  const data = bytes.toArray().map((b, i) => e4m3(b) * (s.length === 1 ? s[0]! : s[Math.floor(i / cols)]!));
  return { data, shape: bytes.shape };
}

function blockLinears(model: WanTransformer3DModel): [string, Linear][] {
  return [...model.blocks.namedModules('blocks')].filter((e): e is [string, Linear] => e[1] instanceof Linear);
}

function writeFolder(name: string, model: WanTransformer3DModel): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir);
  saveSafetensors(path.join(dir, 'diffusion_pytorch_model.safetensors'), model.stateDict());
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(TINY));
  return dir;
}

function inputs(): ReturnType<typeof buildInContextInputs> {
  return buildInContextInputs({
    target: rand([1, 4, 2, 4, 4], 2),
    condition: rand([1, 4, 2, 4, 4], 3),
    timestep: 731,
    encoderHiddenStates: rand([1, 3, 8], 4),
    useCollaborativePositionEncoding: true,
  });
}

test('fp8 storage: quantised per output row on load; the forward equals the float64 reference with the dequantised weights', () =>
  scope(() => {
    const plain = tinyModel(1);
    const dir = writeFolder('rows', plain);
    const model = WanTransformer3DModel.fromPretrained(dir, { storage: 'fp8' });
    assert.equal(model.blockWeightStorage, 'fp8');
    const linears = blockLinears(model);
    assert.equal(linears.length, 2 * 10);
    const weights = weightsOf(plain);
    for (const [name, linear] of linears) {
      const store = linear.stored as Float8Weight;
      assert.ok(store instanceof Float8Weight, name);
      assert.equal(store.matrix.bytes.dtype, 'uint8');
      assert.deepEqual(store.matrix.scale.shape, [linear.outFeatures], `${name}: a scale per output row`);
      assert.equal(store.bytes, linear.outFeatures * linear.inFeatures + 4 * linear.outFeatures);
      assert.deepEqual(
        linear.weight.shape,
        [linear.outFeatures, linear.inFeatures],
        `${name}: the placeholder's shape`,
      );
      weights.set(`${name}.weight`, dequantised(store));
    }
    const x = inputs();
    const out = model.forward(x).toArray();
    const reference = (w: typeof weights): number[] =>
      referenceForward(TINY, w, {
        latent: nested4(x.hiddenStates),
        timesteps: [...new Array(8).fill(0), ...new Array(8).fill(731)],
        text: [0, 1, 2].map((i) => x.encoderHiddenStates.select(0, 0).select(0, i).toArray()),
        framePositions: [0, 1, 0, 1],
        outputFrames: 2,
      }).flat(3);
    const diff = maxAbsDiff(out, reference(weights));
    assert.ok(diff < 2e-4, `against the dequantised weights: max |diff| ${diff}`);
    // and fp8 is really in effect: the original weights give another output
    const offBy = maxAbsDiff(out, reference(weightsOf(plain)));
    assert.ok(offBy > 20 * diff && offBy > 1e-3, `against the unquantised weights: max |diff| ${offBy}`);
    model.dispose();
    plain.dispose();
  }));

test("ComfyUI's scaled fp8 file with fp8 storage: the bytes and per-tensor scales kept as stored; the same forward as the file widened on load", () =>
  scope(() => {
    const dir = path.join(repoRoot, 'test', 'fixtures', 'wan_layouts', 'comfy_fp8');
    const file = SafetensorsFile.open(path.join(dir, 'diffusion_pytorch_model.safetensors'));
    const model = WanTransformer3DModel.fromPretrained(dir, { storage: 'fp8' });
    const widened = WanTransformer3DModel.fromPretrained(dir);
    for (const [name, linear] of blockLinears(model)) {
      const original = name.replace('attn1', 'self_attn').replace('attn2', 'cross_attn');
      const key = `model.diffusion_model.${original
        .replace(/to_([qkv])$/, '$1')
        .replace('to_out.0', 'o')
        .replace('ffn.net.0.proj', 'ffn.0')
        .replace('ffn.net.2', 'ffn.2')}`;
      const store = linear.stored as Float8Weight;
      const stored = file.get(`${key}.weight`, { float8Bytes: true });
      assert.deepEqual(store.matrix.bytes.toArray(), stored.toArray(), `${name}: the file's bytes`);
      assert.deepEqual(store.matrix.scale.toArray(), file.get(`${key}.scale_weight`).toArray(), `${name}: scale`);
    }
    const x = inputs();
    assert.deepEqual(model.forward(x).toArray(), widened.forward(x).toArray());
    model.dispose();
    widened.dispose();
  }));

test('fp8 storage in bfloat16: layers widened to bfloat16; close to the float32 fp8 forward', () =>
  scope(() => {
    const dir = writeFolder('bf16', tinyModel(3));
    const f32 = WanTransformer3DModel.fromPretrained(dir, { storage: 'fp8' });
    const bf16 = WanTransformer3DModel.fromPretrained(dir, { storage: 'fp8', dtype: 'bfloat16' });
    assert.equal(bf16.blocks.at(0).ffn.net.out.weight.dtype, 'bfloat16');
    const x = inputs();
    const a = f32.forward(x).toArray(),
      b = bf16.forward(x).toArray();
    const scale = Math.max(...a.map(Math.abs));
    assert.ok(maxAbsDiff(a, b) < 0.05 * scale, `bf16 vs float32: ${maxAbsDiff(a, b)} of ${scale}`);
    f32.dispose();
    bf16.dispose();
  }));

test('a Linear with fp8 storage and a LoRA: W_fp8·x + b + B·A·x; merging the LoRA into it is refused', () =>
  scope(() => {
    const g = new Generator(7);
    const linear = new Linear(16, 8, { generator: g });
    linear.attachLora({ rank: 2, generator: g });
    noGrad(() => linear.lora_B!.weight.copy_(randn([8, 2], g)));
    linear.storeWeight('fp8');
    const x = randn([3, 16], g);
    const y = linear.forward(x).toArray();
    const w = dequantised(linear.stored as Float8Weight).data;
    const [a, b, bias, xs] = [linear.lora_A!.weight, linear.lora_B!.weight, linear.bias!, x].map((t) => t.toArray());
    for (let r = 0; r < 3; r++)
      for (let o = 0; o < 8; o++) {
        let want = bias![o]!;
        for (let i = 0; i < 16; i++) want += w[o * 16 + i]! * xs![r * 16 + i]!;
        for (let k = 0; k < 2; k++) {
          let ax = 0;
          for (let i = 0; i < 16; i++) ax += a![k * 16 + i]! * xs![r * 16 + i]!;
          want += b![o * 2 + k]! * ax;
        }
        assert.ok(Math.abs(y[r * 8 + o]! - want) < 1e-5, `[${r}, ${o}]: ${y[r * 8 + o]} vs ${want}`);
      }
    assert.throws(() => linear.mergeLora(), /cannot be merged into a fp8-stored weight/);
    linear.dispose();
  }));

test('host storage (block swap) gives the plain forward exactly; a model with stored weights refuses to train', () =>
  scope(() => {
    const plain = tinyModel(5);
    const dir = writeFolder('host', plain);
    const host = WanTransformer3DModel.fromPretrained(dir, { storage: 'host' });
    const x = inputs();
    assert.deepEqual(host.forward(x).toArray(), plain.forward(x).toArray());
    assert.throws(
      () => host.forwardBackward(x, (s) => s.square().mean()),
      /its block weights are kept in host memory, for inference/,
    );
    const unloaded = new Linear(4, 2);
    unloaded.storeWeight('fp8', { values: false });
    assert.throws(() => unloaded.forward(tensor([[1, 2, 3, 4]])), /Linear 4->2: its stored weight was never loaded/);
    host.dispose();
    plain.dispose();
  }));
