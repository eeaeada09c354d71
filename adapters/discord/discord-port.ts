// The Discord ChatPort (issue #5): renders the conversation engine's calls as Discord REST requests. It only
// translates — which message to send, when to edit and whether a file or a link goes out is the engine's decision.
// Facts relied on (discord/discord-api-docs @c98d64b, summarised in chatbot-anchors.md §2.3/§2.4):
//  - an interaction must be answered within 3 s (the bot defers: DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE), its token
//    then lives 15 minutes: `PATCH /webhooks/{app}/{token}/messages/@original` edits the deferred reply and
//    `POST /webhooks/{app}/{token}` sends follow-ups (receiving-and-responding.mdx);
//  - edits never notify, so results are NEW messages that mention the requester (discord.js discussion #9483);
//  - the upload limit is per file, 10 MiB by default, and each interaction carries `attachment_size_limit`
//    (reference.mdx §Uploading Files; change-log 2025-01-16 and 2025-04-03); 40005 "Request entity too large"
//    means the request was still too big (opcodes-and-status-codes.mdx);
//  - edit rate limits are undocumented (~5 per 5 s per channel observed), so progress edits are throttled by the
//    engine at ≥ 5 s and a 429 drops the edit instead of queueing it (chatbot-anchors.md §0.7, §2.4).
import { readFile } from 'node:fs/promises';
import {
  DiscordAPIError,
  RateLimitError,
  RESTJSONErrorCodes,
  Routes,
  SnowflakeUtil,
  type REST,
} from 'discord.js';
import type { Logger } from '../../src/conversation/engine.js';
import { BUTTON_ACTIONS } from '../../src/conversation/types.js';
import type {
  AdapterLimits,
  Button,
  ButtonAction,
  ChatPort,
  ChatRef,
  MessageRef,
  ResultLink,
  SendFileOptions,
} from '../../src/conversation/types.js';
import { formatBytes } from '../../src/domain/units.js';

/** reference.mdx §Uploading Files: "the default limit is 10 MiB for all users" (per file), used when no interaction said otherwise. */
export const DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024;
/** Interaction tokens are valid 15 minutes; move off them a minute early (chatbot-anchors.md §2.4). */
export const TOKEN_LIFETIME_MS = 15 * 60_000;
export const TOKEN_SAFE_MS = 14 * 60_000;
/** Observed edit limit ~5 per 5 s per channel (discord-relay-chat/drc#17); one progress edit per 5 s is safe. */
export const MIN_EDIT_INTERVAL_MS = 5000;
/** message.mdx: content is at most 2000 characters. */
const MAX_CONTENT = 2000;
const CUSTOM_ID_PREFIX = 'vs';

/** Codes that mean "this interaction token can no longer be used" (opcodes-and-status-codes.mdx). */
const DEAD_TOKEN_CODES = new Set<number>([
  RESTJSONErrorCodes.UnknownInteraction, // 10062
  RESTJSONErrorCodes.UnknownWebhook, // 10015
  RESTJSONErrorCodes.InvalidWebhookToken, // 50027
]);

/** `custom_id` of a button: `vs:<action>:<jobId>` (≤ 100 characters; job ids are 22). */
export function customId(action: ButtonAction, jobId: string): string {
  return `${CUSTOM_ID_PREFIX}:${action}:${jobId}`;
}

export function parseCustomId(id: string): { action: ButtonAction; jobId: string } | null {
  const m = /^vs:([a-z-]+):([\w-]{1,64})$/u.exec(id);
  const action = m?.[1] as ButtonAction | undefined;
  if (!m?.[2] || !action || !(BUTTON_ACTIONS as readonly string[]).includes(action)) return null;
  return { action, jobId: m[2] };
}

/**
 * The InboundMessage.messageId of an interaction: `i:<interactionId>:<userId>`. The engine stores it as the job's
 * `replyTo`, so after a restart the port still knows whom to mention in the result, and the interaction id's
 * snowflake timestamp says how old its token is. A message's id is the plain snowflake.
 */
