// The Discord bot (issue #5): discord.js in, InboundMessage out. Registers the commands, keeps a gateway
// connection, answers every interaction within Discord's 3 seconds by deferring, and hands the conversation engine
// platform-neutral messages; DiscordPort renders what the engine answers. No business logic lives here.
//
// Intents are minimal (events/gateway.mdx §Gateway Intents): Guilds (channel/thread cache), GuildMessages and
// DirectMessages (MESSAGE_CREATE). The privileged MessageContent intent is NOT requested: Discord still delivers
// content and attachments of DMs, of messages that mention the app, and of the target of a message context-menu
// command (events/gateway.mdx §Message Content Intent; chatbot-anchors.md §2.3) — exactly the messages the bot acts
// on. Slash commands carry their own options and resolved attachments.
//
// Pointing at a fake: `restApi` replaces discord.js's REST base URL (`rest.api`). There is no separate gateway URL
// option because @discordjs/ws connects to the `url` that `GET /gateway/bot` returns (WebSocketManager
// .fetchGatewayInformation → WebSocketShard.internalConnect), so a fake REST that answers that route with its own
// ws:// URL brings the gateway along; the real SDK then runs end to end.
import { createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ChannelType,
  Client,
  Events,
  GatewayIntentBits,
  Partials,
  PermissionFlagsBits,
  Routes,
  type Attachment,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type Message,
  type MessageContextMenuCommandInteraction,
} from 'discord.js';
import type { Logger } from '../../src/conversation/engine.js';
import type { ChatPort, ChatRef, InboundAttachment, InboundMessage } from '../../src/conversation/types.js';
import { AppError } from '../../src/domain/errors.js';
import { formatBytes } from '../../src/domain/units.js';
import { DiscordPort, interactionMessageId, parseCustomId, rejectEditRateLimits } from './discord-port.js';

/** The message context-menu command (application-commands.mdx §Message Commands: names may have spaces/capitals). */
export const CONTEXT_MENU_NAME = 'Compress this video';

/** What the bot needs from the conversation engine. */
export interface EngineLike {
  handle(msg: InboundMessage): Promise<void>;
  registerPort(port: ChatPort): void;
}

export interface DiscordBotOptions {
  token: string;
  applicationId: string;
  /** Register the commands in this guild only (instant, for development); globally otherwise. */
  guildId?: string | undefined;
  /** REST base URL (default https://discord.com/api); the gateway URL follows from `GET /gateway/bot`. */
  restApi?: string | undefined;
  /** The service's largest accepted input (VIDSHRINK_MAX_INPUT_MB). */
  maxInboundBytes: number;
  logger: Logger;
  now?: () => number;
  /**
   * REST request timeout. @discordjs/rest defaults to 15 s (chatbot-anchors.md §2.4), too short to upload a result
   * of tens of MB; progress edits are not slowed by it because they fail fast on 429.
   */
  restTimeoutMs?: number;
}

export interface DiscordBot {
  readonly port: DiscordPort;
  readonly client: Client;
  /** Registers the commands, connects to the gateway and starts handing messages to `engine`. */
  start(engine: EngineLike): Promise<void>;
  /** Stops taking new messages, waits (≤ 10 s) for handlers in flight, closes the gateway. */
  stop(): Promise<void>;
}

/** application-commands.mdx: CHAT_INPUT (1) with an ATTACHMENT (11) and a STRING (3) option; MESSAGE (3). */
export function commandDefinitions(): Record<string, unknown>[] {
  return [
    {
      type: ApplicationCommandType.ChatInput,
      name: 'compress',
      description: 'Compress a video to the size or quality you describe',
      options: [
        {
          type: ApplicationCommandOptionType.Attachment,
          name: 'video',
          description: 'The video (leave empty to redo your last one)',
          required: false,
        },
        {
          type: ApplicationCommandOptionType.String,
          name: 'instruction',
          description: 'e.g. "under 25MB", "small enough for Discord", "720p no sound", "first 30 s"',
          required: false,
          max_length: 300,
        },
      ],
    },
    {
      type: ApplicationCommandType.ChatInput,
      name: 'status',
      description: 'What is running for you right now',
    },
    { type: ApplicationCommandType.ChatInput, name: 'cancel', description: 'Cancel your running job' },
    { type: ApplicationCommandType.ChatInput, name: 'help', description: 'How to use vidshrink' },
    { type: ApplicationCommandType.Message, name: CONTEXT_MENU_NAME },
  ];
}

