// The composition root of `npm start` (issue #4): configuration, database, queue, backend, conversation engine and
// the adapters, wired once. Nothing else constructs these; tests build their own through the same function.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { WebChatPort } from '../../adapters/web/web-port.js';
import { createWebServer, type CompletedUpload } from '../../adapters/web/server.js';
import { registerDownloadRoute } from '../../adapters/web/http/download-route.js';
import { registerUploadRoute, sweepExpiredUploads } from '../../adapters/web/http/upload-route.js';
import type { Backend } from '../backends/backend.js';
import type { ChatPort } from '../conversation/types.js';
import { localBackend } from '../backends/local.js';
import { NemoClient, type NemoClientOptions } from '../backends/nemo/client.js';
import { nemoBackend } from '../backends/nemo-backend.js';
import { kvTokenStore, sessionRowCloudStore } from '../backends/nemo-stores.js';
import { nemoClientOptions, type NemoConfig } from '../config/nemo.js';
import { makeThumbnail } from '../media/thumbnail.js';
import type { ServiceConfig } from '../config/service.js';
import {
  ConversationEngine,
  type LinkPort,
  type QueuePayload,
  type UrlFetcher,
} from '../conversation/engine.js';
import { SqliteQueue } from '../jobs/sqlite-queue.js';
import { signToken } from '../links/signed-token.js';
import { safeDownload } from '../net/safe-download.js';
import { migrateDb, openDb, type OpenDb } from '../storage/db.js';
import { localFileStore } from '../storage/file-store.js';
import { Repo } from '../storage/repo.js';

export interface Service {
  engine: ConversationEngine;
  web: FastifyInstance | null;
  webPort: WebChatPort;
  repo: Repo;
  db: OpenDb;
  /** The address the web server listens on (http://host:port). */
  url: string | null;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  backend?: Backend;
  fetchUrl?: UrlFetcher;
  logger?: Logger;
  /** Extra chat adapters, registered before the queue resumes interrupted jobs. */
  ports?: ChatPort[];
  /** Listen on this port (0 = random, for tests). */
  listenPort?: number;
  now?: () => number;
  /** VIDSHRINK_BACKEND=nemo: the cloud client's configuration (loadNemoConfig) and, for tests, client options. */
  nemo?: { config: NemoConfig; client?: NemoClientOptions; recoveryPollMs?: number };
}

/** HMAC key for links: from VIDSHRINK_SECRET, else generated once and kept (0600) in the data directory. */
async function loadSecret(cfg: ServiceConfig): Promise<string> {
  if (cfg.secret) return cfg.secret;
  const file = join(cfg.dataDir, 'link-secret');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    const s = randomBytes(32).toString('base64url');
    await writeFile(file, s, { mode: 0o600, flag: 'wx' }).catch(() => undefined);
    return (await readFile(file, 'utf8')).trim();
  }
}

