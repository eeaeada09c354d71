// A small, protocol-faithful fake Discord on 127.0.0.1 for end-to-end tests of the Discord adapter with the real
// discord.js (chatbot-anchors.md §3: "a mock REST + gateway", the recipe of discord.js PR #7693 /
// suneettipirneni/discord-mock-server). One HTTP server carries:
//   - REST under /api/v10 (discord.js builds `${api}/v10/...` from `rest.api`),
//   - the gateway as a WebSocket on /gateway (GET /gateway/bot returns this URL: @discordjs/ws connects to whatever
//     `url` that route answers, so pointing `rest.api` at the fake is all a client needs),
//   - the attachment CDN under /attachments/{channel}/{attachment}/{name}?ex=&is=&hm= (signed, expiring URLs as in
//     reference.mdx §Signed Attachment CDN URLs).
// Rules enforced because Discord enforces them (discord/discord-api-docs @c98d64b; chatbot-anchors.md §2.3): the
// 3-second initial-response window (404 10062 Unknown interaction), a single acknowledgement per interaction (400
// 40060), the 15-minute interaction token (401 50027 Invalid Webhook Token), per-file upload limits and the request
// size (413 40005 Request entity too large), 2000-character content, the MESSAGE_CONTENT privileged intent (content,
// attachments, embeds and components blanked in guild messages that do not mention the app), snowflake ids (the
// @discordjs/rest bucket logic only recognises 17–19 digit ids), per-route rate-limit buckets with X-RateLimit-*
// headers and 429 bodies `{message, retry_after, global}`. Every REST call is recorded for assertions.
import { createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { closeServer } from './http.js';

const DISCORD_EPOCH = 1_420_070_400_000n;
const MiB = 1024 * 1024;

/** Gateway intents (events/gateway.mdx §List of Intents). */
export const INTENTS = {
  Guilds: 1 << 0,
  GuildMessages: 1 << 9,
  DirectMessages: 1 << 12,
  MessageContent: 1 << 15,
} as const;

export interface FakeDiscordOptions {
  /** The bot's token: REST calls need `Authorization: Bot <token>`, IDENTIFY needs it too. */
  token?: string;
  /** Initial response window (receiving-and-responding.mdx: 3 s). */
  interactionDeadlineMs?: number;
  /** Interaction token lifetime (15 min). */
  tokenLifetimeMs?: number;
  /** Largest request body (message.mdx: "maximum request size when sending a message is 25 MiB"). */
  maxRequestBytes?: number;
  /** Per-file limit for bot messages in the guild (reference.mdx §Uploading Files: 10 MiB default). */
  guildUploadLimit?: number;
  /** op 10 HELLO heartbeat_interval. */
  heartbeatIntervalMs?: number;
  /** Privileged intents the application has enabled in the developer portal (IDENTIFY with others → close 4014). */
  privilegedIntents?: number;
  /** Requests per bucket window before a real 429 (observed ~5 per 5 s for message routes, drc#17). */
  bucketLimit?: number;
  bucketWindowMs?: number;
}

export interface RecordedCall {
  method: string;
  /** Decoded path below /api/v10, e.g. /webhooks/1/tok/messages/@original. */
  path: string;
  query: Record<string, string>;
  status: number;
  /** The JSON body, or `payload_json` of a multipart body. */
  body: unknown;
  files: { field: string; name: string; size: number; contentType: string }[];
  /** Response code in the JSON error body, when there was one. */
  errorCode?: number;
  at: number;
}

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type: string;
  width?: number;
  height?: number;
}

export interface FakeUser {
  id: string;
  username: string;
  global_name: string | null;
  discriminator: string;
  avatar: null;
  bot?: boolean;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  guild_id?: string;
  author: FakeUser;
  content: string;
  timestamp: string;
  edited_timestamp: string | null;
  tts: false;
  mention_everyone: false;
  mentions: FakeUser[];
  mention_roles: string[];
  attachments: FakeAttachment[];
  embeds: unknown[];
  pinned: false;
  type: number;
  flags: number;
  components: unknown[];
  webhook_id?: string;
  message_reference?: { message_id: string; channel_id: string; guild_id?: string };
  interaction_metadata?: {
    id: string;
    type: number;
    user: FakeUser;
    authorizing_integration_owners: Record<string, string>;
  };
  /** Not in the API: how many times it was edited (tests assert "the same message"). */
  editCount: number;
}

export interface FakeInteraction {
  id: string;
  token: string;
  type: number;
  channelId: string;
  guildId: string | null;
  user: FakeUser;
  attachmentSizeLimit: number;
  dispatchedAt: number;
  /** Interaction callback type once acknowledged (4, 5, 6, 7, 9). */
  ackType: number | null;
  ackAt: number | null;
  ackFlags: number;
  /** The response message (type 4/5) or the component's message (type 6/7). */
  originalMessageId: string | null;
  followups: string[];
}

interface Channel {
  id: string;
  type: number;
  guild_id?: string;
  name?: string;
  parent_id?: string;
  recipients?: FakeUser[];
}

interface Stored {
  bytes: Buffer;
  contentType: string;
  expiresAtSec: number;
}

interface Injected429 {
  method: string;
  path: RegExp;
  remaining: number;
  retryAfterSec: number;
  global: boolean;
}

interface GatewaySession {
  ws: WebSocket;
  seq: number;
  identified: boolean;
  intents: number;
  sessionId: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly errors?: unknown,
  ) {
    super(message);
  }
}

const unknownInteraction = (): HttpError => new HttpError(404, 10062, 'Unknown interaction');
const unknownWebhook = (): HttpError => new HttpError(404, 10015, 'Unknown Webhook');
const unknownMessage = (): HttpError => new HttpError(404, 10008, 'Unknown Message');
const unknownChannel = (): HttpError => new HttpError(404, 10003, 'Unknown Channel');
const invalidWebhookToken = (): HttpError => new HttpError(401, 50027, 'Invalid Webhook Token');
const tooLarge = (): HttpError => new HttpError(413, 40005, 'Request entity too large');
const invalidForm = (errors: unknown): HttpError => new HttpError(400, 50035, 'Invalid Form Body', errors);

