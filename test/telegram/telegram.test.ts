// The Telegram adapter end to end (issue #5): real grammY pointed at the fake Bot API (client.apiRoot), the real
// service (SQLite, persistent queue, local ffmpeg backend, web server for links) and real encodes of small generated
// clips. The fake is faithful to the documented protocol (test/fakes/telegram-bot-api.ts).
import { createServer } from 'node:net';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { COMMAND_DESCRIPTIONS, createTelegram } from '../../adapters/telegram/telegram-bot.js';
import { liveProcessGroups } from '../../src/media/run-process.js';
import { makeThumbnail } from '../../src/media/thumbnail.js';
import { basicClip, rotatedClip } from '../fixtures/generate.js';
import {
  FakeTelegram,
  NOT_MODIFIED,
  type FakeMessage,
  type RecordedCall,
} from '../fakes/telegram-bot-api.js';
import { callbackData, harness, resultMessageId, sleep, tempDir, text, type Harness } from './helpers.js';

let open: Harness[] = [];
let fakes: FakeTelegram[] = [];
afterEach(async () => {
  for (const h of open) await h.close();
  for (const f of fakes) await f.close();
  open = [];
  fakes = [];
});

async function start(o: Parameters<typeof harness>[0] = {}): Promise<Harness> {
  const h = await harness(o);
  open.push(h);
  if (!o.fake) fakes.push(h.fake);
  return h;
}

const isPlan = (c: RecordedCall): boolean =>
  c.method === 'sendMessage' && c.status === 200 && text(c).startsWith('Got it');
const isResult = (c: RecordedCall): boolean =>
  (c.method === 'sendVideo' || c.method === 'sendDocument') && c.status === 200;

/** The fake's copy of a message the bot sent, for pressing its buttons. */
function sent(h: Harness, c: RecordedCall): FakeMessage {
  const m = h.fake.message(Number(c.params.chat_id), resultMessageId(c));
  if (!m) throw new Error('message not found in the fake');
  return m;
}

async function clipFile(h: Harness): Promise<Awaited<ReturnType<FakeTelegram['addFile']>>> {
  return h.fake.addFile({ path: basicClip(), name: 'clip.mp4' });
}

function noToken(h: Harness): void {
  const all = h.logs.lines.join('\n');
  expect(all).not.toContain(h.fake.token);
  expect(all).not.toContain(h.fake.token.split(':')[1] ?? 'never');
}

