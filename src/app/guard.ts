// What keeps a local app local: every answer carries headers that forbid framing, sniffing and
// cross-origin embedding; a request addressed to a name the server does not serve is refused
// before any route runs (a page on evil.example whose name resolves to 127.0.0.1, DNS rebinding);
// a request that changes state must carry the server's token, and a browser's must come from the
// page's own origin (cross-site request forgery: a multipart POST needs no preflight).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const TOKEN_HEADER = 'x-worldwander-token';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
};

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1'];
const WILDCARDS = new Set(['0.0.0.0', '::']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** A Host header's name and port (`[::1]:7860` gives `::1` and 7860); the port is 80 when absent. */
export function parseHost(value: string): { name: string; port: number } | null {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(value.trim());
  if (!match) return null;
  const name = (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, '');
  return { name, port: match[3] === undefined ? 80 : Number(match[3]) };
}

/**
 * Whether a request addressed to `hostHeader` is one for this server: a loopback name or the
 * host it was told to serve, at its port. Serving on every address (0.0.0.0, ::), any IP literal
 * is also accepted: only a name can be rebound to another address.
 */
export function hostAllowed(hostHeader: string | undefined, served: string, port: number): boolean {
  const host = hostHeader === undefined ? null : parseHost(hostHeader);
  if (!host || host.port !== port) return false;
  const servedName = parseHost(served.includes(':') && !served.startsWith('[') ? `[${served}]` : served)?.name;
  if (LOOPBACK_NAMES.includes(host.name) || host.name === servedName) return true;
  return WILDCARDS.has(served) && isIP(host.name) !== 0;
}

function sameToken(given: string | string[] | undefined, token: string): boolean {
  if (typeof given !== 'string' || given.length !== token.length) return false;
  return timingSafeEqual(Buffer.from(given), Buffer.from(token));
}

/** Why a state-changing request is refused, or null when it may go on. */
export function forgeryProblem(request: FastifyRequest, token: string): string | null {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${request.headers.host}`)
    return `a request from another site (Origin ${origin.slice(0, 200)}) cannot change anything here`;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return `a request from another site (Sec-Fetch-Site ${String(site).slice(0, 40)}) cannot change anything here`;
  if (!sameToken(request.headers[TOKEN_HEADER], token))
    return `the request lacks this server's token (the ${TOKEN_HEADER} header the page sends; a script reads it from GET /api/info)`;
  return null;
}

/** Adds the headers and the checks to every route of `app`; `port()` is the port listened on. */
export function guard(app: FastifyInstance, o: { host: string; port: () => number; token: string }): void {
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(name, value);
    const port = o.port();
    if (!hostAllowed(request.headers.host, o.host, port)) {
      const host = o.host.includes(':') ? `[${o.host}]` : o.host;
      return reply.code(421).send({
        error: `this app answers requests addressed to ${host}:${port}, localhost:${port} or [::1]:${port}, not to ${String(request.headers.host ?? 'no host').slice(0, 200)}`,
      });
    }
    if (SAFE_METHODS.has(request.method)) return;
    const problem = forgeryProblem(request, o.token);
    if (problem) return reply.code(403).send({ error: problem });
  });
}
