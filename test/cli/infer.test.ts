// `worldwander infer` end to end with the tiny model folder: the release's example in its exact
// layout under each of the release's four configs (read unchanged), a LoRA from a release-shaped
// .ckpt, ground truth from a synthetic dataset, and every bad input it must refuse clearly.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { encodePng } from '../../src/data/png.js';
import { probeVideo, readVideoFrames } from '../../src/data/video_writer.js';
import { Generator, randn, saveSafetensors } from '../../src/torch/index.js';
import { RELEASE_CONFIGS, RELEASE_EXAMPLES, repoRoot } from '../helpers/release_examples.js';
import { ORIGINAL_PARTS, TINY_VAE_CONFIG, originalReleaseFolder } from '../helpers/original_release.js';
import { codedClip, indexOf, shown } from '../helpers/coded_clips.js';

const cli = path.join(repoRoot, 'bin', 'worldwander.js');
const MODEL = path.join(repoRoot, 'test/fixtures/tiny_model');
const scratch = mkdtempSync(path.join(tmpdir(), 'infer-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
const SIZE = ['--height', '32', '--width', '64', '--frames', '5', '--steps', '3'];

function run(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, 'infer', ...args], { encoding: 'utf8', cwd: scratch });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const config = (name: string): string => path.join(RELEASE_CONFIGS, `wan2-2_lora_${name}.yaml`);

test("the release's example, as its script passes it, under each of the four release configs", async () => {
  for (const name of ['three2one_synthetic', 'one2three_synthetic', 'three2one_realworld', 'one2three_realworld']) {
    const output = path.join(scratch, name);
    const r = run([
      '--config',
      config(name),
      '--model-dir',
      MODEL,
      '--input',
      RELEASE_EXAMPLES,
      '--output',
      output,
      ...SIZE,
    ]);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    const one2three = name.startsWith('one2three');
    const dir = path.join(output, 'case1');
    assert.deepEqual(readdirSync(dir).sort(), ['frames', 'generated.mp4', 'run.json', 'side_by_side.mp4']);
    assert.deepEqual(await probeVideo(path.join(dir, 'side_by_side.mp4')), {
      width: 64 * (one2three ? 3 : 2),
      height: 32,
      fps: 8,
      frameCount: 5,
    });
    assert.deepEqual(await probeVideo(path.join(dir, 'generated.mp4')), {
      width: 64,
      height: 32,
      fps: 8,
      frameCount: 5,
    });
    assert.deepEqual(readdirSync(path.join(dir, 'frames')), [
      '00000.png',
      '00001.png',
      '00002.png',
      '00003.png',
      '00004.png',
    ]);
    const record = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8'));
    assert.equal(record.task, one2three ? 'one2three' : 'three2one');
    assert.equal(record.seed, 1234);
    assert.equal(record.use_collaborative_position_encoding, true);
    assert.match(record.input, new RegExp(one2three ? 'First_Video/case1$' : 'Third_Video/case1$'));
    if (one2three) assert.match(record.reference, /Reference_Image\/case1\.png$/);
    assert.match(r.stderr, /320x176 frames resized to cover 64x32 and centre-cropped/);
    assert.match(r.stderr, /case 1\/1 case1 \[#+\] 100% 3\/3/, 'a step progress bar');
  }
});

test('a LoRA from the release-shaped .ckpt loads and changes the result; one that does not fit the model is named', () => {
  const base = path.join(scratch, 'base'),
    lora = path.join(scratch, 'lora');
  const args = ['--config', config('three2one_synthetic'), '--model-dir', MODEL, '--input', RELEASE_EXAMPLES, ...SIZE];
  assert.equal(run([...args, '--output', base]).status, 0);
  const withLora = run([
    ...args,
    '--output',
    lora,
    '--ckpt',
    path.join(repoRoot, 'test/fixtures/ckpt/release_shaped.ckpt'),
  ]);
  assert.equal(withLora.status, 0, withLora.stderr);
  assert.ok(
    !readFileSync(path.join(base, 'case1/frames/00004.png')).equals(
      readFileSync(path.join(lora, 'case1/frames/00004.png')),
    ),
    'the LoRA changes the frames',
  );
  const wrong = path.join(scratch, 'wrong.safetensors');
  saveSafetensors(wrong, {
    'transformer.blocks.0.attn1.to_q.lora_A.weight': randn([4, 3072], new Generator(1)),
    'transformer.blocks.0.attn1.to_q.lora_B.weight': randn([3072, 4], new Generator(2)),
  });
  const r = run([...args, '--output', path.join(scratch, 'wrong-out'), '--ckpt', wrong]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /wrong\.safetensors: LoRA weights do not match the model:\n\s+transformer\.blocks\.0\.attn1\.to_q\.lora_A\.weight: expected \[4, 24\], got \[4, 3072\]/,
  );
  assert.ok(!existsSync(path.join(scratch, 'wrong-out')), 'nothing written');
});

test('ground truth joins the side-by-side video; inputs matched by name in a synthetic dataset', async () => {
  const data = path.join(scratch, 'synth');
  const made = spawnSync(
    process.execPath,
    [cli, 'synth', '--out', data, '--count', '2', '--width', '64', '--height', '32', '--frames', '5', '--quiet'],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  const output = path.join(scratch, 'with-truth');
  const r = run([
    '--config',
    config('one2three_synthetic'),
    '--model-dir',
    MODEL,
    '--input',
    data,
    '--ground-truth',
    '--output',
    output,
    ...SIZE,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(output).sort(), ['sample_000000', 'sample_000001']);
  assert.deepEqual(await probeVideo(path.join(output, 'sample_000001', 'side_by_side.mp4')), {
    width: 64 * 4,
    height: 32,
    fps: 8,
    frameCount: 5,
  });
  assert.match(
    JSON.parse(readFileSync(path.join(output, 'sample_000001', 'run.json'), 'utf8')).groundTruth,
    /Third_Video\/sample_000001\.mp4$/,
  );
  assert.match(r.stderr, /ETA of all cases/);
});

test('--start picks the window of a video in its own seconds, sampled at the config fps; --pad holds the last frame of a short one', async () => {
  const clip = codedClip(scratch, 'walk60.mp4', '60', 1.5, '64x32');
  const args = ['--config', config('three2one_synthetic'), '--model-dir', MODEL, '--input', clip, ...SIZE];
  /** The source frames the input panel (the left 64 columns) of a case's side-by-side video shows. */
  const inputPanel = async (output: string): Promise<number[]> => {
    const video = await readVideoFrames(path.join(output, 'walk60', 'side_by_side.mp4'));
    return video.frames.map((frame) => indexOf(frame, { width: video.width, x0: 0, x1: 64 }));
  };
  const output = path.join(scratch, 'start');
  const r = run([...args, '--output', output, '--start', '0.5']);
  assert.equal(r.status, 0, r.stderr);
  const note = `seconds 0.50-1.00 of ${clip} (60 fps -> 8 fps)`;
  assert.ok(r.stderr.includes(`note: ${note}\n`), r.stderr);
  assert.ok(JSON.parse(readFileSync(path.join(output, 'walk60', 'run.json'), 'utf8')).notes.includes(note));
  assert.deepEqual(await inputPanel(output), shown(60, 0.5, 8, 5), 'the frames shown at 0.5 + k/8 s');
  // From 1.2 s the window's instants run to 1.7 s: past the end of the 1.5-s clip.
  const short = run([...args, '--output', path.join(scratch, 'short'), '--start', '1.2']);
  assert.equal(short.status, 1);
  assert.match(
    short.stderr,
    /walk60\.mp4: 1\.50 s long; 5 frames at 8 fps from 1\.20 s need a clip longer than 1\.70 s \(or pad, to hold its last frame\)\n$/,
  );
  const padded = path.join(scratch, 'padded');
  const held = run([...args, '--output', padded, '--start', '1.2', '--pad']);
  assert.equal(held.status, 0, held.stderr);
  assert.match(
    held.stderr,
    /seconds 1\.20-1\.70 of \S+ \(60 fps -> 8 fps\); the clip ends at 1\.50 s, its last frame held for the last 2 frame\(s\)/,
  );
  assert.deepEqual(await inputPanel(padded), [...shown(60, 1.2, 8, 3), 89, 89]);
  const fromFolder = [...args.slice(0, 4), '--input', RELEASE_EXAMPLES, '--start', '1'];
  const folder = run([...fromFolder, '--output', path.join(scratch, 'o-start')]);
  assert.equal(folder.status, 2);
  assert.match(folder.stderr, /--start: is in seconds, and \S+case1 is a frames folder with no times/);
  assert.doesNotMatch(folder.stderr, /loading/, 'refused before the model loads');
});

test('bad input is refused before work, naming what is wrong', () => {
  const data = path.join(scratch, 'bad');
  mkdirSync(path.join(data, 'First_Video', 'walk'), { recursive: true });
  writeFileSync(
    path.join(data, 'First_Video', 'walk', '00000.png'),
    encodePng({ width: 64, height: 32, channels: 3, data: new Uint8Array(64 * 32 * 3) }),
  );
  const existing = path.join(scratch, 'existing');
  mkdirSync(existing);
  writeFileSync(path.join(existing, 'keep.txt'), 'mine');
  const unknown = path.join(scratch, 'unknown.yaml');
  writeFileSync(
    unknown,
    readFileSync(config('three2one_synthetic'), 'utf8').replace('  rank: 80', '  rank: 80\n  rnak: 8'),
  );
  const noImages = path.join(scratch, 'no-images');
  mkdirSync(noImages);
  writeFileSync(path.join(noImages, 'readme.txt'), 'no frames here');
  const cases: [string[], number, RegExp][] = [
    [
      ['--config', unknown, '--input', data, '--output', path.join(scratch, 'o1')],
      1,
      /unknown\.yaml: training: unknown key 'rnak'/,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        path.join(scratch, 'no-model'),
        '--input',
        data,
        '--output',
        path.join(scratch, 'o2'),
      ],
      2,
      /--model-dir: .*no-model is neither a folder nor a Hub repository \(OWNER\/NAME\[@REVISION\]\)/,
    ],
    [
      [
        '--config',
        config('one2three_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        data,
        '--output',
        path.join(scratch, 'o3'),
      ],
      1,
      /case 'walk' has no reference image Reference_Image\/walk\.png/,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        data,
        '--output',
        path.join(scratch, 'o4'),
      ],
      1,
      /the release layout has no Third_Video\//,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        noImages,
        '--output',
        path.join(scratch, 'o5'),
      ],
      2,
      /--input: .*no-images holds no image frames and is not in the release layout/,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        path.join(scratch, 'nothing'),
        '--output',
        path.join(scratch, 'o6'),
      ],
      2,
      /--input: .*nothing does not exist/,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        noImages,
        '--ref',
        noImages,
        '--output',
        path.join(scratch, 'o7'),
      ],
      2,
      /--input: /,
    ],
    [
      [
        '--config',
        config('three2one_synthetic'),
        '--model-dir',
        MODEL,
        '--input',
        path.join(repoRoot, 'test/fixtures/tiny_model/model_index.json'),
        '--output',
        existing,
      ],
      2,
      /--input: .*model_index\.json is not a video file/,
    ],
  ];
  for (const [args, status, pattern] of cases) {
    const r = run(args);
    assert.equal(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.ok(!/^\s+at /m.test(r.stderr), 'no stack trace');
  }
  // the synthetic dataset the test above made (so this runs without the release's examples too)
  const exists = run([
    '--config',
    config('three2one_synthetic'),
    '--model-dir',
    MODEL,
    '--input',
    path.join(scratch, 'synth'),
    '--output',
    existing,
    ...SIZE,
  ]);
  assert.equal(exists.status, 2);
  assert.match(
    exists.stderr,
    /--output: .*existing exists and is not empty; pass --overwrite to replace the cases there/,
  );
  assert.equal(readFileSync(path.join(existing, 'keep.txt'), 'utf8'), 'mine');
});

test('--transformer FILE: a ComfyUI single file of the same weights gives the same frames; its fp8 version other ones', () => {
  const args = ['--config', config('three2one_synthetic'), '--model-dir', MODEL, '--input', RELEASE_EXAMPLES, ...SIZE];
  const base = path.join(scratch, 'tf-base'),
    comfy = path.join(scratch, 'tf-comfy'),
    fp8 = path.join(scratch, 'tf-fp8');
  assert.equal(run([...args, '--output', base]).status, 0);
  const layouts = path.join(repoRoot, 'test/fixtures/wan_layouts');
  const c = run([
    ...args,
    '--output',
    comfy,
    '--transformer',
    path.join(layouts, 'comfy', 'diffusion_pytorch_model.safetensors'),
  ]);
  assert.equal(c.status, 0, c.stderr);
  const f = run([
    ...args,
    '--output',
    fp8,
    '--transformer',
    path.join(layouts, 'comfy_fp8', 'diffusion_pytorch_model.safetensors'),
  ]);
  assert.equal(f.status, 0, f.stderr);
  assert.match(
    c.stderr,
    /note: .*comfy\/diffusion_pytorch_model\.safetensors: the transformer in the original layout under model\.diffusion_model\., 69 float32/,
  );
  assert.match(
    f.stderr,
    /comfy_fp8\/diffusion_pytorch_model\.safetensors: the transformer in the original layout under model\.diffusion_model\., 42 float32, 27 float8_e4m3fn, scaled fp8 \(dequantised to float32 on load\)/,
  );
  const frame = (dir: string) => readFileSync(path.join(dir, 'case1/frames/00004.png'));
  assert.ok(frame(comfy).equals(frame(base)), "the same weights in ComfyUI's layout give the same frames");
  assert.ok(!frame(fp8).equals(frame(base)), 'the fp8-quantised weights are other weights');
  const missing = run([
    ...args,
    '--output',
    path.join(scratch, 'tf-missing'),
    '--transformer',
    path.join(scratch, 'nope.safetensors'),
  ]);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--transformer: .*nope\.safetensors is not a file/);
});

test("--model-dir takes the original release's folder (Wan2.2_VAE.pth, the umT5 .pth); --vae and --text-encoder take single files: the same frames", () => {
  const args = ['--config', config('three2one_synthetic'), '--input', RELEASE_EXAMPLES, ...SIZE];
  const base = path.join(scratch, 'orig-base'),
    original = path.join(scratch, 'orig-folder'),
    files = path.join(scratch, 'orig-files');
  assert.equal(run([...args, '--model-dir', MODEL, '--output', base]).status, 0);
  const folder = originalReleaseFolder(scratch);
  const o = run([...args, '--model-dir', folder, '--vae-config', TINY_VAE_CONFIG, '--output', original]);
  assert.equal(o.status, 0, o.stderr);
  assert.match(o.stderr, /note: .*Wan2\.2-TI2V-5B: the original Wan release's folder layout/);
  // a copy of the model folder: another text encoder's prompt embeddings are cached in the folder it is used with
  const copy = path.join(scratch, 'tiny-copy');
  cpSync(MODEL, copy, { recursive: true });
  const f = run([
    ...args,
    '--model-dir',
    copy,
    '--vae',
    path.join(ORIGINAL_PARTS, 'Wan2.2_VAE.pth'),
    '--vae-config',
    TINY_VAE_CONFIG,
    '--text-encoder',
    path.join(ORIGINAL_PARTS, 'models_t5_umt5-xxl-enc-bf16.pth'),
    '--output',
    files,
  ]);
  assert.equal(f.status, 0, f.stderr);
  const frame = (dir: string) => readFileSync(path.join(dir, 'case1/frames/00004.png'));
  assert.ok(frame(original).equals(frame(base)), "the original release folder gives the diffusers folder's frames");
  assert.ok(frame(files).equals(frame(base)), 'the same VAE and text encoder from single files give the same frames');
  const bare = run([...args, '--model-dir', folder, '--output', path.join(scratch, 'orig-bare')]);
  assert.equal(bare.status, 1);
  assert.match(bare.stderr, /Wan2\.2_VAE\.pth: a VAE of other shapes than Wan2\.2's .*--vae-config/);
  const notModel = run([...args, '--model-dir', scratch, '--output', path.join(scratch, 'orig-none')]);
  assert.equal(notModel.status, 2);
  assert.match(
    notModel.stderr,
    /--model-dir: .* is not a Wan2\.2-TI2V-5B folder: diffusers .* or the original release/,
  );
});