/** Builds the client and the port without connecting: pass `port` to startService so resumed jobs find it. */
export function createDiscordBot(o: DiscordBotOptions): DiscordBot {
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages, GatewayIntentBits.DirectMessages],
    // DM channels are not in the cache when their first message arrives (discord.js guide: DMs need Partials.Channel).
    partials: [Partials.Channel],
    rest: {
      ...(o.restApi ? { api: o.restApi } : {}),
      timeout: o.restTimeoutMs ?? 300_000,
      rejectOnRateLimit: rejectEditRateLimits,
      // Node's own fetch, not @discordjs/rest's bundled undici 6: importing the project's undici 8 (src/net)
      // installs its Agent as the legacy global dispatcher, which undici 6's request() then uses, and that Agent
      // refuses the FormData of every file upload ("body must be a FormData created by this undici package
      // instance"). The REST docs name this option for exactly that ("to use global fetch, provide makeRequest").
      makeRequest: (url, init) => fetch(url, init as RequestInit),
    },
  });
  client.rest.setToken(o.token);
  const port = new DiscordPort({
    rest: client.rest,
    applicationId: o.applicationId,
    maxInboundBytes: o.maxInboundBytes,
    log: o.logger,
    ...(o.now ? { now: o.now } : {}),
  });
  const inflight = new Set<Promise<void>>();
  let stopping = false;
  const log = o.logger;

  const track = (p: Promise<void>): void => {
    const q = p.catch((e: unknown) => log.error({ err: String(e) }, 'discord: handler failed'));
    inflight.add(q);
    void q.finally(() => inflight.delete(q));
  };

  return {
    port,
    client,
    async start(engine) {
      client.on(Events.InteractionCreate, (i) => {
        if (!stopping) track(onInteraction(engine, port, i, o));
      });
      client.on(Events.MessageCreate, (m) => {
        if (!stopping) track(onMessage(engine, m, client.user?.id ?? o.applicationId, o.maxInboundBytes));
      });
      client.on(Events.Error, (e) => log.error({ err: String(e) }, 'discord: client error'));
      client.on(Events.ShardDisconnect, (ev, id) =>
        log.warn({ code: ev.code, shard: id }, 'discord: shard gone'),
      );
      const route = o.guildId
        ? Routes.applicationGuildCommands(o.applicationId, o.guildId)
        : Routes.applicationCommands(o.applicationId);
      // Bulk overwrite: the registered set is exactly ours, and re-running it is idempotent.
      await client.rest.put(route, { body: commandDefinitions() });
      const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
      await client.login(o.token);
      await ready;
      port.botUserId = client.user?.id ?? null;
      log.info({ user: client.user?.tag, guild: o.guildId ?? 'global' }, 'discord: connected');
    },
    async stop() {
      stopping = true;
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise((r) => setTimeout(r, 10_000).unref()),
      ]);
      port.stop();
      await client.destroy();
    },
  };
}

/** Convenience for a process that resumes no jobs: create, register the port, start. */
export async function startDiscord(
  engine: EngineLike,
  o: DiscordBotOptions,
): Promise<{ port: DiscordPort; stop(): Promise<void> }> {
  const bot = createDiscordBot(o);
  engine.registerPort(bot.port);
  await bot.start(engine);
  return { port: bot.port, stop: () => bot.stop() };
}

// ---------------------------------------------------------------- inbound translation

const THREAD_TYPES = new Set<number>([
  ChannelType.PublicThread,
  ChannelType.PrivateThread,
  ChannelType.AnnouncementThread,
]);

/** chat = the channel; a thread is the chat's `threadId` so results go back into it. */
function chatOf(channelId: string, channel: { type: number; parentId?: string | null } | null): ChatRef {
  if (channel && THREAD_TYPES.has(channel.type) && channel.parentId) {
    return { platform: 'discord', chatId: channel.parentId, threadId: channelId };
  }
  return { platform: 'discord', chatId: channelId };
}