export class FakeDiscord {
  readonly token: string;
  readonly applicationId: string;
  readonly guildId: string;
  /** A guild text channel and a public thread inside it. */
  readonly channelId: string;
  readonly threadId: string;
  readonly bot: FakeUser;
  readonly calls: RecordedCall[] = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly interactions = new Map<string, FakeInteraction>();
  readonly commands = {
    global: [] as Record<string, unknown>[],
    guild: new Map<string, Record<string, unknown>[]>(),
  };
  /** IDENTIFY payloads received (tests assert the intents). */
  readonly identifies: { intents: number; token: string }[] = [];
  deadlineMs: number;
  tokenLifetimeMs: number;
  maxRequestBytes: number;
  guildUploadLimit: number;

  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly sessions = new Set<GatewaySession>();
  private readonly channels = new Map<string, Channel>();
  private readonly cdn = new Map<string, Stored>();
  private readonly cdnSecret = randomBytes(16);
  private readonly injected: Injected429[] = [];
  private readonly buckets = new Map<string, { count: number; resetAt: number; hash: string }>();
  private readonly waiters: { pred: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  private readonly opts: Required<FakeDiscordOptions>;
  private offsetMs = 0;
  private seq = 0n;
  private port = 0;

  private constructor(o: FakeDiscordOptions) {
    this.opts = {
      token: o.token ?? `${randomBytes(18).toString('base64url')}.fake`,
      interactionDeadlineMs: o.interactionDeadlineMs ?? 3000,
      tokenLifetimeMs: o.tokenLifetimeMs ?? 15 * 60_000,
      maxRequestBytes: o.maxRequestBytes ?? 25 * MiB,
      guildUploadLimit: o.guildUploadLimit ?? 10 * MiB,
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? 41_250,
      privilegedIntents: o.privilegedIntents ?? 0,
      bucketLimit: o.bucketLimit ?? 5,
      bucketWindowMs: o.bucketWindowMs ?? 5000,
    };
    this.token = this.opts.token;
    this.deadlineMs = this.opts.interactionDeadlineMs;
    this.tokenLifetimeMs = this.opts.tokenLifetimeMs;
    this.maxRequestBytes = this.opts.maxRequestBytes;
    this.guildUploadLimit = this.opts.guildUploadLimit;
    this.applicationId = this.snowflake();
    this.guildId = this.snowflake();
    this.channelId = this.snowflake();
    this.threadId = this.snowflake();
    this.bot = {
      id: this.applicationId,
      username: 'vidshrink',
      global_name: null,
      discriminator: '0',
      avatar: null,
      bot: true,
    };
    this.channels.set(this.channelId, {
      id: this.channelId,
      type: 0,
      guild_id: this.guildId,
      name: 'general',
    });
    this.channels.set(this.threadId, {
      id: this.threadId,
      type: 11,
      guild_id: this.guildId,
      name: 'clips',
      parent_id: this.channelId,
    });
    this.server = createServer((req, res) => void this.onHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 4096 * 1024 });
    this.server.on('upgrade', (req, socket, head) => {
      if (!(req.url ?? '').startsWith('/gateway')) {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onGateway(ws, req));
    });
  }

  static async start(o: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const f = new FakeDiscord(o);
    await new Promise<void>((resolve) => f.server.listen(0, '127.0.0.1', resolve));
    f.port = (f.server.address() as AddressInfo).port;
    return f;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** What discord.js takes as `rest.api`. */
  get restApi(): string {
    return `${this.origin}/api`;
  }
  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  /** The fake's clock; `advance` moves it (token expiry, CDN expiry) without waiting. */
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.ws.terminate();
    this.wss.close();
    await closeServer(this.server);
  }

  // ------------------------------------------------------------------ world

  snowflake(atMs = this.now()): string {
    this.seq = (this.seq + 1n) & 0xfffn;
    return (((BigInt(atMs) - DISCORD_EPOCH) << 22n) | (1n << 17n) | this.seq).toString();
  }

  user(name: string): FakeUser {
    return { id: this.snowflake(), username: name, global_name: name, discriminator: '0', avatar: null };
  }

  /** A DM channel between the bot and `user`. */
  dmChannel(user: FakeUser): string {
    const existing = [...this.channels.values()].find(
      (c) => c.type === 1 && c.recipients?.[0]?.id === user.id,
    );
    if (existing) return existing.id;
    const id = this.snowflake();
    this.channels.set(id, { id, type: 1, recipients: [user] });
    return id;
  }

  /** Puts a file on the fake CDN; the URL is signed and expires like Discord's (1 day). */
  cdnFile(
    path: string,
    opts: { channelId?: string; name?: string; contentType?: string } = {},
  ): FakeAttachment {
    const bytes = readFileSync(path);
    return this.storeAttachment(
      opts.channelId ?? this.channelId,
      opts.name ?? basename(path),
      bytes,
      opts.contentType ?? 'video/mp4',
    );
  }

  /** The stored bytes behind an attachment URL (tests measure what the bot uploaded). */
  attachmentBytes(url: string): Buffer | null {
    const p = new URL(url).pathname;
    return this.cdn.get(p)?.bytes ?? null;
  }

  channelMessages(channelId: string): FakeMessage[] {
    return [...this.messages.values()].filter((m) => m.channel_id === channelId);
  }

  /**
   * The next `count` requests matching `method` and `path` get a 429 (rate-limits.mdx: JSON `retry_after` float
   * seconds and `global`, headers Retry-After, X-RateLimit-Scope).
   */
  inject429(
    method: string,
    path: RegExp,
    opts: { count?: number; retryAfterSec?: number; global?: boolean } = {},
  ): void {
    this.injected.push({
      method: method.toUpperCase(),
      path,
      remaining: opts.count ?? 1,
      retryAfterSec: opts.retryAfterSec ?? 1.5,
      global: opts.global ?? false,
    });
  }