export function interactionMessageId(interactionId: string, userId: string): string {
  return `i:${interactionId}:${userId}`;
}

type Inbound = { kind: 'interaction'; id: string; userId: string } | { kind: 'message'; id: string };

function parseInbound(replyTo: string | undefined): Inbound | null {
  if (!replyTo) return null;
  const m = /^i:(\d{15,21}):(\d{15,21})$/u.exec(replyTo);
  if (m?.[1] && m[2]) return { kind: 'interaction', id: m[1], userId: m[2] };
  return /^\d{15,21}$/u.test(replyTo) ? { kind: 'message', id: replyTo } : null;
}

/**
 * MessageRef.messageId (stored by the engine as JSON, so it must carry everything needed after a restart):
 *  - a channel message: the plain snowflake;
 *  - an interaction message: `w:<interactionId>:<o|f>:<messageId>:<token>` — `o` the deferred reply (@original),
 *    `f` a follow-up. The token is kept so a restarted process can keep editing within the token's 15 minutes; it
 *    grants nothing after that. Past ~14 minutes the port moves to a channel message (see `switchToChannel`).
 */
type Target =
  | { kind: 'channel'; messageId: string }
  | { kind: 'interaction'; interactionId: string; original: boolean; messageId: string; token: string };

function encodeTarget(t: Target): string {
  return t.kind === 'channel'
    ? t.messageId
    : `w:${t.interactionId}:${t.original ? 'o' : 'f'}:${t.messageId}:${t.token}`;
}

function decodeTarget(messageId: string): Target {
  const m = /^w:(\d+):([of]):(\d+):(.+)$/u.exec(messageId);
  if (m?.[1] && m[2] && m[3] && m[4]) {
    return { kind: 'interaction', interactionId: m[1], original: m[2] === 'o', messageId: m[3], token: m[4] };
  }
  return { kind: 'channel', messageId };
}

/** Where a chat's messages go: the thread when there is one, else the channel. */
function channelOf(chat: ChatRef): string {
  return chat.threadId ?? chat.chatId;
}

function chatKey(chat: ChatRef): string {
  return `${chat.chatId}/${chat.threadId ?? ''}`;
}

function clip(text: string): string {
  return text.length <= MAX_CONTENT ? text : `${text.slice(0, MAX_CONTENT - 1)}…`;
}

interface ApiMessage {
  id: string;
  author?: { id: string; bot?: boolean };
  message_reference?: { message_id?: string };
}

interface MessageBody {
  content: string;
  components?: unknown[];
  allowed_mentions: { parse: string[]; users?: string[]; replied_user?: boolean };
  message_reference?: { message_id: string; fail_if_not_exists: boolean };
  attachments?: { id: number; filename: string }[];
}

/** Message components for the engine's buttons (components/reference.mdx: ≤ 5 buttons per action row). */
export function toComponents(buttons: readonly Button[], link?: { url: string; label: string }): unknown[] {
  const all: unknown[] = [];
  if (link) all.push({ type: 2, style: 5, label: link.label.slice(0, 80), url: link.url });
  for (const b of buttons) {
    all.push({
      type: 2,
      // Danger for cancel, Secondary for the rest (ButtonStyle 4 / 2).
      style: b.action === 'cancel' ? 4 : 2,
      label: b.label.slice(0, 80),
      custom_id: customId(b.action, b.jobId),
    });
  }
  const rows: unknown[] = [];
  for (let i = 0; i < all.length && rows.length < 5; i += 5) {
    rows.push({ type: 1, components: all.slice(i, i + 5) });
  }
  return rows;
}

/** A result that Discord refused as too large (40005 / HTTP 413); the port has lowered its limit for the chat. */
export class DiscordUploadTooLargeError extends Error {
  readonly code = 'DISCORD_UPLOAD_TOO_LARGE';
  constructor(
    readonly sizeBytes: number,
    options: { cause: unknown },
  ) {
    super(`Discord refused a ${formatBytes(sizeBytes)} upload as too large (40005)`, options);
    this.name = 'DiscordUploadTooLargeError';
  }
}

