// The Telegram bot (issue #5): grammY wired to the conversation engine. Long polling through @grammyjs/runner by
// default, a webhook when TELEGRAM_WEBHOOK_URL is set; commands registered with localized descriptions; every update
// translated (inbound.ts) and handed to `engine.handle`. Nothing here decides what to answer.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { autoRetry } from '@grammyjs/auto-retry';
import { run, sequentialize, type RunnerHandle } from '@grammyjs/runner';
import { Api, Bot, webhookCallback, type Context } from 'grammy';
import type { UserFromGetMe } from 'grammy/types';
import type { AdapterLimits, InboundMessage } from '../../src/conversation/types.js';
import { callbackToInbound, messageToInbound, type FileSource, type InboundContext } from './inbound.js';
import { errorText, FloodGate, TelegramPort, type PortLogger } from './telegram-port.js';

/** What the bot needs of the engine. */
export interface EngineLike {
  handle(msg: InboundMessage): Promise<void>;
  registerPort(port: TelegramPort): void;
}

export interface TelegramOptions {
  token: string;
  /** `TELEGRAM_API_ROOT`, e.g. http://127.0.0.1:8081 for a local Bot API server; default https://api.telegram.org. */
  apiRoot?: string | undefined;
  /** The API root is a local Bot API server (`--local`): 2000 MB limits, absolute file paths. */
  isLocalApi?: boolean | undefined;
  /** `TELEGRAM_WEBHOOK_URL`: receive updates by webhook at this public HTTPS URL instead of long polling. */
  webhookUrl?: string | undefined;
  /** Secret Telegram sends in X-Telegram-Bot-Api-Secret-Token; default derived from the token. */
  webhookSecret?: string | undefined;
  /** Serve the webhook on our own listener (the path of `webhookUrl`); else mount `webhook.handleHttp` yourself. */
  webhookListen?: { host: string; port: number } | undefined;
  /** Skips getMe (tests; grammY advanced/deployment.md). */
  botInfo?: UserFromGetMe | undefined;
  logger: PortLogger;
  /** Overrides of the adapter limits (operators, tests). */
  limits?: Partial<AdapterLimits> | undefined;
  /** getUpdates long-poll timeout in seconds (Telegram allows up to 50; grammY runner default 30). */
  pollTimeoutSec?: number | undefined;
  /** setMyCommands at start (default true). */
  registerCommands?: boolean | undefined;
}

