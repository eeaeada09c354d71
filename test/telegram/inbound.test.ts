// Pure translation rules of the Telegram adapter: who is addressed in a group, what text the engine sees, which media
// become attachments, how buttons are encoded, and that the token is redacted.
import type { Api } from 'grammy';
import type { Message, MessageEntity } from 'grammy/types';
import { describe, expect, it } from 'vitest';
import {
  attachmentsOf,
  callbackToInbound,
  isAddressed,
  messageToInbound,
  stripMention,
  type InboundContext,
} from '../../adapters/telegram/inbound.js';
import { tokenRedactor, webhookSecretFor } from '../../adapters/telegram/telegram-bot.js';
import {
  decodeCallbackData,
  encodeCallbackData,
  keyboard,
  TelegramPort,
  FloodGate,
} from '../../adapters/telegram/telegram-port.js';
import { entitiesOf } from '../fakes/telegram-bot-api.js';

const BOT = { id: 777, username: 'vidshrink_bot' };
const ctx: InboundContext = {
  botId: BOT.id,
  botUsername: BOT.username,
  files: { api: {} as Api, token: '1:x', apiRoot: 'http://x', isLocalApi: false, redact: (s) => s },
};
const ana = { id: 11, is_bot: false, first_name: 'Ana', language_code: 'pt-BR' };
const group = { id: -100123, type: 'supergroup' as const, title: 'Reviews' };
const dm = { id: 11, type: 'private' as const, first_name: 'Ana' };

function msg(o: Partial<Message> & { text?: string }): Message {
  const base = { message_id: 5, date: 1, chat: group, from: ana, ...o } as Message;
  if (o.text !== undefined && !o.entities) (base as { entities?: MessageEntity[] }).entities = ents(o.text);
  return base;
}
const ents = (t: string): MessageEntity[] => entitiesOf(t) as MessageEntity[];
const video = { file_id: 'F', file_unique_id: 'U', width: 640, height: 360, duration: 4, file_size: 1000 };

