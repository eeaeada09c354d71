// GET/HEAD /d/<token> — signed, expiring download links for results and originals (issue #4; reliability-anchors.md
// checklist F1, F2, F5). The token is the only credential: it is verified with the server secret, then an injected
// resolver (the storage layer) maps its payload to a file it owns. Unknown, forged, malformed and wrong-kind tokens
// all get the same 404, so the answer reveals nothing beyond "this genuine link has expired" (410).
//
// Served as an attachment with a Content-Type from a fixed extension map of OUR storage path (never from user
// data), `nosniff` and a sandboxing CSP, so a hostile file can never run as HTML/JS on this origin (F2). Single
// byte ranges are supported (RFC 9110 §14) so players can seek and browsers can resume.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../../src/domain/errors.js';
import { verifyToken, type TokenPayload } from '../../../src/links/signed-token.js';
import { contentDispositionAttachment } from '../../../src/net/file-name.js';

export interface DownloadableFile {
  /** Where the file is on disk (our storage path; never shown to the user). */
  path: string;
  /** Display name for the Content-Disposition header; sanitized again here. */
  fileName: string;
  sizeBytes: number;
}

export interface DownloadRouteDeps {
  secret: string | Uint8Array;
  now?: () => number;
  /** The file this (already verified) token grants, or null when unknown, deleted or not the session's. */
  resolveFile(payload: TokenPayload): Promise<DownloadableFile | null>;
  /** URL prefix; default '/d'. */
  prefix?: string;
}

/** By extension of the storage path. Anything else is an opaque download. */
export const DOWNLOAD_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
  '.m4a': 'audio/mp4',
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
};
const FALLBACK_TYPE = 'application/octet-stream';

export type RangeResult =
  { kind: 'full' } | { kind: 'unsatisfiable' } | { kind: 'partial'; start: number; end: number };

/**
 * One `bytes=` range against a representation of `size` bytes (RFC 9110 §14.1.2, §14.2). Several ranges, other
 * units and syntax errors are ignored (a full 200 is always a valid answer); a range starting past the end is 416.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (!header) return { kind: 'full' };
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/iu.exec(header);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (!Number.isSafeInteger(suffix)) return { kind: 'full' };
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const last = b === '' ? Number.MAX_SAFE_INTEGER : Number(b);
  if (!Number.isSafeInteger(start) || !Number.isFinite(last) || last < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(last, size - 1) };
}

function etagOf(size: number, mtimeMs: number): string {
  // Strong validator: stored files are written once under a temporary name and renamed, never modified in place.
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

function plain(reply: FastifyReply, err: AppError): FastifyReply {
  return reply
    .code(err.httpStatus)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .send(`${err.message}\n`);
}

export function registerDownloadRoute(app: FastifyInstance, deps: DownloadRouteDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const prefix = deps.prefix ?? '/d';

  const handler = async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const v = verifyToken(deps.secret, req.params['*'], 'd', now());
    if (!v.ok) return plain(reply, new AppError(v.reason === 'expired' ? 'LINK_EXPIRED' : 'LINK_INVALID'));

    let file: DownloadableFile | null;
    try {
      file = await deps.resolveFile(v.payload);
    } catch (e) {
      req.log.error({ err: e }, 'download: resolveFile failed');
      return plain(reply, new AppError('INTERNAL'));
    }
    if (!file) return plain(reply, new AppError('LINK_INVALID'));
    // The size on disk is the truth for Content-Length and ranges; a vanished file is simply not found.
    const st = await stat(file.path).catch(() => null);
    if (!st?.isFile()) return plain(reply, new AppError('LINK_INVALID'));

    const size = st.size;
    const etag = etagOf(size, st.mtimeMs);
    const lastModified = st.mtime.toUTCString();
    reply
      .header('content-type', DOWNLOAD_CONTENT_TYPES[extname(file.path).toLowerCase()] ?? FALLBACK_TYPE)
      .header('content-disposition', contentDispositionAttachment(file.fileName))
      .header('x-content-type-options', 'nosniff')
      .header('content-security-policy', "default-src 'none'; sandbox")
      .header('cache-control', 'private')
      .header('referrer-policy', 'no-referrer')
      .header('accept-ranges', 'bytes')
      .header('etag', etag)
      .header('last-modified', lastModified);

    // If-Range (RFC 9110 §13.1.5): a range is only valid against the representation the client already has.
    const ifRange = req.headers['if-range'];
    const rangeHeader =
      ifRange === undefined || ifRange === etag || ifRange === lastModified ? req.headers.range : undefined;
    const range = parseRange(rangeHeader, size);
    if (range.kind === 'unsatisfiable') {
      return reply.code(416).header('content-range', `bytes */${size}`).header('content-length', 0).send();
    }
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`);
    reply.header('content-length', end - start + 1);
    if (req.method === 'HEAD' || size === 0) return reply.send();
    return reply.send(createReadStream(file.path, { start, end }));
  };

  // A wildcard, not `:token`: fastify's router refuses parameters over maxParamLength (100 by default) with 414,
  // and a signed token is ~150 characters. A token never contains '/', so `/d/<token>/x` fails verification.
  app.route<{ Params: { '*': string } }>({
    method: ['GET', 'HEAD'],
    url: `${prefix}/*`,
    exposeHeadRoute: false,
    handler,
  });
  return Promise.resolve();
}