describe('telegram adapter (no encodes)', () => {
  it('registers the six commands with descriptions in en, zh, es, de, fr, pt and the default language', async () => {
    const h = await start();
    const langs = ['', ...Object.keys(COMMAND_DESCRIPTIONS)];
    for (const lang of langs) {
      const list = h.fake.commands.get(`{"type":"default"}|${lang}`);
      expect(list?.map((c) => c.command)).toEqual([
        'start',
        'help',
        'compress',
        'status',
        'cancel',
        'credits',
      ]);
    }
    expect(h.fake.commands.get('{"type":"default"}|de')?.[2]?.description).toMatch(/komprimieren/u);
    // Long polling asks only for what the bot handles.
    const poll = await h.fake.waitForCall((c) => c.method === 'getUpdates');
    expect(poll.params.allowed_updates).toEqual(['message', 'callback_query']);
    expect(h.fake.callsOf('deleteWebhook')).toHaveLength(1);
  });

  it('/start answers with help, as a reply to the command', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const asked = h.fake.userSends({ chat, from: u, text: '/start' });
    const reply = await h.fake.waitForCall((c) => c.method === 'sendMessage');
    expect(reply.status).toBe(200);
    expect(text(reply)).toMatch(/Send me a video/u);
    expect(reply.params.reply_parameters).toMatchObject({ message_id: asked.message_id });
  });

  it('a file over the 20 MB download limit gets an upload link, and nothing is fetched from Telegram', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const big = await h.fake.addFile({ size: 25_000_000, name: 'drill.mov' });
    h.fake.userSends({
      chat,
      from: u,
      caption: 'under 10MB',
      video: { file: big, width: 1920, height: 1080, duration: 60, mime: 'video/quicktime' },
    });
    const reply = await h.fake.waitForCall((c) => c.method === 'sendMessage');
    expect(text(reply)).toMatch(/Upload it here/u);
    expect(text(reply)).toMatch(/\/u\/\S+/u);
    expect(text(reply)).toMatch(/25 MB/u);
    expect(h.fake.callsOf('getFile')).toHaveLength(0);
  });

  it('flood limit: a 429 with retry_after=1 on sendMessage is waited out by auto-retry and the message arrives', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    h.fake.failWith429('sendMessage', 1, 1);
    h.fake.userSends({ chat, from: u, text: 'help' });
    const ok = await h.fake.waitForCall((c) => c.method === 'sendMessage' && c.status === 200);
    const calls = h.fake.callsOf('sendMessage');
    expect(calls.map((c) => c.status)).toEqual([429, 200]);
    expect(ok.at - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(1000);
    expect(text(ok)).toMatch(/Send me a video/u);
  });

  it('a download that fails is reported in plain words and the token never reaches the logs', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    // Declared 5 MB but the file route has no bytes for it (404).
    const ghost = await h.fake.addFile({ size: 5_000_000, name: 'ghost.mp4' });
    h.fake.userSends({
      chat,
      from: u,
      caption: 'under 1MB',
      video: { file: ghost, width: 640, height: 360, duration: 4 },
    });
    const reply = await h.fake.waitForCall((c) => c.method === 'sendMessage');
    expect(text(reply)).toMatch(/^❌/u);
    expect(text(reply)).not.toContain(h.fake.token);
    expect(h.fake.callsOf('getFile')).toHaveLength(1);
    await sleep(100);
    noToken(h);
  });

  it('webhook mode: Telegram posts updates to our listener with the secret token; a wrong secret is refused', async () => {
    const fake = await FakeTelegram.start();
    fakes.push(fake);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/telegram/hook`;
    const h = await start({
      fake,
      telegram: { webhookUrl: url, webhookListen: { host: '127.0.0.1', port } },
    });
    expect(fake.webhook?.url).toBe(url);
    expect(fake.webhook?.allowedUpdates).toEqual(['message', 'callback_query']);
    const u = fake.user('Ana');
    const chat = fake.privateChat(u);
    fake.userSends({ chat, from: u, text: '/help' });
    const reply = await fake.waitForCall((c) => c.method === 'sendMessage');
    expect(text(reply)).toMatch(/Send me a video/u);
    const forged = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': 'wrong' },
      body: JSON.stringify({
        update_id: 99,
        message: { message_id: 1, date: 1, chat, from: u, text: '/help' },
      }),
    });
    expect(forged.status).toBe(401);
    expect(h.tg.webhook?.path).toBe('/telegram/hook');
  });
});

describe('telegram adapter with real encodes', () => {
  it('private chat: plan reply, progress edits on that message, result via sendVideo with geometry and caption', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const file = await clipFile(h);
    const asked = h.fake.userSends({
      chat,
      from: u,
      caption: 'under 300KB',
      video: { file, width: 640, height: 360, duration: 4 },
    });
    const t0 = Date.now();
    const plan = await h.fake.waitForCall(isPlan);
    expect(plan.at - t0).toBeLessThan(5000);
    expect(text(plan)).toMatch(/≤ 300 KB/u);
    expect(plan.params.reply_parameters).toMatchObject({ message_id: asked.message_id });
    const [cancel] = callbackData(plan);
    expect(cancel).toMatch(/^c:[A-Za-z0-9_-]{22}$/u);
    const result = await h.fake.waitForCall(isResult, 180_000);
    expect(result.method).toBe('sendVideo');
    expect(result.params.supports_streaming).toBe('true');
    expect(Number(result.params.width)).toBeGreaterThan(0);
    expect(Number(result.params.height)).toBeGreaterThan(0);
    expect(Number(result.params.duration)).toBe(4);
    expect(text(result)).toMatch(/→/u);
    expect(result.files.video?.sizeBytes).toBeLessThanOrEqual(300_000);
    expect(result.files.video?.fileName).toBe('clip-vidshrink.mp4');
    expect(result.params.reply_parameters).toMatchObject({ message_id: asked.message_id });
    expect(callbackData(result).map((d) => d[0])).toEqual(['s', 'b', 'f']);
    // The engine's poster frame travels as the multipart `thumbnail` (JPEG, ≤ 320 px, < 200 kB: bots/api sendVideo).
    const thumb = result.files.thumbnail;
    expect(thumb?.bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(thumb?.sizeBytes).toBeLessThan(200_000);
    const shown = h.fake.message(chat.id, resultMessageId(result))?.video?.thumbnail;
    expect(Math.max(shown?.width ?? 0, shown?.height ?? 0)).toBe(320);
    // One progress message: every edit targets the plan reply; nothing surfaced "not modified".
    const planId = resultMessageId(plan);
    const edits = h.fake.callsOf('editMessageText');
    expect(edits.length).toBeGreaterThan(0);
    expect(edits.every((e) => Number(e.params.message_id) === planId)).toBe(true);
    expect(edits.filter((e) => e.status === 400)).toHaveLength(0);
    expect(h.fake.message(chat.id, planId)?.text).toMatch(/Done/u);
    expect(h.fake.message(chat.id, planId)?.reply_markup).toBeUndefined();
    expect(h.fake.callsOf('sendMessage').filter(isPlan)).toHaveLength(1);
    // The input came through getFile and the file route.
    expect(h.fake.callsOf('getFile')).toHaveLength(1);
    noToken(h);
  });

  it('group: an unaddressed video is ignored; /compress as a reply works; another member cannot cancel it', async () => {
    const h = await start();
    const a = h.fake.user('Ana');
    const b = h.fake.user('Bo');
    const group = h.fake.groupChat('Tool reviews', { forum: true });
    const file = await clipFile(h);
    const video = h.fake.userSends({
      chat: group,
      from: a,
      video: { file, width: 640, height: 360, duration: 4 },
      threadId: 7,
    });
    h.fake.userSends({ chat: group, from: b, text: 'nice clip', threadId: 7 });
    await sleep(1500);
    const spoke = h.fake.calls.filter((c) => /^(send|edit|getFile)/u.test(c.method));
    expect(spoke).toHaveLength(0);
    const ask = h.fake.userSends({
      chat: group,
      from: a,
      text: `/compress@${h.fake.botUser.username ?? ''} under 300KB`,
      replyTo: video,
      threadId: 7,
    });
    const plan = await h.fake.waitForCall(isPlan);
    expect(plan.params.chat_id).toBe(String(group.id));
    expect(plan.params.message_thread_id).toBe(7);
    expect(plan.params.reply_parameters).toMatchObject({ message_id: ask.message_id });
    const [cancel] = callbackData(plan);
    // Bo presses Ana's cancel button: answered at once, refused, and the job goes on.
    h.fake.press(sent(h, plan), b, cancel ?? '');
    await h.fake.waitForCall((c) => c.method === 'answerCallbackQuery' && c.status === 200);
    const refused = await h.fake.waitForCall(
      (c) => c.method === 'sendMessage' && /belongs to someone else/u.test(text(c)),
    );
    expect(refused.params.message_thread_id).toBe(7);
    expect(h.fake.callsOf('getChatMember')).toHaveLength(1);
    const result = await h.fake.waitForCall(isResult, 180_000);
    expect(result.params.message_thread_id).toBe('7');
    expect(result.files.video?.sizeBytes).toBeLessThanOrEqual(300_000);
  });

  it('a result over the upload limit arrives as a download link with a URL button', async () => {
    const h = await start({ telegram: { limits: { maxOutboundBytes: 1000 } } });
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const file = await clipFile(h);
    h.fake.userSends({
      chat,
      from: u,
      caption: 'under 300KB',
      video: { file, width: 640, height: 360, duration: 4 },
    });
    const link = await h.fake.waitForCall(
      (c) => c.method === 'sendMessage' && c.status === 200 && /\/d\//u.test(text(c)),
      180_000,
    );
    const kb = (link.params.reply_markup as { inline_keyboard: { text: string; url?: string }[][] })
      .inline_keyboard;
    expect(kb[0]?.[0]?.text).toBe('Download');
    const url = kb[0]?.[0]?.url ?? '';
    expect(text(link)).toContain(url);
    expect(text(link)).toMatch(/→/u);
    const r = await fetch(url);
    expect(r.status).toBe(200);
    const size = (await r.arrayBuffer()).byteLength;
    expect(size).toBeGreaterThan(1000);
    expect(size).toBeLessThanOrEqual(300_000);
    expect(h.fake.calls.filter(isResult)).toHaveLength(0);
  });

  it('a 429 on editMessageText is not retried; later edits land; "message is not modified" never surfaces', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const file = await clipFile(h);
    h.fake.fail('editMessageText', 1, 400, { ok: false, error_code: 400, description: NOT_MODIFIED });
    h.fake.failWith429('editMessageText', 1, 2);
    h.fake.userSends({
      chat,
      from: u,
      caption: 'under 300KB',
      video: { file, width: 640, height: 360, duration: 4 },
    });
    const plan = await h.fake.waitForCall(isPlan);
    const flood = await h.fake.waitForCall((c) => c.method === 'editMessageText' && c.status === 429, 60_000);
    await h.fake.waitForCall(isResult, 180_000);
    // The final state lands even if the flood wait caught it (parked, then sent once retry_after has passed).
    await h.fake.waitForCall(
      (c) => c.method === 'editMessageText' && c.status === 200 && /Done/u.test(text(c)),
      10_000,
    );
    const edits = h.fake.callsOf('editMessageText');
    // No edit at all while the flood wait lasts, and one 429 only (no retry storm).
    const during = edits.filter((e) => e.at > flood.at && e.at < flood.at + 1900);
    expect(during).toHaveLength(0);
    expect(edits.filter((e) => e.status === 429)).toHaveLength(1);
    const after = edits.filter((e) => e.at >= flood.at + 1900 && e.status === 200);
    expect(after.length).toBeGreaterThan(0);
    expect(h.fake.message(chat.id, resultMessageId(plan))?.text).toMatch(/Done/u);
    // Nobody was told about the refusals.
    const said = h.fake.callsOf('sendMessage').map(text).join('\n');
    expect(said).not.toMatch(/not modified|Too Many Requests|❌/u);
  });

  it('a restart mid-job resumes and edits the same progress message, then delivers', async () => {
    const fake = await FakeTelegram.start();
    fakes.push(fake);
    const dataDir = await tempDir();
    const first = await harness({ fake, dataDir });
    open.push(first);
    const u = fake.user('Ana');
    const chat = fake.privateChat(u);
    const file = await fake.addFile({ path: basicClip(), name: 'clip.mp4' });
    fake.userSends({
      chat,
      from: u,
      caption: 'under 300KB',
      video: { file, width: 640, height: 360, duration: 4 },
    });
    const plan = await fake.waitForCall(isPlan);
    const planId = resultMessageId(plan);
    await fake.waitForCall(
      (c) => c.method === 'editMessageText' && c.status === 200 && /%/u.test(text(c)),
      60_000,
    );
    await first.close();
    expect(liveProcessGroups()).toBe(0);
    const before = fake.calls.length;
    const second = await start({ fake, dataDir });
    const resumed = await fake.waitForCall(
      (c) => fake.calls.indexOf(c) >= before && c.method === 'editMessageText' && /Resumed/u.test(text(c)),
      60_000,
    );
    expect(Number(resumed.params.message_id)).toBe(planId);
    expect(resumed.status).toBe(200);
    const result = await fake.waitForCall(isResult, 180_000);
    expect(result.files.video?.sizeBytes).toBeLessThanOrEqual(300_000);
    // One plan reply in all: the video was not taken as a new message after the restart.
    expect(fake.callsOf('sendMessage').filter(isPlan)).toHaveLength(1);
    expect(second.fake).toBe(fake);
  });

  it('the cancel button kills the job: no ffmpeg left, no result', async () => {
    const h = await start();
    const u = h.fake.user('Ana');
    const chat = h.fake.privateChat(u);
    const file = await clipFile(h);
    h.fake.userSends({
      chat,
      from: u,
      caption: 'without losing quality',
      video: { file, width: 640, height: 360, duration: 4 },
    });
    const plan = await h.fake.waitForCall(isPlan);
    await h.fake.waitForCall(
      (c) => c.method === 'editMessageText' && /%|Still working|Measuring|Compressing/u.test(text(c)),
      60_000,
    );
    const [cancel] = callbackData(plan);
    h.fake.press(sent(h, plan), u, cancel ?? '');
    await h.fake.waitForCall((c) => c.method === 'editMessageText' && /Cancelled/u.test(text(c)), 30_000);
    // The cancel sends SIGTERM, then SIGKILL after a 2-s grace (run-process.ts): poll instead of guessing a delay.
    await expect.poll(() => liveProcessGroups(), { timeout: 5_000 }).toBe(0);
    expect(h.fake.calls.filter(isResult)).toHaveLength(0);
    // Private chats need no admin lookup.
    expect(h.fake.callsOf('getChatMember')).toHaveLength(0);
  });

  it('sends a poster thumbnail (JPEG ≤ 320 px, < 200 kB) with the video when one is given', async () => {
    const fake = await FakeTelegram.start();
    fakes.push(fake);
    const dir = await tempDir();
    const thumb = join(dir, 'thumb.jpg');
    await makeThumbnail(basicClip(), thumb);
    expect(statSync(thumb).size).toBeLessThan(200_000);
    const tg = createTelegram({
      token: fake.token,
      apiRoot: fake.apiRoot,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });
    const u = fake.user('Ana');
    const chat = fake.privateChat(u);
    const ref = await tg.port.sendFile({ platform: 'telegram', chatId: String(chat.id) }, basicClip(), {
      caption: 'clip',
      fileName: 'clip-vidshrink.mp4',
      asDocument: false,
      width: 640,
      height: 360,
      durationSec: 4,
      thumbnailPath: thumb,
    });
    const m = fake.message(chat.id, Number(ref.messageId));
    expect(m?.video?.thumbnail?.width).toBe(320);
    expect(m?.video?.thumbnail?.height).toBe(180);
    const call = fake.callsOf('sendVideo')[0];
    expect(call?.files.thumbnail?.bytes.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    // "Send as file" is a document, byte for byte.
    await tg.port.sendFile({ platform: 'telegram', chatId: String(chat.id) }, basicClip(), {
      caption: 'clip',
      fileName: 'clip-vidshrink.mp4',
      asDocument: true,
      width: 640,
      height: 360,
      durationSec: 4,
    });
    const doc = fake.callsOf('sendDocument')[0];
    expect(doc?.files.document?.sizeBytes).toBe(statSync(basicClip()).size);
    expect(doc?.params.disable_content_type_detection).toBe('true');
  });
});

describe('makeThumbnail', () => {
  it('falls back to the first frame of a sub-second clip and keeps a portrait clip upright, ≤ 320 px', async () => {
    const dir = await tempDir();
    const short = join(dir, 'short.mp4');
    const r = spawnSync('ffmpeg', [
      ...['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=1280x720:r=30:d=0.5'],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', short],
    ]);
    expect(r.status).toBe(0);
    const a = join(dir, 'a.jpg');
    await makeThumbnail(short, a);
    expect(jpegSize(a)).toEqual({ width: 320, height: 180 });
    const b = join(dir, 'b.jpg');
    await makeThumbnail(rotatedClip(), b);
    expect(jpegSize(b)).toEqual({ width: 180, height: 320 });
    expect(statSync(b).size).toBeLessThan(200_000);
    expect(liveProcessGroups()).toBe(0);
  });
});

function jpegSize(path: string): { width: number; height: number } | null {
  const b = readFileSync(path);
  let i = 2;
  while (i + 9 < b.length) {
    const marker = b[i + 1] ?? 0;
    if (marker >= 0xc0 && marker <= 0xc3)
      return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
    i += 2 + b.readUInt16BE(i + 2);
  }
  return null;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const p = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(p));
    });
  });
}
