// Downloads from the Hugging Face Hub into huggingface_hub's cache (hub_cache.ts), as
// hf_hub_download and snapshot_download do: the revision's commit from
// GET /api/models/{repo}/revision/{rev}; per file a HEAD of {endpoint}/{repo}/resolve/{commit}/{path}
// (X-Repo-Commit, X-Linked-Etag or ETag, X-Linked-Size or Content-Length, Location: relative
// redirects followed, a CDN's not); then the bytes from Location into blobs/<etag>.incomplete,
// resumed with a Range request after a dropped connection or a killed run (as huggingface_hub up to
// 1.9 does from the same file), checked against the ETag (an LFS file's sha256, a small file's git
// blob sha1) and only then renamed to blobs/<etag> and linked from snapshots/<commit>/<path>.
//
// Why not @huggingface/hub's downloadFileToCacheDir (2.17): it never resumes its .incomplete file,
// checks neither size nor sha256, reports no progress, and files a branch's download under the
// commit that last touched the file (paths-info' lastCommit) with no refs/<branch>, where Python
// does not look. The library does the revision lookup here (modelInfo), a call it does well.
//
// Settings are huggingface_hub's variables: HF_ENDPOINT, HF_TOKEN (else the token file of
// `hf auth login`), HF_HUB_OFFLINE (no request at all), HF_HUB_CACHE and the others of hub_cache.ts.
import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { Stopped, WorldWanderError } from '../errors.js';
import { DiskFullError, freeBytes } from './disk_space.js';
import { faultPoint } from './fault.js';
import {
  blobPath,
  cachedFile,
  formatRef,
  hfHome,
  hubCacheDir,
  incompletePath,
  linkIntoSnapshot,
  markNoExist,
  repoFolder,
  snapshotDir,
  writeRef,
  type RepoFileRef,
  type RepoRef,
} from './hub_cache.js';

/** The Hub refused, lacked or broke something: the message names the repository, the file and what to do. */
export class HubError extends WorldWanderError {
  override name = 'HubError';
}

/** The Hub could not be reached, or a transfer broke off: worth another try. */
class NetworkError extends HubError {}

export interface HubSettings {
  /** HF_ENDPOINT, without a trailing slash (default https://huggingface.co). */
  endpoint: string;
  token?: string;
  cacheDir: string;
  /** The variable that forbids network access, as set (`HF_HUB_OFFLINE=1`); absent when online. */
  offline?: string;
}

const TRUE = new Set(['1', 'ON', 'YES', 'TRUE']);

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** huggingface_hub's settings from the environment (constants.py, utils/_auth.py). */
export function hubSettings(env: NodeJS.ProcessEnv = process.env): HubSettings {
  const offlineName = env.HF_HUB_OFFLINE ? 'HF_HUB_OFFLINE' : env.TRANSFORMERS_OFFLINE ? 'TRANSFORMERS_OFFLINE' : null;
  const offlineValue = offlineName ? env[offlineName]! : '';
  const token =
    (env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN)?.trim() ||
    readToken(env.HF_TOKEN_PATH || path.join(hfHome(env), 'token'));
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: token || undefined,
    cacheDir: hubCacheDir(env),
    offline: offlineName && TRUE.has(offlineValue.toUpperCase()) ? `${offlineName}=${offlineValue}` : undefined,
  };
}

/** `what` is needed, absent from the cache, and the environment forbids fetching it. */
export function offlineError(what: string, s: HubSettings): HubError {
  return new HubError(
    `${what} is not in the Hugging Face cache (${s.cacheDir}), and ${s.offline} forbids downloading it`,
  );
}

const causeOf = (error: unknown): string => {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
};

/** Request headers for `url`: the token goes to the endpoint's host only (a CDN's signed URL gets none). */
function headersFor(url: string, s: HubSettings, extra: HeadersInit = {}): Headers {
  const headers = new Headers(extra);
  headers.set('user-agent', 'worldwander (huggingface_hub cache layout)');
  if (s.token && new URL(url).host === new URL(s.endpoint).host) headers.set('authorization', `Bearer ${s.token}`);
  else headers.delete('authorization');
  return headers;
}

async function send(url: string, init: RequestInit, s: HubSettings, what: string): Promise<Response> {
  try {
    return await fetch(url, { ...init, headers: headersFor(url, s, init.headers) });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new NetworkError(
      `${what}: cannot reach ${new URL(url).origin} (${causeOf(error)}); HF_HUB_OFFLINE=1 uses the cache alone, HF_ENDPOINT names a mirror`,
    );
  }
}

