// The Telegram ChatPort (issue #5): renders the engine's outbound calls as Bot API methods. It only translates —
// what to say, when to edit and whether to send a file or a link are the conversation engine's decisions.
import { GrammyError, HttpError, InputFile, type Api, type Transformer } from 'grammy';
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'grammy/types';
import { formatBytes } from '../../src/domain/units.js';
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

export const PLATFORM = 'telegram';

/**
 * The cloud Bot API's limits. The docs say "20 MB" for getFile and "50 MB" for multipart uploads (bots/api getFile,
 * "Sending files"; chatbot-anchors §2.1) without saying which megabyte. tdlib's server enforces 20 << 20 for downloads
 * (telegram-bot-api Client.h MAX_DOWNLOAD_FILE_SIZE); the upload ceiling sits in Telegram's front end and is not
 * published. We read both as decimal megabytes (the project's unit, src/domain/units.ts), which is the smaller value
 * of each pair: a file the engine decides to fetch or send is then always inside the real limit, and a file in the
 * 20.0–20.97 MB gap merely gets an upload link.
 */
export const CLOUD_MAX_DOWNLOAD_BYTES = 20_000_000;
export const CLOUD_MAX_UPLOAD_BYTES = 50_000_000;
/** A local Bot API server (`--local`): downloads unlimited, uploads "up to 2000 MB" (tdlib/telegram-bot-api README). */
export const LOCAL_MAX_BYTES = 2_000_000_000;

/**
 * Least time between two edits of one message. Telegram documents no edit limit; its Bot FAQ says ~1 message per
 * second per chat and ≤ 20 per minute in a group (chatbot-anchors §2.1 "Flood limits"), so a progress message is
 * edited at most once a second in a private chat and every 3 s in a group (20/min leaves no room for the plan reply
 * and results otherwise).
 */
export const EDIT_INTERVAL_PRIVATE_MS = 1_000;
export const EDIT_INTERVAL_GROUP_MS = 3_000;

/** Telegram's text limits (bots/api sendMessage: 1-4096 characters; captions 0-1024). */
const MAX_TEXT = 4096;
const MAX_CAPTION = 1024;

/** Compact callback_data ("1-64 bytes", bots/api InlineKeyboardButton): one letter for the action, then the job id. */
const ACTION_CODE: Record<ButtonAction, string> = {
  cancel: 'c',
  smaller: 's',
  better: 'b',
  'as-file': 'f',
  local: 'l',
};
const CODE_ACTION = new Map<string, ButtonAction>(
  Object.entries(ACTION_CODE).map(([a, c]) => [c, a as ButtonAction]),
);

export function encodeCallbackData(b: Pick<Button, 'action' | 'jobId'>): string | null {
  const data = `${ACTION_CODE[b.action]}:${b.jobId}`;
  return Buffer.byteLength(data) <= 64 ? data : null;
}

export function decodeCallbackData(data: string): { action: ButtonAction; jobId: string } | null {
  const m = /^([a-z]):([A-Za-z0-9_-]{1,62})$/u.exec(data);
  const action = m ? CODE_ACTION.get(m[1] ?? '') : undefined;
  return m && action ? { action, jobId: m[2] ?? '' } : null;
}

export interface PortLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Remembers `retry_after` per chat from every 429 any of our Api instances sees, so progress edits wait out a flood
 * wait that an ordinary call ran into (and vice versa) instead of hammering the chat ("never ignore 429",
 * grammY advanced/flood.md; chatbot-anchors §2.2).
 */
export class FloodGate {
  private readonly until = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /** An API transformer that records 429s; install it innermost (before auto-retry). */
  readonly recorder: Transformer = async (prev, method, payload, signal) => {
    const res = await prev(method, payload, signal);
    if (!res.ok && res.error_code === 429) {
      const chat = (payload as { chat_id?: unknown } | undefined)?.chat_id;
      this.block(
        typeof chat === 'string' || typeof chat === 'number' ? String(chat) : '*',
        res.parameters?.retry_after ?? 1,
      );
    }
    return res;
  };

