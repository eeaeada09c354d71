// A small, protocol-faithful fake of the Telegram Bot API for tests (issue #5; chatbot-anchors §3): grammY talks to
// it through `client: { apiRoot }`. Every answer has the documented shape (`{ok:true,result}` or
// `{ok:false,error_code,description[,parameters]}`), refusals use Telegram's own texts (chatbot-anchors §2.1), and the
// fake refuses what Telegram refuses (tgfake's rule: never accept input Telegram rejects). It implements what a
// media bot needs: getMe, long-polling getUpdates (offset/limit/timeout, one poller at a time), webhooks,
// sendMessage, editMessageText ("message is not modified"), sendVideo/sendDocument with real multipart parsing and
// the upload limit (413), getFile with the download limit ("file is too big") and the /file/bot<token>/ route (or
// absolute paths in --local mode), answerCallbackQuery, getChatMember, setMyCommands, and 429 injection.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeServer } from './http.js';

/** 20 << 20: tdlib/telegram-bot-api Client.h `MAX_DOWNLOAD_FILE_SIZE` (the docs say "20 MB"). */
export const CLOUD_DOWNLOAD_LIMIT = 20 * 1024 * 1024;
/** "50 MB" (Bot API "Sending files"); the decimal reading is the stricter one, so the fake never accepts more. */
export const CLOUD_UPLOAD_LIMIT = 50_000_000;
/** --local server: "Upload files up to 2000 MB" (tdlib/telegram-bot-api README). */
export const LOCAL_LIMIT = 2_000_000_000;

export const NOT_MODIFIED =
  'Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

export interface FakeUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export interface FakeChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
  username?: string;
  is_forum?: boolean;
}

export interface FakeEntity {
  type: 'bot_command' | 'mention' | 'url' | 'text_mention';
  offset: number;
  length: number;
  user?: FakeUser;
}

interface FileBase {
  file_id: string;
  file_unique_id: string;
  file_size?: number;
}
export interface FakeVideo extends FileBase {
  width: number;
  height: number;
  duration: number;
  file_name?: string;
  mime_type?: string;
  thumbnail?: FakePhotoSize;
}
export interface FakeDocument extends FileBase {
  file_name?: string;
  mime_type?: string;
  thumbnail?: FakePhotoSize;
}
export interface FakeVideoNote extends FileBase {
  length: number;
  duration: number;
}
export interface FakePhotoSize extends FileBase {
  width: number;
  height: number;
}

export interface InlineButton {
  text: string;
  callback_data?: string;
  url?: string;
}
export interface ReplyMarkup {
  inline_keyboard: InlineButton[][];
}

export interface FakeMessage {
  message_id: number;
  date: number;
  chat: FakeChat;
  from?: FakeUser;
  message_thread_id?: number;
  is_topic_message?: boolean;
  reply_to_message?: FakeMessage;
  text?: string;
  entities?: FakeEntity[];
  caption?: string;
  caption_entities?: FakeEntity[];
  video?: FakeVideo;
  document?: FakeDocument;
  animation?: FakeVideo;
  video_note?: FakeVideoNote;
  reply_markup?: ReplyMarkup;
  edit_date?: number;
  forum_topic_created?: { name: string; icon_color: number };
}

export interface FakeCallbackQuery {
  id: string;
  from: FakeUser;
  message?: FakeMessage;
  chat_instance: string;
  data?: string;
}

export interface FakeUpdate {
  update_id: number;
  message?: FakeMessage;
  callback_query?: FakeCallbackQuery;
}

export interface UploadedPart {
  field: string;
  fileName: string;
  sizeBytes: number;
  bytes: Buffer;
}

export interface RecordedCall {
  method: string;
  /** Parsed parameters: JSON bodies as they came, multipart strings with JSON fields decoded. */
  params: Record<string, unknown>;
  /** Files uploaded with this call, keyed by the parameter that referenced them ("video", "thumbnail"). */
  files: Record<string, UploadedPart>;
  /** Request body bytes as received (multipart included). */
  bodyBytes: number;
  status: number;
  response: Record<string, unknown>;
  at: number;
}

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  size: number;
  /** Bytes on disk, or null for files that exist only as a declared size (a 25 MB video never uploaded). */
  path: string | null;
  name: string;
}

interface Fault {
  count: number;
  status: number;
  body: Record<string, unknown>;
}

export interface FakeTelegramOptions {
  token?: string;
  bot?: Partial<FakeUser>;
  /** --local mode: getFile returns absolute paths, limits are 2000 MB. */
  local?: boolean;
  maxDownloadBytes?: number;
  maxUploadBytes?: number;
}

/** Fields Telegram expects as JSON-serialized strings in multipart/query requests. */
const JSON_FIELDS = new Set([
  'reply_markup',
  'reply_parameters',
  'link_preview_options',
  'commands',
  'scope',
  'allowed_updates',
  'entities',
  'caption_entities',
]);

export class FakeTelegram {
  readonly token: string;
  readonly botUser: FakeUser;
  readonly calls: RecordedCall[] = [];
  apiRoot = '';
  webhook: { url: string; secretToken: string | null; allowedUpdates: string[] | null } | null = null;
  readonly commands = new Map<string, { command: string; description: string }[]>();

