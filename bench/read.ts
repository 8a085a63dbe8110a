// Reading a model window from a video (src/data/video_reader.ts): the time and peak memory to
// take 17 frames at 8 fps, 64x64 (the bundled model's size) from three sources that ffmpeg makes
// (lavfi testsrc2, H.264): 1080p at 60 fps (3 s), 4K at 30 fps (4 s) and 720p at 30 fps (60 s),
// against ffmpeg alone decoding the same source span to null (-t 16/8 s and one source frame).
// Each read runs in a fresh Node process under GNU time: its own seconds for the read (process
// start and imports excluded), the Node process's peak RSS, and the peak RSS of any process of
// the run (Node or its ffmpeg). Medians of --runs runs. The figures from before the reader came
// from this script at commit b810702 (readFrames + coverFit: 17 consecutive frames).
//   node dist/bench/read.js [--runs 5] [--clips DIR] [--json]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { readVideoWindow } from '../src/data/video_reader.js';
import { median } from './stats.js';

const FRAMES = 17;
const FPS = 8;
const SIDE = 64;

interface Clip {
  name: string;
  size: string;
  rate: number;
  seconds: number;
}
const CLIPS: Clip[] = [
  { name: '1080p60', size: '1920x1080', rate: 60, seconds: 3 },
  { name: '4K30', size: '3840x2160', rate: 30, seconds: 4 },
  { name: '720p30-60s', size: '1280x720', rate: 30, seconds: 60 },
];

/** The read under test, in this process: seconds and Node's peak RSS (MiB). */
async function child(file: string): Promise<void> {
  const started = performance.now();
  const window = await readVideoWindow(file, { numFrames: FRAMES, fps: FPS, width: SIDE, height: SIDE });
  const seconds = (performance.now() - started) / 1000;
  if (window.frames.length !== FRAMES) throw new Error(`${file}: ${window.frames.length} frames read, ${FRAMES} asked`);
  console.log(JSON.stringify({ seconds, nodeMiB: process.resourceUsage().maxRSS / 1024 }));
}

/** Runs a command under GNU time; its wall seconds (spawn to exit), stdout, and the peak RSS (MiB) it reports. */
function timed(command: string[]): Promise<{ seconds: number; stdout: string; peakMiB: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const run = spawn('/usr/bin/time', ['-f', 'peak-kib %M', ...command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    run.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    run.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    run.on('error', reject);
    run.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      const peak = /peak-kib (\d+)/.exec(stderr);
      if (code !== 0 || !peak) return reject(new Error(`${command.join(' ')} failed (exit ${code}): ${stderr.trim()}`));
      resolve({ seconds, stdout, peakMiB: Number(peak[1]) / 1024 });
    });
  });
}

function makeClip(dir: string, clip: Clip): string {
  const file = path.join(dir, `${clip.name}.mp4`);
  if (existsSync(file)) return file;
  console.error(`making ${file}`);
  const made = spawnSync(
    'ffmpeg',
    [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=s=${clip.size}:r=${clip.rate}:d=${clip.seconds}`],
      ...['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', `${file}.part.mp4`],
    ],
    { stdio: 'inherit' },
  );
  if (made.status !== 0) throw new Error(`ffmpeg could not make ${file}`);
  spawnSync('mv', [`${file}.part.mp4`, file]);
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      clips: { type: 'string', default: path.join(tmpdir(), 'worldwander-bench-read') },
      json: { type: 'boolean', default: false },
      child: { type: 'string' },
    },
  });
  if (values.child) return child(values.child);
  const runs = Number(values.runs);
  mkdirSync(values.clips, { recursive: true });
  const script = fileURLToPath(import.meta.url);
  const rows = [];
  for (const clip of CLIPS) {
    const file = makeClip(values.clips, clip);
    const ffmpeg: number[] = [],
      ffmpegPeak: number[] = [],
      read: number[] = [],
      node: number[] = [],
      peak: number[] = [];
    for (let run = 0; run < runs; run++) {
      // The span the window needs: up to its last instant, (FRAMES-1)/FPS s, and one source frame more.
      const span = (FRAMES - 1) / FPS + 1 / clip.rate;
      const alone = await timed(['ffmpeg', '-v', 'error', '-i', file, '-t', span.toFixed(4), '-f', 'null', '-']);
      ffmpeg.push(alone.seconds);
      ffmpegPeak.push(alone.peakMiB);
      const reader = await timed([process.execPath, script, '--child', file]);
      const measured = JSON.parse(reader.stdout) as { seconds: number; nodeMiB: number };
      read.push(measured.seconds);
      node.push(measured.nodeMiB);
      peak.push(reader.peakMiB);
    }
    const row = {
      clip: clip.name,
      source: `${clip.size} ${clip.rate} fps ${clip.seconds} s`,
      ffmpegSeconds: median(ffmpeg),
      readSeconds: median(read),
      ratio: median(read) / median(ffmpeg),
      ffmpegPeakMiB: median(ffmpegPeak),
      nodePeakMiB: median(node),
      runPeakMiB: median(peak),
    };
    rows.push(row);
    if (!values.json)
      console.log(
        `${row.clip.padEnd(11)} ${row.source.padEnd(24)} ffmpeg alone ${row.ffmpegSeconds.toFixed(2)} s (${row.ffmpegPeakMiB.toFixed(0)} MiB)  read ${row.readSeconds.toFixed(2)} s (${row.ratio.toFixed(2)}x)  Node peak ${row.nodePeakMiB.toFixed(0)} MiB, run peak ${row.runPeakMiB.toFixed(0)} MiB`,
      );
  }
  if (values.json) console.log(JSON.stringify(rows, null, 2));
}

await main();
