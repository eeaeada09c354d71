// Test harness for the web chat page: the REAL createWebServer + WebChatPort, with a scripted stand-in for the
// conversation engine, a minimal tus 1.0.0 upload route and a download route that streams the uploaded bytes back.
// The production upload/download routes and the engine are wired in src/apps/service.ts; this keeps the page's tests
// independent of them while they land.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { appendFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createWebServer, type CompletedUpload } from '../../adapters/web/server.js';
import { WebChatPort } from '../../adapters/web/web-port.js';
import { bar } from '../../src/conversation/render.js';
import type { Button, InboundMessage } from '../../src/conversation/types.js';
import { formatBytes } from '../../src/domain/units.js';

export interface TusUpload {
  id: string;
  chatId: string;
  path: string;
  length: number;
  offset: number;
  fileName: string;
  fileType: string;
}

/** One request the tus route saw, for assertions on the protocol the page speaks. */
export interface TusRequest {
  method: string;
  uploadId: string | null;
  fileName: string | null;
  tusResumable: string | null;
  contentType: string | null;
  uploadOffset: string | null;
  uploadLength: string | null;
  uploadMetadata: string | null;
  bodyBytes: number;
  status: number;
}

export interface Served {
  fileId: string;
  bytes: number;
}

export interface Harness {
  /** http://127.0.0.1:port — where the page is opened. */
  url: string;
  /**
   * http://localhost:port — the "public" address the links are signed for. It differs from the page's origin on
   * purpose, as it does when the service is configured for 127.0.0.1 and opened at localhost.
   */
  linkBase: string;
  tus: TusRequest[];
  served: Served[];
  buttons: { action: string; jobId: string }[];
  handled: InboundMessage[];
  /** File names whose first PATCH loses the connection after half the chunk reached the disk. */
  flaky: Set<string>;
  port: WebChatPort;
  app: FastifyInstance;
  close(): Promise<void>;
}

const MAX_BYTES = 50_000_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function header(req: FastifyRequest, name: string): string | null {
  const v = req.headers[name];
  return typeof v === 'string' ? v : null;
}

function parseMetadata(raw: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (raw ?? '').split(',')) {
    const [k, v] = pair.trim().split(' ');
    if (k) out[k] = Buffer.from(v ?? '', 'base64').toString('utf8');
  }
  return out;
}