/** Follows redirects by hand: every one (`all`), or only relative ones as huggingface_hub's HEAD does. */
async function follow(
  url: string,
  init: RequestInit,
  s: HubSettings,
  what: string,
  all: boolean,
): Promise<{ res: Response; url: string }> {
  for (let hops = 0; ; hops++) {
    const res = await send(url, { ...init, redirect: 'manual' }, s, what);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location || hops === 10) return { res, url };
    if (!all && /^[a-z][a-z0-9+.-]*:|^\/\//i.test(location)) return { res, url };
    await res.body?.cancel();
    url = new URL(location, url).toString();
  }
}

/** One line for a refusal of the Hub, by its X-Error-Code (hf_raise_for_status) or status. */
function statusError(what: string, res: Response, s: HubSettings, revision: string, file?: string): HubError {
  const code = res.headers.get('x-error-code');
  const said = res.headers.get('x-error-message');
  const token = s.token ? 'the token (HF_TOKEN) has no access to it' : 'no token is set (HF_TOKEN)';
  if (code === 'RevisionNotFound') return new HubError(`${what}: the Hub has no revision '${revision}'`);
  if (code === 'EntryNotFound') return new HubError(`${what}: the Hub has no file ${file}`);
  if (code === 'GatedRepo' || res.status === 403)
    return new HubError(
      `${what}: access is gated${said ? ` (${said})` : ''}; accept its conditions on the model's page, and set HF_TOKEN to a token of that account`,
    );
  if (code === 'RepoNotFound' || res.status === 401 || (res.status === 404 && !file))
    return new HubError(`${what}: no such repository at ${s.endpoint}, or it is private or gated and ${token}`);
  return new HubError(
    `${what}: the Hub answered ${res.status} ${res.statusText}${file ? ` for ${file}` : ''}${said ? ` (${said})` : ''}`,
  );
}

/** The commit a revision is at, and the repository's files there (@huggingface/hub's modelInfo). */
export async function resolveRevision(ref: RepoRef, s: HubSettings): Promise<{ commit: string; files: string[] }> {
  const { modelInfo, HubApiError } = await import('@huggingface/hub');
  const what = formatRef(ref);
  let last: Response | undefined;
  const hubFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> =>
    (last = await send(String(input), init ?? {}, s, what));
  try {
    const info = await modelInfo({
      name: ref.repo,
      revision: ref.revision,
      hubUrl: s.endpoint,
      additionalFields: ['sha', 'filePaths'],
      fetch: hubFetch as typeof fetch,
    });
    if (!/^[0-9a-f]{40}$/.test(info.sha ?? '') || !Array.isArray(info.filePaths))
      throw new HubError(`${what}: the answer of ${s.endpoint} names no commit or no files; is HF_ENDPOINT a Hub?`);
    return { commit: info.sha, files: info.filePaths };
  } catch (error) {
    if (error instanceof HubApiError && last) throw statusError(what, last, s, ref.revision);
    throw error;
  }
}

/** A file as the Hub's HEAD describes it (get_hf_file_metadata). */
export interface FileMeta {
  path: string;
  commit: string;
  etag: string;
  size: number;
  /** Where the bytes are: the resolve URL, or the CDN it redirects to. */
  url: string;
}

/** The Hub's ETag as huggingface_hub names blobs with it (_normalize_etag). */
const normalizeEtag = (etag: string): string => etag.replace(/^[W/]+/, '').replace(/^"+|"+$/g, '');

const resolveUrl = (s: HubSettings, ref: RepoFileRef): string =>
  `${s.endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.revision)}/${ref.path.split('/').map(encodeURIComponent).join('/')}`;

