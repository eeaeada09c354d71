// /u/<token>… — uploads into a chat session through a signed, expiring 'u' link (issue #4; reliability-anchors.md
// §3 and checklist C1–C11).
//
//   POST    /u/<token>             tus creation (creation-with-upload too); 201, Location: /u/<token>/<uploadId>
//   HEAD    /u/<token>/<uploadId>  tus offset, for resuming
//   PATCH   /u/<token>/<uploadId>  tus data (Content-Type: application/offset+octet-stream)
//   DELETE  /u/<token>/<uploadId>  tus termination
//   OPTIONS /u/<token>[/<id>]      tus discovery (Tus-Max-Size is this token's cap)
//   PUT     /u/<token>/plain[?name=<file name>]
//                                  one-request upload for simple clients: the raw body is the file (any Content-Type);
//                                  201 {"uploadId","sizeBytes","fileName"}
//
// Every request must carry a valid token (expired → 410, anything else → 404). An upload is bound to the grant of
// the token that created it (sessionId and id, kept server-side in its info file): another session's token gets 404
// on HEAD/PATCH/DELETE, exactly like an unknown id (C7). The byte cap comes from the token: Upload-Length over it is
// 413 at creation, Upload-Defer-Length is refused (the store does not advertise creation-defer-length, so a client
// can never store past the cap: tus/tusd#1032), and @tus/server's StreamLimiter stops a PATCH at the declared length
// (C5). Upload ids are ours (128-bit random), never the client's; client metadata is reduced to a sanitized
// `filename` and a well-formed `filetype` (C8). Unfinished uploads expire (Upload-Expires is announced) and
// `sweepExpiredUploads()` removes them (C9). On completion `onUploadComplete` runs exactly once per upload, before
// the client sees the final 204, so the upload is registered by the time the page refers to it.
import { mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileConfigstore, FileStore } from '@tus/file-store';
import { Server as TusServer, type Upload } from '@tus/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorCode } from '../../../src/domain/errors.js';
import { formatBytes } from '../../../src/domain/units.js';
import { randomId, verifyToken } from '../../../src/links/signed-token.js';
import { ByteCap } from '../../../src/net/byte-cap.js';
import { sanitizeFileName } from '../../../src/net/file-name.js';

export interface CompletedUploadInfo {
  sessionId: string;
  uploadId: string;
  /** The finished file; the receiver owns it from now on and should move it away before the upload expires. */
  path: string;
  sizeBytes: number;
  /** Sanitized display name ("upload" when the client gave none). */
  fileName: string;
}

export interface UploadRouteDeps {
  secret: string | Uint8Array;
  now?: () => number;
  /** Where uploads are stored (created if missing). Nothing else should live here: the sweeper owns it. */
  directory: string;
  onUploadComplete(upload: CompletedUploadInfo): Promise<void>;
  /** Cap for tokens that carry no maxBytes; without either, the token is refused. */
  defaultMaxBytes?: number;
  /** Unfinished uploads expire this long after creation (tus expiration extension). Default 24 h. */
  expiryMs?: number;
  /** Origins allowed to upload cross-origin (CORS). Default none: the chat page is same-origin. */
  allowedOrigins?: string[];
  /** URL prefix; default '/u'. */
  prefix?: string;
}

export const DEFAULT_UPLOAD_EXPIRY_MS = 24 * 60 * 60_000;
/** Our ids: randomId() output. Anything else in a URL is not an upload of ours. */
export const UPLOAD_ID_RE = /^[A-Za-z0-9_-]{22}$/u;
const PLAIN = 'plain';
const TUS_VERSION = '1.0.0';
/** Info-file metadata keys that bind an upload to its grant; clients cannot set them (all client keys but two are dropped). */
const OWNER_SESSION = 'vs_session';
const OWNER_GRANT = 'vs_grant';
const FILETYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}$/u;

interface Grant {
  token: string;
  sessionId: string;
  id: string;
  maxBytes: number;
}