  private server: Server | null = null;
  private dir = '';
  private updates: FakeUpdate[] = [];
  private nextUpdateId = 1;
  private confirmedBelow = 0;
  private poller: {
    res: ServerResponse;
    timer: NodeJS.Timeout;
    limit: number;
    allowed: string[] | null;
  } | null = null;
  private allowedUpdates: string[] | null = null;
  private readonly messages = new Map<number, Map<number, FakeMessage>>();
  private readonly nextMessageId = new Map<number, number>();
  private readonly chats = new Map<number, FakeChat>();
  private readonly files = new Map<string, StoredFile>();
  private readonly filePaths = new Map<string, string>();
  private readonly pendingQueries = new Set<string>();
  private readonly admins = new Set<string>();
  private readonly faults = new Map<string, Fault[]>();
  private waiters: { pred: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  private webhookChain: Promise<void> = Promise.resolve();
  private readonly maxDownload: number;
  private readonly maxUpload: number;
  private readonly local: boolean;
  private fileN = 0;
  private userN = 1000;

  private constructor(o: FakeTelegramOptions) {
    this.token =
      o.token ?? `${7000000000 + Math.floor(Math.random() * 1e8)}:AAF${randomBytes(16).toString('hex')}`;
    this.botUser = {
      id: Number(this.token.split(':')[0]),
      is_bot: true,
      first_name: 'Vidshrink',
      username: 'vidshrink_test_bot',
      ...o.bot,
    };
    this.local = o.local ?? false;
    this.maxDownload = o.maxDownloadBytes ?? (this.local ? Infinity : CLOUD_DOWNLOAD_LIMIT);
    this.maxUpload = o.maxUploadBytes ?? (this.local ? LOCAL_LIMIT : CLOUD_UPLOAD_LIMIT);
  }

  static async start(o: FakeTelegramOptions = {}): Promise<FakeTelegram> {
    const f = new FakeTelegram(o);
    f.dir = await mkdtemp(join(tmpdir(), 'fake-telegram-'));
    const server = createServer((req, res) => {
      f.route(req, res).catch((e: unknown) => {
        if (!res.headersSent) f.send(res, 500, { ok: false, error_code: 500, description: String(e) });
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    f.server = server;
    f.apiRoot = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return f;
  }

  async close(): Promise<void> {
    if (this.poller) {
      clearTimeout(this.poller.timer);
      this.poller = null;
    }
    const s = this.server;
    this.server = null;
    if (s) await closeServer(s);
    await rm(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ test controls

  /** The next `count` calls of `method` fail with 429 and `retry_after` seconds (bots/api ResponseParameters). */
  failWith429(method: string, count: number, retryAfterSec: number): void {
    this.fail(method, count, 429, {
      ok: false,
      error_code: 429,
      description: `Too Many Requests: retry after ${retryAfterSec}`,
      parameters: { retry_after: retryAfterSec },
    });
  }

  /** The next `count` calls of `method` get this error instead of being performed. */
  fail(method: string, count: number, status: number, body: Record<string, unknown>): void {
    const list = this.faults.get(method) ?? [];
    list.push({ count, status, body });
    this.faults.set(method, list);
  }

  setAdmin(chatId: number, userId: number): void {
    this.admins.add(`${chatId}:${userId}`);
  }

  user(first_name: string, o: Partial<FakeUser> = {}): FakeUser {
    return { id: ++this.userN, is_bot: false, first_name, language_code: 'en', ...o };
  }

  privateChat(u: FakeUser): FakeChat {
    return this.chat({ id: u.id, type: 'private', first_name: u.first_name });
  }

  groupChat(title: string, o: { forum?: boolean; basic?: boolean } = {}): FakeChat {
    const id = o.basic ? -++this.userN : -(1000000000000 + ++this.userN);
    return this.chat({
      id,
      type: o.basic ? 'group' : 'supergroup',
      title,
      ...(o.forum ? { is_forum: true } : {}),
    });
  }

  /** A file users can send: real bytes from `path`, or only a declared size (never downloadable in full). */
  async addFile(src: { path: string; name?: string } | { size: number; name?: string }): Promise<StoredFile> {
    const n = ++this.fileN;
    const size = 'path' in src ? (await stat(src.path)).size : src.size;
    const f: StoredFile = {
      file_id: `BAACAgIAAxkBAAI${n}${randomBytes(12).toString('base64url')}`,
      file_unique_id: `AgAD${n}${randomBytes(4).toString('hex')}`,
      size,
      path: 'path' in src ? src.path : null,
      name: src.name ?? (`path` in src ? (src.path.split('/').pop() ?? 'video.mp4') : 'video.mp4'),
    };
    this.files.set(f.file_id, f);
    return f;
  }

  /** A message from a user, queued as an update (and stored so replies and edits can find it). */
  userSends(m: {
    chat: FakeChat;
    from: FakeUser;
    text?: string;
    caption?: string;
    video?: { file: StoredFile; width: number; height: number; duration: number; mime?: string };
    document?: { file: StoredFile; mime?: string };
    animation?: { file: StoredFile; width: number; height: number; duration: number };
    videoNote?: { file: StoredFile; length: number; duration: number };
    replyTo?: FakeMessage;
    threadId?: number;
  }): FakeMessage {
    const msg: FakeMessage = {
      message_id: this.newMessageId(m.chat.id),
      date: now(),
      chat: m.chat,
      from: m.from,
    };
    if (m.threadId !== undefined) {
      msg.message_thread_id = m.threadId;
      msg.is_topic_message = true;
    }
    if (m.replyTo) msg.reply_to_message = stripReply(m.replyTo);
    else if (m.threadId !== undefined) {
      // In a forum topic every message replies to the topic's creation service message unless it replies to another.
      msg.reply_to_message = {
        message_id: m.threadId,
        date: msg.date,
        chat: m.chat,
        from: m.from,
        message_thread_id: m.threadId,
        forum_topic_created: { name: 'Topic', icon_color: 0x6fb9f0 },
      };
    }
    if (m.text !== undefined) {
      msg.text = m.text;
      const e = entitiesOf(m.text);
      if (e.length) msg.entities = e;
    }
    if (m.caption !== undefined) {
      msg.caption = m.caption;
      const e = entitiesOf(m.caption);
      if (e.length) msg.caption_entities = e;
    }
    if (m.video) {
      msg.video = {
        ...fileFields(m.video.file),
        width: m.video.width,
        height: m.video.height,
        duration: m.video.duration,
        file_name: m.video.file.name,
        mime_type: m.video.mime ?? 'video/mp4',
      };
    }
    if (m.document) {
      msg.document = {
        ...fileFields(m.document.file),
        file_name: m.document.file.name,
        mime_type: m.document.mime ?? 'application/octet-stream',
      };
    }
    if (m.animation) {
      const a = {
        ...fileFields(m.animation.file),
        width: m.animation.width,
        height: m.animation.height,
        duration: m.animation.duration,
        file_name: m.animation.file.name,
        mime_type: 'video/mp4',
      };
      // "For backward compatibility, when this field is set, the document field will also be set" (bots/api Message).
      msg.animation = a;
      msg.document = { ...fileFields(m.animation.file), file_name: a.file_name, mime_type: 'video/mp4' };
    }
    if (m.videoNote) {
      msg.video_note = {
        ...fileFields(m.videoNote.file),
        length: m.videoNote.length,
        duration: m.videoNote.duration,
      };
    }
    this.store(msg);
    this.pushUpdate({ message: msg });
    return msg;
  }

  /** A press on an inline button of one of the bot's messages. */
  press(message: FakeMessage, from: FakeUser, data: string): FakeCallbackQuery {
    const q: FakeCallbackQuery = {
      id: String(BigInt(from.id) * 1000n + BigInt(++this.fileN)),
      from,
      message: this.messages.get(message.chat.id)?.get(message.message_id) ?? message,
      chat_instance: String(message.chat.id),
      data,
    };
    this.pendingQueries.add(q.id);
    this.pushUpdate({ callback_query: q });
    return q;
  }

  /** Queues an update; long polling (or the webhook) delivers it. */
  pushUpdate(u: Omit<FakeUpdate, 'update_id'>): FakeUpdate {
    const full: FakeUpdate = { update_id: this.nextUpdateId++, ...u };
    if (this.webhook) {
      const hook = this.webhook;
      this.webhookChain = this.webhookChain.then(() => this.deliverWebhook(hook, full));
      return full;
    }
    this.updates.push(full);
    this.answerPoller();
    return full;
  }

  /** Messages the bot sent or edited in a chat, in order of message_id. */
  botMessages(chatId: number): FakeMessage[] {
    return [...(this.messages.get(chatId)?.values() ?? [])].filter((m) => m.from?.id === this.botUser.id);
  }

  message(chatId: number, messageId: number): FakeMessage | undefined {
    return this.messages.get(chatId)?.get(messageId);
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves with the first call (past or future) matching `pred`. */
  waitForCall(pred: (c: RecordedCall) => boolean, timeoutMs = 120_000): Promise<RecordedCall> {
    const hit = this.calls.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `fake telegram: timed out; calls: ${JSON.stringify(
              this.calls
                .filter((c) => c.method !== 'getUpdates')
                .map((c) => [c.method, c.status, str(c.params.text ?? c.params.caption).slice(0, 60)]),
            )}`,
          ),
        );
      }, timeoutMs);
      const done = (c: RecordedCall): void => {
        clearTimeout(t);
        resolve(c);
      };
      this.waiters.push({ pred, resolve: done });
    });
  }

  /** Updates not yet confirmed by a getUpdates offset. */
  pendingUpdates(): number {
    return this.updates.filter((u) => u.update_id >= this.confirmedBelow).length;
  }

  // ------------------------------------------------------------------ HTTP

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const file = /^\/file\/bot([^/]+)\/(.+)$/u.exec(url.pathname);
    if (file) return this.serveFile(res, file[1] ?? '', decodeURIComponent(file[2] ?? ''));
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/u.exec(url.pathname);
    if (!m) return this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    const [, token, method = ''] = m;
    if (token !== this.token) {
      await drain(req);
      return this.send(res, 401, { ok: false, error_code: 401, description: 'Unauthorized' });
    }
    const body = await readBody(req, this.maxUpload + 1024 * 1024);
    if (body === null) {
      // nginx in front of api.telegram.org refuses an oversized upload (bots/api sendDocument; chatbot-anchors §2.1).
      return this.finish(res, method, {}, {}, 0, 413, {
        ok: false,
        error_code: 413,
        description: 'Request Entity Too Large',
      });
    }
    let params: Record<string, unknown>;
    let parts: Map<string, UploadedPart>;
    try {
      ({ params, parts } = parseParams(req.headers['content-type'] ?? '', body, url.searchParams));
    } catch (e) {
      return this.finish(res, method, {}, {}, body.length, 400, {
        ok: false,
        error_code: 400,
        description: `Bad Request: ${String(e)}`,
      });
    }
    const files: Record<string, UploadedPart> = {};
    for (const [k, v] of Object.entries(params)) {
      if (typeof v === 'string' && v.startsWith('attach://')) {
        const part = parts.get(v.slice('attach://'.length));
        if (part) files[k] = { ...part, field: k };
      } else {
        const part = parts.get(k);
        if (part) files[k] = part;
      }
    }
    const fault = this.takeFault(method);
    if (fault) return this.finish(res, method, params, files, body.length, fault.status, fault.body);
    if (method === 'getUpdates') return this.getUpdates(req, res, params, body.length);
    const [status, out] = await this.perform(method, params, files);
    this.finish(res, method, params, files, body.length, status, out);
  }

  private finish(
    res: ServerResponse,
    method: string,
    params: Record<string, unknown>,
    files: Record<string, UploadedPart>,
    bodyBytes: number,
    status: number,
    response: Record<string, unknown>,
  ): void {
    const call: RecordedCall = { method, params, files, bodyBytes, status, response, at: Date.now() };
    this.calls.push(call);
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.pred(call)) w.resolve(call);
      else still.push(w);
    }
    this.waiters = still;
    this.send(res, status, response);
  }

  private send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private takeFault(method: string): Fault | null {
    const list = this.faults.get(method);
    const f = list?.[0];
    if (!list || !f) return null;
    f.count--;
    if (f.count <= 0) list.shift();
    return f;
  }

  // ------------------------------------------------------------------ getUpdates

  private getUpdates(
    req: IncomingMessage,
    res: ServerResponse,
    p: Record<string, unknown>,
    bodyBytes: number,
  ): void {
    if (this.webhook) {
      return this.finish(res, 'getUpdates', p, {}, bodyBytes, 409, {
        ok: false,
        error_code: 409,
        description:
          "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
      });
    }
    const offset = int(p.offset, 0);
    // "All updates with update_id less than offset are confirmed"; a negative offset keeps the last -offset ones.
    if (offset > 0) this.confirmedBelow = Math.max(this.confirmedBelow, offset);
    if (offset < 0) {
      const keep = this.updates.slice(offset);
      this.confirmedBelow = keep[0]?.update_id ?? this.nextUpdateId;
    }
    this.updates = this.updates.filter((u) => u.update_id >= this.confirmedBelow);
    if (Array.isArray(p.allowed_updates)) this.allowedUpdates = p.allowed_updates.map(String);
    const limit = Math.min(100, Math.max(1, int(p.limit, 100)));
    const timeoutSec = Math.max(0, int(p.timeout, 0));
    // One getUpdates at a time: the older request is terminated (Telegram's 409 for two polling instances).
    if (this.poller) {
      const old = this.poller;
      this.poller = null;
      clearTimeout(old.timer);
      this.finish(old.res, 'getUpdates', p, {}, 0, 409, {
        ok: false,
        error_code: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      });
    }
    const ready = this.deliverable(limit);
    if (ready.length > 0 || timeoutSec === 0) {
      return this.finish(res, 'getUpdates', p, {}, bodyBytes, 200, { ok: true, result: ready });
    }
    const timer = setTimeout(() => {
      if (this.poller?.res !== res) return;
      this.poller = null;
      this.finish(res, 'getUpdates', p, {}, bodyBytes, 200, { ok: true, result: [] });
    }, timeoutSec * 1000);
    this.poller = { res, timer, limit, allowed: this.allowedUpdates };
    // A poller that hangs up (runner.stop() aborts its request) is forgotten.
    req.socket.once('close', () => {
      if (this.poller?.res === res) {
        clearTimeout(timer);
        this.poller = null;
      }
    });
  }

  private deliverable(limit: number): FakeUpdate[] {
    const allowed = this.allowedUpdates;
    return this.updates
      .filter((u) => u.update_id >= this.confirmedBelow)
      .filter((u) => !allowed || allowed.length === 0 || Object.keys(u).some((k) => allowed.includes(k)))
      .slice(0, limit);
  }

  private answerPoller(): void {
    const p = this.poller;
    if (!p) return;
    const ready = this.deliverable(p.limit);
    if (ready.length === 0) return;
    this.poller = null;
    clearTimeout(p.timer);
    this.finish(p.res, 'getUpdates', {}, {}, 0, 200, { ok: true, result: ready });
  }

  private async deliverWebhook(hook: NonNullable<FakeTelegram['webhook']>, u: FakeUpdate): Promise<void> {
    // Telegram retries a webhook that does not answer 2xx; three tries are enough for tests.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const r = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(hook.secretToken ? { 'x-telegram-bot-api-secret-token': hook.secretToken } : {}),
          },
          body: JSON.stringify(u),
        });
        await r.arrayBuffer();
        if (r.ok) return;
      } catch {
        // retried below
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  // ------------------------------------------------------------------ methods

  private async perform(
    method: string,
    p: Record<string, unknown>,
    files: Record<string, UploadedPart>,
  ): Promise<[number, Record<string, unknown>]> {
    switch (method) {
      case 'getMe':
        return ok({
          ...this.botUser,
          can_join_groups: true,
          // Privacy mode on (the default): the bot sees commands, mentions and replies to it in groups.
          can_read_all_group_messages: false,
          supports_inline_queries: false,
          can_connect_to_business: false,
          has_main_web_app: false,
          has_topics_enabled: false,
          allows_users_to_create_topics: false,
          can_manage_bots: false,
          supports_join_request_queries: false,
        });
      case 'logOut':
      case 'close':
      case 'sendChatAction':
        return ok(true);
      case 'setWebhook': {
        const url = typeof p.url === 'string' ? p.url : '';
        if (url === '') {
          this.webhook = null;
          return ok(true, 'Webhook was deleted');
        }
        if (!/^https?:\/\//u.test(url)) return bad('bad webhook: An HTTPS URL must be provided for webhook');
        const secret = typeof p.secret_token === 'string' ? p.secret_token : null;
        if (secret !== null && !/^[A-Za-z0-9_-]{1,256}$/u.test(secret)) {
          return bad('bad webhook: secret token contains unallowed characters');
        }
        this.webhook = {
          url,
          secretToken: secret,
          allowedUpdates: Array.isArray(p.allowed_updates) ? p.allowed_updates.map(String) : null,
        };
        if (p.drop_pending_updates === true) this.updates = [];
        // Updates queued for getUpdates go to the webhook from now on.
        const queued = this.updates.filter((u) => u.update_id >= this.confirmedBelow);
        this.updates = [];
        for (const u of queued) {
          const hook = this.webhook;
          this.webhookChain = this.webhookChain.then(() => this.deliverWebhook(hook, u));
        }
        return ok(true, 'Webhook was set');
      }
      case 'deleteWebhook':
        this.webhook = null;
        if (p.drop_pending_updates === true) this.updates = [];
        return ok(true, 'Webhook is already deleted');
      case 'getWebhookInfo':
        return ok({
          url: this.webhook?.url ?? '',
          has_custom_certificate: false,
          pending_update_count: this.pendingUpdates(),
        });
      case 'setMyCommands':
        return this.setMyCommands(p);
      case 'getMyCommands':
        return ok(this.commands.get(commandKey(p)) ?? []);
      case 'sendMessage':
        return this.sendMessage(p);
      case 'editMessageText':
        return this.editMessageText(p);
      case 'deleteMessage': {
        const chat = this.messages.get(Number(p.chat_id));
        if (!chat?.delete(int(p.message_id, 0))) return bad('message to delete not found');
        return ok(true);
      }
      case 'sendVideo':
        return this.sendMedia('video', p, files);
      case 'sendDocument':
        return this.sendMedia('document', p, files);
      case 'getFile':
        return this.getFile(p);
      case 'answerCallbackQuery': {
        const id = str(p.callback_query_id);
        if (!this.pendingQueries.delete(id)) {
          return bad('query is too old and response timeout expired or query ID is invalid');
        }
        return ok(true);
      }
      case 'getChatMember': {
        const chat = this.chats.get(Number(p.chat_id));
        if (!chat) return bad('chat not found');
        const userId = int(p.user_id, 0);
        const status = this.admins.has(`${chat.id}:${userId}`) ? 'administrator' : 'member';
        return ok({ status, user: { id: userId, is_bot: false, first_name: 'User' } });
      }
      default:
        return [404, { ok: false, error_code: 404, description: 'Not Found' }];
    }
  }

  private setMyCommands(p: Record<string, unknown>): [number, Record<string, unknown>] {
    const cmds = p.commands;
    if (!Array.isArray(cmds) || cmds.length > 100)
      return bad('commands must be an array of at most 100 items');
    const out: { command: string; description: string }[] = [];
    for (const c of cmds as unknown[]) {
      const o = (c ?? {}) as { command?: unknown; description?: unknown };
      const command = typeof o.command === 'string' ? o.command : '';
      const description = typeof o.description === 'string' ? o.description : '';
      // BotCommand: "1-32 characters. Can contain only lowercase English letters, digits and underscores";
      // description "1-256 characters".
      if (!/^[a-z0-9_]{1,32}$/u.test(command)) return bad('BOT_COMMAND_INVALID');
      if ([...description].length < 1 || [...description].length > 256) {
        return bad('command description is invalid');
      }
      out.push({ command, description });
    }
    const lang = typeof p.language_code === 'string' ? p.language_code : '';
    if (lang !== '' && !/^[a-z]{2}$/u.test(lang)) return bad('invalid language code specified');
    this.commands.set(commandKey(p), out);
    return ok(true);
  }

  private sendMessage(p: Record<string, unknown>): [number, Record<string, unknown>] {
    const chat = this.chats.get(Number(p.chat_id));
    if (!chat) return bad('chat not found');
    const text = typeof p.text === 'string' ? p.text : '';
    if (text.trim() === '') return bad('message text is empty');
    if ([...text].length > 4096) return bad('message is too long');
    const common = this.outgoing(chat, p);
    if ('error' in common) return bad(common.error);
    const msg: FakeMessage = { ...common.msg, text };
    this.store(msg);
    return ok(msg);
  }

  private editMessageText(p: Record<string, unknown>): [number, Record<string, unknown>] {
    const chat = this.chats.get(Number(p.chat_id));
    if (!chat) return bad('chat not found');
    const msg = this.messages.get(chat.id)?.get(int(p.message_id, 0));
    if (!msg) return bad('message to edit not found');
    if (msg.from?.id !== this.botUser.id) return bad("message can't be edited");
    if (msg.text === undefined) return bad('there is no text in the message to edit');
    const text = typeof p.text === 'string' ? p.text : '';
    if (text.trim() === '') return bad('message text is empty');
    if ([...text].length > 4096) return bad('message is too long');
    const markup = parseMarkup(p.reply_markup);
    if ('error' in markup) return bad(markup.error);
    // An edit without reply_markup removes the inline keyboard; an empty keyboard is the same as none.
    const next = markup.value && markup.value.inline_keyboard.length > 0 ? markup.value : undefined;
    if (text === msg.text && JSON.stringify(next) === JSON.stringify(msg.reply_markup))
      return bad(NOT_MODIFIED.slice(13));
    msg.text = text;
    if (next) msg.reply_markup = next;
    else delete msg.reply_markup;
    msg.edit_date = now();
    return ok(msg);
  }

  private async sendMedia(
    kind: 'video' | 'document',
    p: Record<string, unknown>,
    files: Record<string, UploadedPart>,
  ): Promise<[number, Record<string, unknown>]> {
    const chat = this.chats.get(Number(p.chat_id));
    if (!chat) return bad('chat not found');
    const caption = typeof p.caption === 'string' ? p.caption : undefined;
    if (caption !== undefined && [...caption].length > 1024) return bad('message caption is too long');
    const up = files[kind];
    let stored: StoredFile | undefined;
    if (up) {
      if (up.sizeBytes === 0) return bad('file must be non-empty');
      if (up.sizeBytes > this.maxUpload) {
        return [413, { ok: false, error_code: 413, description: 'Request Entity Too Large' }];
      }
      const path = join(this.dir, `upload-${++this.fileN}`);
      await writeFile(path, up.bytes);
      stored = {
        file_id: `BAACAgIAAxkDAAI${this.fileN}${randomBytes(12).toString('base64url')}`,
        file_unique_id: `AgAD${this.fileN}${randomBytes(4).toString('hex')}`,
        size: up.sizeBytes,
        path,
        name: up.fileName,
      };
      this.files.set(stored.file_id, stored);
    } else if (typeof p[kind] === 'string') {
      stored = this.files.get(p[kind]);
      if (!stored) return bad('wrong file identifier/HTTP URL specified');
    } else {
      return bad(`there is no ${kind} in the request`);
    }
    const common = this.outgoing(chat, p);
    if ('error' in common) return bad(common.error);
    const msg: FakeMessage = { ...common.msg };
    if (caption !== undefined) msg.caption = caption;
    const thumb = files.thumbnail;
    // bots/api sendVideo: "The thumbnail should be in JPEG format and less than 200 kB in size. A thumbnail's width and
    // height should not exceed 320." Telegram ignores an invalid one; so does the fake (only valid ones are echoed).
    const thumbnail: FakePhotoSize | undefined =
      thumb && thumb.sizeBytes < 200_000 && thumb.bytes[0] === 0xff && thumb.bytes[1] === 0xd8
        ? {
            file_id: `AAMCAgAD${randomBytes(10).toString('base64url')}`,
            file_unique_id: `AQAD${randomBytes(4).toString('hex')}`,
            file_size: thumb.sizeBytes,
            ...(jpegSize(thumb.bytes) ?? { width: 0, height: 0 }),
          }
        : undefined;
    const base = {
      file_id: stored.file_id,
      file_unique_id: stored.file_unique_id,
      file_size: stored.size,
      file_name: stored.name,
      mime_type: 'video/mp4',
      ...(thumbnail ? { thumbnail } : {}),
    };
    if (kind === 'video') {
      msg.video = { ...base, width: int(p.width, 0), height: int(p.height, 0), duration: int(p.duration, 0) };
    } else {
      msg.document = { ...base, mime_type: 'application/octet-stream' };
    }
    this.store(msg);
    return ok(msg);
  }

  private getFile(p: Record<string, unknown>): [number, Record<string, unknown>] {
    const f = this.files.get(str(p.file_id));
    if (!f) return bad('invalid file_id');
    if (f.size > this.maxDownload) return bad('file is too big');
    let filePath: string;
    if (this.local && f.path) filePath = f.path;
    else {
      filePath = this.filePaths.get(f.file_id) ?? `videos/file_${this.filePaths.size}.mp4`;
      this.filePaths.set(f.file_id, filePath);
    }
    return ok({
      file_id: f.file_id,
      file_unique_id: f.file_unique_id,
      file_size: f.size,
      file_path: filePath,
    });
  }

  private serveFile(res: ServerResponse, token: string, filePath: string): void {
    const id = [...this.filePaths.entries()].find(([, v]) => v === filePath)?.[0];
    const f = id ? this.files.get(id) : undefined;
    if (token !== this.token || !f?.path) {
      this.send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': f.size });
    createReadStream(f.path).pipe(res);
  }

  /** Validates what every send* shares: reply_parameters, message_thread_id, reply_markup. */
  private outgoing(chat: FakeChat, p: Record<string, unknown>): { msg: FakeMessage } | { error: string } {
    const msg: FakeMessage = {
      message_id: 0,
      date: now(),
      chat,
      from: this.botUser,
    };
    const rp = p.reply_parameters as
      { message_id?: unknown; allow_sending_without_reply?: unknown } | undefined;
    if (rp !== undefined) {
      const target = this.messages.get(chat.id)?.get(int(rp.message_id, 0));
      if (target) msg.reply_to_message = stripReply(target);
      else if (rp.allow_sending_without_reply !== true) return { error: 'message to be replied not found' };
    }
    if (p.message_thread_id !== undefined) {
      if (!chat.is_forum) return { error: 'message thread not found' };
      msg.message_thread_id = int(p.message_thread_id, 0);
      msg.is_topic_message = true;
    }
    const markup = parseMarkup(p.reply_markup);
    if ('error' in markup) return { error: markup.error };
    if (markup.value && markup.value.inline_keyboard.length > 0) msg.reply_markup = markup.value;
    msg.message_id = this.newMessageId(chat.id);
    return { msg };
  }

  private chat(c: FakeChat): FakeChat {
    this.chats.set(c.id, c);
    return c;
  }

  private newMessageId(chatId: number): number {
    const n = (this.nextMessageId.get(chatId) ?? 0) + 1;
    this.nextMessageId.set(chatId, n);
    return n;
  }

  private store(m: FakeMessage): void {
    this.chats.set(m.chat.id, this.chats.get(m.chat.id) ?? m.chat);
    let chat = this.messages.get(m.chat.id);
    if (!chat) {
      chat = new Map();
      this.messages.set(m.chat.id, chat);
    }
    chat.set(m.message_id, m);
  }
}

// ------------------------------------------------------------------ helpers

function ok(result: unknown, description?: string): [number, Record<string, unknown>] {
  return [200, { ok: true, result, ...(description ? { description } : {}) }];
}

function bad(what: string): [number, Record<string, unknown>] {
  return [400, { ok: false, error_code: 400, description: `Bad Request: ${what}` }];
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

function int(v: unknown, def: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? Math.trunc(n) : def;
}

function commandKey(p: Record<string, unknown>): string {
  const scope = p.scope && typeof p.scope === 'object' ? JSON.stringify(p.scope) : '{"type":"default"}';
  const lang = typeof p.language_code === 'string' ? p.language_code : '';
  return `${scope}|${lang}`;
}

function fileFields(f: StoredFile): FileBase {
  return { file_id: f.file_id, file_unique_id: f.file_unique_id, file_size: f.size };
}

/** "Note that the Message object in this field will not contain further reply_to_message fields" (bots/api). */
function stripReply(m: FakeMessage): FakeMessage {
  const copy = { ...m };
  delete copy.reply_to_message;
  return copy;
}

/** The entities Telegram's clients attach: bot commands at the start, @mentions and URLs anywhere (UTF-16 offsets). */
export function entitiesOf(text: string): FakeEntity[] {
  const out: FakeEntity[] = [];
  const cmd = /^\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?/u.exec(text);
  if (cmd) out.push({ type: 'bot_command', offset: 0, length: cmd[0].length });
  for (const m of text.matchAll(/(?<![\w/])@[A-Za-z0-9_]{3,32}/gu)) {
    out.push({ type: 'mention', offset: m.index, length: m[0].length });
  }
  for (const m of text.matchAll(/https?:\/\/[^\s]+/gu))
    out.push({ type: 'url', offset: m.index, length: m[0].length });
  return out.sort((a, b) => a.offset - b.offset);
}

function parseMarkup(v: unknown): { value: ReplyMarkup | undefined } | { error: string } {
  if (v === undefined || v === null) return { value: undefined };
  const kb = (v as { inline_keyboard?: unknown }).inline_keyboard;
  if (!Array.isArray(kb)) return { error: "can't parse reply keyboard markup JSON object" };
  const rows: InlineButton[][] = [];
  for (const row of kb as unknown[]) {
    if (!Array.isArray(row))
      return { error: "can't parse inline keyboard button: InlineKeyboardButton must be an Object" };
    const out: InlineButton[] = [];
    for (const b of row as unknown[]) {
      const btn = (b ?? {}) as { text?: unknown; callback_data?: unknown; url?: unknown };
      if (typeof btn.text !== 'string' || btn.text === '')
        return { error: 'text buttons are unallowed in the inline keyboard' };
      if (typeof btn.callback_data === 'string') {
        // InlineKeyboardButton.callback_data: "Data to be sent in a callback query to the bot, 1-64 bytes".
        const n = Buffer.byteLength(btn.callback_data);
        if (n < 1 || n > 64) return { error: 'BUTTON_DATA_INVALID' };
        out.push({ text: btn.text, callback_data: btn.callback_data });
      } else if (typeof btn.url === 'string') {
        if (!/^(?:https?|tg):\/\/\S+$/u.test(btn.url)) return { error: 'BUTTON_URL_INVALID' };
        out.push({ text: btn.text, url: btn.url });
      } else {
        return {
          error: "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
        };
      }
    }
    rows.push(out);
  }
  return { value: { inline_keyboard: rows } };
}

async function drain(req: IncomingMessage): Promise<void> {
  req.resume();
  await new Promise<void>((resolve) => {
    req.once('end', resolve);
    req.once('close', resolve);
  });
}

/** The whole body, or null once it passes `max` bytes (the rest is read and dropped so the client sees the 413). */
async function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > max) {
    await drain(req);
    return null;
  }
  const chunks: Buffer[] = [];
  let n = 0;
  let over = false;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) over = true;
    if (!over) chunks.push(c);
  }
  return over ? null : Buffer.concat(chunks);
}