interface LiveInteraction {
  token: string;
  /** Slash and context-menu commands were deferred with type 5; buttons with type 6 (no reply of their own). */
  kind: 'command' | 'component';
  /** Whether a sendText already replaced the deferred "thinking…" reply. */
  originalUsed: boolean;
}

export interface DiscordPortOptions {
  /** discord.js REST with the bot token set; edits must fail fast on 429 (see `rejectEditRateLimits`). */
  rest: REST;
  applicationId: string;
  /** The service's own input ceiling: the bot downloads CDN attachments itself, Discord imposes no fetch limit. */
  maxInboundBytes: number;
  log: Logger;
  now?: () => number;
}

/**
 * For @discordjs/rest's `rejectOnRateLimit`: progress edits (PATCH on a message route) reject with RateLimitError
 * instead of waiting in the REST queue (chatbot-anchors.md §2.4), everything else keeps the library's retry.
 */
export function rejectEditRateLimits(data: { method: string; route: string }): boolean {
  return data.method.toUpperCase() === 'PATCH' && /\/messages\//u.test(data.route);
}

export class DiscordPort implements ChatPort {
  readonly platform = 'discord';
  private readonly rest: REST;
  private readonly app: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxInbound: number;
  private readonly live = new Map<string, LiveInteraction>();
  /** chat → the latest interaction's attachment_size_limit. */
  private readonly uploadLimits = new Map<string, number>();
  /** chat → a size Discord refused with 40005 (minus one): later results of that size go as links. */
  private readonly refused = new Map<string, number>();
  /** ref.messageId of an interaction message → the channel message its progress moved to. */
  private readonly switched = new Map<string, string>();
  /** ref.messageId → the latest edit dropped by a 429, re-sent once after retry_after unless a newer one came. */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  /** Bot user id (from READY); matching the author when re-finding a switched message after a restart. */
  botUserId: string | null = null;

  constructor(o: DiscordPortOptions) {
    this.rest = o.rest;
    this.app = o.applicationId;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.maxInbound = o.maxInboundBytes;
  }

  // ---------------------------------------------------------------- what the bot tells the port

  /** A deferred interaction: its token, and the chat's upload limit it reports. */
  trackInteraction(
    chat: ChatRef,
    i: { id: string; token: string; kind: 'command' | 'component'; attachmentSizeLimit?: number | null },
  ): void {
    this.live.set(i.id, { token: i.token, kind: i.kind, originalUsed: false });
    if (typeof i.attachmentSizeLimit === 'number' && i.attachmentSizeLimit > 0) {
      this.uploadLimits.set(chatKey(chat), i.attachmentSizeLimit);
    }
    // Forget tokens once they are dead; nothing else holds them in memory.
    const t = setTimeout(() => this.live.delete(i.id), TOKEN_LIFETIME_MS);
    t.unref();
  }

  /** True when the engine sent nothing for a deferred command (its "thinking…" reply is still showing). */
  isUnanswered(interactionId: string): boolean {
    const it = this.live.get(interactionId);
    return it?.kind === 'command' && !it.originalUsed;
  }

  /** Removes a deferred reply nothing answered, so it does not turn into "The application did not respond". */
  async dropUnanswered(interactionId: string): Promise<void> {
    const it = this.live.get(interactionId);
    if (!it || it.originalUsed) return;
    it.originalUsed = true;
    await this.rest
      .delete(Routes.webhookMessage(this.app, it.token, '@original'), { auth: false })
      .catch((e: unknown) =>
        this.log.warn({ err: String(e) }, 'discord: could not delete an unused deferred reply'),
      );
  }

  stop(): void {
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
  }

  // ---------------------------------------------------------------- ChatPort