/** HEAD of the file: its commit, ETag, size and location; `missing` (with the commit, when said) for a file the Hub lacks. */
export async function fileMetadata(
  ref: RepoFileRef,
  s: HubSettings,
): Promise<FileMeta | { missing: true; commit: string | null }> {
  const what = formatRef(ref);
  const { res, url } = await follow(
    resolveUrl(s, ref),
    { method: 'HEAD', headers: { 'accept-encoding': 'identity' } },
    s,
    what,
    false,
  );
  const header = (name: string): string | null => res.headers.get(name);
  if (res.status === 404 && header('x-error-code') === 'EntryNotFound')
    return { missing: true, commit: header('x-repo-commit') };
  const redirect = res.status >= 300 && res.status < 400;
  if (!res.ok && !redirect) throw statusError(what, res, s, ref.revision, ref.path);
  const commit = header('x-repo-commit');
  const etag = normalizeEtag(header('x-linked-etag') ?? header('etag') ?? '');
  const size = Number(header('x-linked-size') ?? (redirect ? null : header('content-length')) ?? NaN);
  const lacking = !commit
    ? 'X-Repo-Commit'
    : !etag || etag.includes('/')
      ? 'an ETag'
      : Number.isSafeInteger(size)
        ? ''
        : 'a size';
  if (lacking)
    throw new HubError(
      `${what}: the answer for ${ref.path} from ${s.endpoint} lacks ${lacking}; is HF_ENDPOINT a Hub?`,
    );
  const location = header('location');
  return { path: ref.path, commit: commit!, etag, size, url: location ? new URL(location, url).toString() : url };
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Further attempts after a failed one, counted afresh whenever an attempt brought bytes (huggingface_hub's: 5). */
  retries?: number;
  /** Pause before another attempt (huggingface_hub's: 1 s). */
  retryDelayMs?: number;
}

export interface HubProgress {
  label: string;
  /** Bytes in the cache for these files, of `total`; `resumed` of them were there before this run. */
  done: number;
  total: number;
  resumed: number;
}

export interface FetchOptions extends DownloadOptions {
  onProgress?: (p: HubProgress) => void;
  /** Files downloaded at once (default 4). */
  concurrency?: number;
}

/** The digest an ETag names: an LFS file's sha256 (64 hex), a small file's git blob sha1 (40 hex); else none. */
function contentCheck(etag: string, size: number): { name: string; hash: Hash } | null {
  if (/^[0-9a-f]{64}$/.test(etag)) return { name: 'sha256', hash: createHash('sha256') };
  if (/^[0-9a-f]{40}$/.test(etag)) return { name: 'git sha1', hash: createHash('sha1').update(`blob ${size}\0`) };
  return null;
}

/** blobs/<etag>.incomplete: the bytes so far, and their digest (a resumed file's are read again once). */
class PartialBlob {
  private check: { name: string; hash: Hash } | null;
  bytes = 0;

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    private readonly meta: FileMeta,
  ) {
    this.check = contentCheck(meta.etag, meta.size);
  }

  static async open(file: string, meta: FileMeta): Promise<PartialBlob> {
    const partial = new PartialBlob(file, await open(file, 'a+'), meta);
    const { size } = await partial.fh.stat();
    if (size > meta.size) await partial.restart();
    else {
      const buffer = Buffer.alloc(Math.min(16 << 20, Math.max(1, size)));
      while (partial.bytes < size) {
        const { bytesRead } = await partial.fh.read(
          buffer,
          0,
          Math.min(buffer.length, size - partial.bytes),
          partial.bytes,
        );
        if (bytesRead === 0) break;
        partial.check?.hash.update(buffer.subarray(0, bytesRead));
        partial.bytes += bytesRead;
      }
    }
    return partial;
  }

  /** Drops the bytes so far; returns how many there were. */
  async restart(): Promise<number> {
    const dropped = this.bytes;
    await this.fh.truncate(0);
    this.bytes = 0;
    this.check = contentCheck(this.meta.etag, this.meta.size);
    return dropped;
  }

  async append(chunk: Buffer): Promise<void> {
    await this.fh.appendFile(chunk);
    this.check?.hash.update(chunk);
    this.bytes += chunk.length;
  }

  digest(): { name: string; got: string } | null {
    return this.check && { name: this.check.name, got: this.check.hash.digest('hex') };
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** A transfer error worth another try: the connection broke, or the Hub was out of reach. */
function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (error instanceof HubError || (error as NodeJS.ErrnoException).syscall) return false;
  return (
    error instanceof Error &&
    (error.message === 'terminated' || /^(UND_ERR|ECONN|EPIPE|ETIMEDOUT)/.test(causeOf(error)))
  );
}

const FLUSH_BYTES = 8 << 20;

/** One GET from where the partial file ends; what arrives before a drop is kept. */
async function transfer(
  meta: FileMeta,
  partial: PartialBlob,
  s: HubSettings,
  what: string,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (partial.bytes > 0) headers.range = `bytes=${partial.bytes}-`;
  const { res } = await follow(meta.url, { method: 'GET', headers, signal }, s, what, true);
  if (res.status === 206) {
    const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
    if (Number(start) !== partial.bytes) {
      await res.body?.cancel();
      onBytes(-(await partial.restart()));
      throw new NetworkError(`${what}: ${meta.path}: the server sent bytes from ${start}, not from ${partial.bytes}`);
    }
  } else if (res.status === 200) {
    if (partial.bytes > 0) onBytes(-(await partial.restart())); // the server ignored the range: from the start
  } else throw statusError(what, res, s, meta.commit, meta.path);
  if (!res.body) throw new NetworkError(`${what}: ${meta.path}: an answer without a body`);
  const reader = res.body.getReader();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (!pendingBytes) return;
    const chunk = Buffer.concat(pending);
    pending = [];
    pendingBytes = 0;
    await partial.append(chunk);
    faultPoint('hub-download');
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      pending.push(value);
      pendingBytes += value.length;
      onBytes(value.length);
      if (pendingBytes >= FLUSH_BYTES) await flush();
    }
  } finally {
    await flush();
  }
}