/** @tus/file-store minus creation-defer-length: a deferred length is how tusd#1032 stored past its max size. */
class CappedFileStore extends FileStore {
  constructor(options: ConstructorParameters<typeof FileStore>[0]) {
    super(options);
    this.extensions = this.extensions.filter((e) => e !== 'creation-defer-length');
  }
}

function refuse(reply: FastifyReply, code: ErrorCode, details: Record<string, unknown> = {}): FastifyReply {
  const err = new AppError(code, details);
  return reply
    .code(err.httpStatus)
    .header('tus-resumable', TUS_VERSION)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(`${err.message}\n`);
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('INPUT_LIMITS', {
    reason: `it is larger than the ${formatBytes(maxBytes)} this link accepts`,
  });
}

/** What tus hooks throw to answer with a status (@tus/server reads `status_code` and `body`). */
function tusError(status: number, body: string): Error {
  return Object.assign(new Error(body.trim()), { status_code: status, body });
}

/** The Node request behind an srvx request (@tus/server README: `req.runtime.node.req`). */
function nodeReq(req: unknown): IncomingMessage | undefined {
  return (req as { runtime?: { node?: { req?: IncomingMessage } } }).runtime?.node?.req;
}

export async function registerUploadRoute(app: FastifyInstance, deps: UploadRouteDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const prefix = deps.prefix ?? '/u';
  const dir = deps.directory;
  const expiryMs = deps.expiryMs ?? DEFAULT_UPLOAD_EXPIRY_MS;
  // FileStore creates the directory itself, but throws from a callback (uncatchable) if that fails.
  await mkdir(dir, { recursive: true });

  /** Set for each verified request before tus sees it; tus hooks look their grant up by the Node request. */
  const grants = new WeakMap<IncomingMessage, Grant>();
  const grantOf = (req: unknown): Grant => {
    const raw = nodeReq(req);
    const g = raw && grants.get(raw);
    if (!g) throw tusError(404, 'Not found\n');
    return g;
  };

  const store = new CappedFileStore({ directory: dir, expirationPeriodInMilliseconds: expiryMs });
  const tus = new TusServer({
    path: prefix,
    datastore: store,
    allowedOrigins: deps.allowedOrigins ?? [],
    namingFunction: () => randomId(),
    // Routing already checked the id's shape; this keeps tus from deriving anything else from the URL.
    getFileIdFromRequest: (_req, lastPath) =>
      lastPath && UPLOAD_ID_RE.test(lastPath) ? lastPath : undefined,
    generateUrl: (req, { id }) => `${prefix}/${grantOf(req).token}/${id}`,
    maxSize: (req) => Math.max(1, grantOf(req).maxBytes),
    onUploadCreate: (req, upload) => {
      const g = grantOf(req);
      const meta: Record<string, string> = { [OWNER_SESSION]: g.sessionId, [OWNER_GRANT]: g.id };
      const fileName = sanitizeFileName(upload.metadata?.filename);
      if (fileName) meta.filename = fileName;
      const fileType = upload.metadata?.filetype;
      if (fileType && FILETYPE_RE.test(fileType)) meta.filetype = fileType;
      return Promise.resolve({ metadata: meta });
    },
    onUploadFinish: async (_req, upload) => {
      await complete(upload);
      return {};
    },
  });

  /**
   * Exactly once per upload, also when a client repeats the final PATCH (offset = length, empty body, which tus
   * treats as finishing again) or two requests race: an exclusively created marker file decides. If the hook
   * fails the marker goes, and the client's retry of the final PATCH runs it again.
   */
  async function complete(upload: Upload): Promise<void> {
    const sessionId = upload.metadata?.[OWNER_SESSION];
    if (!sessionId) throw tusError(404, 'Not found\n');
    const marker = join(dir, `${upload.id}.done`);
    try {
      await writeFile(marker, '', { flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw e;
    }
    try {
      await deps.onUploadComplete({
        sessionId,
        uploadId: upload.id,
        path: join(dir, upload.id),
        sizeBytes: upload.size ?? upload.offset,
        fileName: sanitizeFileName(upload.metadata?.filename) ?? 'upload',
      });
    } catch (e) {
      app.log.error({ err: e, uploadId: upload.id }, 'upload: onUploadComplete failed');
      await rm(marker, { force: true });
      throw tusError(500, 'The upload arrived but could not be registered; retry the last request.\n');
    }
  }

  async function handOver(req: FastifyRequest, reply: FastifyReply, grant: Grant): Promise<void> {
    grants.set(req.raw, grant);
    reply.hijack();
    try {
      await tus.handle(req.raw, reply.raw);
    } catch (e) {
      req.log.error({ err: e }, 'upload: tus handler failed');
      if (!reply.raw.headersSent) reply.raw.writeHead(500, { 'content-type': 'text/plain' });
      reply.raw.end();
    }
  }

  async function ownedBy(id: string, grant: Grant): Promise<boolean> {
    const info = await store.configstore.get(id).catch(() => undefined);
    return info?.metadata?.[OWNER_SESSION] === grant.sessionId && info.metadata[OWNER_GRANT] === grant.id;
  }

  async function plainUpload(req: FastifyRequest, reply: FastifyReply, grant: Grant): Promise<FastifyReply> {
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > grant.maxBytes) {
      return refuse(reply.header('connection', 'close'), 'INPUT_LIMITS', {
        reason: `it is larger than the ${formatBytes(grant.maxBytes)} this link accepts`,
      });
    }
    const query = req.query as Record<string, unknown>;
    const fileName = sanitizeFileName(typeof query.name === 'string' ? query.name : null) ?? 'upload';
    const uploadId = randomId();
    const part = join(dir, `${uploadId}.part`);
    const path = join(dir, uploadId);
    const cap = new ByteCap(grant.maxBytes, () => tooLarge(grant.maxBytes));
    // Read through a proxy, as @tus/server does: when the cap trips, pipeline destroys the proxy but not the
    // request, so the socket survives long enough to carry the 413.
    const proxy = new PassThrough();
    const onClose = (): void => {
      if (!req.raw.complete) proxy.destroy(new Error('client went away'));
    };
    req.raw.once('close', onClose);
    req.raw.pipe(proxy);
    try {
      const file = await open(part, 'wx');
      await pipeline(proxy, cap, file.createWriteStream());
      if (cap.bytes === 0) throw new AppError('INPUT_EMPTY');
      await rename(part, path);
    } catch (e) {
      req.raw.unpipe(proxy);
      await rm(part, { force: true });
      if (e instanceof AppError) return refuse(reply.header('connection', 'close'), e.code, e.details);
      // The client went away mid-body: nobody to answer.
      if (!req.raw.complete) return reply.code(400).header('connection', 'close').send();
      throw e;
    } finally {
      req.raw.off('close', onClose);
    }
    try {
      await deps.onUploadComplete({
        sessionId: grant.sessionId,
        uploadId,
        path,
        sizeBytes: cap.bytes,
        fileName,
      });
    } catch (e) {
      await rm(path, { force: true });
      req.log.error({ err: e, uploadId }, 'upload: onUploadComplete failed');
      return refuse(reply, 'INTERNAL');
    }
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send({ uploadId, sizeBytes: cap.bytes, fileName });
  }

  const handler = async (req: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => {
    const [token = '', sub, ...rest] = req.params['*'].split('/');
    const v = verifyToken(deps.secret, token, 'u', now());
    if (!v.ok) return refuse(reply, v.reason === 'expired' ? 'LINK_EXPIRED' : 'LINK_INVALID');
    const maxBytes = v.payload.maxBytes ?? deps.defaultMaxBytes;
    if (maxBytes === undefined || rest.length > 0) return refuse(reply, 'LINK_INVALID');
    const grant: Grant = { token, sessionId: v.payload.sessionId, id: v.payload.id, maxBytes };
    const method = req.method;

    if (sub === undefined) {
      if (method === 'OPTIONS') return handOver(req, reply, grant);
      if (method !== 'POST') return refuse(reply, 'LINK_INVALID');
      // tus answers a missing/invalid length itself (400) and a deferred one with 501 (extension not offered).
      const length = req.headers['upload-length'];
      if (typeof length === 'string' && /^\d+$/u.test(length)) {
        if (Number(length) === 0) return refuse(reply, 'INPUT_EMPTY');
        if (Number(length) > maxBytes) {
          return refuse(reply.header('connection', 'close'), 'INPUT_LIMITS', {
            reason: `it is larger than the ${formatBytes(maxBytes)} this link accepts`,
          });
        }
      }
      return handOver(req, reply, grant);
    }
    if (sub === PLAIN) {
      return method === 'PUT' ? plainUpload(req, reply, grant) : refuse(reply, 'LINK_INVALID');
    }
    if (!UPLOAD_ID_RE.test(sub) || !['HEAD', 'PATCH', 'DELETE', 'OPTIONS'].includes(method)) {
      return refuse(reply, 'LINK_INVALID');
    }
    // Another session's (or grant's) upload is indistinguishable from one that does not exist (C7).
    if (!(await ownedBy(sub, grant))) return refuse(reply, 'LINK_INVALID');
    return handOver(req, reply, grant);
  };

  await app.register((scope, _opts, done) => {
    // Bodies are streamed by tus or by plainUpload, never buffered or parsed by fastify (its bodyLimit would not
    // apply to a stream anyway, and the byte caps above do).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));
    // A wildcard, not `:token`: fastify refuses parameters over maxParamLength (100) and tokens are ~150 chars.
    scope.route<{ Params: { '*': string } }>({
      method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS', 'PUT'],
      url: `${prefix}/*`,
      handler,
    });
    done();
  });
}

/**
 * Deletes uploads (tus data + info + completion marker, and plain-upload leftovers) older than `expiryMs`: tus
 * uploads by their creation date (the tus expiration extension counts from creation), other files by mtime.
 * A finished upload not yet moved away by its receiver goes too, so nothing accumulates. Only names this module
 * creates are touched; idempotent. Returns the number of uploads removed. Call it on a timer (C9).
 */
export async function sweepExpiredUploads(
  directory: string,
  { expiryMs = DEFAULT_UPLOAD_EXPIRY_MS, nowMs = Date.now() }: { expiryMs?: number; nowMs?: number } = {},
): Promise<number> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return 0;
  }
  const present = new Set(names);
  const configstore = new FileConfigstore(directory);
  const removed = new Set<string>();
  const expired = (t: number): boolean => Number.isFinite(t) && t + expiryMs < nowMs;
  const drop = async (id: string): Promise<void> => {
    await Promise.all(
      [id, `${id}.json`, `${id}.done`, `${id}.part`].map((n) => rm(join(directory, n), { force: true })),
    );
    removed.add(id);
  };
  for (const name of names) {
    const m = /^([A-Za-z0-9_-]{22})(\.json|\.done|\.part)?$/u.exec(name);
    const id = m?.[1];
    if (!id || removed.has(id)) continue;
    if (present.has(`${id}.json`)) {
      if (m[2] !== '.json') continue;
      const info = await configstore.get(id).catch(() => undefined);
      const created = info?.creation_date ? Date.parse(info.creation_date) : Number.NaN;
      // An unreadable info file falls back to its mtime, so a torn write can't pin an upload forever.
      const t = Number.isFinite(created)
        ? created
        : ((await stat(join(directory, name)).catch(() => null))?.mtimeMs ?? NaN);
      if (expired(t)) await drop(id);
      continue;
    }
    const st = await stat(join(directory, name)).catch(() => null);
    if (st?.isFile() && expired(st.mtimeMs)) await drop(id);
  }
  return removed.size;
}