async function onInteraction(
  engine: EngineLike,
  port: DiscordPort,
  i: Interaction,
  o: DiscordBotOptions,
): Promise<void> {
  if (i.isChatInputCommand()) return onCommand(engine, port, i, o);
  if (i.isMessageContextMenuCommand()) return onContextMenu(engine, port, i, o);
  if (i.isButton()) return onButton(engine, port, i);
}

/** Common fields of an interaction's InboundMessage. */
function fromInteraction(
  i: ChatInputCommandInteraction | MessageContextMenuCommandInteraction | ButtonInteraction,
): Omit<InboundMessage, 'text' | 'attachments'> {
  const chat = chatOf(
    i.channelId ?? '',
    i.channel
      ? { type: i.channel.type, parentId: 'parentId' in i.channel ? i.channel.parentId : null }
      : null,
  );
  const inGuild = i.guildId !== null;
  return {
    chat,
    chatKind: inGuild ? 'group' : 'private',
    sender: {
      id: i.user.id,
      displayName: i.user.globalName ?? i.user.username,
      // Members who may manage messages act as the chat's admins (cancel others' jobs).
      isAdmin: i.memberPermissions?.has(PermissionFlagsBits.ManageMessages) ?? false,
      language: i.locale,
    },
    messageId: interactionMessageId(i.id, i.user.id),
    addressed: true,
  };
}

/** Defers within Discord's 3 s; false when Discord no longer accepts the interaction. */
async function defer(
  i: ChatInputCommandInteraction | MessageContextMenuCommandInteraction,
): Promise<boolean> {
  try {
    await i.deferReply();
    return true;
  } catch {
    return false;
  }
}

async function onCommand(
  engine: EngineLike,
  port: DiscordPort,
  i: ChatInputCommandInteraction,
  o: DiscordBotOptions,
): Promise<void> {
  if (!(await defer(i))) {
    o.logger.warn({ command: i.commandName }, 'discord: interaction expired before it could be deferred');
    return;
  }
  const base = fromInteraction(i);
  port.trackInteraction(base.chat, {
    id: i.id,
    token: i.token,
    kind: 'command',
    attachmentSizeLimit: i.attachmentSizeLimit,
  });
  let text: string;
  const attachments: InboundAttachment[] = [];
  switch (i.commandName) {
    case 'compress': {
      text = i.options.getString('instruction') ?? '';
      const a = i.options.getAttachment('video');
      if (a) attachments.push(toInbound(a, o.maxInboundBytes));
      break;
    }
    case 'status':
    case 'cancel':
    case 'help':
      text = i.commandName;
      break;
    default:
      text = 'help';
  }
  try {
    await engine.handle({ ...base, text, attachments });
  } finally {
    // Nothing answered (the engine replies to every addressed message, so only a failure gets here): never leave
    // "thinking…" to turn into "The application did not respond" (discordjs/guide PR #936).
    if (port.isUnanswered(i.id)) await port.dropUnanswered(i.id);
  }
}

async function onContextMenu(
  engine: EngineLike,
  port: DiscordPort,
  i: MessageContextMenuCommandInteraction,
  o: DiscordBotOptions,
): Promise<void> {
  if (i.commandName !== CONTEXT_MENU_NAME) return;
  if (!(await defer(i))) return;
  const base = fromInteraction(i);
  port.trackInteraction(base.chat, {
    id: i.id,
    token: i.token,
    kind: 'command',
    attachmentSizeLimit: i.attachmentSizeLimit,
  });
  const target = i.targetMessage;
  const attachments = [...target.attachments.values()].map((a) => toInbound(a, o.maxInboundBytes));
  try {
    await engine.handle({
      ...base,
      // The target's words are someone else's chat, not an instruction: defaults apply, the plan shows a hint.
      text: '',
      attachments,
      replyTo: { messageId: target.id, fromBot: target.author.id === i.client.user.id, attachments },
    });
  } finally {
    if (port.isUnanswered(i.id)) await port.dropUnanswered(i.id);
  }
}

