// The app's job journal: one file per job not yet finished, ROOT/jobs/<id>.json, written (atomically)
// when the job is queued and removed when it ends. What a server killed mid-job leaves here is
// what it never finished: the next start shows those jobs as interrupted, with their settings and
// their uploads kept, until the user re-runs or removes them. A record holds no absolute path:
// uploads are names under ROOT/uploads/, an example is its name.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { z } from 'zod';

import { writeAll, writeFileAtomicSync } from '../io/atomic.js';
import { jsonText } from '../io/json_text.js';
import { isRunId } from './runs.js';

export const JobRecordSchema = z.object({
  id: z.string().refine(isRunId),
  created: z.string(),
  task: z.enum(['three2one', 'one2three']),
  settings: z.object({
    steps: z.number().int(),
    guidance: z.number(),
    seed: z.number().int(),
    sampler: z.enum(['unipc', 'euler']),
    start: z.number().min(0).optional(),
  }),
  /** What the page shows as the input: the client's file name or "example NAME". */
  source: z.string(),
  /** An example clip's name, when the job translates one. */
  example: z.string().optional(),
  /** The job's uploads, as names under ROOT/uploads/: the video, then the reference image. */
  uploads: z.object({ video: z.string(), reference: z.string().optional() }).optional(),
});
export type JobRecord = z.infer<typeof JobRecordSchema>;

const UPLOAD_NAME = /^(video|image)-[0-9a-f]{16}\.[a-z0-9]{1,5}$/;

export class JobJournal {
  readonly dir: string;

  constructor(
    root: string,
    readonly uploadsDir: string,
  ) {
    this.dir = path.join(root, 'jobs');
    mkdirSync(this.dir, { recursive: true });
  }

  write(record: JobRecord): void {
    const text = Buffer.from(jsonText(record, 2));
    writeFileAtomicSync(path.join(this.dir, `${record.id}.json`), (fd) => writeAll(fd, text));
  }

  remove(id: string): void {
    if (isRunId(id)) rmSync(path.join(this.dir, `${id}.json`), { force: true });
  }

  /** The records left, oldest first; a file that is not one (damaged, foreign) is skipped and named. */
  list(onNote?: (text: string) => void): JobRecord[] {
    const records: JobRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        records.push(JobRecordSchema.parse(JSON.parse(readFileSync(path.join(this.dir, name), 'utf8'))));
      } catch {
        onNote?.(`jobs/${name}: not a job record this server wrote; left as it is`);
      }
    }
    return records.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
  }

  /** The upload files a record owns, as paths (names that are not the server's own are ignored). */
  uploadFiles(record: Pick<JobRecord, 'uploads'>): string[] {
    const names = [record.uploads?.video, record.uploads?.reference].filter(
      (n): n is string => n !== undefined && UPLOAD_NAME.test(n),
    );
    return names.map((n) => path.join(this.uploadsDir, n));
  }

  /** Removes the upload files no record owns (a request cut off mid-upload); returns how many. */
  removeOrphanUploads(records: readonly JobRecord[]): number {
    const owned = new Set(records.flatMap((r) => this.uploadFiles(r).map((f) => path.basename(f))));
    let removed = 0;
    for (const name of readdirSync(this.uploadsDir)) {
      if (owned.has(name)) continue;
      rmSync(path.join(this.uploadsDir, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}
