// SSRF-safe download of a URL a user pasted (issue #4; design and tests: reliability-anchors.md §2 and checklist
// B1–B7). The file is then treated exactly like an upload: ffmpeg never sees a URL (§0 rule 2).
//
// Per hop: http/https only, no userinfo, port allowlist; resolve once and require EVERY address to be public unicast
// (ipaddr.js `range() === 'unicast'` after `process()`, as PeerTube's isResolvingToUnicastOnly and got-ssrf do, plus
// IPv6 inside 2000::/3); then connect ONLY to those validated addresses: the undici connector gets a lookup that
// returns them (nodejs/undici#2019) and checks the socket's remote address, which closes the check-then-use window
// that DNS rebinding exploits in PeerTube's and got-ssrf's designs. IP literals never reach `lookup`, so they are
// classified directly (gitroomhq/postiz-app#1671). Redirects are followed by hand and every hop is validated again.
// Bytes are counted while streaming (Content-Length is only used to fail early), nothing is decompressed, and a
// failed download leaves no partial file.
import { lookup as dnsLookup } from 'node:dns/promises';
import { open, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import { AppError, toAppError } from '../domain/errors.js';
import { formatBytes } from '../domain/units.js';
import { ByteCap } from './byte-cap.js';
import { fileNameFromContentDisposition, fileNameFromUrl } from './file-name.js';

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Resolves every address of a host name (the default is node:dns `lookup` with `all: true`). */
export type LookupAll = (hostname: string) => Promise<readonly ResolvedAddress[]>;

export interface SafeDownloadTimeouts {
  /** TCP (and TLS) connect, per hop. */
  connectMs?: number;
  /** From sending the request until the response headers are complete, per hop. */
  headersMs?: number;
  /** Longest silence between two body chunks (a slowloris trickle trips it). */
  idleMs?: number;
  /** The whole download, redirects included. */
  totalMs?: number;
}

export interface SafeDownloadOptions {
  url: string;
  /** Created exclusively (`wx`): an existing file is never overwritten; removed again on any failure. */
  destPath: string;
  /** More than this many body bytes aborts the download (INPUT_LIMITS). */
  maxBytes: number;
  signal?: AbortSignal;
  timeouts?: SafeDownloadTimeouts;
  lookup?: LookupAll;
  /** Ports allowed besides 80 and 443. */
  allowPorts?: readonly number[];
  /** Redirects followed at most (default 5); one more is refused. */
  maxRedirects?: number;
  /**
   * TEST-ONLY escape hatch: also accept these (normalized) addresses although they are not public unicast, so
   * tests can stand a loopback server in for "a public server". Production code never passes it, and nothing a
   * user sends can set it: it is a function supplied by the caller, not data.
   */
  allowAddress?: (ip: string) => boolean;
}

export interface SafeDownloadResult {
  bytes: number;
  /** The URL the file finally came from, after redirects. */
  finalUrl: string;
  contentType: string | null;
  /** A sanitized display name from Content-Disposition or the URL path; null when neither gives one. */
  fileNameHint: string | null;
}

export const DEFAULT_TIMEOUTS: Required<SafeDownloadTimeouts> = {
  connectMs: 10_000,
  headersMs: 30_000,
  idleMs: 30_000,
  totalMs: 30 * 60_000,
};
export const DEFAULT_MAX_REDIRECTS = 5;
const DEFAULT_PORTS = [80, 443];
const MAX_URL_LENGTH = 4096;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

const notAllowed = (reason: string, internal: Record<string, unknown> = {}): AppError =>
  new AppError('URL_NOT_ALLOWED', { reason }, { internal });
const fetchFailed = (reason: string, cause?: unknown, internal: Record<string, unknown> = {}): AppError =>
  new AppError('URL_FETCH_FAILED', { reason }, { cause, internal });

/**
 * Why an address may not be fetched, or null when it is public unicast. Exported for tests and for callers that
 * vet addresses elsewhere; IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is unwrapped first.
 */
export function addressProblem(ip: string): string | null {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.process(ip);
  } catch {
    return 'invalid';
  }
  const range = addr.range();
  if (range !== 'unicast') return range;
  // ipaddr.js calls everything it has no name for "unicast" (e.g. the deprecated IPv4-compatible ::7f00:1);
  // every public IPv6 address today lies in 2000::/3.
  if (addr.kind() === 'ipv6' && !addr.match(GLOBAL_UNICAST_V6)) return 'not global unicast';
  return null;
}

function normalizeIp(ip: string): string {
  return ipaddr.process(ip).toString();
}

