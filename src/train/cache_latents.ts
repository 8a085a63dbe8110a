// `worldwander cache-latents`: fills a config's latent cache ahead of training (the VAE runs once
// per clip window, and a training run then reads latents only).
import { OptionError } from '../errors.js';
import { checkDevice } from '../torch/index.js';
import { LatentCache, fillLatentCache, vaeIdentity } from '../data/latent_cache.js';
import { checkDatasetReport, indexTriplets } from '../data/triplets.js';
import { loadConfig, resolveConfigPath } from '../worldwander/config.js';
import { modelFiles, resolveModelDir } from '../worldwander/model_folder.js';
import { loadVae } from '../worldwander/model_parts.js';

export async function cacheLatents(o: {
  config: string;
  overrides?: string[];
  modelDir?: string;
  vae?: string;
  vaeConfig?: string;
  device?: string;
  onNote?: (text: string) => void;
  onProgress?: (done: number, total: number) => void;
}): Promise<{ dir: string; clips: number; written: number; found: number }> {
  const config = loadConfig(o.config, o.overrides ?? []);
  const d = config.dataset;
  if (!d.latent_cache)
    throw new OptionError(
      null,
      `${o.config}: dataset.latent_cache is not set; set it to the cache folder (e.g. dataset.latent_cache=latent_cache)`,
    );
  const root = (p: string): string => resolveConfigPath(o.config, p);
  const modelDir = resolveModelDir(config, o.config, o.modelDir);
  const { clips, report } = await indexTriplets(
    {
      first: root(d.first_video_root),
      third: root(d.third_video_root),
      reference: d.ref_image_root ? root(d.ref_image_root) : null,
    },
    { sampleFrames: d.sample_n_frames, stride: d.stride, needReference: d.is_one2three },
  );
  checkDatasetReport(report, {
    skipInvalid: d.skip_invalid ?? false,
    option: 'dataset.skip_invalid',
    where: `${o.config}: the dataset (${d.first_video_root}, ${d.third_video_root})`,
    note: (text) => o.onNote?.(text),
  });
  const cache = new LatentCache(root(d.latent_cache));
  const files = modelFiles(modelDir, { vae: o.vae, vaeConfig: o.vaeConfig }).vae;
  using vae = loadVae(files, { device: checkDevice(o.device ?? 'cpu') });
  const vaeId = vaeIdentity(files.weights, files.config);
  const transform = { height: d.height, width: d.width, resizeLong: d.resize_long };
  const filled = await fillLatentCache(cache, vae, clips, {
    frames: d.sample_n_frames,
    stride: d.stride,
    transform,
    windows: d.cached_windows ?? 1,
    withReference: d.is_one2three,
    vaeId,
    onProgress: o.onProgress,
  });
  return { dir: cache.dir, clips: clips.length, ...filled };
}