  limits(chat: ChatRef): AdapterLimits {
    const key = chatKey(chat);
    return {
      maxInboundBytes: this.maxInbound,
      maxOutboundBytes: Math.min(
        this.uploadLimits.get(key) ?? DEFAULT_ATTACHMENT_LIMIT,
        this.refused.get(key) ?? Number.MAX_SAFE_INTEGER,
      ),
      minEditIntervalMs: MIN_EDIT_INTERVAL_MS,
    };
  }

  /** "for Discord" = what this chat's latest interaction said (a boosted server allows more). */
  platformLimits(chat: ChatRef): Readonly<Partial<Record<string, number>>> {
    const l = this.uploadLimits.get(chatKey(chat));
    return l === undefined ? {} : { discord: l };
  }

  async sendText(
    chat: ChatRef,
    text: string,
    opts: { replyTo?: string; buttons?: Button[] } = {},
  ): Promise<MessageRef> {
    const inbound = parseInbound(opts.replyTo);
    const body: MessageBody = {
      content: clip(text),
      components: toComponents(opts.buttons ?? []),
      allowed_mentions: { parse: [] },
    };
    if (inbound?.kind === 'interaction') {
      const it = this.usable(inbound.id);
      if (it) {
        try {
          return await this.sendViaInteraction(chat, inbound.id, it, body);
        } catch (e) {
          if (!isDeadToken(e)) throw e;
          this.live.delete(inbound.id);
        }
      }
    }
    const m = await this.postChannel(chat, body, inbound);
    return { chat, messageId: encodeTarget({ kind: 'channel', messageId: m.id }) };
  }

  async editText(ref: MessageRef, text: string, buttons?: Button[]): Promise<void> {
    const pending = this.retries.get(ref.messageId);
    if (pending) clearTimeout(pending);
    this.retries.delete(ref.messageId);
    const body: MessageBody = {
      content: clip(text),
      ...(buttons !== undefined ? { components: toComponents(buttons) } : {}),
      allowed_mentions: { parse: [] },
    };
    try {
      await this.edit(ref, body);
    } catch (e) {
      if (!(e instanceof RateLimitError)) throw e;
      // Latest wins (types.ts ChatPort.editText): this edit is dropped, not queued. If no newer edit arrives
      // before retry_after has passed, this text is sent once more, so a final "Done"/"Cancelled" is never lost.
      const t = setTimeout(
        () => {
          this.retries.delete(ref.messageId);
          this.edit(ref, body).catch((err: unknown) =>
            this.log.warn({ err: String(err) }, 'discord: progress edit dropped again'),
          );
        },
        Math.max(250, e.retryAfter),
      );
      t.unref();
      this.retries.set(ref.messageId, t);
      this.log.info(
        { retryAfterMs: e.retryAfter, route: e.route },
        'discord: progress edit rate limited, dropped',
      );
    }
  }

  async sendFile(chat: ChatRef, path: string, opts: SendFileOptions): Promise<MessageRef> {
    // @discordjs/rest takes file data as a buffer; results are at most the chat's upload limit.
    const data = await readFile(path);
    const inbound = parseInbound(opts.replyTo);
    const mention = inbound?.kind === 'interaction' ? `<@${inbound.userId}> ` : '';
    const body: MessageBody = {
      content: clip(`${mention}${opts.caption}`),
      components: toComponents(opts.buttons ?? []),
      allowed_mentions: {
        parse: [],
        users: inbound?.kind === 'interaction' ? [inbound.userId] : [],
        replied_user: true,
      },
      attachments: [{ id: 0, filename: opts.fileName }],
    };
    // "Send as file" cannot change how Discord shows an MP4; the original name is kept either way. Discord makes its
    // own video previews, so opts.thumbnailPath is not uploaded.
    const files = [
      {
        name: opts.fileName,
        data,
        contentType: opts.asDocument ? 'application/octet-stream' : 'video/mp4',
      },
    ];
    try {
      return await this.sendNew(chat, body, inbound, files);
    } catch (e) {
      if (isTooLarge(e)) {
        // The per-file limit and the 25 MiB request limit disagree with some boost tiers (chatbot-anchors.md §2.3):
        // remember that this size does not go through here and throw; a caller that re-checks limits() after a
        // failed sendFile sees the file no longer fits and sends a link instead. The port has no LinkPort of its own.
        this.refused.set(
          chatKey(chat),
          Math.min(this.refused.get(chatKey(chat)) ?? Infinity, data.length - 1),
        );
        throw new DiscordUploadTooLargeError(data.length, { cause: e });
      }
      throw e;
    }
  }

