// WorldWanderPipeline: a video in, the same moment from the other perspective out. Loads a
// Wan2.2-TI2V-5B folder (diffusers' or the original release's: model_folder.ts), optionally a
// LoRA, then for each call: fit the frames to the model size, VAE-encode the condition view (and
// the reference image), take the prompt embeddings from the prompt cache, denoise the target
// from seeded noise with the in-context transformer, and decode. Writes nothing.

import { ModelInputError, OptionError } from '../errors.js';
import { Generator, checkDevice, noGrad, owned, randn, scope, type DType, type Tensor } from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import { WanTransformer3DModel } from '../models/wan/transformer.js';
import { compression } from '../models/wan/vae_config.js';
import { denormalizeLatents, normalizeLatents } from '../models/wan/latents.js';
import { decodeTiled } from '../models/wan/vae_tiling.js';
import {
  promptEmbeddings,
  textEncoderStamp,
  type TextEncoderFiles,
  type TextEncoderStamp,
} from '../models/umt5/prompt_cache.js';
import { containFit, coverFit, readImage, type RgbImage, type RgbVideo } from '../data/frames.js';
import { readVideoWindow, type VideoWindow } from '../data/video_reader.js';
import { framesToTensor, tensorToFrames } from '../data/video_tensor.js';
import type { SamplerName } from '../diffusion/index.js';
import { loadLoraFile } from './lora_file.js';
import { denoiseInContext, type GuidanceMode } from './denoise.js';
import { readDefaults, type ModelDefaults } from './model_defaults.js';
import { modelFiles, promptCacheDirOf } from './model_folder.js';
import { loadTransformer, loadVae, partCounts, vaeConfigOf } from './model_parts.js';
import { PipelineParts, autoOffload, partBytes, type OffloadMode } from './pipeline_parts.js';
import { ALL_PROMPTS, EMPTY_PROMPT, TASK_PROMPT, type WorldWanderTask } from './prompts.js';
import { textStampOf } from './text_stamp.js';

export interface PipelineLoadOptions {
  /** A LoRA file for the transformer: the release's .ckpt or a .safetensors (PEFT or diffusers names). */
  lora?: string;
  /** One transformer weights file in any layout (a ComfyUI single file, fp8 included) instead of the folder's. */
  transformerFile?: string;
  /** One VAE weights file in any layout (Wan2.2_VAE.pth, ComfyUI's wan2.2_vae.safetensors) instead of the folder's. */
  vaeFile?: string;
  /** The VAE's config.json, for a VAE file whose shapes are not Wan2.2's own (its latent statistics). */
  vaeConfig?: string;
  /** One text-encoder weights file in any layout (the release's .pth, ComfyUI's fp8 file) instead of the folder's. */
  textEncoderFile?: string;
  /** The transformer's dtype (its activations, and its weights unless weightsDtype says otherwise). */
  dtype?: DType;
  /**
   * 'fp8': the transformer's block weights kept as float8 e4m3fn with a scale per output row
   * (quantised on load; a scaled fp8 file's kept as stored), widened to `dtype` a layer at a time.
   */
  weightsDtype?: 'fp8';
  /** The VAE's dtype: float32 (the release's, default) or bfloat16. */
  vaeDtype?: DType;
  /**
   * What stays in memory between stages (pipeline_parts.ts): 'none' (default) keeps both parts;
   * 'model' one at a time; 'blocks' also keeps the transformer's block weights in host memory, a
   * layer at a time on the device; 'auto' is 'model' where the parts would take over a quarter of
   * the machine's memory, on a CPU.
   */
  offload?: OffloadMode | 'auto';
  device?: string;
  /** The prompt-embedding cache (default MODEL_DIR/prompt_embeds). */
  promptCacheDir?: string;
  /** Reports weight loading: which part, tensors done, tensors in all. */
  onProgress?: (part: string, done: number, total: number) => void;
}