interface Ctx {
  allowedPorts: Set<number>;
  lookup: LookupAll;
  allowAddress: ((ip: string) => boolean) | undefined;
}

/** Scheme, credentials and port: all checked before any DNS query (checklist B6). */
function parseTarget(raw: string, ctx: Ctx): URL {
  if (raw.length > MAX_URL_LENGTH) throw notAllowed('the link is too long');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw notAllowed('that is not a valid link');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw notAllowed(`only http and https links are supported, not ${url.protocol.replace(/:$/u, '')}`);
  }
  // Credentials in a link would be sent to whoever the link (or a redirect) points at.
  if (url.username || url.password) throw notAllowed('links with a user name or password are not supported');
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  if (!ctx.allowedPorts.has(port)) throw notAllowed(`port ${port} is not allowed`);
  if (!url.hostname) throw notAllowed('the link has no host');
  return url;
}

function vet(ip: string, ctx: Ctx): boolean {
  if (addressProblem(ip) === null) return true;
  try {
    return ctx.allowAddress?.(normalizeIp(ip)) === true;
  } catch {
    return false;
  }
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The addresses this hop may connect to: all of them vetted, or an error. */
async function resolveAllowed(url: URL, ctx: Ctx, signal: AbortSignal): Promise<ResolvedAddress[]> {
  const host = url.hostname;
  // WHATWG URL has already normalized 127.1, 0x7f.1, 017700000001 and friends to dotted quads, and IPv6 literals
  // to their canonical bracketed form; `lookup` would never be called for them, so they are classified here.
  if (host.startsWith('[') || ipaddr.IPv4.isValidFourPartDecimal(host)) {
    const literal = host.replace(/^\[|\]$/gu, '');
    if (!vet(literal, ctx)) {
      throw notAllowed('it is a private or reserved address', {
        address: literal,
        range: addressProblem(literal),
      });
    }
    return [{ address: literal, family: literal.includes(':') ? 6 : 4 }];
  }
  // RFC 6761 §6.3: "localhost" and every name under it are loopback, whatever a resolver says.
  const bare = host.replace(/\.$/u, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) {
    throw notAllowed('it is a local address', { host });
  }
  let found: readonly ResolvedAddress[];
  try {
    found = await abortable(ctx.lookup(host), signal);
  } catch (e) {
    if (signal.aborted) throw e;
    throw fetchFailed('its host name could not be found', e, { host });
  }
  if (found.length === 0) throw fetchFailed('its host name could not be found', undefined, { host });
  // Every address, not just the first: a host that also resolves to 10.0.0.1 could be steered to it (§2).
  const bad = found.filter((a) => !vet(a.address, ctx));
  if (bad.length > 0) {
    throw notAllowed('its name resolves to a private or reserved address', {
      host,
      addresses: bad.map((a) => a.address),
    });
  }
  return found.map((a) => ({ address: a.address, family: a.family }));
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | ResolvedAddress[],
  family?: number,
) => void;

/**
 * A connector that can only reach the vetted addresses: its lookup answers with them instead of asking DNS again
 * (Host and SNI still carry the name), and the connected socket's peer is checked once more, which also covers IP
 * literals and any path where lookup is bypassed.
 */
function pinnedConnector(addresses: ResolvedAddress[], connectMs: number): buildConnector.connector {
  const first = addresses[0];
  if (!first) throw new Error('no address to pin');
  const allowed = new Set(addresses.map((a) => normalizeIp(a.address)));
  const lookup = (_host: string, options: { all?: boolean }, cb: LookupCallback): void => {
    if (options.all) cb(null, addresses);
    else cb(null, first.address, first.family);
  };
  // HTTP/1.1 only: one well-understood framing, no h2 surprises on a hostile server.
  const base = buildConnector({ lookup, timeout: connectMs, allowH2: false });
  return (opts, callback) => {
    base(opts, (err, socket) => {
      if (err || !socket) {
        callback(err ?? new Error('connect failed'), null);
        return;
      }
      const peer = socket.remoteAddress;
      let ok: boolean;
      try {
        ok = peer !== undefined && allowed.has(normalizeIp(peer));
      } catch {
        ok = false;
      }
      if (!ok) {
        socket.destroy();
        callback(notAllowed('it connected to an address that was not checked', { peer }), null);
        return;
      }
      callback(null, socket);
    });
  };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | null {
  const v = headers[name];
  if (Array.isArray(v)) return v[0] ?? null;
  return v ?? null;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('INPUT_LIMITS', {
    reason: `the file at that link is larger than ${formatBytes(maxBytes)}`,
  });
}

function errorCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string') return e.code;
  return undefined;
}

/** undici/node errors → the catalog; the raw error stays as the cause for logs. */
function mapError(e: unknown, opts: SafeDownloadOptions, deadline: AbortSignal): AppError {
  if (opts.signal?.aborted) return new AppError('CANCELLED', {}, { cause: e });
  if (deadline.aborted) return fetchFailed('the download took too long', e);
  if (e instanceof AppError) return e;
  const code = errorCode(e) ?? '';
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return fetchFailed('the server did not accept a connection in time', e);
    case 'UND_ERR_HEADERS_TIMEOUT':
      return fetchFailed('the server did not answer in time', e);
    case 'UND_ERR_BODY_TIMEOUT':
      return fetchFailed('the server stopped sending data', e);
    case 'ECONNREFUSED':
      return fetchFailed('the server refused the connection', e);
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH':
      return fetchFailed('the connection broke off before the file was complete', e);
    case 'ENOSPC':
      return toAppError(e);
    default:
      return e instanceof Error && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/u.test(code)
        ? fetchFailed('the connection failed', e)
        : toAppError(e);
  }
}