  async sendLink(
    chat: ChatRef,
    link: ResultLink,
    opts: { caption: string; replyTo?: string; buttons?: Button[] },
  ): Promise<MessageRef> {
    const inbound = parseInbound(opts.replyTo);
    const mention = inbound?.kind === 'interaction' ? `<@${inbound.userId}> ` : '';
    // <t:…:R> renders as a relative time in the reader's locale (reference.mdx §Message Formatting).
    const expires = `<t:${Math.floor(link.expiresAtMs / 1000)}:R>`;
    const text = `${mention}${opts.caption}\n📥 ${link.fileName} (${formatBytes(link.sizeBytes)}) — too big to attach here, download it: <${link.url}> (link expires ${expires})`;
    const body: MessageBody = {
      content: clip(text),
      components: toComponents(opts.buttons ?? [], { url: link.url, label: 'Download' }),
      allowed_mentions: {
        parse: [],
        users: inbound?.kind === 'interaction' ? [inbound.userId] : [],
        replied_user: true,
      },
    };
    return this.sendNew(chat, body, inbound, []);
  }

  // ---------------------------------------------------------------- internals

  /** A live interaction whose token is safe to use for a while longer, if any. */
  private usable(interactionId: string): LiveInteraction | null {
    const it = this.live.get(interactionId);
    if (!it) return null;
    return this.tokenAge(interactionId) < TOKEN_SAFE_MS ? it : null;
  }

  /** Interaction ids are snowflakes: their timestamp is when the token was issued (survives restarts). */
  private tokenAge(interactionId: string): number {
    return this.now() - SnowflakeUtil.timestampFrom(interactionId);
  }

  private async sendViaInteraction(
    chat: ChatRef,
    interactionId: string,
    it: LiveInteraction,
    body: MessageBody,
  ): Promise<MessageRef> {
    if (it.kind === 'command' && !it.originalUsed) {
      // The first reply to a deferred command replaces its "thinking…" message.
      it.originalUsed = true;
      const m = (await this.rest.patch(Routes.webhookMessage(this.app, it.token, '@original'), {
        auth: false,
        body,
      })) as ApiMessage;
      return {
        chat,
        messageId: encodeTarget({
          kind: 'interaction',
          interactionId,
          original: true,
          messageId: m.id,
          token: it.token,
        }),
      };
    }
    const m = (await this.rest.post(Routes.webhook(this.app, it.token), { auth: false, body })) as ApiMessage;
    return {
      chat,
      messageId: encodeTarget({
        kind: 'interaction',
        interactionId,
        original: false,
        messageId: m.id,
        token: it.token,
      }),
    };
  }

  /** A new message for a result: a follow-up while the token lives (works where the bot cannot post), else a channel message. */
  private async sendNew(
    chat: ChatRef,
    body: MessageBody,
    inbound: Inbound | null,
    files: { name: string; data: Buffer; contentType: string }[],
  ): Promise<MessageRef> {
    if (inbound?.kind === 'interaction') {
      const it = this.usable(inbound.id);
      if (it) {
        try {
          const m = (await this.rest.post(Routes.webhook(this.app, it.token), {
            auth: false,
            body,
            files,
          })) as ApiMessage;
          return {
            chat,
            messageId: encodeTarget({
              kind: 'interaction',
              interactionId: inbound.id,
              original: false,
              messageId: m.id,
              token: it.token,
            }),
          };
        } catch (e) {
          if (!isDeadToken(e)) throw e;
          this.live.delete(inbound.id);
        }
      }
    }
    const m = await this.postChannel(chat, body, inbound, files);
    return { chat, messageId: encodeTarget({ kind: 'channel', messageId: m.id }) };
  }