  block(chatId: string, retryAfterSec: number): void {
    const t = this.now() + retryAfterSec * 1000;
    if (t > (this.until.get(chatId) ?? 0)) this.until.set(chatId, t);
  }

  /** Milliseconds until this chat may be written to again (0 = now). */
  waitMs(chatId: string): number {
    const t = Math.max(this.until.get(chatId) ?? 0, this.until.get('*') ?? 0);
    return Math.max(0, t - this.now());
  }
}

export interface TelegramPortOptions {
  /** Ordinary calls: sendMessage, sendVideo, … (auto-retry installed by the caller). */
  api: Api;
  /** Progress edits only: no auto-retry, so a throttled edit is never queued behind a flood wait. */
  editApi: Api;
  gate: FloodGate;
  log: PortLogger;
  /** A local Bot API server (`TELEGRAM_API_ROOT`): 2000 MB both ways. */
  isLocalApi?: boolean;
  /** Overrides of the documented limits (operators, tests). */
  limits?: Partial<AdapterLimits>;
  /** Redacts the bot token from error text before it is logged. */
  redact?: (s: string) => string;
}

interface Deferred {
  ref: MessageRef;
  text: string;
  markup: InlineKeyboardMarkup | undefined;
  timer: NodeJS.Timeout;
}

export class TelegramPort implements ChatPort {
  readonly platform = PLATFORM;
  private readonly markups = new Map<string, InlineKeyboardMarkup | undefined>();
  private readonly deferred = new Map<string, Deferred>();
  private readonly redact: (s: string) => string;

  constructor(private readonly o: TelegramPortOptions) {
    this.redact = o.redact ?? ((s) => s);
  }

  limits(chat: ChatRef): AdapterLimits {
    // Private chats have the user's (positive) id; groups and supergroups have negative ids (bots/api Chat.id).
    const group = chat.chatId.startsWith('-');
    const max = this.o.isLocalApi ? LOCAL_MAX_BYTES : null;
    return {
      maxInboundBytes: max ?? CLOUD_MAX_DOWNLOAD_BYTES,
      maxOutboundBytes: max ?? CLOUD_MAX_UPLOAD_BYTES,
      minEditIntervalMs: group ? EDIT_INTERVAL_GROUP_MS : EDIT_INTERVAL_PRIVATE_MS,
      ...this.o.limits,
    };
  }

  platformLimits(chat: ChatRef): Readonly<Partial<Record<string, number>>> {
    // "For Telegram" means what arrives in this chat: the send limit (2000 MB through a local server).
    return this.o.isLocalApi ? { telegram: this.limits(chat).maxOutboundBytes } : {};
  }

  async sendText(
    chat: ChatRef,
    text: string,
    opts: { replyTo?: string; buttons?: Button[] } = {},
  ): Promise<MessageRef> {
    const markup = keyboard(opts.buttons ?? []);
    const m = await this.o.api.sendMessage(chat.chatId, clip(text, MAX_TEXT), {
      ...where(chat, opts.replyTo),
      ...(markup ? { reply_markup: markup } : {}),
      link_preview_options: { is_disabled: true },
    });
    const ref = { chat, messageId: String(m.message_id) };
    this.remember(ref, markup);
    return ref;
  }

  /**
   * Latest wins (ChatPort contract). Edits go through an Api without auto-retry: a 429 is not retried. Instead the
   * text is parked in one slot per message and sent once the chat's `retry_after` has passed, unless a newer edit
   * replaces it first — so a flood wait costs no extra calls, and the last state (done, cancelled) still lands.
   */
  async editText(ref: MessageRef, text: string, buttons?: Button[]): Promise<void> {
    const key = keyOf(ref);
    const markup = buttons === undefined ? this.markups.get(key) : keyboard(buttons);
    const wait = this.o.gate.waitMs(ref.chat.chatId);
    if (wait > 0) {
      this.defer(ref, text, markup, wait);
      return;
    }
    this.cancelDeferred(key);
    await this.sendEdit(ref, text, markup);
  }