  /** Resolves with the first recorded call (past or future) matching `pred`. */
  waitForCall(pred: (c: RecordedCall) => boolean, timeoutMs = 60_000): Promise<RecordedCall> {
    const hit = this.calls.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(
          new Error(
            `fake discord: no matching call in ${timeoutMs} ms; calls: ${this.calls
              .map((c) => `${c.method} ${c.path.replace(/[\w-]{40,}/gu, '<token>')} ${c.status}`)
              .join(', ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: (c) => {
          clearTimeout(t);
          resolve(c);
        },
      });
    });
  }

  // ------------------------------------------------------------------ gateway helpers

  /** Sends a dispatch (op 0) to every identified session whose intents cover it. */
  dispatch(t: string, d: unknown, intent = 0): void {
    for (const s of this.sessions) {
      if (!s.identified || (intent !== 0 && (s.intents & intent) === 0)) continue;
      s.seq++;
      s.ws.send(JSON.stringify({ op: 0, t, s: s.seq, d }));
    }
  }

  /** Resolves once a session has identified and received READY + GUILD_CREATE. */
  async waitForIdentify(timeoutMs = 10_000): Promise<void> {
    const t0 = Date.now();
    while (![...this.sessions].some((s) => s.identified)) {
      if (Date.now() - t0 > timeoutMs) throw new Error('fake discord: nobody identified');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private baseInteraction(
    type: number,
    user: FakeUser,
    channelId: string,
    attachmentSizeLimit: number,
    locale: string,
  ): { raw: Record<string, unknown>; rec: FakeInteraction } {
    const id = this.snowflake();
    const token = `aW50ZXJhY3Rpb246${Buffer.from(id).toString('base64url')}${randomBytes(48).toString('base64url')}`;
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake discord: no channel ${channelId}`);
    const inGuild = channel.guild_id !== undefined;
    const raw: Record<string, unknown> = {
      id,
      application_id: this.applicationId,
      type,
      token,
      version: 1,
      channel_id: channelId,
      channel: { ...channel, ...(channel.type === 1 ? { recipients: [user] } : {}) },
      app_permissions: '2248473465835073',
      locale,
      entitlements: [],
      authorizing_integration_owners: inGuild ? { '0': this.guildId } : { '0': '0' },
      context: inGuild ? 0 : 1,
      attachment_size_limit: attachmentSizeLimit,
    };
    if (inGuild) {
      raw.guild_id = this.guildId;
      raw.guild = { id: this.guildId, locale: 'en-US', features: [] };
      raw.guild_locale = 'en-US';
      raw.member = this.member(user);
    } else {
      raw.user = user;
    }
    const rec: FakeInteraction = {
      id,
      token,
      type,
      channelId,
      guildId: inGuild ? this.guildId : null,
      user,
      attachmentSizeLimit,
      dispatchedAt: this.now(),
      ackType: null,
      ackAt: null,
      ackFlags: 0,
      originalMessageId: null,
      followups: [],
    };
    this.interactions.set(id, rec);
    return { raw, rec };
  }

  private member(user: FakeUser, permissions = '1071698660929'): Record<string, unknown> {
    return {
      user,
      roles: [],
      permissions,
      joined_at: new Date(0).toISOString(),
      deaf: false,
      mute: false,
      flags: 0,
      pending: false,
      nick: null,
      avatar: null,
      premium_since: null,
      communication_disabled_until: null,
    };
  }

  private command(name: string, type: number): Record<string, unknown> {
    const all = [...this.commands.global, ...(this.commands.guild.get(this.guildId) ?? [])];
    const c = all.find((x) => x.name === name && (x.type ?? 1) === type);
    // Discord only sends interactions for commands that exist.
    if (!c) throw new Error(`fake discord: command "${name}" (type ${type}) is not registered`);
    return c;
  }

  /** A user runs a slash command (type 1); `attachment` fills the first attachment option (type 11). */
  slashCommand(a: {
    name: string;
    user: FakeUser;
    channelId?: string;
    attachment?: FakeAttachment;
    strings?: Record<string, string>;
    attachmentSizeLimit?: number;
    locale?: string;
  }): FakeInteraction {
    const cmd = this.command(a.name, 1);
    const { raw, rec } = this.baseInteraction(
      2,
      a.user,
      a.channelId ?? this.channelId,
      a.attachmentSizeLimit ?? 10 * MiB,
      a.locale ?? 'en-US',
    );
    const defs = (cmd.options as { name: string; type: number }[] | undefined) ?? [];
    const options: { name: string; type: number; value: string }[] = [];
    const resolved: Record<string, unknown> = {};
    for (const o of defs) {
      if (o.type === 11 && a.attachment) {
        options.push({ name: o.name, type: 11, value: a.attachment.id });
        resolved.attachments = { [a.attachment.id]: { ...a.attachment, ephemeral: true } };
      } else if (o.type === 3 && a.strings?.[o.name] !== undefined) {
        options.push({ name: o.name, type: 3, value: a.strings[o.name] ?? '' });
      }
    }
    raw.data = {
      id: cmd.id,
      name: a.name,
      type: 1,
      ...(cmd.guild_id ? { guild_id: cmd.guild_id } : {}),
      ...(options.length > 0 ? { options } : {}),
      ...(Object.keys(resolved).length > 0 ? { resolved } : {}),
    };
    this.dispatch('INTERACTION_CREATE', raw);
    return rec;
  }

  /** A user runs a message context-menu command (type 3) on `target`. */
  messageCommand(a: {
    name: string;
    user: FakeUser;
    target: FakeMessage;
    attachmentSizeLimit?: number;
  }): FakeInteraction {
    const cmd = this.command(a.name, 3);
    const { raw, rec } = this.baseInteraction(
      2,
      a.user,
      a.target.channel_id,
      a.attachmentSizeLimit ?? 10 * MiB,
      'en-US',
    );
    // The target of a message command carries its content and attachments even without MESSAGE_CONTENT
    // (events/gateway.mdx §Message Content Intent).
    raw.data = {
      id: cmd.id,
      name: a.name,
      type: 3,
      target_id: a.target.id,
      resolved: { messages: { [a.target.id]: this.wire(a.target) } },
    };
    this.dispatch('INTERACTION_CREATE', raw);
    return rec;
  }

  /** A user presses a button (component type 2) on a bot message. */
  pressButton(a: { user: FakeUser; message: FakeMessage; customId: string }): FakeInteraction {
    const { raw, rec } = this.baseInteraction(3, a.user, a.message.channel_id, 10 * MiB, 'en-US');
    const found = a.message.components.some((row) =>
      ((row as { components?: { custom_id?: string }[] }).components ?? []).some(
        (c) => c.custom_id === a.customId,
      ),
    );
    if (!found) throw new Error(`fake discord: message ${a.message.id} has no button ${a.customId}`);
    raw.data = { custom_id: a.customId, component_type: 2 };
    raw.message = this.wire(a.message);
    rec.originalMessageId = a.message.id;
    this.dispatch('INTERACTION_CREATE', raw);
    return rec;
  }

  /** A user posts a message; it is dispatched as MESSAGE_CREATE with intent and MESSAGE_CONTENT rules applied. */
  userMessage(a: {
    user: FakeUser;
    channelId?: string;
    content: string;
    mentionBot?: boolean;
    attachments?: FakeAttachment[];
    replyTo?: FakeMessage;
  }): FakeMessage {
    const channelId = a.channelId ?? this.channelId;
    const channel = this.channels.get(channelId);
    if (!channel) throw new Error(`fake discord: no channel ${channelId}`);
    const m = this.newMessage(channelId, a.user, {
      content: a.mentionBot ? `<@${this.bot.id}> ${a.content}` : a.content,
      attachments: a.attachments ?? [],
      mentions: a.mentionBot || a.replyTo?.author.id === this.bot.id ? [this.bot] : [],
      ...(a.replyTo
        ? {
            type: 19,
            message_reference: {
              message_id: a.replyTo.id,
              channel_id: a.replyTo.channel_id,
              ...(a.replyTo.guild_id ? { guild_id: a.replyTo.guild_id } : {}),
            },
          }
        : {}),
    });
    const inGuild = channel.guild_id !== undefined;
    for (const s of this.sessions) {
      if (!s.identified) continue;
      if ((s.intents & (inGuild ? INTENTS.GuildMessages : INTENTS.DirectMessages)) === 0) continue;
      // Gateway extra fields (gateway-events.mdx §Message Create): guild_id, member, mentions, channel_type.
      const d: Record<string, unknown> = { ...this.wire(m), channel_type: channel.type };
      if (inGuild) d.member = { ...this.member(a.user), user: undefined };
      if (a.replyTo) d.referenced_message = this.wire(a.replyTo);
      const mentionsApp = m.mentions.some((u) => u.id === this.bot.id);
      if (inGuild && !mentionsApp && (s.intents & INTENTS.MessageContent) === 0) {
        d.content = '';
        d.attachments = [];
        d.embeds = [];
        d.components = [];
      }
      s.seq++;
      s.ws.send(JSON.stringify({ op: 0, t: 'MESSAGE_CREATE', s: s.seq, d }));
    }
    return m;
  }

  // ------------------------------------------------------------------ gateway

  private onGateway(ws: WebSocket, req: IncomingMessage): void {
    const q = new URL(req.url ?? '/', this.origin).searchParams;
    if (q.get('encoding') !== null && q.get('encoding') !== 'json') {
      ws.close(4002, 'Decode error');
      return;
    }
    const s: GatewaySession = {
      ws,
      seq: 0,
      identified: false,
      intents: 0,
      sessionId: randomBytes(16).toString('hex'),
    };
    this.sessions.add(s);
    ws.on('close', () => this.sessions.delete(s));
    ws.send(
      JSON.stringify({ op: 10, d: { heartbeat_interval: this.opts.heartbeatIntervalMs }, s: null, t: null }),
    );
    ws.on('message', (data: Buffer) => {
      let p: { op: number; d: unknown };
      try {
        p = JSON.parse(data.toString('utf8')) as { op: number; d: unknown };
      } catch {
        ws.close(4002, 'Decode error');
        return;
      }
      switch (p.op) {
        case 1:
          ws.send(JSON.stringify({ op: 11, d: null, s: null, t: null }));
          return;
        case 2:
          this.identify(s, p.d as { token?: string; intents?: number });
          return;
        case 6:
          // Resume: this fake keeps no replay buffer, so it says the session cannot be resumed (op 9, d false).
          ws.send(JSON.stringify({ op: 9, d: false, s: null, t: null }));
          return;
        case 3:
        case 4:
        case 8:
          return;
        default:
          ws.close(4001, 'Unknown opcode');
      }
    });
  }

  private identify(s: GatewaySession, d: { token?: string; intents?: number }): void {
    if (s.identified) {
      s.ws.close(4005, 'Already authenticated');
      return;
    }
    this.identifies.push({ intents: d.intents ?? 0, token: d.token ?? '' });
    if ((d.token ?? '').replace(/^Bot /u, '') !== this.token) {
      s.ws.close(4004, 'Authentication failed');
      return;
    }
    const privileged = (d.intents ?? 0) & INTENTS.MessageContent;
    if (privileged & ~this.opts.privilegedIntents) {
      s.ws.close(4014, 'Disallowed intent(s)');
      return;
    }
    s.identified = true;
    s.intents = d.intents ?? 0;
    s.seq++;
    s.ws.send(
      JSON.stringify({
        op: 0,
        t: 'READY',
        s: s.seq,
        d: {
          v: 10,
          user: { ...this.bot, verified: true, mfa_enabled: false, flags: 0 },
          guilds: [{ id: this.guildId, unavailable: true }],
          session_id: s.sessionId,
          resume_gateway_url: this.gatewayUrl,
          shard: [0, 1],
          application: { id: this.applicationId, flags: 0 },
          user_settings: {},
          private_channels: [],
          presences: [],
          relationships: [],
          guild_join_requests: [],
        },
      }),
    );
    // discord.js waits for a GUILD_CREATE for every guild READY listed as unavailable before it is "ready".
    if ((s.intents & INTENTS.Guilds) !== 0) {
      s.seq++;
      s.ws.send(JSON.stringify({ op: 0, t: 'GUILD_CREATE', s: s.seq, d: this.guildPayload() }));
    }
  }

  private guildPayload(): Record<string, unknown> {
    const chans = [...this.channels.values()].filter((c) => c.guild_id === this.guildId);
    return {
      id: this.guildId,
      name: 'Tool reviews',
      icon: null,
      owner_id: this.snowflake(),
      afk_channel_id: null,
      afk_timeout: 300,
      verification_level: 0,
      default_message_notifications: 0,
      explicit_content_filter: 0,
      roles: [
        {
          id: this.guildId,
          name: '@everyone',
          permissions: '1071698660929',
          position: 0,
          color: 0,
          hoist: false,
          managed: false,
          mentionable: false,
          flags: 0,
        },
      ],
      emojis: [],
      stickers: [],
      features: [],
      mfa_level: 0,
      system_channel_id: null,
      system_channel_flags: 0,
      rules_channel_id: null,
      vanity_url_code: null,
      description: null,
      banner: null,
      premium_tier: 0,
      premium_subscription_count: 0,
      preferred_locale: 'en-US',
      public_updates_channel_id: null,
      nsfw_level: 0,
      premium_progress_bar_enabled: false,
      joined_at: new Date(0).toISOString(),
      large: false,
      unavailable: false,
      member_count: 2,
      voice_states: [],
      members: [this.member(this.bot)],
      channels: chans
        .filter((c) => c.type !== 11)
        .map((c) => ({ ...c, position: 0, permission_overwrites: [], nsfw: false, parent_id: null })),
      threads: chans
        .filter((c) => c.type === 11)
        .map((c) => ({
          ...c,
          owner_id: this.bot.id,
          thread_metadata: {
            archived: false,
            auto_archive_duration: 1440,
            archive_timestamp: new Date(0).toISOString(),
            locked: false,
          },
          message_count: 0,
          member_count: 1,
        })),
      presences: [],
      stage_instances: [],
      guild_scheduled_events: [],
    };
  }

  // ------------------------------------------------------------------ REST

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    if (url.pathname.startsWith('/attachments/')) {
      this.serveCdn(url, req, res);
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const raw = url.pathname.replace(/^\/api\/v10/u, '');
    const path = raw
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
    const query = Object.fromEntries(url.searchParams);
    const call: RecordedCall = { method, path, query, status: 0, body: null, files: [], at: this.now() };
    let status: number;
    let payload: unknown;
    const headers: Record<string, string> = {};
    try {
      if (!url.pathname.startsWith('/api/v10/')) throw new HttpError(404, 0, '404: Not Found');
      const parsed = await this.readBody(req);
      call.body = parsed.json;
      call.files = parsed.files.map((f) => ({
        field: f.field,
        name: f.name,
        size: f.bytes.length,
        contentType: f.type,
      }));
      this.rateLimit(method, path, headers);
      const out = this.route(method, path, query, parsed, req);
      status = out.status;
      payload = out.body;
    } catch (e) {
      if (e instanceof HttpError) {
        status = e.status;
        call.errorCode = e.code;
        payload =
          e.status === 429
            ? e.errors
            : { message: e.message, code: e.code, ...(e.errors !== undefined ? { errors: e.errors } : {}) };
        if (e.status === 429)
          Object.assign(headers, (e as HttpError & { headers?: Record<string, string> }).headers);
      } else {
        status = 500;
        payload = { message: String(e), code: 0 };
      }
    }
    call.status = status;
    this.record(call);
    if (status === 204) {
      res.writeHead(204, headers).end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
  }

  private record(c: RecordedCall): void {
    this.calls.push(c);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w?.pred(c)) {
        this.waiters.splice(i, 1);
        w.resolve(c);
      }
    }
  }

