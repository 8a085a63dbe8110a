// The results page: one self-contained folder (index.html, videos/, plots/, nothing fetched at view
// time). Per case the input, the generated video and the ground truth (and the reference image of
// one2three) side by side in synchronized players: one play/pause button and one scrubber drive
// them all, and followers are pulled back to the leader's time whenever they drift. Then the
// metrics tables and the plots. Videos are H.264 MP4 (yuv420p), which every browser plays.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { coverFit, readImage, writePng, type RgbVideo } from '../data/frames.js';
import { readVideoWindow } from '../data/video_reader.js';
import { writeVideo } from '../data/video_writer.js';
import { produceAtomically } from '../io/atomic.js';
import type { CaseResult, EvalReport } from './evaluate.js';
import { markdownReport, reportPlots } from './report.js';

export interface PageSection {
  report: EvalReport;
  /** Reference images by case (one2three). */
  references?: Map<string, string>;
  /** The training metrics.jsonl, for the loss plot. */
  lossFile?: string;
}

export interface PageOptions {
  title: string;
  /** A paragraph under the title (plain text). */
  intro?: string;
  fps: number;
  sections: PageSection[];
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Page videos are this many times their pixel size, each pixel a block (64-px clips are tiny, and
 * 4:2:0 chroma would smear them).
 */
export const PAGE_SCALE = 4;

/** An RGB frame scaled up by an integer factor, nearest neighbour. */
export function upscaleNearest(frame: Uint8Array, width: number, height: number, factor: number): Uint8Array {
  const out = new Uint8Array(frame.length * factor * factor);
  const outWidth = width * factor;
  for (let y = 0; y < height * factor; y++) {
    const row = Math.floor(y / factor) * width;
    for (let x = 0; x < outWidth; x++) {
      const from = (row + Math.floor(x / factor)) * 3,
        to = (y * outWidth + x) * 3;
      out[to] = frame[from]!;
      out[to + 1] = frame[from + 1]!;
      out[to + 2] = frame[from + 2]!;
    }
  }
  return out;
}

async function writeMp4(file: string, video: RgbVideo, fps: number): Promise<void> {
  const upscaled = function* (): Generator<Uint8Array> {
    for (const frame of video.frames) yield upscaleNearest(frame, video.width, video.height, PAGE_SCALE);
  };
  await writeVideo(file, upscaled(), {
    width: video.width * PAGE_SCALE,
    height: video.height * PAGE_SCALE,
    fps,
    crf: 16,
  });
}

/** The first `frames` frames of a video or frames folder, scaled to cover width x height and centre-cropped. */
async function fitted(source: string, frames: number, width: number, height: number): Promise<RgbVideo> {
  return readVideoWindow(source, { numFrames: frames, width, height, partial: true });
}

function caseSummary(c: CaseResult): string {
  const m = c.model;
  const parts = [
    `PSNR ${m.psnr.toFixed(2)} dB`,
    `SSIM ${m.ssim.toFixed(3)}`,
    `sharpness ${m.sharpness.toFixed(2)}`,
    `edge agreement ${m.edges.toFixed(3)}`,
  ];
  if (m.perceptual !== undefined) parts.push(`perceptual distance ${m.perceptual.toFixed(4)}`);
  if (m.miou !== undefined) parts.push(`mIoU ${m.miou.toFixed(3)}`);
  return `${parts.join(', ')}; copy-input ${c.copyInput.psnr.toFixed(2)} dB`;
}

/** Markdown tables to HTML (the subset markdownReport writes: headings, tables, paragraphs). */
function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('# ')) continue;
    if (line.startsWith('## ')) out.push(`<h3>${escape(line.slice(3))}</h3>`);
    else if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++)
        if (!/^\|[-|]+\|$/.test(lines[i]!))
          rows.push(
            lines[i]!.slice(1, -1)
              .split('|')
              .map((c) => c.trim()),
          );
      i--;
      out.push(
        `<table><thead><tr>${rows[0]!.map((c) => `<th>${escape(c)}</th>`).join('')}</tr></thead><tbody>${rows
          .slice(1)
          .map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table>`,
      );
    } else if (line.trim()) out.push(`<p>${escape(line)}</p>`);
  }
  return out.join('\n');
}