/** JSON, urlencoded, query string or multipart/form-data (the forms grammY and other clients send). */
function parseParams(
  contentType: string,
  body: Buffer,
  query: URLSearchParams,
): { params: Record<string, unknown>; parts: Map<string, UploadedPart> } {
  const params: Record<string, unknown> = {};
  const parts = new Map<string, UploadedPart>();
  for (const [k, v] of query) params[k] = v;
  const ct = contentType.toLowerCase();
  if (ct.startsWith('application/json')) {
    if (body.length > 0) Object.assign(params, JSON.parse(body.toString('utf8')) as Record<string, unknown>);
  } else if (ct.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params[k] = v;
  } else if (ct.startsWith('multipart/form-data')) {
    const boundary = /boundary=(?:"([^"]+)"|([^;\s]+))/iu.exec(contentType);
    const b = boundary?.[1] ?? boundary?.[2];
    if (!b) throw new Error('multipart boundary missing');
    for (const part of parseMultipart(body, b)) {
      if (part.fileName === null) params[part.name] = part.data.toString('utf8');
      else
        parts.set(part.name, {
          field: part.name,
          fileName: part.fileName,
          sizeBytes: part.data.length,
          bytes: part.data,
        });
    }
  }
  for (const k of JSON_FIELDS) {
    const v = params[k];
    if (typeof v === 'string') params[k] = JSON.parse(v) as unknown;
  }
  return { params, parts };
}