  /** Body as JSON or REAL multipart (undici's FormData parser), capped at the request size limit. */
  private async readBody(
    req: IncomingMessage,
  ): Promise<{ json: unknown; files: { field: string; name: string; type: string; bytes: Buffer }[] }> {
    const chunks: Buffer[] = [];
    let total = 0;
    let over = false;
    for await (const c of req as AsyncIterable<Buffer>) {
      total += c.length;
      // Keep draining so the client sees the 413 instead of a reset connection.
      if (total > this.maxRequestBytes) over = true;
      else chunks.push(c);
    }
    if (over) throw tooLarge();
    const body = Buffer.concat(chunks);
    const type = req.headers['content-type'] ?? '';
    if (body.length === 0) return { json: null, files: [] };
    if (type.startsWith('application/json')) {
      try {
        return { json: JSON.parse(body.toString('utf8')), files: [] };
      } catch {
        throw new HttpError(400, 50109, 'The request body contains invalid JSON.');
      }
    }
    if (type.startsWith('multipart/form-data')) {
      const form = await new Request('http://fake.invalid/', {
        method: 'POST',
        headers: { 'content-type': type },
        body,
      }).formData();
      let json: unknown = {};
      const files: { field: string; name: string; type: string; bytes: Buffer }[] = [];
      for (const [field, v] of form.entries()) {
        if (field === 'payload_json' && typeof v === 'string') json = JSON.parse(v);
        else if (typeof v !== 'string' && /^files\[\d+\]$/u.test(field)) {
          files.push({ field, name: v.name, type: v.type, bytes: Buffer.from(await v.arrayBuffer()) });
        }
      }
      return { json, files };
    }
    return { json: body.toString('utf8'), files: [] };
  }

