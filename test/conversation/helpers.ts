// A recording ChatPort and a service in a temp dir for conversation tests (real engine, queue, SQLite, ffmpeg).
import { copyFile, mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startService, type Service, type ServiceOverrides } from '../../src/apps/service.js';
import { loadServiceConfig } from '../../src/config/service.js';
import type {
  AdapterLimits,
  Button,
  ChatPort,
  ChatRef,
  InboundAttachment,
  InboundMessage,
  MessageRef,
  ResultLink,
  SendFileOptions,
} from '../../src/conversation/types.js';

export type Call =
  | { kind: 'text'; id: string; chat: ChatRef; text: string; buttons: Button[]; at: number }
  | { kind: 'edit'; id: string; text: string; buttons: Button[] | undefined; at: number }
  | {
      kind: 'file';
      id: string;
      chat: ChatRef;
      path: string;
      sizeBytes: number;
      opts: SendFileOptions;
      at: number;
    }
  | {
      kind: 'link';
      id: string;
      chat: ChatRef;
      link: ResultLink;
      caption: string;
      buttons: Button[];
      at: number;
    };

export class RecordingPort implements ChatPort {
  readonly calls: Call[] = [];
  private n = 0;
  private waiters: { pred: (c: Call) => boolean; resolve: (c: Call) => void }[] = [];

  constructor(
    readonly platform = 'test',
    public lim: AdapterLimits = { maxInboundBytes: 20e6, maxOutboundBytes: 50e6, minEditIntervalMs: 300 },
  ) {}

  limits(): AdapterLimits {
    return this.lim;
  }

  platformLimits?: (chat: ChatRef) => Readonly<Partial<Record<string, number>>>;

  sendText(
    chat: ChatRef,
    text: string,
    opts: { replyTo?: string; buttons?: Button[] } = {},
  ): Promise<MessageRef> {
    const id = `m${++this.n}`;
    this.record({ kind: 'text', id, chat, text, buttons: opts.buttons ?? [], at: Date.now() });
    return Promise.resolve({ chat, messageId: id });
  }

  editText(ref: MessageRef, text: string, buttons?: Button[]): Promise<void> {
    this.record({ kind: 'edit', id: ref.messageId, text, buttons, at: Date.now() });
    return Promise.resolve();
  }

  async sendFile(chat: ChatRef, path: string, opts: SendFileOptions): Promise<MessageRef> {
    const id = `m${++this.n}`;
    const sizeBytes = (await stat(path)).size;
    this.record({ kind: 'file', id, chat, path, sizeBytes, opts, at: Date.now() });
    return { chat, messageId: id };
  }

  sendLink(
    chat: ChatRef,
    link: ResultLink,
    opts: { caption: string; replyTo?: string; buttons?: Button[] },
  ): Promise<MessageRef> {
    const id = `m${++this.n}`;
    this.record({
      kind: 'link',
      id,
      chat,
      link,
      caption: opts.caption,
      buttons: opts.buttons ?? [],
      at: Date.now(),
    });
    return Promise.resolve({ chat, messageId: id });
  }

  /** Resolves with the first call (past or future) matching `pred`. */
  waitFor(pred: (c: Call) => boolean, timeoutMs = 120_000): Promise<Call> {
    const hit = this.calls.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new Error(
              `timed out; calls: ${JSON.stringify(this.calls.map((c) => [c.kind, 'text' in c ? c.text.slice(0, 80) : '']))}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (c) => {
          clearTimeout(t);
          resolve(c);
        },
      });
    });
  }

  private record(c: Call): void {
    this.calls.push(c);
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.pred(c)) w.resolve(c);
      else still.push(w);
    }
    this.waiters = still;
  }
}

export async function tempDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vidshrink-svc-'));
}

export async function service(
  dataDir: string,
  port: RecordingPort,
  env: Record<string, string> = {},
  o: ServiceOverrides = {},
): Promise<Service> {
  const cfg = loadServiceConfig({
    VIDSHRINK_DATA_DIR: dataDir,
    VIDSHRINK_PORT: '0',
    LOG_LEVEL: 'silent',
    VIDSHRINK_RATE_PER_MINUTE: '100',
    ...env,
  });
  return startService(cfg, { listenPort: 0, logger: pino({ level: 'silent' }), ports: [port], ...o });
}

/** An attachment backed by a local file, counting bytes like a platform download would. */
export function fileAttachment(
  path: string,
  name = 'clip.mp4',
  declared: number | null = null,
): InboundAttachment {
  return {
    fileName: name,
    sizeBytes: declared,
    kind: 'video',
    download: async (dest) => {
      await copyFile(path, dest);
    },
  };
}

let msgN = 0;
export function message(
  text: string,
  attachments: InboundAttachment[] = [],
  over: Partial<InboundMessage> = {},
): InboundMessage {
  return {
    chat: { platform: 'test', chatId: 'chat-1' },
    chatKind: 'private',
    sender: { id: 'user-1', displayName: 'Ana' },
    messageId: `in${++msgN}`,
    text,
    addressed: true,
    attachments,
    ...over,
  };
}
