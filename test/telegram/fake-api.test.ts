// The fake Bot API itself, driven by grammY's real client: the shapes and refusals the adapter tests rely on.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { autoRetry } from '@grammyjs/auto-retry';
import { Api, GrammyError, InputFile } from 'grammy';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FakeTelegram,
  NOT_MODIFIED,
  parseMultipart,
  type FakeTelegramOptions,
} from '../fakes/telegram-bot-api.js';
import { tempDir } from './helpers.js';

let fakes: FakeTelegram[] = [];
afterEach(async () => {
  for (const f of fakes) await f.close();
  fakes = [];
});

async function fake(o: FakeTelegramOptions = {}): Promise<FakeTelegram> {
  const f = await FakeTelegram.start(o);
  fakes.push(f);
  return f;
}

const apiOf = (f: FakeTelegram): Api => new Api(f.token, { apiRoot: f.apiRoot });

async function refusal(p: Promise<unknown>): Promise<GrammyError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof GrammyError) return e;
    throw e;
  }
  throw new Error('expected a GrammyError');
}

describe('fake Telegram Bot API', () => {
  it('answers getMe, refuses a wrong token (401) and unknown methods (404)', async () => {
    const f = await fake();
    const me = await apiOf(f).getMe();
    expect(me.is_bot).toBe(true);
    expect(me.username).toBe(f.botUser.username);
    const wrong = new Api('1:wrong', { apiRoot: f.apiRoot });
    expect((await refusal(wrong.getMe())).error_code).toBe(401);
    const r = await fetch(`${f.apiRoot}/bot${f.token}/noSuchMethod`, { method: 'POST' });
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ ok: false, error_code: 404, description: 'Not Found' });
  });

  it('long-polls getUpdates: holds the request until an update arrives, confirms by offset', async () => {
    const f = await fake();
    const api = apiOf(f);
    const u = f.user('Ana');
    const chat = f.privateChat(u);
    const t0 = Date.now();
    const pending = api.getUpdates({ timeout: 5 });
    setTimeout(() => f.userSends({ chat, from: u, text: 'hello' }), 200);
    const got = await pending;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(got).toHaveLength(1);
    expect(got[0]?.message?.text).toBe('hello');
    // Not confirmed yet: delivered again; confirmed with offset = last id + 1: gone.
    expect(await api.getUpdates({ timeout: 0 })).toHaveLength(1);
    const id = got[0]?.update_id ?? 0;
    expect(await api.getUpdates({ offset: id + 1, timeout: 0 })).toHaveLength(0);
    // An empty long poll ends after its timeout with [].
    const t1 = Date.now();
    expect(await api.getUpdates({ offset: id + 1, timeout: 1 })).toEqual([]);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(900);
  });

  it('sendMessage/editMessageText: replies, keyboards, "message is not modified", Telegram refusals', async () => {
    const f = await fake();
    const api = apiOf(f);
    const u = f.user('Ana');
    const chat = f.privateChat(u);
    const asked = f.userSends({ chat, from: u, text: 'hi' });
    const kb = { inline_keyboard: [[{ text: 'Cancel', callback_data: 'c:job' }]] };
    const m = await api.sendMessage(chat.id, 'plan', {
      reply_parameters: { message_id: asked.message_id },
      reply_markup: kb,
    });
    expect(m.reply_to_message?.message_id).toBe(asked.message_id);
    expect(m.reply_markup).toEqual(kb);
    await api.editMessageText(chat.id, m.message_id, 'plan 10%', { reply_markup: kb });
    const same = await refusal(api.editMessageText(chat.id, m.message_id, 'plan 10%', { reply_markup: kb }));
    expect(same.error_code).toBe(400);
    expect(same.description).toBe(NOT_MODIFIED);
    // Omitting reply_markup removes the keyboard, so the same text is a modification.
    const edited = await api.editMessageText(chat.id, m.message_id, 'plan 10%');
    expect(edited === true ? null : edited.reply_markup).toBeUndefined();
    expect((await refusal(api.editMessageText(chat.id, 999, 'x'))).description).toBe(
      'Bad Request: message to edit not found',
    );
    expect((await refusal(api.editMessageText(chat.id, asked.message_id, 'x'))).description).toBe(
      "Bad Request: message can't be edited",
    );
    expect((await refusal(api.sendMessage(chat.id, ''))).description).toBe(
      'Bad Request: message text is empty',
    );
    expect((await refusal(api.sendMessage(chat.id, 'x'.repeat(4097)))).description).toBe(
      'Bad Request: message is too long',
    );
    expect((await refusal(api.sendMessage(424242, 'x'))).description).toBe('Bad Request: chat not found');
    expect(
      (await refusal(api.sendMessage(chat.id, 'x', { reply_parameters: { message_id: 999 } }))).description,
    ).toBe('Bad Request: message to be replied not found');
    await api.sendMessage(chat.id, 'x', {
      reply_parameters: { message_id: 999, allow_sending_without_reply: true },
    });
    const longData = { inline_keyboard: [[{ text: 'X', callback_data: 'x'.repeat(65) }]] };
    expect((await refusal(api.sendMessage(chat.id, 'x', { reply_markup: longData }))).description).toBe(
      'Bad Request: BUTTON_DATA_INVALID',
    );
  });

  it('parses grammY multipart uploads (sendVideo with a thumbnail) and refuses uploads over the limit with 413', async () => {
    const f = await fake({ maxUploadBytes: 50_000 });
    const api = apiOf(f);
    const u = f.user('Ana');
    const chat = f.privateChat(u);
    const dir = await tempDir();
    const video = join(dir, 'my clip é.mp4');
    await writeFile(video, Buffer.alloc(30_000, 7));
    // A minimal JPEG header with an SOF0 of 320×180.
    const jpeg = Buffer.from([
      0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0xb4, 0x01, 0x40, 0x03, 0x01, 0x22, 0x00, 0x02, 0x11,
      0x01, 0x03, 0x11, 0x01, 0xff, 0xd9,
    ]);
    const thumb = join(dir, 't.jpg');
    await writeFile(thumb, jpeg);
    const m = await api.sendVideo(chat.id, new InputFile(video, 'my clip é.mp4'), {
      caption: 'result',
      supports_streaming: true,
      width: 640,
      height: 360,
      duration: 4,
      thumbnail: new InputFile(thumb),
    });
    expect(m.video.file_size).toBe(30_000);
    expect(m.video.width).toBe(640);
    expect(m.video.thumbnail).toMatchObject({ width: 320, height: 180 });
    const call = f.callsOf('sendVideo')[0];
    expect(call?.params.supports_streaming).toBe('true');
    expect(call?.files.video?.sizeBytes).toBe(30_000);
    expect(call?.files.video?.fileName).toBe('my clip é.mp4');
    expect(call?.files.thumbnail?.sizeBytes).toBe(jpeg.length);
    // A file over the upload limit: 413 Request Entity Too Large, as Telegram's front end answers.
    const big = join(dir, 'big.mp4');
    await writeFile(big, Buffer.alloc(60_000, 1));
    const e = await refusal(api.sendDocument(chat.id, new InputFile(big)));
    expect(e.error_code).toBe(413);
    expect(e.description).toBe('Request Entity Too Large');
  });

  it('getFile refuses files over the download limit; the file route serves the bytes', async () => {
    const f = await fake();
    const api = apiOf(f);
    const dir = await tempDir();
    const path = join(dir, 'v.mp4');
    await writeFile(path, Buffer.alloc(1234, 3));
    const small = await f.addFile({ path });
    const big = await f.addFile({ size: 25_000_000 });
    const file = await api.getFile(small.file_id);
    expect(file.file_size).toBe(1234);
    const r = await fetch(`${f.apiRoot}/file/bot${f.token}/${file.file_path ?? ''}`);
    expect(r.status).toBe(200);
    expect((await r.arrayBuffer()).byteLength).toBe(1234);
    expect((await fetch(`${f.apiRoot}/file/bot1:wrong/${file.file_path ?? ''}`)).status).toBe(404);
    expect((await refusal(api.getFile(big.file_id))).description).toBe('Bad Request: file is too big');
    expect((await refusal(api.getFile('nope'))).description).toBe('Bad Request: invalid file_id');
  });

  it('injects 429 with retry_after; grammY auto-retry waits it out', async () => {
    const f = await fake();
    const api = apiOf(f);
    api.config.use(autoRetry());
    const u = f.user('Ana');
    const chat = f.privateChat(u);
    f.failWith429('sendMessage', 1, 1);
    const t0 = Date.now();
    await api.sendMessage(chat.id, 'after the flood wait');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    const calls = f.callsOf('sendMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(calls[0]?.response).toEqual({
      ok: false,
      error_code: 429,
      description: 'Too Many Requests: retry after 1',
      parameters: { retry_after: 1 },
    });
  });

  it('validates setMyCommands and answerCallbackQuery like Telegram', async () => {
    const f = await fake();
    const api = apiOf(f);
    await api.setMyCommands([{ command: 'compress', description: 'Compress' }], { language_code: 'de' });
    expect(f.commands.get('{"type":"default"}|de')).toEqual([
      { command: 'compress', description: 'Compress' },
    ]);
    expect((await refusal(api.setMyCommands([{ command: 'Bad-Cmd', description: 'x' }]))).description).toBe(
      'Bad Request: BOT_COMMAND_INVALID',
    );
    expect((await refusal(api.answerCallbackQuery('123'))).description).toMatch(/query is too old/u);
  });

  it('parses multipart the lenient way Telegram does (unquoted file names, no space after the colon)', () => {
    const b = '----------abc';
    const body = Buffer.from(
      `--${b}\r\ncontent-disposition:form-data;name="chat_id"\r\n\r\n42\r\n--${b}\r\ncontent-disposition:form-data;name="x1";filename=my clip.mp4\r\ncontent-type:application/octet-stream\r\n\r\nBYTES\r\n--${b}--\r\n`,
    );
    const parts = parseMultipart(body, b);
    expect(parts.map((p) => [p.name, p.fileName, p.data.toString()])).toEqual([
      ['chat_id', null, '42'],
      ['x1', 'my clip.mp4', 'BYTES'],
    ]);
  });
});
