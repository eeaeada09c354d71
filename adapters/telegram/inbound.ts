// Telegram updates → the engine's InboundMessage (issue #5). Pure translation: which chat, who, what text, which files,
// and whether the bot was addressed in a group. What to do with it is the engine's business.
import { createReadStream, createWriteStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GrammyError, type Api } from 'grammy';
import type { CallbackQuery, Message, MessageEntity, User } from 'grammy/types';
import { AppError } from '../../src/domain/errors.js';
import { formatBytes } from '../../src/domain/units.js';
import { ByteCap } from '../../src/net/byte-cap.js';
import type { ChatRef, InboundAttachment, InboundMessage, Sender } from '../../src/conversation/types.js';
import { decodeCallbackData, errorText, PLATFORM } from './telegram-port.js';

/** The commands registered with setMyCommands; in a group a bare `/status` counts as addressed to us. */
export const COMMANDS = ['start', 'help', 'compress', 'status', 'cancel', 'credits'] as const;

export interface InboundContext {
  botId: number;
  botUsername: string;
  files: FileSource;
}

/** How attachments are fetched: getFile, then the file route (cloud) or the absolute path (local server). */
export interface FileSource {
  api: Api;
  token: string;
  apiRoot: string;
  isLocalApi: boolean;
  redact: (s: string) => string;
}

export function chatRefOf(m: Pick<Message, 'chat' | 'message_thread_id' | 'is_topic_message'>): ChatRef {
  // Results go back to the forum topic the ask came from (issue #5).
  return {
    platform: PLATFORM,
    chatId: String(m.chat.id),
    ...(m.is_topic_message && m.message_thread_id !== undefined
      ? { threadId: String(m.message_thread_id) }
      : {}),
  };
}

export function senderOf(u: User, isAdmin?: boolean): Sender {
  const name = [u.first_name, u.last_name].filter(Boolean).join(' ').trim();
  return {
    id: String(u.id),
    displayName: name || (u.username ? `@${u.username}` : String(u.id)),
    ...(isAdmin !== undefined ? { isAdmin } : {}),
    ...(u.language_code ? { language: u.language_code } : {}),
  };
}

/** A message from a person in a private chat, group or supergroup; null for anything the bot does not act on. */
export function messageToInbound(m: Message, ctx: InboundContext): InboundMessage | null {
  const from = m.from;
  // Channels, other bots (no loops between bots) and our own messages are not conversations.
  if (!from || from.is_bot || from.id === ctx.botId) return null;
  const kind = m.chat.type === 'private' ? 'private' : m.chat.type === 'channel' ? null : 'group';
  if (kind === null) return null;
  const raw = m.text ?? m.caption ?? '';
  const entities = m.entities ?? m.caption_entities ?? [];
  // In a forum, every topic message "replies" to the topic's service message; that is not a reply to anyone.
  const reply =
    m.reply_to_message && !m.reply_to_message.forum_topic_created ? m.reply_to_message : undefined;
  const replyToBot = reply?.from?.id === ctx.botId;
  const addressed = kind === 'private' || isAddressed(raw, entities, ctx) || replyToBot;
  return {
    chat: chatRefOf(m),
    chatKind: kind,
    sender: senderOf(from),
    messageId: String(m.message_id),
    // The instruction parser understands "/compress …" itself; only our @username is noise to it.
    text: stripMention(raw, ctx.botUsername),
    ...(reply
      ? {
          replyTo: {
            messageId: String(reply.message_id),
            fromBot: replyToBot,
            attachments: attachmentsOf(reply, ctx.files),
          },
        }
      : {}),
    addressed,
    attachments: attachmentsOf(m, ctx.files),
  };
}

/**
 * Privacy mode (on by default) delivers `/cmd@bot`, replies to the bot and mentions (chatbot-anchors §2.1); in a group
 * we act on exactly those: one of our commands (bare or `@us`), a command for `@us`, or a mention of us.
 */
export function isAddressed(text: string, entities: readonly MessageEntity[], ctx: InboundContext): boolean {
  const me = ctx.botUsername.toLowerCase();
  for (const e of entities) {
    const s = sliceUtf16(text, e.offset, e.length);
    if (e.type === 'bot_command' && e.offset === 0) {
      const [, name = '', target] = /^\/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?$/u.exec(s) ?? [];
      if (target !== undefined) {
        if (target.toLowerCase() === me) return true;
      } else if ((COMMANDS as readonly string[]).includes(name.toLowerCase())) return true;
    }
    if (e.type === 'mention' && s.toLowerCase() === `@${me}`) return true;
    if (e.type === 'text_mention' && e.user.id === ctx.botId) return true;
  }
  return false;
}

function sliceUtf16(text: string, offset: number, length: number): string {
  // Entity offsets and lengths are in UTF-16 code units (bots/api MessageEntity), which is what JS strings index.
  return text.slice(offset, offset + length);
}

export function stripMention(text: string, botUsername: string): string {
  const escaped = botUsername.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
  return text
    .replace(new RegExp(`@${escaped}(?![A-Za-z0-9_])`, 'giu'), '')
    .replace(/[ \t]{2,}/gu, ' ')
    .trim();
}