/**
 * A minimal RFC 7578 parser. grammY writes header lines without a space after the colon and an unquoted filename
 * (`content-disposition:form-data;name="x";filename=a b.mp4`), which undici's strict `Request.formData()` refuses
 * ("expected CRLF") while Telegram accepts it; so the fake parses like a lenient server.
 */
export function parseMultipart(
  body: Buffer,
  boundary: string,
): { name: string; fileName: string | null; data: Buffer }[] {
  const out: { name: string; fileName: string | null; data: Buffer }[] = [];
  const delim = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delim);
  if (pos < 0) throw new Error('multipart boundary not found');
  for (;;) {
    pos += delim.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break; // closing "--"
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) pos += 2;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new Error('multipart headers not terminated');
    const headers = body.subarray(pos, headerEnd).toString('utf8').split('\r\n');
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headerEnd + 4);
    if (next < 0) throw new Error('multipart part not terminated');
    const data = body.subarray(headerEnd + 4, next);
    let name = '';
    let fileName: string | null = null;
    for (const h of headers) {
      const colon = h.indexOf(':');
      if (colon < 0 || h.slice(0, colon).trim().toLowerCase() !== 'content-disposition') continue;
      const v = h.slice(colon + 1);
      name =
        /;\s*name="([^"]*)"|;\s*name=([^;]*)/u
          .exec(v)
          ?.slice(1)
          .find((x) => x !== undefined)
          ?.trim() ?? '';
      const fn = /;\s*filename="([^"]*)"|;\s*filename=([^;]*)/u.exec(v);
      if (fn) fileName = (fn[1] ?? fn[2] ?? '').trim();
    }
    out.push({ name, fileName, data: Buffer.from(data) });
    pos = next + 2;
  }
  return out;
}

/** Width and height from a baseline/progressive JPEG's SOF marker. */
function jpegSize(b: Buffer): { width: number; height: number } | null {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return null;
    const marker = b[i + 1] ?? 0;
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3)
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + len;
  }
  return null;
}
