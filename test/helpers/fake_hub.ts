// A Hugging Face Hub on loopback (node:http), answering the calls huggingface_hub and this
// project make, with the Hub's headers: GET /api/models/{repo}/revision/{rev} (sha, siblings),
// HEAD and GET /{repo}/resolve/{rev}/{path} (X-Repo-Commit; a small file's git blob sha1 as ETag
// and its bytes; an LFS file's sha256 as X-Linked-Etag, X-Linked-Size and a 302 to a CDN on a
// second port, another origin, that serves byte ranges), X-Error-Code on refusals. Faults on
// demand: a connection dropped after N bytes of a file, a file whose bytes are not the sha256 the
// Hub states, a gated repository.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { repoRoot } from './release_examples.js';

export interface FakeRepo {
  repo: string;
  commit: string;
  /** Branches and tags → commit (default: main). */
  refs?: Record<string, string>;
  files: Record<string, Buffer | string>;
  /** Paths stored as LFS (default: .safetensors, .pth, .ckpt files). */
  lfs?: (file: string) => boolean;
  /** Answers 403 GatedRepo unless the request carries this token. */
  gatedToken?: string;
}

export interface Seen {
  method: string;
  host: 'hub' | 'cdn';
  url: string;
  range?: string;
  authorization?: string;
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
export const gitSha1 = (bytes: Buffer): string =>
  createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');

/** The files of a folder by repository path (posix), as a repository would hold them; `skip` leaves out sub-folders. */
export function repositoryFiles(dir: string, skip: readonly string[] = []): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const walk = (at: string, prefix: string): void => {
    for (const name of readdirSync(at)) {
      const full = path.join(at, name);
      if (skip.includes(`${prefix}${name}`)) continue;
      if (statSync(full).isDirectory()) walk(full, `${prefix}${name}/`);
      else files[`${prefix}${name}`] = readFileSync(full);
    }
  };
  walk(dir, '');
  return files;
}

/** The tiny test model as a Hub repository holds it (its prompt cache is this project's, not the repository's). */
export const tinyModelFiles = (): Record<string, Buffer> =>
  repositoryFiles(path.join(repoRoot, 'test/fixtures/tiny_model'), ['prompt_embeds']);

/** A LoRA repository of the release-shaped checkpoint, which fits the tiny model. */
export const loraRepo = (repo: string, commit: string): FakeRepo => ({
  repo,
  commit,
  files: { 'three2one.ckpt': readFileSync(path.join(repoRoot, 'test/fixtures/ckpt/release_shaped.ckpt')) },
});

const isLfsByDefault = (file: string): boolean => /\.(safetensors|pth|ckpt|bin)$/.test(file);

export class FakeHub {
  readonly seen: Seen[] = [];
  /** path → bytes after which the next transfer of that file drops the connection (once per entry). */
  readonly dropAfter = new Map<string, number>();
  /** paths whose stated sha256 is of other bytes than those served. */
  readonly wrongSha = new Set<string>();
  private hub!: Server;
  private cdn!: Server;
  endpoint = '';
  private cdnOrigin = '';
  private readonly repos = new Map<string, FakeRepo>();

  constructor(repos: FakeRepo[]) {
    for (const r of repos) this.repos.set(r.repo, r);
  }