/**
 * The video-ish media of a message. A video, an animation (GIF-style MP4), a video note, or a document of any type
 * (phones send full-quality videos "as file"; the engine's probe decides whether it is a video).
 */
export function attachmentsOf(m: Message, files: FileSource): InboundAttachment[] {
  if (m.video) {
    return [
      attachment(
        files,
        m.video,
        'video',
        m.video.file_name ?? `video-${m.message_id}.mp4`,
        m.video.mime_type,
      ),
    ];
  }
  // "For backward compatibility, when this field is set, the document field will also be set" (bots/api Message).
  if (m.animation) {
    return [
      attachment(
        files,
        m.animation,
        'animation',
        m.animation.file_name ?? `animation-${m.message_id}.mp4`,
        m.animation.mime_type,
      ),
    ];
  }
  if (m.video_note) {
    return [attachment(files, m.video_note, 'video_note', `video-note-${m.message_id}.mp4`, 'video/mp4')];
  }
  if (m.document) {
    return [
      attachment(
        files,
        m.document,
        'document',
        m.document.file_name ?? `file-${m.message_id}`,
        m.document.mime_type,
      ),
    ];
  }
  return [];
}

function attachment(
  src: FileSource,
  f: { file_id: string; file_size?: number },
  kind: InboundAttachment['kind'],
  fileName: string,
  mimeType: string | undefined,
): InboundAttachment {
  return {
    fileName,
    sizeBytes: f.file_size ?? null,
    ...(mimeType ? { mimeType } : {}),
    kind,
    download: (dest, maxBytes, signal) => downloadFile(src, f.file_id, dest, maxBytes, signal),
  };
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('INPUT_LIMITS', {
    reason: `Telegram lets me fetch files only up to ${formatBytes(maxBytes)}; send a smaller one or ask me for an upload link by sending the video as a link`,
  });
}

/**
 * getFile, then stream the bytes to `dest` through a byte counter (file_size is a claim; chatbot-anchors §0 rule 8).
 * The cloud server hands out `file_path` relative to `/file/bot<token>/`; a local server (`--local`) returns an
 * absolute path on its disk instead (tdlib/telegram-bot-api README).
 */
export async function downloadFile(
  src: FileSource,
  fileId: string,
  dest: string,
  maxBytes: number,
  signal: AbortSignal,
): Promise<void> {
  let path: string | undefined;
  try {
    path = (await src.api.getFile(fileId, grammySignal(signal))).file_path;
  } catch (e) {
    if (signal.aborted) throw new AppError('CANCELLED', {}, { cause: e });
    if (e instanceof GrammyError && /file is too big/iu.test(e.description)) throw tooLarge(maxBytes);
    throw new AppError('INTERNAL', {}, { internal: { reason: src.redact(errorText(e)) } });
  }
  if (!path) throw new AppError('INTERNAL', {}, { internal: { reason: 'getFile returned no file_path' } });
  let source: Readable;
  if (isAbsolute(path)) {
    if (!src.isLocalApi) {
      throw new AppError('INTERNAL', {}, { internal: { reason: 'absolute file_path from a cloud Bot API' } });
    }
    source = createReadStream(path);
  } else {
    if (path.split('/').includes('..')) {
      throw new AppError('INTERNAL', {}, { internal: { reason: 'file_path escapes the file route' } });
    }
    const url = `${src.apiRoot}/file/bot${src.token}/${path.split('/').map(encodeURIComponent).join('/')}`;
    let res: Response;
    try {
      res = await fetch(url, { signal });
    } catch (e) {
      if (signal.aborted) throw new AppError('CANCELLED', {}, { cause: e });
      // The URL holds the token: keep it out of every message and log line.
      throw new AppError('INTERNAL', {}, { internal: { reason: src.redact(errorText(e)) } });
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      throw new AppError('INTERNAL', {}, { internal: { reason: `file route answered ${res.status}` } });
    }
    source = Readable.fromWeb(res.body);
  }
  try {
    await pipeline(source, new ByteCap(maxBytes, () => tooLarge(maxBytes)), createWriteStream(dest), {
      signal,
    });
  } catch (e) {
    if (e instanceof AppError) throw e;
    if (signal.aborted) throw new AppError('CANCELLED', {}, { cause: e });
    throw new AppError('INTERNAL', {}, { internal: { reason: src.redact(errorText(e)) } });
  }
}

/** grammY types its signal parameter with the abort-controller polyfill; Node's AbortSignal is what it uses. */
export function grammySignal(signal: AbortSignal): Parameters<Api['getFile']>[1] {
  return signal as unknown as Parameters<Api['getFile']>[1];
}

/** A button press → an InboundMessage carrying `button`; null for data we did not put there. */
export function callbackToInbound(q: CallbackQuery, isAdmin: boolean | undefined): InboundMessage | null {
  const m = q.message;
  const b = q.data ? decodeCallbackData(q.data) : null;
  if (!m || !b || q.from.is_bot) return null;
  const kind = m.chat.type === 'private' ? 'private' : m.chat.type === 'channel' ? null : 'group';
  if (kind === null) return null;
  return {
    chat: chatRefOf(m),
    chatKind: kind,
    sender: senderOf(q.from, isAdmin),
    messageId: String(m.message_id),
    text: '',
    addressed: true,
    attachments: [],
    button: b,
  };
}