export async function startService(cfg: ServiceConfig, o: ServiceOverrides = {}): Promise<Service> {
  const log =
    o.logger ?? pino({ level: cfg.logLevel, redact: ['*.token', '*.secret', 'headers.authorization'] });
  await mkdir(cfg.filesDir, { recursive: true });
  const uploadsDir = join(cfg.dataDir, 'uploads');
  await mkdir(uploadsDir, { recursive: true });
  const secret = await loadSecret(cfg);
  const db = openDb(cfg.dbPath);
  migrateDb(db.db);
  const now = o.now ?? Date.now;
  const repo = new Repo(db.db, now);
  const queue = new SqliteQueue<QueuePayload>({ db: db.db, queue: 'compress', concurrency: cfg.concurrency });
  // Links must be same-origin with the page (its CSP allows only 'self'); a wildcard bind address is no origin.
  const linkHost = cfg.host === '0.0.0.0' || cfg.host === '::' ? 'localhost' : cfg.host;
  const publicBase = (): string => (cfg.publicUrl ?? `http://${linkHost}:${boundPort}`).replace(/\/$/u, '');
  let boundPort = cfg.port;

  const links: LinkPort = {
    download(file) {
      const expiresAtMs = Math.min(now() + cfg.linkTtlMs, file.expiresAt);
      const token = signToken(secret, { kind: 'd', id: file.id, sessionId: file.sessionId, expiresAtMs });
      return { url: `${publicBase()}/d/${token}`, expiresAtMs };
    },
    upload(session, maxBytes) {
      const expiresAtMs = now() + cfg.linkTtlMs;
      const token = signToken(secret, {
        kind: 'u',
        id: session.id,
        sessionId: session.id,
        expiresAtMs,
        maxBytes,
      });
      return { url: `${publicBase()}/u/${token}`, expiresAtMs };
    },
  };

  const local = localBackend();
  let nemo: NemoClient | null = null;
  let backend = o.backend ?? local;
  if (!o.backend && cfg.backend === 'nemo') {
    if (!o.nemo) throw new Error('VIDSHRINK_BACKEND=nemo needs the NemoVideo configuration');
    nemo = new NemoClient(o.nemo.config, kvTokenStore(repo), {
      log: (msg, fields) => log.info(fields ?? {}, msg),
      ...nemoClientOptions(o.nemo.config),
      ...o.nemo.client,
    });
    backend = nemoBackend({
      client: nemo,
      sessions: sessionRowCloudStore(repo),
      local,
      maxOutputBytes: o.nemo.config.maxOutputBytes,
      ...(o.nemo.recoveryPollMs !== undefined ? { recoveryPollMs: o.nemo.recoveryPollMs } : {}),
    });
  }

  const engine = new ConversationEngine({
    repo,
    queue,
    backend,
    ...(backend.name === 'nemo' ? { local } : {}),
    files: localFileStore(cfg.filesDir),
    links,
    fetchUrl:
      o.fetchUrl ??
      (async ({ url, destPath, maxBytes, signal }) => {
        const r = await safeDownload({ url, destPath, maxBytes, signal });
        return { bytes: r.bytes, fileNameHint: r.fileNameHint };
      }),
    limits: {
      maxInputBytes: cfg.maxInputBytes,
      retentionMs: cfg.retentionMs,
      quotaBytesPerDay: cfg.quotaBytesPerDay,
      quotaEncodeSecPerDay: cfg.quotaEncodeSecPerDay,
      quotaChatBytesPerDay: cfg.quotaChatBytesPerDay,
      ratePerMinute: cfg.ratePerMinute,
      downloadTimeoutMs: 30 * 60_000,
    },
    log,
    now,
    thumbnail: (video, out) => makeThumbnail(video, out),
  });

  const webPort = new WebChatPort(cfg.maxInputBytes);
  engine.registerPort(webPort);
  const pending = new Map<string, CompletedUpload>();
  let web: FastifyInstance | null = null;
  let url: string | null = null;
  if (cfg.web) {
    web = await createWebServer({
      port: webPort,
      handle: (m) => engine.handle(m),
      uploadUrlFor(chatId) {
        const session = repo.session({ platform: 'web', chatId }, chatId, 'private', null);
        return { url: links.upload(session, cfg.maxInputBytes).url, maxBytes: cfg.maxInputBytes };
      },
      takeUpload(chatId, uploadId) {
        const up = pending.get(uploadId);
        if (!up || up.chatId !== chatId) return null;
        pending.delete(uploadId);
        return up;
      },
      plugins: [
        (app) =>
          registerDownloadRoute(app, {
            secret,
            now,
            resolveFile: (p) => {
              const f = repo.file(p.id, p.sessionId);
              return Promise.resolve(
                f ? { path: f.path, fileName: f.originalName, sizeBytes: f.sizeBytes } : null,
              );
            },
          }),
        (app) =>
          registerUploadRoute(app, {
            secret,
            now,
            directory: uploadsDir,
            onUploadComplete: async (u) => {
              const session = repo.sessionById(u.sessionId);
              if (!session) return;
              if (session.platform === 'web') {
                pending.set(u.uploadId, {
                  chatId: session.chatId,
                  path: u.path,
                  fileName: u.fileName,
                  sizeBytes: u.sizeBytes,
                });
              } else {
                await engine.acceptUpload(session.id, u.path, u.fileName);
              }
            },
          }),
      ],
    });
    await web.listen({ host: cfg.host, port: o.listenPort ?? cfg.port });
    const addr = web.server.address();
    boundPort = typeof addr === 'object' && addr ? addr.port : cfg.port;
    url = `http://${cfg.host}:${boundPort}`;
  }
  // Abandoned uploads are swept by us: @tus/server only cleans up when asked (reliability-anchors §3).
  const uploadSweep = setInterval(() => {
    sweepExpiredUploads(uploadsDir, { expiryMs: cfg.linkTtlMs }).catch((e: unknown) =>
      log.warn({ err: String(e) }, 'upload sweep failed'),
    );
  }, 10 * 60_000);
  uploadSweep.unref();
  for (const p of o.ports ?? []) engine.registerPort(p);
  await engine.start();
  log.info({ url, backend: backend.name }, 'vidshrink is running');

  return {
    engine,
    web,
    webPort,
    repo,
    db,
    url,
    async close() {
      clearInterval(uploadSweep);
      await engine.stop();
      await web?.close();
      await nemo?.close();
      db.close();
    },
  };
}