  async start(): Promise<this> {
    this.hub = createServer((req, res) => this.onHub(req, res));
    this.cdn = createServer((req, res) => this.onCdn(req, res));
    for (const server of [this.hub, this.cdn]) await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    this.endpoint = `http://127.0.0.1:${(this.hub.address() as AddressInfo).port}`;
    // another origin (another port): a token must not follow the redirect there
    this.cdnOrigin = `http://127.0.0.1:${(this.cdn.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const server of [this.hub, this.cdn]) {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  }

  /** The Range headers of the CDN's requests since the `start`th request (undefined: the whole file). */
  cdnRangesSince(start: number): (string | undefined)[] {
    return this.seen
      .slice(start)
      .filter((r) => r.host === 'cdn')
      .map((r) => r.range);
  }

  private bytesOf(repo: FakeRepo, file: string): Buffer {
    const content = repo.files[file]!;
    return typeof content === 'string' ? Buffer.from(content) : content;
  }

  private record(req: IncomingMessage, host: 'hub' | 'cdn'): void {
    this.seen.push({
      method: req.method!,
      host,
      url: req.url!,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
  }

  private refuse(res: ServerResponse, status: number, code: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, ...extra });
    res.end(JSON.stringify({ error: code }));
  }

  private onHub(req: IncomingMessage, res: ServerResponse): void {
    this.record(req, 'hub');
    const url = new URL(req.url!, this.endpoint);
    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(url.pathname);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
    const match = api ?? resolve;
    const repo = match && this.repos.get(match[1]!);
    if (!match || !repo) return this.refuse(res, 401, 'RepoNotFound');
    if (repo.gatedToken && req.headers.authorization !== `Bearer ${repo.gatedToken}`)
      return this.refuse(res, 403, 'GatedRepo', { 'x-error-message': 'Access to this model is restricted' });
    const revision = decodeURIComponent(match[2]!);
    const commit = revision === repo.commit ? repo.commit : (repo.refs ?? { main: repo.commit })[revision];
    if (!commit) return this.refuse(res, 404, 'RevisionNotFound');
    if (api) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          _id: '0',
          id: repo.repo,
          sha: commit,
          private: false,
          gated: false,
          downloads: 0,
          likes: 0,
          lastModified: '2025-01-01T00:00:00.000Z',
          siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })),
        }),
      );
      return;
    }
    const file = resolve![3]!.split('/').map(decodeURIComponent).join('/');
    if (!(file in repo.files)) return this.refuse(res, 404, 'EntryNotFound', { 'x-repo-commit': commit });
    const bytes = this.bytesOf(repo, file);
    if ((repo.lfs ?? isLfsByDefault)(file)) {
      const stated = this.wrongSha.has(file) ? sha256(Buffer.concat([bytes, Buffer.from('!')])) : sha256(bytes);
      res.writeHead(302, {
        location: `${this.cdnOrigin}/cdn/${repo.repo}/${file}?expires=never`,
        'x-repo-commit': commit,
        'x-linked-etag': `"${stated}"`,
        'x-linked-size': String(bytes.length),
        etag: `W/"${gitSha1(Buffer.from('a pointer file'))}"`,
        'content-length': '0',
      });
      res.end();
      return;
    }
    this.serve(req, res, file, bytes, { 'x-repo-commit': commit, etag: `"${gitSha1(bytes)}"` });
  }

  private onCdn(req: IncomingMessage, res: ServerResponse): void {
    this.record(req, 'cdn');
    const url = new URL(req.url!, this.cdnOrigin);
    const [, owner, name, ...rest] = url.pathname.split('/').slice(1);
    const repo = this.repos.get(`${owner}/${name}`);
    const file = rest.map(decodeURIComponent).join('/');
    if (!repo || !(file in repo.files)) return this.refuse(res, 404, 'NotFound');
    this.serve(req, res, file, this.bytesOf(repo, file), {});
  }

  /** The bytes, or the range asked for (206); a planned drop cuts the connection after that many bytes of the file. */
  private serve(
    req: IncomingMessage,
    res: ServerResponse,
    file: string,
    bytes: Buffer,
    headers: Record<string, string>,
  ): void {
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (start > bytes.length) {
      res.writeHead(416, { 'content-range': `bytes */${bytes.length}` });
      res.end();
      return;
    }
    const body = bytes.subarray(start);
    res.writeHead(range ? 206 : 200, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-length': String(body.length),
      ...(range ? { 'content-range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();
    const drop = this.dropAfter.get(file);
    if (drop !== undefined && drop > start && drop < bytes.length) {
      this.dropAfter.delete(file);
      res.write(bytes.subarray(start, drop), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }
}