describe('telegram inbound translation', () => {
  it('addresses the bot in a group only by our command, a mention or a reply to it', () => {
    const a = (t: string): boolean => isAddressed(t, ents(t), ctx);
    expect(a('/compress under 300KB')).toBe(true);
    expect(a('/compress@vidshrink_bot under 300KB')).toBe(true);
    expect(a('/compress@VIDSHRINK_BOT')).toBe(true);
    expect(a('/compress@other_bot under 300KB')).toBe(false);
    expect(a('/status')).toBe(true);
    expect(a('/ban someone')).toBe(false);
    expect(a('hey @vidshrink_bot make it smaller')).toBe(true);
    expect(a('hey @vidshrink_botx')).toBe(false);
    expect(a('just chatting about under 300KB')).toBe(false);
    // A text_mention (a user without a username picked from the list) of the bot counts too.
    expect(
      isAddressed(
        'Vidshrink do it',
        [{ type: 'text_mention', offset: 0, length: 9, user: { ...BOT, is_bot: true, first_name: 'V' } }],
        ctx,
      ),
    ).toBe(true);
  });

  it('keeps the command for the parser and strips only @botname', () => {
    expect(stripMention('/compress@vidshrink_bot under 300KB', BOT.username)).toBe('/compress under 300KB');
    expect(stripMention('@Vidshrink_Bot  smaller please', BOT.username)).toBe('smaller please');
    expect(stripMention('mail me at a@vidshrink_botnet.com', BOT.username)).toBe(
      'mail me at a@vidshrink_botnet.com',
    );
  });

  it('maps a private video with a caption to an addressed message with one video attachment', () => {
    const m = messageToInbound(msg({ chat: dm, caption: 'under 300KB', video }), ctx);
    expect(m).toMatchObject({
      chat: { platform: 'telegram', chatId: '11' },
      chatKind: 'private',
      sender: { id: '11', displayName: 'Ana', language: 'pt-BR' },
      messageId: '5',
      text: 'under 300KB',
      addressed: true,
    });
    expect(m?.attachments).toHaveLength(1);
    expect(m?.attachments[0]).toMatchObject({ kind: 'video', sizeBytes: 1000, fileName: 'video-5.mp4' });
  });

  it('passes an unaddressed group video through as addressed=false and ignores bots and channels', () => {
    expect(messageToInbound(msg({ video }), ctx)?.addressed).toBe(false);
    expect(messageToInbound(msg({ from: { ...ana, is_bot: true }, text: '/compress' }), ctx)).toBeNull();
    expect(
      messageToInbound(msg({ chat: { id: -1001, type: 'channel', title: 'c' }, text: '/compress' }), ctx),
    ).toBeNull();
  });

  it('a /compress reply carries the replied-to video; a reply to the bot is addressed', () => {
    const original = msg({ message_id: 3, video });
    const m = messageToInbound(
      msg({ text: '/compress under 300KB', reply_to_message: original as never }),
      ctx,
    );
    expect(m?.addressed).toBe(true);
    expect(m?.attachments).toHaveLength(0);
    expect(m?.replyTo?.messageId).toBe('3');
    expect(m?.replyTo?.fromBot).toBe(false);
    expect(m?.replyTo?.attachments[0]?.kind).toBe('video');
    const botMsg = msg({ message_id: 4, from: { ...BOT, is_bot: true, first_name: 'V' }, text: 'Got it' });
    const r = messageToInbound(msg({ text: 'smaller', reply_to_message: botMsg as never }), ctx);
    expect(r?.addressed).toBe(true);
    expect(r?.replyTo?.fromBot).toBe(true);
  });

  it('a forum topic message keeps its thread and is not a reply to the topic service message', () => {
    const topic = { message_id: 9, date: 1, chat: group, forum_topic_created: { name: 't', icon_color: 1 } };
    const m = messageToInbound(
      msg({
        text: '/compress',
        message_thread_id: 9,
        is_topic_message: true,
        reply_to_message: topic as never,
      }),
      ctx,
    );
    expect(m?.chat.threadId).toBe('9');
    expect(m?.replyTo).toBeUndefined();
  });

  it('prefers animation over its backward-compatible document; video notes and any document are attachments', () => {
    const doc = { file_id: 'D', file_unique_id: 'u', file_name: 'raw.mov', mime_type: 'video/quicktime' };
    const anim = { ...video, file_name: 'loop.mp4' };
    expect(attachmentsOf(msg({ animation: anim, document: doc }), ctx.files).map((a) => a.kind)).toEqual([
      'animation',
    ]);
    expect(attachmentsOf(msg({ document: doc }), ctx.files)[0]).toMatchObject({
      kind: 'document',
      fileName: 'raw.mov',
      mimeType: 'video/quicktime',
      sizeBytes: null,
    });
    const note = { file_id: 'N', file_unique_id: 'n', length: 240, duration: 3 };
    expect(attachmentsOf(msg({ video_note: note }), ctx.files)[0]?.kind).toBe('video_note');
  });

  it('encodes buttons as compact callback_data and maps presses back', () => {
    const jobId = 'AbCdEfGhIjKlMnOpQrStUv';
    expect(encodeCallbackData({ action: 'cancel', jobId })).toBe(`c:${jobId}`);
    expect(decodeCallbackData(`f:${jobId}`)).toEqual({ action: 'as-file', jobId });
    expect(decodeCallbackData('x:1')).toBeNull();
    expect(encodeCallbackData({ action: 'cancel', jobId: 'x'.repeat(70) })).toBeNull();
    const kb = keyboard([
      { action: 'smaller', label: 'Smaller', jobId },
      { action: 'better', label: 'Better quality', jobId },
      { action: 'as-file', label: 'Send as file', jobId },
    ]);
    expect(kb?.inline_keyboard.map((r) => r.length)).toEqual([2, 1]);
    const q = {
      id: 'q',
      from: { id: 12, is_bot: false, first_name: 'Bo' },
      chat_instance: 'ci',
      data: `c:${jobId}`,
      message: msg({ message_id: 8, from: { ...BOT, is_bot: true, first_name: 'V' }, text: 'plan' }),
    };
    expect(callbackToInbound(q as never, false)).toMatchObject({
      chat: { chatId: '-100123' },
      chatKind: 'group',
      sender: { id: '12', isAdmin: false },
      messageId: '8',
      button: { action: 'cancel', jobId },
      addressed: true,
    });
  });

  it('uses Telegram limits: 20 MB in, 50 MB out, 2000 MB on a local server; slower edits in groups', () => {
    const make = (isLocalApi: boolean): TelegramPort =>
      new TelegramPort({
        api: {} as Api,
        editApi: {} as Api,
        gate: new FloodGate(),
        log: { info: () => undefined, warn: () => undefined, error: () => undefined },
        isLocalApi,
      });
    const cloud = make(false);
    expect(cloud.limits({ platform: 'telegram', chatId: '11' })).toEqual({
      maxInboundBytes: 20_000_000,
      maxOutboundBytes: 50_000_000,
      minEditIntervalMs: 1000,
    });
    expect(cloud.limits({ platform: 'telegram', chatId: '-100123' }).minEditIntervalMs).toBe(3000);
    expect(cloud.platformLimits({ platform: 'telegram', chatId: '11' })).toEqual({});
    const local = make(true);
    expect(local.limits({ platform: 'telegram', chatId: '11' }).maxInboundBytes).toBe(2_000_000_000);
    expect(local.platformLimits({ platform: 'telegram', chatId: '11' })).toEqual({ telegram: 2_000_000_000 });
  });

  it('redacts the token from error text and derives a valid webhook secret', () => {
    const token = '7123456789:AAFabcdefghijklmnopqrstuvwxyz012345';
    const r = tokenRedactor(token);
    expect(r(`request to http://h/bot${token}/getFile failed`)).toBe(
      'request to http://h/bot<token>/getFile failed',
    );
    expect(r('other 1234567:AAFabcdefghijklmnopqrstuvwxyz0123456789')).toBe('other <token>');
    expect(webhookSecretFor(token)).toMatch(/^[A-Za-z0-9_-]{1,256}$/u);
  });
});