export interface TelegramWebhook {
  /** The path Telegram posts to (the path of `webhookUrl`). */
  path: string;
  secretToken: string;
  /** node:http handler: (req, res). */
  handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Where `webhookListen` listens, once started (http://host:port). */
  address: string | null;
}

export interface Telegram {
  port: TelegramPort;
  bot: Bot;
  webhook: TelegramWebhook | null;
  /** Registers the port, initializes the bot, registers commands and starts polling (or sets the webhook). */
  start(engine: EngineLike): Promise<void>;
  stop(): Promise<void>;
}

/** Updates we act on; everything else is not even delivered (getUpdates/setWebhook allowed_updates). */
const ALLOWED_UPDATES = ['message', 'callback_query'] as const;

/**
 * Bot menu commands with descriptions in the six languages the instruction parser understands (issue #5). Telegram
 * shows the list matching the user's language_code, else the default (English) one (bots/api setMyCommands).
 */
export const COMMAND_DESCRIPTIONS: Record<'en' | 'zh' | 'es' | 'de' | 'fr' | 'pt', Record<string, string>> = {
  en: {
    start: 'Start and see what I can do',
    help: 'How to use the bot',
    compress: 'Compress a video: /compress under 25MB',
    status: 'How your job is going',
    cancel: 'Cancel your current job',
    credits: "Today's allowance",
  },
  zh: {
    start: '开始并查看我能做什么',
    help: '使用说明',
    compress: '压缩视频：/compress 小于25MB',
    status: '查看任务进度',
    cancel: '取消当前任务',
    credits: '今日剩余额度',
  },
  es: {
    start: 'Empezar y ver qué puedo hacer',
    help: 'Cómo usar el bot',
    compress: 'Comprimir un vídeo: /compress menos de 25MB',
    status: 'Cómo va tu trabajo',
    cancel: 'Cancelar el trabajo actual',
    credits: 'Tu cupo de hoy',
  },
  de: {
    start: 'Starten und sehen, was ich kann',
    help: 'So benutzt du den Bot',
    compress: 'Video komprimieren: /compress unter 25MB',
    status: 'Stand deines Auftrags',
    cancel: 'Aktuellen Auftrag abbrechen',
    credits: 'Dein heutiges Kontingent',
  },
  fr: {
    start: 'Démarrer et voir ce que je sais faire',
    help: 'Comment utiliser le bot',
    compress: 'Compresser une vidéo : /compress moins de 25 Mo',
    status: 'Où en est ta tâche',
    cancel: 'Annuler la tâche en cours',
    credits: 'Ton quota du jour',
  },
  pt: {
    start: 'Começar e ver o que posso fazer',
    help: 'Como usar o bot',
    compress: 'Comprimir um vídeo: /compress menos de 25MB',
    status: 'Como está o seu trabalho',
    cancel: 'Cancelar o trabalho atual',
    credits: 'Sua cota de hoje',
  },
};

/** Replaces the bot token (and anything shaped like one) so it never reaches a log line. */
export function tokenRedactor(token: string): (s: string) => string {
  return (s) =>
    (token ? s.split(token).join('<token>') : s).replace(/\d{5,}:[A-Za-z0-9_-]{30,}/gu, '<token>');
}

/** A stable secret for X-Telegram-Bot-Api-Secret-Token ("1-256 characters A-Z, a-z, 0-9, _ and -", bots/api). */
export function webhookSecretFor(token: string): string {
  return createHash('sha256').update(`vidshrink telegram webhook\n${token}`).digest('base64url');
}

/** Builds the bot and its port without touching the network (the composition root registers the port early). */
export function createTelegram(o: TelegramOptions): Telegram {
  const redact = tokenRedactor(o.token);
  const log = o.logger;
  const apiRoot = (o.apiRoot ?? 'https://api.telegram.org').replace(/\/+$/u, '');
  const gate = new FloodGate();
  const bot = new Bot(o.token, { client: { apiRoot }, ...(o.botInfo ? { botInfo: o.botInfo } : {}) });
  // Ordinary calls wait out 429 retry_after and retry 5xx/network errors (grammY auto-retry, chatbot-anchors §2.2);
  // the recorder sits inside it so every raw 429 updates the per-chat flood gate that progress edits respect.
  bot.api.config.use(gate.recorder);
  bot.api.config.use(autoRetry({ maxRetryAttempts: 4, maxDelaySeconds: 120 }));
  // Progress edits use their own client without auto-retry: a throttled edit is dropped or parked, never queued.
  const editApi = new Api(o.token, { apiRoot, timeoutSeconds: 30 });
  editApi.config.use(gate.recorder);
  const isLocalApi = o.isLocalApi ?? false;
  const port = new TelegramPort({
    api: bot.api,
    editApi,
    gate,
    log,
    isLocalApi,
    redact,
    ...(o.limits ? { limits: o.limits } : {}),
  });
  const files: FileSource = { api: bot.api, token: o.token, apiRoot, isLocalApi, redact };
  const inboundCtx = (): InboundContext => ({
    botId: bot.botInfo.id,
    botUsername: bot.botInfo.username,
    files,
  });

  let engine: EngineLike | null = null;
  let runner: RunnerHandle | null = null;
  let server: Server | null = null;
  const webhookMode = Boolean(o.webhookUrl);
  const chains = new Map<string, Promise<void>>();
  const seen = new Set<number>();
  const admins = new Map<string, { isAdmin: boolean; at: number }>();

  const handle = async (msg: InboundMessage): Promise<void> => {
    if (!engine) return;
    try {
      await engine.handle(msg);
    } catch (e) {
      log.error({ err: redact(errorText(e)), chat: msg.chat.chatId }, 'telegram: handling a message failed');
    }
  };

  /**
   * Long polling awaits the engine inside the runner's per-chat sequentialize (order kept, other chats concurrent).
   * A webhook must answer fast (grammY's webhookCallback times out after 10 s and Telegram re-sends), so it only
   * chains the message behind the chat's previous one and returns.
   */
  const dispatch = async (msg: InboundMessage): Promise<void> => {
    if (!webhookMode) return handle(msg);
    const key = msg.chat.chatId;
    const next = (chains.get(key) ?? Promise.resolve()).then(() => handle(msg));
    chains.set(key, next);
    void next.finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
  };

  /** Admins may act on other members' jobs; asked only for button presses in groups, cached for a minute. */
  const isAdmin = async (chatId: number, userId: number): Promise<boolean | undefined> => {
    const key = `${chatId}:${userId}`;
    const hit = admins.get(key);
    if (hit && Date.now() - hit.at < 60_000) return hit.isAdmin;
    try {
      const m = await bot.api.getChatMember(chatId, userId);
      const v = m.status === 'administrator' || m.status === 'creator';
      admins.set(key, { isAdmin: v, at: Date.now() });
      if (admins.size > 5000) admins.clear();
      return v;
    } catch (e) {
      log.warn({ err: redact(errorText(e)) }, 'telegram: getChatMember failed');
      return undefined;
    }
  };

  // Runner delivery is not exactly-once (grammY advanced/reliability.md): drop update ids seen in this process.
  bot.use(async (ctx, next) => {
    const id = ctx.update.update_id;
    if (seen.has(id)) return;
    seen.add(id);
    if (seen.size > 10_000) seen.delete(seen.values().next().value ?? id);
    await next();
  });
  if (!webhookMode) {
    bot.use(sequentialize((ctx: Context) => ctx.chat?.id.toString() ?? ctx.from?.id.toString()));
  }
  bot.on('message', async (ctx) => {
    const msg = messageToInbound(ctx.msg, inboundCtx());
    if (msg) await dispatch(msg);
  });
  bot.on('callback_query', async (ctx) => {
    const q = ctx.callbackQuery;
    // Answer at once: the client shows a spinner on the button until then (bots/api answerCallbackQuery).
    await ctx.answerCallbackQuery().catch((e: unknown) => {
      log.warn({ err: redact(errorText(e)) }, 'telegram: answerCallbackQuery failed');
    });
    const chat = q.message?.chat;
    const admin = chat && chat.type !== 'private' ? await isAdmin(chat.id, q.from.id) : undefined;
    const msg = callbackToInbound(q, admin);
    if (msg) await dispatch(msg);
  });
  bot.catch((err) => {
    log.error(
      { err: redact(errorText(err.error)), update: err.ctx.update.update_id },
      'telegram: update handling failed',
    );
  });

  let webhook: TelegramWebhook | null = null;
  if (o.webhookUrl) {
    const secretToken = o.webhookSecret ?? webhookSecretFor(o.token);
    const path = new URL(o.webhookUrl).pathname;
    const cb = webhookCallback(bot, 'http', { secretToken, onTimeout: 'return', timeoutMilliseconds: 9_000 });
    webhook = {
      path,
      secretToken,
      address: null,
      async handleHttp(req, res) {
        const url = new URL(req.url ?? '/', 'http://local');
        if (req.method !== 'POST' || url.pathname !== path) {
          res.writeHead(404).end();
          return;
        }
        try {
          await cb(req, res);
        } catch (e) {
          log.error({ err: redact(errorText(e)) }, 'telegram: webhook request failed');
          if (!res.headersSent) res.writeHead(500).end();
        }
      },
    };
  }

  return {
    port,
    bot,
    webhook,
    async start(e) {
      engine = e;
      e.registerPort(port);
      await bot.init();
      if (o.registerCommands ?? true) await registerCommands(bot.api, log, redact);
      if (webhook && o.webhookUrl) {
        const hook = webhook;
        if (o.webhookListen) {
          const listen = o.webhookListen;
          server = createServer((req, res) => void hook.handleHttp(req, res));
          await new Promise<void>((resolve, reject) => {
            server?.once('error', reject);
            server?.listen({ host: listen.host, port: listen.port }, () => resolve());
          });
          const addr = server.address() as AddressInfo;
          hook.address = `http://${listen.host}:${addr.port}`;
        }
        await bot.api.setWebhook(o.webhookUrl, {
          secret_token: hook.secretToken,
          allowed_updates: [...ALLOWED_UPDATES],
        });
        log.info({ path: hook.path }, 'telegram: webhook set');
        return;
      }
      // A webhook left over from another deployment makes getUpdates fail with 409 (bots/api getUpdates).
      await bot.api.deleteWebhook({ drop_pending_updates: false });
      runner = run(bot, {
        runner: {
          fetch: { timeout: o.pollTimeoutSec ?? 30, allowed_updates: [...ALLOWED_UPDATES] },
          // The runner would console.error raw errors; ours are logged redacted below.
          silent: true,
        },
      });
      runner.task()?.catch((err: unknown) => {
        log.error({ err: redact(errorText(err)) }, 'telegram: polling stopped');
      });
      log.info({ username: bot.botInfo.username }, 'telegram: polling');
    },
    async stop() {
      const r = runner;
      runner = null;
      // stop() aborts the pending getUpdates and resolves when the polling loop has ended.
      await r?.stop()?.catch(() => undefined);
      if (server) {
        const s = server;
        server = null;
        s.closeAllConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await Promise.allSettled([...chains.values()]);
      port.close();
      engine = null;
    },
  };
}

/** createTelegram + start: the whole adapter in one call. */
export async function startTelegram(engine: EngineLike, o: TelegramOptions): Promise<Telegram> {
  const t = createTelegram(o);
  await t.start(engine);
  return t;
}

async function registerCommands(api: Api, log: PortLogger, redact: (s: string) => string): Promise<void> {
  const list = (lang: keyof typeof COMMAND_DESCRIPTIONS): { command: string; description: string }[] =>
    Object.entries(COMMAND_DESCRIPTIONS[lang]).map(([command, description]) => ({ command, description }));
  try {
    // The default list (no language_code) is English; each language gets its own.
    await api.setMyCommands(list('en'));
    for (const lang of Object.keys(COMMAND_DESCRIPTIONS) as (keyof typeof COMMAND_DESCRIPTIONS)[]) {
      await api.setMyCommands(list(lang), { language_code: lang });
    }
  } catch (e) {
    // A menu is a convenience; the bot works without it.
    log.warn({ err: redact(errorText(e)) }, 'telegram: setMyCommands failed');
  }
}
