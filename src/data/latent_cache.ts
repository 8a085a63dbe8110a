// The latent cache, as the Wan trainers users pick have one: each clip window (and reference
// image) VAE-encoded once, stored as a safetensors file keyed by the source file's identity (real
// path, size, modification time), the window and transform, and the VAE's identity (its config
// and weights' digests), written atomically and reused across runs. With the cache, the window
// of a clip is a random choice among the fixed starts that were cached (`fixedWindowStarts`), no
// longer any start: the cache says so in its report.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

import { FileFormatError } from '../errors.js';
import { rememberedDigest } from '../io/digest.js';
import { SafetensorsFile, noGrad, saveSafetensors, scope, type Tensor } from '../torch/index.js';
import type { AutoencoderKLWan } from '../models/wan/vae.js';
import { normalizeLatents } from '../models/wan/latents.js';
import { loadWindow, type ClipTransform } from './clip_loader.js';
import { framesToTensor } from './video_tensor.js';
import { fixedWindowStarts, type Clip } from './triplets.js';

export type View = 'first' | 'third';

/** What a cached latent was made from. */
export interface LatentKey {
  /** The video (file or frames folder) or the reference image. */
  source: string;
  /** Window start, frames and stride; all 0 for a reference image. */
  start: number;
  frames: number;
  stride: number;
  transform: ClipTransform;
  vae: string;
}

/** Identity of a source: its real path with size and mtime (of every frame of a folder). */
function sourceIdentity(source: string): string {
  const real = realpathSync(source);
  const info = statSync(real);
  if (!info.isDirectory()) return `${real}:${info.size}:${info.mtimeMs}`;
  const hash = createHash('sha256');
  for (const name of readdirSync(real).sort()) {
    const s = statSync(path.join(real, name));
    hash.update(`${name}:${s.size}:${s.mtimeMs};`);
  }
  return `${real}:${hash.digest('hex')}`;
}

/** Identity of a VAE folder: its config and its weight files' content digests (remembered in `remember`). */
export function vaeIdentity(vaeDir: string, remember?: string): string {
  const hash = createHash('sha256').update(readFileSync(path.join(vaeDir, 'config.json')));
  for (const name of readdirSync(vaeDir).sort()) if (name.endsWith('.safetensors')) hash.update(`${name}:${rememberedDigest(path.join(vaeDir, name), remember)}`);
  return `vae-${hash.digest('hex').slice(0, 16)}`;
}

export class LatentCache {
  constructor(readonly dir: string) {}

  fileFor(key: LatentKey): string {
    const digest = createHash('sha256').update(JSON.stringify([sourceIdentity(key.source), key.start, key.frames, key.stride, key.transform, key.vae])).digest('hex');
    return path.join(this.dir, digest.slice(0, 2), `${digest.slice(0, 32)}.safetensors`);
  }

  has(key: LatentKey): boolean {
    return existsSync(this.fileFor(key));
  }

  /** The normalised latent mean [C, F', H', W'] (float32), or null when absent. */
  get(key: LatentKey): Tensor | null {
    return this.read(this.fileFor(key));
  }

  /** An entry by its file (from `fileFor`), or null when absent. */
  read(file: string): Tensor | null {
    if (!existsSync(file)) return null;
    const st = SafetensorsFile.open(file);
    if (!st.has('latents')) throw new FileFormatError(`${file}: a latent cache entry without 'latents'`);
    return st.get('latents');
  }

  put(key: LatentKey, latents: Tensor): void {
    const file = this.fileFor(key);
    mkdirSync(path.dirname(file), { recursive: true });
    saveSafetensors(file, { latents }, { source: key.source, start: String(key.start), frames: String(key.frames), stride: String(key.stride), vae: key.vae });
  }
}

export interface CacheFillOptions {
  frames: number;
  stride: number;
  transform: ClipTransform;
  /** Windows cached per clip (spread evenly over it). */
  windows: number;
  withReference: boolean;
  vaeId: string;
  onProgress?: (done: number, total: number) => void;
}

/** The keys of a clip's cached windows (per view) and of its reference. */
export function clipKeys(clip: Clip, o: Pick<CacheFillOptions, 'frames' | 'stride' | 'transform' | 'windows' | 'vaeId'>): { starts: number[]; view: (view: View, start: number) => LatentKey; reference: () => LatentKey } {
  const starts = fixedWindowStarts(clip.frames, o.frames, o.stride, o.windows);
  return {
    starts,
    view: (view, start) => ({ source: clip[view], start, frames: o.frames, stride: o.stride, transform: o.transform, vae: o.vaeId }),
    reference: () => ({ source: clip.reference!, start: 0, frames: 0, stride: 0, transform: o.transform, vae: o.vaeId }),
  };
}

/** Encodes what the cache lacks; returns how many entries were written and found. */
export async function fillLatentCache(cache: LatentCache, vae: AutoencoderKLWan, clips: readonly Clip[], o: CacheFillOptions): Promise<{ written: number; found: number }> {
  let written = 0, found = 0, done = 0;
  const encode = (frames: Uint8Array[]): Tensor => noGrad(() => scope(() => {
    const video = framesToTensor(frames, o.transform.width, o.transform.height, { dtype: vae.dtype, device: vae.device });
    const posterior = vae.encode(video);
    try {
      return normalizeLatents(posterior.mean, vae.config).float().squeeze(0).contiguous();
    } finally {
      posterior.dispose();
    }
  }));
  for (const clip of clips) {
    const keys = clipKeys(clip, o);
    for (const start of keys.starts) {
      const wanted = (['first', 'third'] as const).filter((view) => !cache.has(keys.view(view, start)));
      const wantReference = o.withReference && clip.reference !== undefined && start === keys.starts[0] && !cache.has(keys.reference());
      found += 2 - wanted.length;
      if (wanted.length === 0 && !wantReference) continue;
      const window = await loadWindow({ clip, start, frames: o.frames, stride: o.stride, transform: o.transform, withReference: wantReference });
      for (const view of wanted) {
        const latents = encode(window[view]);
        cache.put(keys.view(view, start), latents);
        latents.dispose();
        written++;
      }
      if (wantReference) {
        const latents = encode([window.reference!]);
        cache.put(keys.reference(), latents);
        latents.dispose();
        written++;
      }
    }
    o.onProgress?.(++done, clips.length);
  }
  return { written, found };
}