  /** Per-route buckets (rate-limits.mdx): X-RateLimit-* on every response, injected or real 429s. */
  private rateLimit(method: string, path: string, headers: Record<string, string>): void {
    // Interaction callbacks are not bound to the usual limits (rate-limits.mdx: "Interaction endpoints are not bound
    // to the bot's Global Rate Limit"); this fake gives them no bucket.
    if (/^\/interactions\//u.test(path)) return;
    // The major parameter (channel id, webhook id + token) stays in the key; message ids do not.
    const route = path.replace(/(?<=\/messages\/)\d+/u, ':id');
    const key = `${method} ${route}`;
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b || b.resetAt <= t) {
      b = { count: 0, resetAt: t + this.opts.bucketWindowMs, hash: randomBytes(8).toString('hex') };
      this.buckets.set(key, b);
    }
    const inj = this.injected.find((i) => i.remaining > 0 && i.method === method && i.path.test(path));
    const limit = this.opts.bucketLimit;
    b.count++;
    const resetAfter = Math.max(0, (b.resetAt - t) / 1000);
    Object.assign(headers, {
      'x-ratelimit-limit': String(limit),
      'x-ratelimit-remaining': String(Math.max(0, limit - b.count)),
      'x-ratelimit-reset': (b.resetAt / 1000).toFixed(3),
      'x-ratelimit-reset-after': resetAfter.toFixed(3),
      'x-ratelimit-bucket': b.hash,
    });
    if (!inj && b.count <= limit) return;
    const retryAfter = inj ? inj.retryAfterSec : resetAfter;
    if (inj) inj.remaining--;
    const global = inj?.global ?? false;
    const e = new HttpError(429, 0, 'You are being rate limited.', {
      message: 'You are being rate limited.',
      retry_after: retryAfter,
      global,
    }) as HttpError & { headers: Record<string, string> };
    e.headers = {
      'retry-after': String(Math.ceil(retryAfter)),
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset-after': retryAfter.toFixed(3),
      'x-ratelimit-scope': global ? 'global' : 'user',
      ...(global ? { 'x-ratelimit-global': 'true' } : {}),
    };
    throw e;
  }