  private async sendEdit(
    ref: MessageRef,
    text: string,
    markup: InlineKeyboardMarkup | undefined,
  ): Promise<void> {
    try {
      await this.o.editApi.editMessageText(ref.chat.chatId, Number(ref.messageId), clip(text, MAX_TEXT), {
        // Without reply_markup Telegram removes the inline keyboard; an empty one removes it explicitly.
        reply_markup: markup ?? { inline_keyboard: [] },
        link_preview_options: { is_disabled: true },
      });
      this.remember(ref, markup);
    } catch (e) {
      if (
        e instanceof GrammyError &&
        e.error_code === 400 &&
        /message is not modified/iu.test(e.description)
      ) {
        // Same text and keyboard as shown (chatbot-anchors §2.1): nothing to do, and nothing to tell the user.
        return;
      }
      if (e instanceof GrammyError && e.error_code === 429) {
        const after = e.parameters.retry_after ?? 1;
        this.o.gate.block(ref.chat.chatId, after);
        this.defer(ref, text, markup, after * 1000);
        return;
      }
      // The original stays out: an HttpError's inner error can hold the request URL, token included.
      // eslint-disable-next-line preserve-caught-error
      throw new Error(this.redact(errorText(e)));
    }
  }

  private defer(
    ref: MessageRef,
    text: string,
    markup: InlineKeyboardMarkup | undefined,
    waitMs: number,
  ): void {
    const key = keyOf(ref);
    this.cancelDeferred(key);
    const timer = setTimeout(() => {
      const d = this.deferred.get(key);
      if (!d || d.timer !== timer) return;
      this.deferred.delete(key);
      if (this.o.gate.waitMs(ref.chat.chatId) > 0) {
        this.defer(d.ref, d.text, d.markup, this.o.gate.waitMs(ref.chat.chatId));
        return;
      }
      this.sendEdit(d.ref, d.text, d.markup).catch((e: unknown) =>
        this.o.log.warn({ err: this.redact(errorText(e)) }, 'telegram: deferred edit dropped'),
      );
    }, waitMs + 50);
    timer.unref();
    this.deferred.set(key, { ref, text, markup, timer });
  }

  private cancelDeferred(key: string): void {
    const d = this.deferred.get(key);
    if (d) clearTimeout(d.timer);
    this.deferred.delete(key);
  }

  /** Edits parked for a flood wait (tests). */
  deferredEdits(): number {
    return this.deferred.size;
  }

  async sendFile(chat: ChatRef, path: string, opts: SendFileOptions): Promise<MessageRef> {
    const markup = keyboard(opts.buttons ?? []);
    const common = {
      caption: clip(opts.caption, MAX_CAPTION),
      ...where(chat, opts.replyTo),
      ...(markup ? { reply_markup: markup } : {}),
      // bots/api: thumbnails "can't be reused and can be only uploaded as a new file" (multipart, attach://).
      ...(opts.thumbnailPath ? { thumbnail: new InputFile(opts.thumbnailPath, 'thumbnail.jpg') } : {}),
    };
    const file = new InputFile(path, opts.fileName);
    const m = opts.asDocument
      ? // "Send as file": a document arrives byte for byte; no server-side type detection turning it into a video.
        await this.o.api.sendDocument(chat.chatId, file, { ...common, disable_content_type_detection: true })
      : // Playable inline: supports_streaming plus the real geometry and duration, so the client does not guess.
        await this.o.api.sendVideo(chat.chatId, file, {
          ...common,
          supports_streaming: true,
          width: opts.width,
          height: opts.height,
          duration: Math.max(1, Math.round(opts.durationSec)),
        });
    const ref = { chat, messageId: String(m.message_id) };
    this.remember(ref, markup);
    return ref;
  }