export interface TranslateOptions {
  /**
   * The condition view: frames in memory (the first numFrames taken), or a frames folder (its
   * first numFrames files) or a video file (numFrames frames sampled at `fps` from `start`:
   * src/data/video_reader.ts).
   */
  video: RgbVideo | string;
  /** Seconds into a video file where its window starts (default 0). */
  start?: number;
  /** The rate a video file is sampled at: frame k is the one shown at start + k / fps (default: the model folder's fps). */
  fps?: number;
  /** Hold a video's last frame where it ends before the window does (else it is refused, naming its length). */
  pad?: boolean;
  /** one2three: the character seen from behind (an image, or an image file). */
  referenceImage?: RgbImage | string;
  /**
   * The generated video's first frame, given (RGB at the model size: e.g. the last frame of the
   * window before, so that consecutive windows join): encoded alone as the target's first latent
   * frame and held clean, at timestep 0, while the rest is denoised.
   */
  firstFrame?: Uint8Array;
  numInferenceSteps?: number;
  guidanceScale?: number;
  flowShift?: number;
  seed?: number;
  /** The release passes none, so "" (the same embedding as the unconditional branch). */
  negativePrompt?: string;
  height?: number;
  width?: number;
  numFrames?: number;
  useCollaborativePositionEncoding?: boolean;
  sampler?: SamplerName;
  guidance?: GuidanceMode;
  /** Per denoising step. */
  onStep?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface Translation {
  task: WorldWanderTask;
  /** The generated view: numFrames RGB frames of width x height. */
  frames: Uint8Array[];
  /** The condition frames as the model saw them (fitted to the model size). */
  input: Uint8Array[];
  /** The reference image as the model saw it (one2three). */
  reference?: Uint8Array;
  width: number;
  height: number;
  /** What was taken from the inputs and done to fit the model (the window of a video, resizes), for the user to see. */
  notes: string[];
  /** What the window of a video file or frames folder took, in numbers (no paths; null for frames in memory). */
  window: InputWindow | null;
  settings: {
    seed: number;
    steps: number;
    guidanceScale: number;
    flowShift: number;
    negativePrompt: string;
    useCollaborativePositionEncoding: boolean;
    sampler: SamplerName;
    numFrames: number;
  };
  /** Seconds per stage; `load`: loading model parts during this call (offloaded parts load per stage), not in the stages. */
  timings: { read: number; encode: number; denoise: number; decode: number; load?: number };
}

/** What `translateLatents` returns: a Translation before decoding (diffusers' output_type="latent"). */
export interface LatentTranslation extends Omit<Translation, 'frames'> {
  /** The denoised latents as the VAE decodes them (denormalised), [1, z_dim, F', H', W'], float32; the caller disposes them. */
  latents: Tensor;
}

/** A window of the condition view in numbers: source seconds (or frame indexes), rates, sizes, frames held. */
export type InputWindow = Pick<VideoWindow, 'time' | 'order' | 'padded' | 'resized'> & {
  source: Omit<VideoWindow['source'], 'path'>;
};

const round = (s: number): number => Number(s.toFixed(3));
/** Seconds since `since`, less `excluded` seconds (parts loaded meanwhile). */
const seconds = (since: number, excluded = 0): number => round((performance.now() - since) / 1000 - excluded);

export class WorldWanderPipeline {
  private constructor(
    readonly modelDir: string,
    readonly parts: PipelineParts,
    readonly defaults: ModelDefaults,
    readonly promptCacheDir: string,
    readonly device: string,
    readonly lora: string | null,
    readonly text: TextEncoderFiles,
  ) {}

  /** The text encoder's stamp (what keys its prompts in the cache), read once. */
  #textStamp: TextEncoderStamp | undefined;
  get #stamp(): TextEncoderStamp {
    return (this.#textStamp ??= textStampOf(this.text, this.modelDir) ?? textEncoderStamp(this.text));
  }