const SCRIPT = `
for (const group of document.querySelectorAll('.players')) {
  const videos = [...group.querySelectorAll('video')];
  const [leader, ...followers] = videos;
  const button = group.querySelector('button');
  const scrub = group.querySelector('input[type=range]');
  const clock = group.querySelector('.clock');
  const sync = () => {
    for (const v of followers) if (Math.abs(v.currentTime - leader.currentTime) > 0.05) v.currentTime = leader.currentTime;
    scrub.value = leader.currentTime;
    clock.textContent = leader.currentTime.toFixed(2) + ' / ' + (leader.duration || 0).toFixed(2) + ' s';
  };
  leader.addEventListener('loadedmetadata', () => { scrub.max = leader.duration; sync(); });
  leader.addEventListener('timeupdate', sync);
  leader.addEventListener('ended', () => { for (const v of followers) v.pause(); button.textContent = 'play'; });
  const tick = () => { sync(); if (!leader.paused) requestAnimationFrame(tick); };
  button.addEventListener('click', async () => {
    if (leader.paused) {
      if (leader.ended) for (const v of videos) v.currentTime = 0;
      await Promise.all(videos.map((v) => v.play()));
      button.textContent = 'pause';
      requestAnimationFrame(tick);
    } else {
      for (const v of videos) v.pause();
      button.textContent = 'play';
      sync();
    }
  });
  scrub.addEventListener('input', () => { for (const v of videos) v.currentTime = Number(scrub.value); sync(); });
}
`;

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
.case { border: 1px solid #ddd; border-radius: 6px; padding: 12px; margin: 12px 0; }
.players .row { display: flex; gap: 8px; flex-wrap: wrap; }
figure { margin: 0; text-align: center; }
figure video, figure img { height: auto; image-rendering: pixelated; background: #000; display: block; }
figcaption { font-size: 12px; color: #555; }
.controls { display: flex; gap: 8px; align-items: center; margin-top: 6px; }
.controls input { width: 320px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.plots img { max-width: 100%; }
`;

/** Writes the page folder (replacing an earlier one); returns the path of its index.html. */
export async function writeResultsPage(dir: string, o: PageOptions): Promise<string> {
  await produceAtomically(dir, async (temp) => {
    mkdirSync(path.join(temp, 'videos'), { recursive: true });
    mkdirSync(path.join(temp, 'plots'), { recursive: true });
    const sections: string[] = [];
    for (const [s, section] of o.sections.entries()) {
      const r = section.report;
      const cases: string[] = [];
      for (const c of r.cases) {
        const base = `${r.task}_${c.case}`.replace(/[^A-Za-z0-9_.-]/g, '_');
        const panels: [string, string][] = [];
        if (section.references?.has(c.case)) {
          const image = await readImage(section.references.get(c.case)!);
          const file = `videos/${base}_reference.png`;
          const fit = await coverFit(image, r.width, r.height);
          await writePng(path.join(temp, file), {
            ...fit,
            width: fit.width * PAGE_SCALE,
            height: fit.height * PAGE_SCALE,
            data: upscaleNearest(fit.data, fit.width, fit.height, PAGE_SCALE),
          });
          panels.push([
            'reference',
            `<img src="${file}" width="${r.width * PAGE_SCALE}" height="${r.height * PAGE_SCALE}" alt="reference image">`,
          ]);
        }
        for (const [label, source] of [
          ['input', c.input],
          ['generated', c.prediction],
          ['ground truth', c.groundTruth],
        ] as const) {
          const file = `videos/${base}_${label.replace(' ', '_')}.mp4`;
          await writeMp4(path.join(temp, file), await fitted(source, r.frames, r.width, r.height), o.fps);
          panels.push([
            label,
            `<video src="${file}" width="${r.width * PAGE_SCALE}" height="${r.height * PAGE_SCALE}" muted playsinline preload="auto"></video>`,
          ]);
        }
        cases.push(`<div class="case"><h3>${escape(c.case)} <small>(${caseSummary(c)})</small></h3>
<div class="players"><div class="row">${panels.map(([label, html]) => `<figure>${html}<figcaption>${escape(label)}</figcaption></figure>`).join('')}</div>
<div class="controls"><button type="button">play</button><input type="range" min="0" max="1" step="0.01" value="0"><span class="clock">0.00 s</span></div></div></div>`);
      }
      const plots = [...reportPlots(r, section.lossFile)].map(([name, svg]) => {
        const file = `plots/${s}_${name}`;
        writeFileSync(path.join(temp, file), svg);
        return `<img src="${file}" alt="${escape(name)}">`;
      });
      sections.push(
        `<section><h2>${escape(r.task)}</h2>${markdownToHtml(markdownReport(r))}<div class="plots">${plots.join('\n')}</div>${cases.join('\n')}</section>`,
      );
    }
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(o.title)}</title><style>${STYLE}</style></head>
<body><h1>${escape(o.title)}</h1>${o.intro ? `<p>${escape(o.intro)}</p>` : ''}
${sections.join('\n')}
<script>${SCRIPT}</script></body></html>
`;
    writeFileSync(path.join(temp, 'index.html'), html);
  });
  return path.join(dir, 'index.html');
}