/** blobs/<etag>: downloaded, resumed or kept; checked against the ETag's digest before it takes that name. */
async function downloadBlob(
  storage: string,
  meta: FileMeta,
  s: HubSettings,
  what: string,
  onBytes: (n: number) => void,
  o: DownloadOptions,
): Promise<void> {
  const blob = blobPath(storage, meta.etag);
  if (existsSync(blob)) return;
  mkdirSync(path.dirname(blob), { recursive: true });
  const partial = await PartialBlob.open(incompletePath(storage, meta.etag), meta);
  let failure: unknown;
  try {
    for (let failures = 0; partial.bytes < meta.size;) {
      const before = partial.bytes;
      try {
        await transfer(meta, partial, s, what, onBytes, o.signal);
      } catch (error) {
        if (o.signal?.aborted)
          throw new Stopped(`stopped while downloading ${meta.path} of ${what}; the next run resumes it`);
        if (!isTransient(error)) throw error;
        failure = error;
      }
      if (partial.bytes >= meta.size) break;
      failures = partial.bytes > before ? 1 : failures + 1;
      if (failures > (o.retries ?? 5))
        throw new HubError(
          `${what}: ${meta.path}: the download broke off at ${partial.bytes} of ${meta.size} bytes (${failure ? causeOf(failure) : 'the answer ended early'}); run again to resume it from ${partial.file}`,
        );
      if (o.retryDelayMs !== 0) await delay(o.retryDelayMs ?? 1000);
    }
    const check = partial.digest();
    const wrong =
      partial.bytes !== meta.size
        ? `${partial.bytes} bytes arrived where the Hub says ${meta.size}`
        : check && check.got !== meta.etag
          ? `${check.name} ${check.got} does not match the Hub's ${meta.etag}`
          : null;
    if (wrong) {
      rmSync(partial.file, { force: true });
      throw new HubError(`${what}: ${meta.path}: ${wrong}; the file is refused and removed`);
    }
  } finally {
    await partial.close();
  }
  renameSync(partial.file, blob);
}

