// The app's runs: one folder per translation under ROOT/runs/<id>/, written as ROOT/runs/.partial-<id>/
// and renamed into place when whole, so a server killed mid-job leaves no run that looks complete
// (the partial folders go at the next start). A run's files are named by the server, never by a client.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';

import type { WorldWanderTask } from '../worldwander/prompts.js';

/** What the app writes beside the translation's own outputs (worldwander/outputs.ts). */
export const RUN_FILES = [
  'generated.mp4',
  'side_by_side.mp4',
  'input.mp4',
  'truth.mp4',
  'reference.png',
  'run.json',
  'app.json',
] as const;
export type RunFile = (typeof RUN_FILES)[number];

const RUN_ID = /^[0-9a-z]{8,12}-[0-9a-f]{8}$/;
const PARTIAL = '.partial-';

export interface RunSettings {
  steps: number;
  guidance: number;
  seed: number;
  sampler: 'unipc' | 'euler';
  /** Seconds into the clip where the window starts (runs before it was a setting: 0). */
  start?: number;
}

/** The app's record of a run (app.json): what was asked, from what, and which files it has. */
export interface AppRun {
  id: string;
  task: WorldWanderTask;
  created: string;
  /** The uploaded file's name as the client gave it (shown, never used as a path), or the example's name. */
  source: string;
  settings: RunSettings;
  files: RunFile[];
  seconds: number;
  /** What was taken from the input, e.g. "seconds 1.00-3.00 of walk.mp4 (30 fps -> 8 fps), 1920x1080 frames resized to cover 64x64 and centre-cropped". */
  taken?: string;
}

export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

export class RunStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = path.join(root, 'runs');
    mkdirSync(this.dir, { recursive: true });
  }

  /** Removes what a server killed mid-job left; returns how many. */
  removePartial(): number {
    const partial = readdirSync(this.dir).filter((name) => name.startsWith(PARTIAL));
    for (const name of partial) rmSync(path.join(this.dir, name), { recursive: true, force: true });
    return partial.length;
  }

  newId(): string {
    return `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  }

  /** The folder a job writes into until it is whole. */
  partialDir(id: string): string {
    return path.join(this.dir, `${PARTIAL}${id}`);
  }

  /** Moves a whole run into place (one rename). */
  commit(id: string): string {
    const dir = path.join(this.dir, id);
    renameSync(this.partialDir(id), dir);
    return dir;
  }

  discard(id: string): void {
    rmSync(this.partialDir(id), { recursive: true, force: true });
  }

  /** The complete runs, newest first. */
  list(): AppRun[] {
    return readdirSync(this.dir)
      .filter(isRunId)
      .map((id) => this.get(id))
      .filter((run): run is AppRun => run !== null)
      .sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  }

  get(id: string): AppRun | null {
    if (!isRunId(id)) return null;
    const file = path.join(this.dir, id, 'app.json');
    if (!existsSync(file)) return null;
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as AppRun;
    } catch {
      return null;
    }
  }

  /** The path of one of a run's files, or null: the id and the name are checked against what the server writes. */
  file(id: string, name: string): string | null {
    if (!isRunId(id) || !(RUN_FILES as readonly string[]).includes(name)) return null;
    const file = path.join(this.dir, id, name);
    return existsSync(file) ? file : null;
  }
}