export async function startHarness(dir: string): Promise<Harness> {
  const uploadsDir = join(dir, 'uploads');
  const filesDir = join(dir, 'files');
  await mkdir(uploadsDir, { recursive: true });
  await mkdir(filesDir, { recursive: true });

  const uploads = new Map<string, TusUpload>();
  const files = new Map<string, { path: string; fileName: string }>();
  const tus: TusRequest[] = [];
  const served: Served[] = [];
  const buttons: { action: string; jobId: string }[] = [];
  const handled: InboundMessage[] = [];
  const flaky = new Set<string>();
  const failedOnce = new Set<string>();
  let linkBase = '';

  const port = new WebChatPort(MAX_BYTES);

  const record = (req: FastifyRequest, up: TusUpload | null, status: number, bodyBytes = 0): void => {
    tus.push({
      method: req.method,
      uploadId: up?.id ?? null,
      fileName: up?.fileName ?? null,
      tusResumable: header(req, 'tus-resumable'),
      contentType: header(req, 'content-type'),
      uploadOffset: header(req, 'upload-offset'),
      uploadLength: header(req, 'upload-length'),
      uploadMetadata: header(req, 'upload-metadata'),
      bodyBytes,
      status,
    });
  };

  /** A minimal tus 1.0.0 server (core + creation): enough to prove the page speaks the protocol. */
  const tusRoute = (app: FastifyInstance): Promise<void> => {
    app.addContentTypeParser('application/offset+octet-stream', (_req, payload, done) => done(null, payload));

    const find = (req: FastifyRequest): TusUpload | null => {
      const p = req.params as { chat: string; id: string };
      const up = uploads.get(p.id);
      return up && up.chatId === p.chat ? up : null;
    };
    const refuse = (req: FastifyRequest, reply: FastifyReply, up: TusUpload | null, status: number) => {
      record(req, up, status);
      return reply.code(status).header('Tus-Resumable', '1.0.0').send();
    };

    app.post('/u/:chat', async (req, reply) => {
      const { chat } = req.params as { chat: string };
      if (header(req, 'tus-resumable') !== '1.0.0') return refuse(req, reply, null, 412);
      const length = Number(header(req, 'upload-length'));
      if (!Number.isSafeInteger(length) || length < 0) return refuse(req, reply, null, 400);
      if (length > MAX_BYTES) return refuse(req, reply, null, 413);
      const meta = parseMetadata(header(req, 'upload-metadata'));
      const id = randomBytes(12).toString('base64url');
      const up: TusUpload = {
        id,
        chatId: chat,
        path: join(uploadsDir, id),
        length,
        offset: 0,
        fileName: meta.filename ?? 'upload',
        fileType: meta.filetype ?? '',
      };
      await writeFile(up.path, '');
      uploads.set(id, up);
      record(req, up, 201);
      // Absolute, on the "public" address, as @tus/server answers.
      return reply
        .code(201)
        .header('Tus-Resumable', '1.0.0')
        .header('Location', `${linkBase}/u/${chat}/${id}`)
        .send();
    });

    app.head('/u/:chat/:id', async (req, reply) => {
      const up = find(req);
      if (!up) return refuse(req, reply, null, 404);
      record(req, up, 200);
      return reply
        .code(200)
        .header('Tus-Resumable', '1.0.0')
        .header('Upload-Offset', String(up.offset))
        .header('Upload-Length', String(up.length))
        .header('Cache-Control', 'no-store')
        .send();
    });

    app.patch('/u/:chat/:id', async (req, reply) => {
      const up = find(req);
      if (!up) return refuse(req, reply, null, 404);
      if (header(req, 'tus-resumable') !== '1.0.0') return refuse(req, reply, up, 412);
      if (header(req, 'content-type') !== 'application/offset+octet-stream')
        return refuse(req, reply, up, 415);
      if (Number(header(req, 'upload-offset')) !== up.offset) return refuse(req, reply, up, 409);
      const chunks: Buffer[] = [];
      for await (const c of req.body as Readable) chunks.push(c as Buffer);
      let body = Buffer.concat(chunks);
      if (up.offset + body.length > up.length) return refuse(req, reply, up, 400);
      const dropConnection = flaky.has(up.fileName) && !failedOnce.has(up.id);
      if (dropConnection) {
        failedOnce.add(up.id);
        body = body.subarray(0, Math.floor(body.length / 2));
      }
      await appendFile(up.path, body);
      up.offset += body.length;
      record(req, up, dropConnection ? 0 : 204, body.length);
      if (dropConnection) {
        // The connection dies after half the chunk was stored: the page must HEAD and go on from there.
        reply.hijack();
        req.raw.socket.destroy();
        return;
      }
      return reply
        .code(204)
        .header('Tus-Resumable', '1.0.0')
        .header('Upload-Offset', String(up.offset))
        .send();
    });
    return Promise.resolve();
  };

  /** Streams a stored file back (stands in for the signed /d/ route). */
  const downloadRoute = (app: FastifyInstance): Promise<void> => {
    app.get('/d/:id', async (req, reply) => {
      const f = files.get((req.params as { id: string }).id);
      if (!f) return reply.code(404).send({ error: 'not found' });
      const { size } = await stat(f.path);
      served.push({ fileId: (req.params as { id: string }).id, bytes: size });
      return reply
        .type('video/mp4')
        .header('Content-Length', String(size))
        .header('Content-Disposition', `attachment; filename="${f.fileName}"`)
        .header('Cache-Control', 'no-store')
        .send(createReadStream(f.path));
    });
    return Promise.resolve();
  };

  let jobs = 0;
  const running = new Set<Promise<void>>();

  /** Reacts like the engine: a plan reply with Cancel, progress edits of that one message, then the result link. */
  const handle = async (msg: InboundMessage): Promise<void> => {
    handled.push(msg);
    const chat = msg.chat;
    if (msg.button) {
      buttons.push({ ...msg.button });
      const text =
        msg.button.action === 'smaller'
          ? 'OK — making it smaller.'
          : msg.button.action === 'cancel'
            ? 'Cancelled.'
            : `OK — ${msg.button.action}.`;
      await port.sendText(chat, text);
      return;
    }
    if (msg.attachments.length === 0) {
      await port.sendText(chat, `Noted: “${msg.text}”. Now send me a video.`, { replyTo: msg.messageId });
      return;
    }
    let first = true;
    for (const att of msg.attachments) {
      const jobId = `job-${++jobs}-${randomBytes(6).toString('hex')}`;
      const fileId = randomBytes(9).toString('base64url');
      const path = join(filesDir, `${fileId}.mp4`);
      await att.download(path, MAX_BYTES, AbortSignal.timeout(10_000));
      const size = (await stat(path)).size;
      const stem = att.fileName.replace(/\.[^.]*$/u, '');
      files.set(fileId, { path, fileName: `${stem}-vidshrink.mp4` });
      const cancel: Button[] = [{ action: 'cancel', label: 'Cancel', jobId }];
      const planText = `Got it — ${att.fileName}: ${formatBytes(size)}, 0:01 of 240p25, → 240p25, ≤ 25 MB, looks the same, ~3 s.`;
      const ref = await port.sendText(chat, planText, { replyTo: msg.messageId, buttons: cancel });
      for (const ratio of [0.2, 0.55, 0.9]) {
        await sleep(250);
        const pct = Math.floor(ratio * 100);
        const text = `${planText}\n\nCompressing\n${bar(ratio)} ${pct}% · ETA 0:0${3 - Math.round(ratio * 3)} · ${formatBytes(size * ratio)}`;
        await port.editText(ref, text, cancel);
      }
      await sleep(150);
      await port.editText(ref, `${planText}\n\n✅ Done in 0:01.`, []);
      await port.sendLink(
        chat,
        {
          url: `${linkBase}/d/${fileId}`,
          fileName: `${stem}-vidshrink.mp4`,
          sizeBytes: size,
          expiresAtMs: Date.now() + 3_600_000,
          beforeUrl: first ? `${linkBase}/d/${fileId}` : undefined,
        },
        {
          caption: `✅ ${formatBytes(size)} → ${formatBytes(size)} (−0%)\n320×240 · 25 fps · 0:01\nQuality: looks the same`,
          replyTo: msg.messageId,
          buttons: [
            { action: 'smaller', label: 'Smaller', jobId },
            { action: 'better', label: 'Better quality', jobId },
          ],
        },
      );
      first = false;
    }
  };

  const app = await createWebServer({
    port,
    handle: (m) => {
      const p = handle(m);
      running.add(p);
      return p.finally(() => running.delete(p));
    },
    uploadUrlFor: (chatId) => ({ url: `${linkBase}/u/${chatId}`, maxBytes: MAX_BYTES }),
    takeUpload: (chatId, uploadId): CompletedUpload | null => {
      const up = uploads.get(uploadId);
      if (!up || up.chatId !== chatId || up.offset !== up.length) return null;
      uploads.delete(uploadId);
      return { chatId, path: up.path, fileName: up.fileName, sizeBytes: up.length };
    },
    plugins: [tusRoute, downloadRoute],
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  linkBase = `http://localhost:${addr.port}`;

  return {
    url: `http://127.0.0.1:${addr.port}`,
    linkBase,
    tus,
    served,
    buttons,
    handled,
    flaky,
    port,
    app,
    async close() {
      await Promise.allSettled([...running]);
      await app.close();
    },
  };
}
