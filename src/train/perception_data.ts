// Ground-truth frames with their true class maps, for training and measuring the PerceptionNet:
// the first- and third-person videos of a release-layout dataset and the synth's label strips
// (First_Label/, Third_Label/), decoded many clips to one ffmpeg process.
import path from 'node:path';

import { FileFormatError, OptionError } from '../errors.js';
import { LAYOUT } from '../data/layout.js';
import { labelPath, readLabelStrip } from '../data/labels.js';
import { decodeVideos } from '../data/video_writer.js';
import { viewEntries } from '../data/layout.js';

export interface LabelledFrames {
  width: number;
  height: number;
  images: Uint8Array[];
  labels: Uint8Array[];
}

/** The first `frames` frames of both views of the first `clips` clips (in name order) of a dataset. */
export async function loadLabelledFrames(
  root: string,
  { clips, frames, onProgress }: { clips: number; frames: number; onProgress?: (done: number, total: number) => void },
): Promise<LabelledFrames> {
  const out: LabelledFrames = { width: 0, height: 0, images: [], labels: [] };
  for (const view of ['first', 'third'] as const) {
    const dir = path.join(root, LAYOUT[view]);
    const entries = [...viewEntries(dir)].slice(0, clips);
    if (entries.length === 0) throw new OptionError('data', `${dir} holds no videos`);
    for (let start = 0; start < entries.length; start += 64) {
      const chunk = entries.slice(start, start + 64);
      const decoded: Uint8Array[] = [];
      const size = await decodeVideos(
        chunk.map(([, file]) => file),
        { maxFrames: frames },
        (frame) => decoded.push(frame),
      );
      if (decoded.length !== chunk.length * frames)
        throw new FileFormatError(
          `${dir}: ${chunk.length} clips gave ${decoded.length} frames, ${frames} each were asked for (a clip is shorter)`,
        );
      if (out.width && (size.width !== out.width || size.height !== out.height))
        throw new FileFormatError(`${dir}: videos of ${size.width}x${size.height} beside ${out.width}x${out.height}`);
      Object.assign(out, { width: size.width, height: size.height });
      out.images.push(...decoded);
      for (const [name] of chunk)
        out.labels.push(
          ...readLabelStrip(labelPath(root, view, name), { width: size.width, height: size.height, frames }),
        );
      onProgress?.(start + chunk.length + (view === 'third' ? entries.length : 0), 2 * entries.length);
    }
  }
  return out;
}