  private async postChannel(
    chat: ChatRef,
    body: MessageBody,
    inbound: Inbound | null,
    files: { name: string; data: Buffer; contentType: string }[] = [],
  ): Promise<ApiMessage> {
    const withRef: MessageBody =
      inbound?.kind === 'message'
        ? { ...body, message_reference: { message_id: inbound.id, fail_if_not_exists: false } }
        : body;
    return (await this.rest.post(Routes.channelMessages(channelOf(chat)), {
      body: withRef,
      ...(files.length > 0 ? { files } : {}),
    })) as ApiMessage;
  }

  private async edit(ref: MessageRef, body: MessageBody): Promise<void> {
    const t = decodeTarget(ref.messageId);
    const channel = channelOf(ref.chat);
    if (t.kind === 'channel') {
      await this.rest.patch(Routes.channelMessage(channel, t.messageId), { body });
      return;
    }
    const moved = this.switched.get(ref.messageId);
    if (moved) {
      await this.rest.patch(Routes.channelMessage(channel, moved), { body });
      return;
    }
    if (this.tokenAge(t.interactionId) < TOKEN_SAFE_MS) {
      try {
        await this.rest.patch(
          Routes.webhookMessage(this.app, t.token, t.original ? '@original' : t.messageId),
          { auth: false, body },
        );
        return;
      } catch (e) {
        if (!isDeadToken(e)) throw e;
      }
    }
    await this.switchToChannel(ref, t, body);
  }

  /**
   * The job outlives the interaction token (15 min): progress moves to a channel message that replies to the
   * interaction's message, and the old message says so while the token still allows it. The engine keeps editing
   * the ref it stored; the port maps it to the channel message — in memory, and after a restart by finding its own
   * reply to that message (`GET /channels/{id}/messages?after=<message>`; needs Read Message History), so a
   * restart never leaves two progress messages for one job.
   */
  private async switchToChannel(
    ref: MessageRef,
    t: Extract<Target, { kind: 'interaction' }>,
    body: MessageBody,
  ): Promise<void> {
    const channel = channelOf(ref.chat);
    let id = await this.findSwitched(channel, t.messageId);
    if (id) {
      await this.rest.patch(Routes.channelMessage(channel, id), { body });
    } else {
      const m = (await this.rest.post(Routes.channelMessages(channel), {
        body: {
          ...body,
          components: body.components ?? [],
          message_reference: { message_id: t.messageId, fail_if_not_exists: false },
        },
      })) as ApiMessage;
      id = m.id;
      if (this.tokenAge(t.interactionId) < TOKEN_LIFETIME_MS) {
        await this.rest
          .patch(Routes.webhookMessage(this.app, t.token, t.original ? '@original' : t.messageId), {
            auth: false,
            body: {
              content: '⏩ This is taking a while — progress continues in the message below.',
              components: [],
            },
          })
          .catch(() => undefined);
      }
    }
    this.switched.set(ref.messageId, id);
  }

  private async findSwitched(channel: string, original: string): Promise<string | null> {
    try {
      const list = (await this.rest.get(Routes.channelMessages(channel), {
        query: new URLSearchParams({ after: original, limit: '100' }),
      })) as ApiMessage[];
      const mine = list.find(
        (m) =>
          m.message_reference?.message_id === original &&
          (this.botUserId ? m.author?.id === this.botUserId : m.author?.bot === true),
      );
      return mine?.id ?? null;
    } catch {
      return null;
    }
  }
}

function isDeadToken(e: unknown): boolean {
  return e instanceof DiscordAPIError && typeof e.code === 'number' && DEAD_TOKEN_CODES.has(e.code);
}

function isTooLarge(e: unknown): boolean {
  return (
    e instanceof DiscordAPIError && (e.code === RESTJSONErrorCodes.RequestEntityTooLarge || e.status === 413)
  );
}