/** Runs `work` on every item, `width` at a time; the first failure stops the others (their partial files stay). */
async function inPool<T>(
  items: readonly T[],
  width: number,
  signal: AbortSignal | undefined,
  work: (item: T, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const onAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onAbort);
  let next = 0;
  let first: { error: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (!stop.signal.aborted && next < items.length) {
      try {
        await work(items[next++]!, stop.signal);
      } catch (error) {
        first ??= { error };
        stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw new Stopped('stopped while downloading; the next run resumes it');
  if (first) throw (first as { error: unknown }).error;
}

const sizeOr0 = (file: string): number => statSync(file, { throwIfNoEntry: false })?.size ?? 0;

/** Downloads the described files of `ref` at `commit` into the cache and links them into its snapshot. */
async function fetchDescribed(
  ref: RepoRef,
  metas: FileMeta[],
  s: HubSettings,
  label: string,
  o: FetchOptions,
): Promise<void> {
  const storage = repoFolder(s.cacheDir, ref.repo);
  const what = formatRef(ref);
  // one download per blob: files of the same bytes (two '{}' configs) share it
  const blobs = [...new Map(metas.map((m) => [m.etag, m])).values()];
  const have = (m: FileMeta): number =>
    existsSync(blobPath(storage, m.etag)) ? m.size : Math.min(m.size, sizeOr0(incompletePath(storage, m.etag)));
  const total = blobs.reduce((sum, m) => sum + m.size, 0);
  const resumed = blobs.reduce((sum, m) => sum + have(m), 0);
  mkdirSync(storage, { recursive: true });
  const free = freeBytes(storage);
  if (total - resumed > free)
    throw new DiskFullError(
      `${what}: ${((total - resumed) / 1e9).toFixed(2)} GB to download, ${(free / 1e9).toFixed(2)} GB free in the Hugging Face cache (${s.cacheDir}); free space there or point HF_HUB_CACHE elsewhere`,
    );
  let done = resumed;
  const report = (): void => o.onProgress?.({ label, done, total, resumed });
  report();
  await inPool(blobs, o.concurrency ?? 4, o.signal, async (meta, signal) => {
    const onBytes = (n: number): void => {
      done += n;
      report();
    };
    await downloadBlob(storage, meta, s, what, onBytes, { ...o, signal });
    for (const m of metas) if (m.etag === meta.etag) linkIntoSnapshot(storage, m.commit, m.path, m.etag);
  });
}

/**
 * The files of `ref` (whose revision is at `commit`) in the cache: those its snapshot lacks are
 * described by the Hub and downloaded. Returns the snapshot folder.
 */
export async function fetchFiles(
  ref: RepoRef,
  commit: string,
  files: readonly string[],
  s: HubSettings,
  o: FetchOptions & { label?: string } = {},
): Promise<string> {
  const storage = repoFolder(s.cacheDir, ref.repo);
  const snapshot = snapshotDir(storage, commit);
  mkdirSync(storage, { recursive: true });
  writeRef(storage, ref.revision, commit);
  const todo = files.filter((f) => !existsSync(path.join(snapshot, ...f.split('/'))));
  const metas: FileMeta[] = [];
  await inPool(todo, 8, o.signal, async (file) => {
    const meta = await fileMetadata({ repo: ref.repo, revision: commit, path: file }, s);
    if ('missing' in meta)
      throw new HubError(`${formatRef(ref)}: the Hub lists ${file} at ${commit} but has no such file`);
    metas.push(meta);
  });
  if (metas.length) await fetchDescribed(ref, metas, s, o.label ?? formatRef(ref), o);
  return snapshot;
}

/** One file of a repository: from the cache when there, else downloaded into it (hf_hub_download). */
export async function fetchHubFile(ref: RepoFileRef, s: HubSettings, o: FetchOptions = {}): Promise<string> {
  const cached = cachedFile(s.cacheDir, ref);
  if (cached?.kind === 'file') return cached.path;
  const what = formatRef(ref);
  if (s.offline && cached?.kind === 'no-exist')
    throw new HubError(`${what}: the Hub has no file ${ref.path} at commit ${cached.commit} (recorded in the cache)`);
  if (s.offline) throw offlineError(`${ref.path} of ${what}`, s);
  const meta = await fileMetadata(ref, s);
  const storage = repoFolder(s.cacheDir, ref.repo);
  if ('missing' in meta) {
    if (meta.commit) {
      markNoExist(storage, meta.commit, ref.path);
      writeRef(storage, ref.revision, meta.commit);
    }
    throw new HubError(`${what}: the Hub has no file ${ref.path}${meta.commit ? ` at commit ${meta.commit}` : ''}`);
  }
  mkdirSync(storage, { recursive: true });
  writeRef(storage, ref.revision, meta.commit);
  await fetchDescribed(ref, [meta], s, ref.path, o);
  return path.join(snapshotDir(storage, meta.commit), ...ref.path.split('/'));
}

/** fnmatch's pattern as huggingface_hub's allow_patterns takes it (`*` crosses '/'; a trailing '/' means all below). */
export function repoPattern(pattern: string): RegExp {
  const p = pattern.endsWith('/') ? `${pattern}*` : pattern;
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    const end = c === '[' ? p.indexOf(']', i + 2) : -1;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (end > 0) {
      const set = p.slice(i + 1, end).replace(/\\/g, '\\\\');
      re += `[${set.startsWith('!') ? `^${set.slice(1)}` : set}]`;
      i = end;
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}
