// The web chat's ChatPort: outbound actions become events in a per-chat log that the page reads over SSE. It only
// translates; every decision is the conversation engine's.
import { randomBytes } from 'node:crypto';
import type {
  AdapterLimits,
  Button,
  ChatPort,
  ChatRef,
  MessageRef,
  ResultLink,
  SendFileOptions,
} from '../../src/conversation/types.js';

export type WebEvent =
  | { seq: number; type: 'message'; id: string; text: string; buttons: Button[]; replyTo: string | null }
  | { seq: number; type: 'edit'; id: string; text: string; buttons: Button[] | null }
  | {
      seq: number;
      type: 'result';
      id: string;
      caption: string;
      url: string;
      beforeUrl: string | null;
      fileName: string;
      sizeBytes: number;
      expiresAtMs: number;
      buttons: Button[];
    }
  | { seq: number; type: 'user'; id: string; text: string; files: string[] };

type Unsequenced = WebEvent extends infer E ? (E extends WebEvent ? Omit<E, 'seq'> : never) : never;

/** Events kept per chat for replay after a reload; older ones are dropped. */
const LOG_LIMIT = 500;

interface ChatLog {
  events: WebEvent[];
  seq: number;
  listeners: Set<(e: WebEvent) => void>;
}

export class WebChatPort implements ChatPort {
  readonly platform = 'web';
  private readonly chats = new Map<string, ChatLog>();

  constructor(private readonly maxInputBytes: number) {}

  limits(): AdapterLimits {
    // Browsers upload straight to our server, so the inbound ceiling is the service's own; results are always links
    // (a download button), so nothing is "uploaded" to the page. SSE edits are cheap: 2 per second.
    return { maxInboundBytes: this.maxInputBytes, maxOutboundBytes: 0, minEditIntervalMs: 500 };
  }

  async sendText(
    chat: ChatRef,
    text: string,
    opts: { replyTo?: string; buttons?: Button[] } = {},
  ): Promise<MessageRef> {
    const id = randomBytes(8).toString('hex');
    this.push(chat.chatId, {
      type: 'message',
      id,
      text,
      buttons: opts.buttons ?? [],
      replyTo: opts.replyTo ?? null,
    });
    return Promise.resolve({ chat, messageId: id });
  }

  async editText(ref: MessageRef, text: string, buttons?: Button[]): Promise<void> {
    this.push(ref.chat.chatId, { type: 'edit', id: ref.messageId, text, buttons: buttons ?? null });
    return Promise.resolve();
  }

  async sendFile(chat: ChatRef, _path: string, opts: SendFileOptions): Promise<MessageRef> {
    // maxOutboundBytes is 0, so the engine sends links; a file reaching here is reported, never streamed inline.
    return this.sendText(chat, `${opts.caption}\n(${opts.fileName})`, { buttons: opts.buttons ?? [] });
  }

  async sendLink(
    chat: ChatRef,
    link: ResultLink,
    opts: { caption: string; replyTo?: string; buttons?: Button[] },
  ): Promise<MessageRef> {
    const id = randomBytes(8).toString('hex');
    this.push(chat.chatId, {
      type: 'result',
      id,
      caption: opts.caption,
      url: link.url,
      beforeUrl: link.beforeUrl ?? null,
      fileName: link.fileName,
      sizeBytes: link.sizeBytes,
      expiresAtMs: link.expiresAtMs,
      buttons: opts.buttons ?? [],
    });
    return Promise.resolve({ chat, messageId: id });
  }

  /** Echo of what the user sent, so a reload shows both sides of the conversation. */
  userMessage(chatId: string, text: string, files: string[]): string {
    const id = randomBytes(8).toString('hex');
    this.push(chatId, { type: 'user', id, text, files });
    return id;
  }

  /** Events after `afterSeq`, then live ones through `listener` until the returned function is called. */
  subscribe(chatId: string, afterSeq: number, listener: (e: WebEvent) => void): () => void {
    const log = this.log(chatId);
    for (const e of log.events) if (e.seq > afterSeq) listener(e);
    log.listeners.add(listener);
    return () => log.listeners.delete(listener);
  }

  private log(chatId: string): ChatLog {
    let log = this.chats.get(chatId);
    if (!log) {
      log = { events: [], seq: 0, listeners: new Set() };
      this.chats.set(chatId, log);
    }
    return log;
  }

  private push(chatId: string, e: Unsequenced): void {
    const log = this.log(chatId);
    const ev = { ...e, seq: ++log.seq };
    log.events.push(ev);
    if (log.events.length > LOG_LIMIT) log.events.splice(0, log.events.length - LOG_LIMIT);
    for (const l of log.listeners) l(ev);
  }
}