  private requireBot(req: IncomingMessage): void {
    if (req.headers.authorization !== `Bot ${this.token}`) throw new HttpError(401, 0, '401: Unauthorized');
  }

  private route(
    method: string,
    path: string,
    query: Record<string, string>,
    body: { json: unknown; files: { field: string; name: string; type: string; bytes: Buffer }[] },
    req: IncomingMessage,
  ): { status: number; body: unknown } {
    const seg = path.split('/').filter(Boolean);
    const json = (body.json ?? {}) as Record<string, unknown>;
    const ok = (b: unknown): { status: number; body: unknown } => ({ status: 200, body: b });

    // GET /gateway/bot, /gateway
    if (method === 'GET' && path === '/gateway/bot') {
      this.requireBot(req);
      return ok({
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 14_400_000, max_concurrency: 1 },
      });
    }
    if (method === 'GET' && path === '/gateway') return ok({ url: this.gatewayUrl });
    if (method === 'GET' && path === '/users/@me') {
      this.requireBot(req);
      return ok(this.bot);
    }

    // Application commands: /applications/{app}/commands, /applications/{app}/guilds/{guild}/commands
    if (seg[0] === 'applications') {
      this.requireBot(req);
      if (seg[1] !== this.applicationId) throw new HttpError(403, 50001, 'Missing Access');
      const guild = seg[2] === 'guilds' ? seg[3] : undefined;
      const rest = guild ? seg.slice(4) : seg.slice(2);
      if (rest[0] !== 'commands') throw new HttpError(404, 0, '404: Not Found');
      if (guild && guild !== this.guildId) throw new HttpError(403, 50001, 'Missing Access');
      const list = guild ? (this.commands.guild.get(guild) ?? []) : this.commands.global;
      if (method === 'GET') return ok(list);
      if (method === 'PUT') {
        if (!Array.isArray(body.json))
          throw invalidForm({ _errors: [{ code: 'BASE_TYPE_ARRAY', message: 'Must be an array' }] });
        const next = (body.json as Record<string, unknown>[]).map((c) => this.validCommand(c, guild));
        if (guild) this.commands.guild.set(guild, next);
        else this.commands.global.splice(0, this.commands.global.length, ...next);
        return ok(next);
      }
      if (method === 'POST') {
        const c = this.validCommand(json, guild);
        const kept = list.filter((x) => !(x.name === c.name && (x.type ?? 1) === c.type));
        kept.push(c);
        if (guild) this.commands.guild.set(guild, kept);
        else this.commands.global.splice(0, this.commands.global.length, ...kept);
        return { status: 201, body: c };
      }
    }

    // POST /interactions/{id}/{token}/callback
    if (seg[0] === 'interactions' && seg[3] === 'callback' && method === 'POST') {
      return this.callback(seg[1] ?? '', seg[2] ?? '', json, body.files, query);
    }

    // Webhooks (interaction tokens): POST /webhooks/{app}/{token}, PATCH|GET|DELETE …/messages/{@original|id}
    if (seg[0] === 'webhooks') {
      if (seg[1] !== this.applicationId) throw unknownWebhook();
      const it = [...this.interactions.values()].find((i) => i.token === seg[2]);
      if (!it) throw unknownWebhook();
      if (this.now() - it.dispatchedAt > this.tokenLifetimeMs) throw invalidWebhookToken();
      if (it.ackType === null) throw unknownWebhook();
      if (seg.length === 3 && method === 'POST') {
        // Create Followup Message: "functions the same as Execute Webhook, but wait is always true".
        const m = this.createMessage(it.channelId, this.bot, json, body.files, it.attachmentSizeLimit);
        m.webhook_id = this.applicationId;
        m.interaction_metadata = this.metadata(it);
        it.followups.push(m.id);
        return ok(this.wire(m));
      }
      if (seg[3] === 'messages' && seg[4]) {
        const id = seg[4] === '@original' ? it.originalMessageId : seg[4];
        if (!id) throw unknownMessage();
        if (seg[4] !== '@original' && !it.followups.includes(id)) throw unknownMessage();
        const m = this.messages.get(id);
        if (!m) throw unknownMessage();
        if (method === 'GET') return ok(this.wire(m));
        if (method === 'DELETE') {
          this.messages.delete(id);
          return { status: 204, body: null };
        }
        if (method === 'PATCH') {
          this.editMessage(m, json, body.files, it.attachmentSizeLimit);
          return ok(this.wire(m));
        }
      }
      throw new HttpError(405, 0, '405: Method Not Allowed');
    }

