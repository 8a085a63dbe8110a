// The text encoder of a Hub snapshot, known without its weights. Prompt embeddings are keyed by the
// encoder's identity, which hashes its files; a run whose prompts are all cached needs none of its
// 11 GB. So when a snapshot's text encoder is read, its stamp is recorded per repository and commit
// in WorldWander's cache ($WORLDWANDER_CACHE_DIR/text-encoders/models--OWNER--NAME/<commit>.json),
// and a later run of that commit whose prompts are all cached neither downloads nor reads it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { userCacheDir } from '../io/digest.js';
import { hubSnapshotOf } from '../io/hub_cache.js';
import { jsonText } from '../io/json_text.js';
import { writeFileAtomicSync, writeAll } from '../io/atomic.js';
import {
  promptsCached,
  textEncoderStamp,
  type TextEncoderFiles,
  type TextEncoderStamp,
} from '../models/umt5/prompt_cache.js';

/** Where the stamp of a snapshot's text encoder is recorded; null for a folder that is no Hub snapshot. */
function recordFile(modelDir: string): string | null {
  const snapshot = hubSnapshotOf(modelDir);
  return snapshot && path.join(userCacheDir(), 'text-encoders', snapshot.repoFolder, `${snapshot.commit}.json`);
}

function readRecord(file: string): TextEncoderStamp | undefined {
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as Partial<TextEncoderStamp>;
    return typeof r.encoder === 'string' && typeof r.dtype === 'string' ? (r as TextEncoderStamp) : undefined;
  } catch {
    return undefined; // absent or damaged: the weights decide
  }
}

/**
 * The stamp of the text encoder of `files` in the model folder `modelDir`, for a Hub snapshot's own
 * text encoder: read off its weights (and recorded) where they are, else as recorded by an earlier
 * run of the same commit. Undefined otherwise (a local folder, a single-file encoder, no record):
 * the prompt cache then reads the weights, as for any folder.
 */
export function textStampOf(files: TextEncoderFiles, modelDir: string): TextEncoderStamp | undefined {
  const record = recordFile(modelDir);
  if (!record || !path.resolve(files.weights).startsWith(path.resolve(modelDir) + path.sep)) return undefined;
  if (!existsSync(files.weights)) return readRecord(record);
  const stamp = textEncoderStamp(files);
  const known = readRecord(record);
  if (known?.encoder !== stamp.encoder || known.dtype !== stamp.dtype) {
    try {
      mkdirSync(path.dirname(record), { recursive: true });
      writeFileAtomicSync(record, (fd) => writeAll(fd, Buffer.from(jsonText(stamp))));
    } catch {
      // a read-only cache: this run is unaffected, a later one downloads the encoder again
    }
  }
  return stamp;
}

/**
 * Whether a run of the snapshot `modelDir` can do without its text encoder: its stamp recorded and
 * every one of `prompts` cached in `cacheDir` for it.
 */
export function textSideCached(
  modelDir: string,
  prompts: readonly string[],
  o: { cacheDir: string; maxLength: number },
): boolean {
  const record = recordFile(modelDir);
  const stamp = record ? readRecord(record) : undefined;
  return stamp !== undefined && promptsCached(stamp, prompts, o);
}
