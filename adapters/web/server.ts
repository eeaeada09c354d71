// The local web chat (issue #4): one fastify server for the chat page, its JSON/SSE API, and (registered by the
// composition root) the signed download and upload routes. It translates HTTP into InboundMessages and WebChatPort
// events into SSE; the conversation engine decides everything.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { BUTTON_ACTIONS, type InboundAttachment, type InboundMessage } from '../../src/conversation/types.js';
import type { WebChatPort, WebEvent } from './web-port.js';

export interface CompletedUpload {
  chatId: string;
  path: string;
  fileName: string;
  sizeBytes: number;
}

export interface WebServerDeps {
  port: WebChatPort;
  handle(msg: InboundMessage): Promise<void>;
  /** A signed upload URL for this web chat (the page uploads there with tus). */
  uploadUrlFor(chatId: string): { url: string; maxBytes: number };
  /** Takes (and forgets) a finished upload of this chat; null when unknown or another chat's. */
  takeUpload(chatId: string, uploadId: string): CompletedUpload | null;
  /** Extra routes (downloads /d/, uploads /u/) registered before listening. */
  plugins?: ((app: FastifyInstance) => Promise<void>)[];
  logger?: boolean | object;
}

const COOKIE = 'vs_chat';
const CHAT_ID_RE = /^[A-Za-z0-9_-]{22}$/u;
const PUBLIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'public');
const SOURCE_PUBLIC_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'adapters',
  'web',
  'public',
);

const messageBody = z.object({
  text: z.string().max(4000).default(''),
  uploads: z.array(z.string().max(128)).max(20).default([]),
});
const buttonBody = z.object({
  action: z.enum(BUTTON_ACTIONS),
  jobId: z.string().min(10).max(64),
});

const STATIC: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/style.css': 'style.css',
};
const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

async function readStatic(name: string): Promise<Buffer> {
  // Static files sit beside the sources; the compiled server (dist/adapters/web) reads them from the source tree.
  try {
    return await readFile(join(PUBLIC_DIR, name));
  } catch {
    return readFile(join(SOURCE_PUBLIC_DIR, name));
  }
}

export async function createWebServer(deps: WebServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: deps.logger ?? false, bodyLimit: 64 * 1024 });
  const files = new Map<string, Buffer>();
  for (const name of new Set(Object.values(STATIC))) files.set(name, await readStatic(name));

  app.addHook('onSend', async (_req, reply, payload) => {
    // No external CDN and nothing inline from elsewhere: the page is ours only (reliability F2).
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      reply.header(
        'Content-Security-Policy',
        "default-src 'self'; media-src 'self' blob:; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      );
    }
    return payload;
  });

  for (const [route, name] of Object.entries(STATIC)) {
    app.get(route, async (req, reply) => {
      chatIdOf(req, reply);
      const body = files.get(name);
      return reply
        .type(TYPES[name] ?? 'application/octet-stream')
        .header('Cache-Control', 'no-cache')
        .send(body);
    });
  }

  app.get('/healthz', (_req, reply) => reply.send({ ok: true }));

  app.get('/api/session', async (req, reply) => {
    const chatId = chatIdOf(req, reply);
    const up = deps.uploadUrlFor(chatId);
    return { uploadUrl: up.url, maxBytes: up.maxBytes };
  });

  app.get('/api/events', (req, reply) => {
    const chatId = chatIdOf(req, reply);
    const q = req.query as Record<string, string | undefined>;
    const after = resumeAfter(req.headers['last-event-id'], q.after);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...cookieHeader(reply),
    });
    // Without a first write Node holds the headers back, and the page would not know it is connected.
    res.flushHeaders();
    const send = (e: WebEvent): void => {
      res.write(`id: ${EPOCH}.${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    const off = deps.port.subscribe(chatId, after, send);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    req.raw.on('close', () => {
      clearInterval(keepAlive);
      off();
    });
  });

  app.post('/api/messages', async (req, reply) => {
    const chatId = chatIdOf(req, reply);
    const body = messageBody.safeParse(req.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'bad request' });
    const attachments: InboundAttachment[] = [];
    for (const id of body.data.uploads) {
      const up = deps.takeUpload(chatId, id);
      if (!up) return reply.code(404).send({ error: 'unknown upload' });
      attachments.push(uploadAttachment(up));
    }
    const messageId = deps.port.userMessage(
      chatId,
      body.data.text,
      attachments.map((a) => a.fileName),
    );
    // Answered over SSE; the HTTP reply only acknowledges. Handling runs on (plan reply within a second).
    void deps
      .handle({
        chat: { platform: 'web', chatId },
        chatKind: 'private',
        sender: { id: chatId, displayName: 'you' },
        messageId,
        text: body.data.text,
        addressed: true,
        attachments,
      })
      .catch((e: unknown) => app.log.error({ err: e }, 'web message failed'));
    return reply.code(202).send({ ok: true, messageId });
  });

  app.post('/api/buttons', async (req, reply) => {
    const chatId = chatIdOf(req, reply);
    const body = buttonBody.safeParse(req.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'bad request' });
    void deps
      .handle({
        chat: { platform: 'web', chatId },
        chatKind: 'private',
        sender: { id: chatId, displayName: 'you' },
        messageId: '',
        text: '',
        addressed: true,
        attachments: [],
        button: { action: body.data.action, jobId: body.data.jobId },
      })
      .catch((e: unknown) => app.log.error({ err: e }, 'web button failed'));
    return reply.code(202).send({ ok: true });
  });

  for (const plugin of deps.plugins ?? []) await plugin(app);
  return app;
}

/**
 * Event ids carry this process's start time: the log is in memory, so after a restart an old Last-Event-ID must
 * replay everything instead of skipping the new process's first events.
 */
const EPOCH = Date.now().toString(36);

function resumeAfter(lastEventId: string | string[] | undefined, after: string | undefined): number {
  const id = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  if (id !== undefined) {
    const [epoch, seq] = id.split('.');
    return epoch === EPOCH ? Number(seq) || 0 : 0;
  }
  return Number(after ?? 0) || 0;
}

function uploadAttachment(up: CompletedUpload): InboundAttachment {
  return {
    fileName: up.fileName,
    sizeBytes: up.sizeBytes,
    kind: 'document',
    download: async (dest) => {
      const { rename } = await import('node:fs/promises');
      await rename(up.path, dest);
    },
  };
}

/** The chat id lives in an httpOnly cookie: 128 random bits, so it is unguessable; created on first visit. */
function chatIdOf(req: FastifyRequest, reply: FastifyReply): string {
  const raw = req.headers.cookie ?? '';
  const m = new RegExp(`(?:^|;\\s*)${COOKIE}=([^;]+)`, 'u').exec(raw);
  const existing = m?.[1];
  if (existing && CHAT_ID_RE.test(existing)) return existing;
  const id = randomBytes(16).toString('base64url');
  reply.header('Set-Cookie', `${COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000`);
  return id;
}

function cookieHeader(reply: FastifyReply): Record<string, string> {
  const c = reply.getHeader('set-cookie');
  return typeof c === 'string' ? { 'Set-Cookie': c } : {};
}