  /** A result over the upload limit: the caption, the link, and a URL button (no before/after slider on Telegram). */
  async sendLink(
    chat: ChatRef,
    link: ResultLink,
    opts: { caption: string; replyTo?: string; buttons?: Button[] },
  ): Promise<MessageRef> {
    const until = new Date(link.expiresAtMs).toISOString().slice(0, 16).replace('T', ' ');
    const tail = `\n\n⬇️ ${link.fileName} (${formatBytes(link.sizeBytes)}): ${link.url}\nThe link works until ${until} UTC.`;
    const text = clip(opts.caption, MAX_TEXT - [...tail].length) + tail;
    const actions = keyboard(opts.buttons ?? []);
    const download: InlineKeyboardButton[] = [{ text: 'Download', url: link.url }];
    const withButton: InlineKeyboardMarkup = {
      inline_keyboard: [download, ...(actions?.inline_keyboard ?? [])],
    };
    try {
      return await this.sendMarkup(chat, text, opts.replyTo, withButton);
    } catch (e) {
      // Telegram refuses URL buttons it considers invalid (e.g. a bare IP or localhost URL: BUTTON_URL_INVALID);
      // the link is in the text anyway.
      if (e instanceof GrammyError && e.error_code === 400 && /BUTTON_URL|URL/iu.test(e.description)) {
        return this.sendMarkup(chat, text, opts.replyTo, actions);
      }
      throw e;
    }
  }

  private async sendMarkup(
    chat: ChatRef,
    text: string,
    replyTo: string | undefined,
    markup: InlineKeyboardMarkup | undefined,
  ): Promise<MessageRef> {
    const m = await this.o.api.sendMessage(chat.chatId, text, {
      ...where(chat, replyTo),
      ...(markup ? { reply_markup: markup } : {}),
      link_preview_options: { is_disabled: true },
    });
    const ref = { chat, messageId: String(m.message_id) };
    this.remember(ref, markup);
    return ref;
  }

  /** Keyboards of recent messages, so an edit that keeps its buttons (buttons undefined) re-sends them. */
  private remember(ref: MessageRef, markup: InlineKeyboardMarkup | undefined): void {
    const key = keyOf(ref);
    this.markups.delete(key);
    this.markups.set(key, markup);
    if (this.markups.size > 2000) {
      const oldest = this.markups.keys().next().value;
      if (oldest !== undefined) this.markups.delete(oldest);
    }
  }

  /** Stops parked edits (shutdown). */
  close(): void {
    for (const d of this.deferred.values()) clearTimeout(d.timer);
    this.deferred.clear();
  }
}

function keyOf(ref: MessageRef): string {
  return `${ref.chat.chatId}:${ref.messageId}`;
}

/** Reply to the asking message (kept even if it was deleted) inside the forum topic it came from. */
function where(
  chat: ChatRef,
  replyTo: string | undefined,
): {
  message_thread_id?: number;
  reply_parameters?: { message_id: number; allow_sending_without_reply: boolean };
} {
  return {
    ...(chat.threadId && /^\d+$/u.test(chat.threadId) ? { message_thread_id: Number(chat.threadId) } : {}),
    ...(replyTo && /^\d+$/u.test(replyTo)
      ? { reply_parameters: { message_id: Number(replyTo), allow_sending_without_reply: true } }
      : {}),
  };
}

/** Engine buttons → an inline keyboard, two per row (short labels fit a phone's width). */
export function keyboard(buttons: Button[]): InlineKeyboardMarkup | undefined {
  const cells: InlineKeyboardButton[] = [];
  for (const b of buttons) {
    const data = encodeCallbackData(b);
    if (data) cells.push({ text: b.label, callback_data: data });
  }
  if (cells.length === 0) return undefined;
  const rows: InlineKeyboardButton[][] = [];
  for (let i = 0; i < cells.length; i += 2) rows.push(cells.slice(i, i + 2));
  return { inline_keyboard: rows };
}

/** Cuts to `max` characters (code points, so no half surrogate pair), marking the cut. */
function clip(text: string, max: number): string {
  const chars = [...text];
  if (chars.length <= max) return text;
  return `${chars.slice(0, Math.max(0, max - 1)).join('')}…`;
}

export function errorText(e: unknown): string {
  if (e instanceof GrammyError) return `${e.method}: ${e.error_code} ${e.description}`;
  if (e instanceof HttpError) {
    const inner = e.error instanceof Error ? e.error.message : String(e.error);
    return `${e.message} ${inner}`;
  }
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