    // Channels: POST /channels/{id}/messages, PATCH|GET /channels/{id}/messages/{mid}, GET …/messages?after=
    if (seg[0] === 'channels') {
      this.requireBot(req);
      const ch = this.channels.get(seg[1] ?? '');
      if (!ch) throw unknownChannel();
      if (seg.length === 2 && method === 'GET') return ok(ch);
      if (seg[2] === 'messages' && seg.length === 3) {
        if (method === 'POST') {
          const ref = json.message_reference as
            { message_id?: string; fail_if_not_exists?: boolean } | undefined;
          if (ref?.message_id && !this.messages.has(ref.message_id) && ref.fail_if_not_exists !== false) {
            throw invalidForm({
              message_reference: {
                _errors: [{ code: 'MESSAGE_REFERENCE_UNKNOWN_MESSAGE', message: 'Unknown message' }],
              },
            });
          }
          const m = this.createMessage(ch.id, this.bot, json, body.files, this.guildUploadLimit);
          if (ref?.message_id && this.messages.has(ref.message_id)) {
            m.type = 19;
            m.message_reference = {
              message_id: ref.message_id,
              channel_id: ch.id,
              ...(ch.guild_id ? { guild_id: ch.guild_id } : {}),
            };
          }
          return ok(this.wire(m));
        }
        if (method === 'GET') {
          const limit = Math.min(100, Number(query.limit ?? 50));
          let list = this.channelMessages(ch.id).sort((a, b) => (BigInt(b.id) > BigInt(a.id) ? 1 : -1));
          if (query.after) list = list.filter((m) => BigInt(m.id) > BigInt(query.after ?? '0'));
          if (query.before) list = list.filter((m) => BigInt(m.id) < BigInt(query.before ?? '0'));
          return ok(list.slice(0, limit).map((m) => this.wire(m)));
        }
      }
      if (seg[2] === 'messages' && seg[3] && seg.length === 4) {
        const m = this.messages.get(seg[3]);
        if (m?.channel_id !== ch.id) throw unknownMessage();
        if (method === 'GET') return ok(this.wire(m));
        if (method === 'PATCH') {
          if (m.author.id !== this.bot.id)
            throw new HttpError(403, 50005, 'Cannot edit a message authored by another user');
          this.editMessage(m, json, body.files, this.guildUploadLimit);
          return ok(this.wire(m));
        }
      }
      if (seg[2] === 'typing' && method === 'POST') return { status: 204, body: null };
    }
    throw new HttpError(404, 0, '404: Not Found');
  }

  /** message.mdx §Message Interaction Metadata (discord.js reads authorizing_integration_owners unconditionally). */
  private metadata(it: FakeInteraction): NonNullable<FakeMessage['interaction_metadata']> {
    return {
      id: it.id,
      type: it.type,
      user: it.user,
      authorizing_integration_owners: { '0': it.guildId ?? '0' },
    };
  }

  private validCommand(c: Record<string, unknown>, guild: string | undefined): Record<string, unknown> {
    const type = (c.type as number | undefined) ?? 1;
    const name = typeof c.name === 'string' ? c.name : '';
    const errors: Record<string, unknown> = {};
    // application-commands.mdx §Application Command Naming: CHAT_INPUT names are lowercase, 1–32, no spaces;
    // USER/MESSAGE names are 1–32 with spaces and capitals allowed, and must have an empty description.
    if (type === 1 && !/^[-_\p{Ll}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u.test(name))
      errors.name = 'APPLICATION_COMMAND_INVALID_NAME';
    if (type !== 1 && (name.length < 1 || name.length > 32)) errors.name = 'BASE_TYPE_BAD_LENGTH';
    const desc = typeof c.description === 'string' ? c.description : '';
    if (type === 1 && (desc.length < 1 || desc.length > 100)) errors.description = 'BASE_TYPE_BAD_LENGTH';
    if (type !== 1 && desc !== '') errors.description = 'APPLICATION_COMMAND_DESCRIPTION_NOT_EMPTY';
    const opts = (c.options as Record<string, unknown>[] | undefined) ?? [];
    let seenOptional = false;
    for (const o of opts) {
      if (o.required === true && seenOptional)
        errors.options = 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID';
      if (o.required !== true) seenOptional = true;
      if (typeof o.description !== 'string' || o.description.length < 1 || o.description.length > 100) {
        errors.options = 'BASE_TYPE_BAD_LENGTH';
      }
    }
    if (Object.keys(errors).length > 0) throw invalidForm(errors);
    return {
      ...c,
      id: this.snowflake(),
      application_id: this.applicationId,
      type,
      version: this.snowflake(),
      ...(guild ? { guild_id: guild } : {}),
    };
  }

  private callback(
    id: string,
    token: string,
    json: Record<string, unknown>,
    files: { field: string; name: string; type: string; bytes: Buffer }[],
    query: Record<string, string>,
  ): { status: number; body: unknown } {
    const it = this.interactions.get(id);
    if (it?.token !== token) throw unknownInteraction();
    // The initial response must arrive within 3 s or the token is invalid (receiving-and-responding.mdx).
    if (this.now() - it.dispatchedAt > this.deadlineMs) throw unknownInteraction();
    if (it.ackType !== null) throw new HttpError(400, 40060, 'Interaction has already been acknowledged.');
    const type = json.type as number;
    const data = (json.data ?? {}) as Record<string, unknown>;
    const isComponent = it.type === 3;
    if (![4, 5, 6, 7, 9].includes(type) || (!isComponent && (type === 6 || type === 7))) {
      throw invalidForm({
        type: { _errors: [{ code: 'INTERACTION_RESPONSE_TYPE_INVALID', message: 'Invalid type' }] },
      });
    }
    it.ackType = type;
    it.ackAt = this.now();
    it.ackFlags = (data.flags as number | undefined) ?? 0;
    let message: FakeMessage | null = null;
    if (type === 4 || type === 5) {
      // Type 5 shows "thinking" (flags LOADING = 128) until @original is edited.
      message = this.createMessage(
        it.channelId,
        this.bot,
        type === 5 ? { content: '', flags: 128 | (it.ackFlags & 64) } : data,
        files,
        it.attachmentSizeLimit,
        type === 5,
      );
      message.webhook_id = this.applicationId;
      message.interaction_metadata = this.metadata(it);
      it.originalMessageId = message.id;
    } else if (type === 7 && it.originalMessageId) {
      const m = this.messages.get(it.originalMessageId);
      if (m) this.editMessage(m, data, files, it.attachmentSizeLimit);
    }
    if (query.with_response !== 'true') return { status: 204, body: null };
    return {
      status: 200,
      body: {
        interaction: {
          id: it.id,
          type: it.type,
          response_message_loading: type === 5,
          response_message_ephemeral: (it.ackFlags & 64) !== 0,
        },
        resource: { type, ...(message ? { message: this.wire(message) } : {}) },
      },
    };
  }

  private checkContent(json: Record<string, unknown>, files: unknown[], allowEmpty: boolean): void {
    const content = typeof json.content === 'string' ? json.content : '';
    if (content.length > 2000) {
      throw invalidForm({
        content: { _errors: [{ code: 'BASE_TYPE_MAX_LENGTH', message: 'Must be 2000 or fewer in length.' }] },
      });
    }
    const comps = (json.components as unknown[] | undefined) ?? [];
    for (const row of comps) {
      const inner =
        (row as { components?: { custom_id?: string; url?: string; style?: number; label?: string }[] })
          .components ?? [];
      if (inner.length > 5) throw invalidForm({ components: 'BASE_TYPE_BAD_LENGTH' });
      for (const b of inner) {
        if (b.style === 5 ? !b.url || b.custom_id : !b.custom_id || b.custom_id.length > 100) {
          throw invalidForm({ components: 'COMPONENT_INVALID' });
        }
        if ((b.label ?? '').length > 80) throw invalidForm({ components: 'BASE_TYPE_MAX_LENGTH' });
      }
    }
    if (!allowEmpty && !content && files.length === 0 && comps.length === 0 && !json.embeds) {
      throw new HttpError(400, 50006, 'Cannot send an empty message');
    }
  }

  private createMessage(
    channelId: string,
    author: FakeUser,
    json: Record<string, unknown>,
    files: { field: string; name: string; type: string; bytes: Buffer }[],
    uploadLimit: number,
    allowEmpty = false,
  ): FakeMessage {
    this.checkContent(json, files, allowEmpty);
    const atts = this.takeFiles(channelId, files, uploadLimit);
    const m = this.newMessage(channelId, author, {
      content: typeof json.content === 'string' ? json.content : '',
      components: (json.components as unknown[] | undefined) ?? [],
      attachments: atts,
      flags: (json.flags as number | undefined) ?? 0,
      mentions: this.mentionsOf(typeof json.content === 'string' ? json.content : '', json.allowed_mentions),
    });
    return m;
  }

  private editMessage(
    m: FakeMessage,
    json: Record<string, unknown>,
    files: { field: string; name: string; type: string; bytes: Buffer }[],
    uploadLimit: number,
  ): void {
    this.checkContent(json, files, true);
    if (typeof json.content === 'string') m.content = json.content;
    if (Array.isArray(json.components)) m.components = json.components as unknown[];
    if (files.length > 0)
      m.attachments = [...m.attachments, ...this.takeFiles(m.channel_id, files, uploadLimit)];
    m.flags &= ~128;
    m.edited_timestamp = new Date(this.now()).toISOString();
    m.editCount++;
  }

  /** Mentions that ping: `<@id>` in content, filtered by allowed_mentions (message.mdx §Allowed Mentions). */
  private mentionsOf(content: string, allowed: unknown): FakeUser[] {
    const ids = [...content.matchAll(/<@!?(\d{17,20})>/gu)].map((x) => x[1] ?? '');
    const a = allowed as { parse?: string[]; users?: string[] } | undefined;
    const permitted = (id: string): boolean =>
      !a || (a.parse ?? []).includes('users') || (a.users ?? []).includes(id);
    return ids.filter(permitted).map((id) => ({
      id,
      username: `user${id.slice(-4)}`,
      global_name: null,
      discriminator: '0',
      avatar: null,
    }));
  }

  private takeFiles(
    channelId: string,
    files: { field: string; name: string; type: string; bytes: Buffer }[],
    uploadLimit: number,
  ): FakeAttachment[] {
    // reference.mdx §Uploading Files: the limit applies per file.
    if (files.some((f) => f.bytes.length > uploadLimit)) throw tooLarge();
    return files.map((f) =>
      this.storeAttachment(channelId, f.name, f.bytes, f.type || 'application/octet-stream'),
    );
  }

  private storeAttachment(
    channelId: string,
    name: string,
    bytes: Buffer,
    contentType: string,
  ): FakeAttachment {
    const id = this.snowflake();
    const path = `/attachments/${channelId}/${id}/${encodeURIComponent(name)}`;
    const issued = Math.floor(this.now() / 1000);
    const ex = issued + 86_400;
    this.cdn.set(path, { bytes, contentType, expiresAtSec: ex });
    const exHex = ex.toString(16);
    const isHex = issued.toString(16);
    const hm = createHmac('sha256', this.cdnSecret).update(`${path}|${exHex}|${isHex}`).digest('hex');
    const url = `${this.origin}${path}?ex=${exHex}&is=${isHex}&hm=${hm}&`;
    return { id, filename: name, size: bytes.length, url, proxy_url: url, content_type: contentType };
  }

  private serveCdn(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const stored = this.cdn.get(url.pathname);
    const ex = url.searchParams.get('ex') ?? '';
    const is = url.searchParams.get('is') ?? '';
    const hm = url.searchParams.get('hm') ?? '';
    const want = createHmac('sha256', this.cdnSecret).update(`${url.pathname}|${ex}|${is}`).digest('hex');
    // Unsigned, tampered or expired URLs are refused (reference.mdx §Signed Attachment CDN URLs).
    if (!stored || hm !== want || parseInt(ex, 16) * 1000 < this.now()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('This content is no longer available.');
      return;
    }
    res.writeHead(200, { 'content-type': stored.contentType, 'content-length': String(stored.bytes.length) });
    if (req.method === 'HEAD') res.end();
    else res.end(stored.bytes);
  }

  private newMessage(channelId: string, author: FakeUser, over: Partial<FakeMessage>): FakeMessage {
    const ch = this.channels.get(channelId);
    const m: FakeMessage = {
      id: this.snowflake(),
      channel_id: channelId,
      ...(ch?.guild_id ? { guild_id: ch.guild_id } : {}),
      author,
      content: '',
      timestamp: new Date(this.now()).toISOString(),
      edited_timestamp: null,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: [],
      embeds: [],
      pinned: false,
      type: 0,
      flags: 0,
      components: [],
      editCount: 0,
      ...over,
    };
    this.messages.set(m.id, m);
    return m;
  }

  /** A message as the API sends it (without the fake's bookkeeping). */
  wire(m: FakeMessage): Record<string, unknown> {
    const rest: Partial<FakeMessage> = { ...m };
    delete rest.editCount;
    return rest;
  }
}