  /**
   * The model of `modelDir`. The prompt embeddings of both tasks are made first (read from the
   * prompt cache; on a miss the text encoder loads, encodes and is released before anything else
   * loads); then the transformer and the VAE load, now (offload 'none') or when a stage needs them.
   */
  static fromPretrained(modelDir: string, options: PipelineLoadOptions = {}): WorldWanderPipeline {
    const files = modelFiles(modelDir, {
      transformer: options.transformerFile,
      vae: options.vaeFile,
      vaeConfig: options.vaeConfig,
      textEncoder: options.textEncoderFile,
    });
    const device = checkDevice(options.device ?? 'cpu');
    const { dtype, weightsDtype, vaeDtype } = options;
    const transformerConfig = WanTransformer3DModel.readConfig(files.transformer.dir);
    const vaeConfig = vaeConfigOf(files.vae);
    if (vaeConfig.z_dim !== transformerConfig.in_channels)
      throw new ModelInputError(
        `${modelDir}: the VAE's z_dim ${vaeConfig.z_dim} differs from the transformer's in_channels ${transformerConfig.in_channels}`,
      );
    const asked = options.offload ?? 'none';
    const offload =
      asked === 'auto'
        ? autoOffload(partBytes(partCounts(transformerConfig, vaeConfig), { dtype, weightsDtype, vaeDtype }), device)
        : asked;
    const progress = (part: string) => (done: number, total: number) => options.onProgress?.(part, done, total);
    const loadWithLora = (on: string): WanTransformer3DModel => {
      const transformer = loadTransformer(files.transformer, {
        dtype,
        device: on,
        onProgress: progress('transformer'),
        storage: weightsDtype ?? (offload === 'blocks' ? 'host' : undefined),
        storageDevice: offload === 'blocks' ? 'cpu' : on,
      });
      try {
        if (options.lora) loadLoraFile(transformer, options.lora);
        return transformer;
      } catch (error) {
        transformer.dispose();
        throw error;
      }
    };
    const defaults = readDefaults(modelDir);
    const promptCacheDir = options.promptCacheDir ?? promptCacheDirOf(modelDir);
    // the text encoder, if it must run, runs alone
    const stamp = textStampOf(files.text, modelDir) ?? textEncoderStamp(files.text);
    promptEmbeddings(files.text, ALL_PROMPTS, {
      cacheDir: promptCacheDir,
      maxLength: defaults.max_sequence_length,
      device,
      stamp,
    }).dispose();
    // a LoRA that does not fit is refused now, not after the stages before the transformer's
    if (offload !== 'none' && options.lora) {
      using shapes = new WanTransformer3DModel(transformerConfig, { init: 'empty', device: 'meta' });
      loadLoraFile(shapes, options.lora);
    }
    const parts = new PipelineParts(transformerConfig, vaeConfig, offload, {
      transformer: () => loadWithLora(device),
      vae: () => loadVae(files.vae, { device, dtype: vaeDtype, onProgress: progress('vae') }),
    });
    if (offload === 'none') {
      try {
        parts.loadAll();
      } catch (error) {
        parts.dispose();
        throw error;
      }
    }
    const pipeline = new WorldWanderPipeline(
      modelDir,
      parts,
      defaults,
      promptCacheDir,
      device,
      options.lora ?? null,
      files.text,
    );
    pipeline.#textStamp = stamp;
    return pipeline;
  }

  /** The transformer (loaded now if it is not in memory: offload). */
  get transformer(): WanTransformer3DModel {
    return this.parts.transformer;
  }

  /** The VAE (loaded now if it is not in memory: offload). */
  get vae(): AutoencoderKLWan {
    return this.parts.vae;
  }

  /**
   * A pipeline over models already in memory (a trainer's, for validation samples): `modelDir`
   * still provides the text side (the prompt cache) and the defaults. Disposing it disposes nothing.
   */
  static fromModels(
    modelDir: string,
    transformer: WanTransformer3DModel,
    vae: AutoencoderKLWan,
    {
      promptCacheDir,
      defaults,
      text,
    }: { promptCacheDir?: string; defaults?: Partial<ModelDefaults>; text?: TextEncoderFiles } = {},
  ): WorldWanderPipeline {
    return new WorldWanderPipeline(
      modelDir,
      PipelineParts.of(transformer, vae),
      { ...readDefaults(modelDir), ...defaults },
      promptCacheDir ?? promptCacheDirOf(modelDir),
      transformer.patch_embedding.weight.device,
      null,
      text ?? modelFiles(modelDir).text,
    );
  }