/**
 * Downloads `url` to `destPath` under the rules above. Throws AppError: URL_NOT_ALLOWED (blocked target),
 * URL_FETCH_FAILED (network, HTTP status, timeouts), INPUT_LIMITS (over `maxBytes`), CANCELLED, DISK_FULL.
 */
export async function safeDownload(opts: SafeDownloadOptions): Promise<SafeDownloadResult> {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 0) {
    throw new Error('maxBytes must be a byte count');
  }
  const t = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const ctx: Ctx = {
    allowedPorts: new Set([...DEFAULT_PORTS, ...(opts.allowPorts ?? [])]),
    lookup: opts.lookup ?? ((host) => dnsLookup(host, { all: true })),
    allowAddress: opts.allowAddress,
  };
  const deadline = AbortSignal.timeout(t.totalMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  let created = false;
  try {
    let url = parseTarget(opts.url, ctx);
    // Fragments are never sent; dropping them keeps finalUrl what was actually fetched.
    url.hash = '';
    for (let redirects = 0; ; redirects++) {
      signal.throwIfAborted();
      const addresses = await resolveAllowed(url, ctx, signal);
      const agent = new Agent({
        connect: pinnedConnector(addresses, t.connectMs),
        headersTimeout: t.headersMs,
        bodyTimeout: t.idleMs,
      });
      try {
        const res: Dispatcher.ResponseData = await agent.request({
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          // identity: a compressed body would be stored as is, never inflated past the cap (checklist B7).
          headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'vidshrink-url-import' },
          signal,
          headersTimeout: t.headersMs,
          bodyTimeout: t.idleMs,
        });
        if (REDIRECTS.has(res.statusCode)) {
          const location = header(res.headers, 'location');
          if (!location) throw fetchFailed(`the server answered ${res.statusCode} without a new address`);
          if (redirects >= maxRedirects) throw fetchFailed(`it redirects more than ${maxRedirects} times`);
          let next: URL;
          try {
            next = new URL(location, url);
          } catch {
            throw notAllowed('it redirects to an invalid address');
          }
          next.hash = '';
          url = parseTarget(next.href, ctx);
          continue;
        }
        if (res.statusCode !== 200) {
          throw fetchFailed(`the server answered HTTP ${res.statusCode}`, undefined, {
            status: res.statusCode,
          });
        }
        const declared = header(res.headers, 'content-length');
        if (declared !== null && /^\d+$/u.test(declared) && Number(declared) > opts.maxBytes) {
          throw tooLarge(opts.maxBytes);
        }
        const file = await open(opts.destPath, 'wx');
        created = true;
        const cap = new ByteCap(opts.maxBytes, () => tooLarge(opts.maxBytes));
        await pipeline(res.body, cap, file.createWriteStream(), { signal });
        return {
          bytes: cap.bytes,
          finalUrl: url.href,
          contentType: header(res.headers, 'content-type'),
          fileNameHint:
            fileNameFromContentDisposition(header(res.headers, 'content-disposition')) ??
            fileNameFromUrl(url),
        };
      } finally {
        // Closes the connection whatever state it is in (an unread redirect body, an aborted transfer).
        await agent.destroy().catch(() => undefined);
      }
    }
  } catch (e) {
    if (created) await rm(opts.destPath, { force: true }).catch(() => undefined);
    throw mapError(e, opts, deadline);
  }
}