async function onButton(engine: EngineLike, port: DiscordPort, i: ButtonInteraction): Promise<void> {
  const parsed = parseCustomId(i.customId);
  if (!parsed) return;
  try {
    // DEFERRED_UPDATE_MESSAGE (6): acknowledges without changing the message; the engine edits it.
    await i.deferUpdate();
  } catch {
    return;
  }
  const base = fromInteraction(i);
  port.trackInteraction(base.chat, {
    id: i.id,
    token: i.token,
    kind: 'component',
    attachmentSizeLimit: i.attachmentSizeLimit,
  });
  await engine.handle({ ...base, text: '', attachments: [], button: parsed });
}

async function onMessage(engine: EngineLike, m: Message, botId: string, maxInbound: number): Promise<void> {
  if (m.author.bot || m.system) return;
  const isDm = m.channel.type === ChannelType.DM;
  const mentioned = m.mentions.users.has(botId);
  // In servers the bot acts only when mentioned (and gets content only then, without MessageContent).
  if (!isDm && !mentioned) return;
  const text = m.content.replace(new RegExp(`<@!?${botId}>`, 'gu'), ' ').trim();
  const attachments = [...m.attachments.values()].map((a) => toInbound(a, maxInbound));
  let replyTo: InboundMessage['replyTo'];
  if (m.reference?.messageId) {
    const ref = m.channel.messages.cache.get(m.reference.messageId);
    if (ref) {
      replyTo = {
        messageId: ref.id,
        fromBot: ref.author.id === botId,
        attachments: [...ref.attachments.values()].map((a) => toInbound(a, maxInbound)),
      };
    }
  }
  const channel = m.channel;
  await engine.handle({
    chat: chatOf(channel.id, {
      type: channel.type,
      parentId: 'parentId' in channel ? channel.parentId : null,
    }),
    chatKind: isDm ? 'private' : 'group',
    sender: {
      id: m.author.id,
      displayName: m.member?.displayName ?? m.author.globalName ?? m.author.username,
      isAdmin: m.member?.permissions.has(PermissionFlagsBits.ManageMessages) ?? false,
    },
    messageId: m.id,
    text,
    addressed: true,
    attachments,
    ...(replyTo ? { replyTo } : {}),
  });
}

// ---------------------------------------------------------------- attachments

const VIDEO_EXT = /\.(?:mp4|m4v|mov|mkv|webm|avi|3gp|ts|mts|m2ts|mpg|mpeg|ogv|flv)$/iu;

function toInbound(a: Attachment, maxInbound: number): InboundAttachment {
  const isVideo = (a.contentType ?? '').startsWith('video/') || VIDEO_EXT.test(a.name);
  return {
    fileName: a.name,
    sizeBytes: a.size,
    mimeType: a.contentType ?? undefined,
    kind: isVideo ? 'video' : 'document',
    // CDN URLs are signed and expire (1 day): the engine downloads right away, here the bytes are counted.
    download: (dest, maxBytes, signal) => downloadCapped(a.url, dest, Math.min(maxBytes, maxInbound), signal),
  };
}

/**
 * Streams `url` to `dest`, failing with INPUT_LIMITS once more than `maxBytes` arrived (the declared size is not
 * trusted), honouring `signal`. The URL comes from Discord's own payload (an attachment on its CDN).
 */
export async function downloadCapped(
  url: string,
  dest: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<void> {
  const tooBig = (): AppError =>
    new AppError('INPUT_LIMITS', { reason: `the attachment is larger than ${formatBytes(maxBytes)}` });
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    if (signal.aborted) throw new AppError('CANCELLED', {}, { cause: e });
    throw new AppError('URL_FETCH_FAILED', { reason: 'Discord did not answer' }, { cause: e });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new AppError('URL_FETCH_FAILED', {
      reason: `Discord answered ${res.status}; the attachment may have expired — send it again`,
    });
  }
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body.cancel();
    throw tooBig();
  }
  let seen = 0;
  const cap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > maxBytes) cb(tooBig());
      else cb(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body), cap, createWriteStream(dest), { signal });
}