  /** A third-person video in, the first-person video out. */
  three2one(options: TranslateOptions): Promise<Translation> {
    return this.translate('three2one', options);
  }

  /** A first-person video and the character's reference image in, the third-person video out. */
  one2three(options: TranslateOptions & { referenceImage: RgbImage | string }): Promise<Translation> {
    return this.translate('one2three', options);
  }

  async translate(task: WorldWanderTask, o: TranslateOptions): Promise<Translation> {
    const { latents: denoised, ...rest } = await this.translateLatents(task, o);
    using latents = denoised;
    const started = performance.now();
    const frames = noGrad(() => scope(() => tensorToFrames(this.#decode(latents))));
    const load = this.parts.takeLoadSeconds();
    const timings = { ...rest.timings, decode: seconds(started, load) };
    return {
      ...rest,
      frames,
      timings: load || timings.load ? { ...timings, load: round((timings.load ?? 0) + load) } : timings,
    };
  }

  /** Everything of `translate` but the decoding: the latents the VAE would decode. */
  async translateLatents(task: WorldWanderTask, o: TranslateOptions): Promise<LatentTranslation> {
    const d = this.defaults;
    const width = o.width ?? d.width,
      height = o.height ?? d.height,
      numFrames = o.numFrames ?? d.num_frames;
    const steps = o.numInferenceSteps ?? d.num_inference_steps,
      guidanceScale = o.guidanceScale ?? d.guidance_scale,
      flowShift = o.flowShift ?? d.flow_shift;
    const seed = o.seed ?? 0,
      negativePrompt = o.negativePrompt ?? EMPTY_PROMPT,
      useCpe = o.useCollaborativePositionEncoding ?? true,
      sampler = o.sampler ?? 'unipc';
    this.#checkSize(width, height, numFrames);
    if (task === 'one2three' && !o.referenceImage)
      throw new OptionError('referenceImage', 'one2three needs the reference image of the character');
    const notes: string[] = [];

    let started = performance.now();
    let input: Uint8Array[];
    let window: InputWindow | null = null;
    if (typeof o.video === 'string') {
      const read = await readVideoWindow(o.video, {
        numFrames,
        start: o.start,
        fps: o.fps ?? d.fps,
        width,
        height,
        pad: o.pad,
      });
      input = read.frames;
      const { path: _path, ...source } = read.source;
      window = { time: read.time, order: read.order, padded: read.padded, resized: read.resized, source };
      // A video's window is always said (its times); a frames folder's only when something was done to it.
      if (read.source.kind === 'video' || read.resized || read.padded) notes.push(read.description);
    } else {
      const source = o.video;
      if (source.frames.length < numFrames)
        throw new ModelInputError(
          `the input video: has ${source.frames.length} frame(s); the model takes ${numFrames} (4k+1) and uses the first ${numFrames}`,
        );
      if (source.width !== width || source.height !== height)
        notes.push(
          `the input video: ${source.width}x${source.height} frames resized to cover ${width}x${height} and centre-cropped`,
        );
      input = await Promise.all(
        source.frames
          .slice(0, numFrames)
          .map(
            async (data) => (await coverFit({ width: source.width, height: source.height, data }, width, height)).data,
          ),
      );
    }
    let reference: Uint8Array | undefined;
    if (task === 'one2three') {
      const image = typeof o.referenceImage === 'string' ? await readImage(o.referenceImage) : o.referenceImage!;
      if (image.width !== width || image.height !== height)
        notes.push(
          `reference ${image.width}x${image.height} fitted inside ${width}x${height} (aspect kept, centred on its border colour)`,
        );
      reference = (await containFit(image, width, height)).data;
    }
    const read = seconds(started);

    started = performance.now();
    this.parts.takeLoadSeconds();
    // the prompts first: a cache miss runs the text encoder, alone when parts are offloaded
    using text = promptEmbeddings(this.text, [TASK_PROMPT[task], negativePrompt], {
      cacheDir: this.promptCacheDir,
      device: this.device,
      maxLength: this.defaults.max_sequence_length,
      stamp: this.#stamp,
      onEncode: () => {
        if (this.parts.offload !== 'none') this.parts.release();
      },
    });
    using views = owned(
      noGrad(() =>
        scope(() => ({
          condition: this.#encode(input, width, height),
          ref: reference ? this.#encode([reference], width, height) : null,
          first: o.firstFrame ? this.#encode([o.firstFrame], width, height) : null,
        })),
      ),
    );
    const { condition, ref, first } = views;
    let load = this.parts.takeLoadSeconds();
    const encode = seconds(started, load);

    started = performance.now();
    using noise = randn(condition.shape, new Generator(seed), { device: this.device });
    using prompts = owned(text.chunk(2, 0) as [Tensor, Tensor]);
    const [prompt, negative] = prompts;
    using latents = await denoiseInContext({
      transformer: this.transformer,
      noise,
      condition,
      ref,
      targetPrefix: first,
      promptEmbeds: prompt,
      negativePromptEmbeds: negative,
      steps,
      guidanceScale,
      flowShift,
      useCollaborativePositionEncoding: useCpe,
      sampler,
      guidance: o.guidance,
      onStep: o.onStep,
      signal: o.signal,
    });
    const denoiseLoad = this.parts.takeLoadSeconds();
    load += denoiseLoad;
    const denoise = seconds(started, denoiseLoad);
    return {
      task,
      latents: noGrad(() => scope(() => denormalizeLatents(latents, this.parts.vaeConfig).float())),
      input,
      reference,
      width,
      height,
      notes,
      window,
      settings: {
        seed,
        steps,
        guidanceScale,
        flowShift,
        negativePrompt,
        useCollaborativePositionEncoding: useCpe,
        sampler,
        numFrames,
      },
      timings: { read, encode, denoise, decode: 0, ...(load ? { load: round(load) } : {}) },
    };
  }

  /** `using x = ...`: released at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  dispose(): void {
    this.parts.dispose();
  }

  /** Frames → normalised latent mean [1, z, F', H', W'] in float32. */
  #encode(frames: readonly Uint8Array[], width: number, height: number): Tensor {
    const video = framesToTensor(frames, width, height, { dtype: this.vae.dtype, device: this.device });
    using posterior = this.vae.encode(video);
    return normalizeLatents(posterior.mean, this.vae.config).float();
  }

  /** Latents → video; spatially tiled above 64x64 latent pixels (bounded memory at 704x1280). */
  #decode(latents: Tensor): Tensor {
    const z = latents.typeAs(this.vae.quant_conv.weight);
    const [h, w] = [z.size(3), z.size(4)];
    if (h * w <= 64 * 64) return this.vae.decode(z);
    return decodeTiled(this.vae, z, { tileHeight: 32, tileWidth: 32, strideHeight: 24, strideWidth: 24 });
  }

  #checkSize(width: number, height: number, numFrames: number): void {
    const vae = compression(this.parts.vaeConfig);
    const spatial = vae.spatial * this.parts.transformerConfig.patch_size[1];
    for (const [name, value] of [
      ['width', width],
      ['height', height],
    ] as const) {
      if (!Number.isInteger(value) || value < spatial || value % spatial)
        throw new OptionError(
          name,
          `must be a multiple of ${spatial} (the VAE's ${vae.spatial}x and the transformer's 2x2 patches), got ${value}`,
        );
    }
    const r = vae.temporal;
    if (!Number.isInteger(numFrames) || numFrames < 1 || (numFrames - 1) % r)
      throw new OptionError('numFrames', `must be ${r}k+1 (1, ${1 + r}, ${1 + 2 * r}, …), got ${numFrames}`);
  }
}
