// The Discord adapter against the fake Discord with the real discord.js, without encodes: a stub engine records
// what the bot hands over and answers through the real DiscordPort. The fake's own rules are checked here too.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DiscordBot } from '../../adapters/discord/discord-bot.js';
import { DiscordPort, DiscordUploadTooLargeError } from '../../adapters/discord/discord-port.js';
import type { ChatPort, InboundMessage, MessageRef } from '../../src/conversation/types.js';
// Loaded as in the service: it imports undici 8, whose global dispatcher broke discord.js uploads once (see
// discord-bot.ts makeRequest); the upload test below would catch that again.
import '../../src/net/safe-download.js';
import { FakeDiscord, INTENTS, type RecordedCall } from '../fakes/discord.js';
import { bot, silent, until, type EngineLike } from './helpers.js';

class StubEngine implements EngineLike {
  port: ChatPort | null = null;
  readonly msgs: InboundMessage[] = [];
  readonly refs: MessageRef[] = [];
  reply = async (m: InboundMessage): Promise<void> => {
    if (!this.port) throw new Error('no port');
    this.refs.push(await this.port.sendText(m.chat, `echo: ${m.text}`, { replyTo: m.messageId }));
  };
  registerPort(p: ChatPort): void {
    this.port = p;
  }
  async handle(m: InboundMessage): Promise<void> {
    this.msgs.push(m);
    await this.reply(m);
  }
}

let fakes: FakeDiscord[] = [];
let bots: DiscordBot[] = [];
afterEach(async () => {
  for (const b of bots) await b.stop();
  for (const f of fakes) await f.close();
  bots = [];
  fakes = [];
});

async function setup(
  o: { maxInboundBytes?: number; now?: () => number; fake?: FakeDiscord } = {},
): Promise<{ fake: FakeDiscord; b: DiscordBot; engine: StubEngine }> {
  const fake = o.fake ?? (await FakeDiscord.start());
  if (!o.fake) fakes.push(fake);
  const b = bot(fake, o);
  bots.push(b);
  const engine = new StubEngine();
  engine.registerPort(b.port);
  await b.start(engine);
  return { fake, b, engine };
}

async function randomFile(bytes: number, name = 'clip.mp4'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vidshrink-dc-'));
  const p = join(dir, name);
  await writeFile(p, randomBytes(bytes));
  return p;
}

const isOriginalEdit = (token: string) => (c: RecordedCall) =>
  c.method === 'PATCH' && c.path.endsWith(`/${token}/messages/@original`);

describe('fake Discord + discord.js + DiscordPort', () => {
  it('connects with minimal intents and registers the commands', async () => {
    const { fake } = await setup();
    expect(fake.identifies[0]?.intents).toBe(INTENTS.Guilds | INTENTS.GuildMessages | INTENTS.DirectMessages);
    const cmds = fake.commands.guild.get(fake.guildId) ?? [];
    expect(cmds.map((c) => c.name)).toEqual(['compress', 'status', 'cancel', 'help', 'Compress this video']);
    const compress = cmds[0] as { options: { type: number; name: string }[] };
    expect(compress.options.map((o) => o.type)).toEqual([11, 3]);
    expect(cmds[4]?.type).toBe(3);
  });

  it('/compress defers within 3 s, the first reply edits @original, the attachment downloads with a byte cap', async () => {
    const { fake, b, engine } = await setup();
    const file = await randomFile(200_000);
    const att = fake.cdnFile(file);
    const dest = join(await mkdtemp(join(tmpdir(), 'vidshrink-dc-')), 'in.mp4');
    engine.reply = async (m) => {
      await m.attachments[0]?.download(dest, 1e9, AbortSignal.timeout(10_000));
      engine.refs.push(await b.port.sendText(m.chat, 'plan', { replyTo: m.messageId }));
    };
    const user = fake.user('ana');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      attachment: att,
      strings: { instruction: 'under 300KB' },
      attachmentSizeLimit: 10_485_760,
      locale: 'pt-BR',
    });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${it0.id}/`));
    expect(cb.status).toBe(204);
    expect((cb.body as { type: number }).type).toBe(5);
    expect((it0.ackAt ?? Infinity) - it0.dispatchedAt).toBeLessThan(3000);
    const edit = await fake.waitForCall(isOriginalEdit(it0.token));
    expect(edit.status).toBe(200);
    expect((edit.body as { content: string }).content).toBe('plan');
    const m = engine.msgs[0];
    expect(m).toMatchObject({
      chat: { platform: 'discord', chatId: fake.channelId },
      chatKind: 'group',
      sender: { id: user.id, language: 'pt-BR' },
      text: 'under 300KB',
      addressed: true,
    });
    expect(m?.messageId).toBe(`i:${it0.id}:${user.id}`);
    expect(m?.attachments[0]).toMatchObject({ fileName: 'clip.mp4', sizeBytes: 200_000, kind: 'video' });
    expect((await readFile(dest)).equals(await readFile(file))).toBe(true);
    // The declared size is not trusted: the byte count stops the download.
    await expect(m?.attachments[0]?.download(dest, 1000, AbortSignal.timeout(10_000))).rejects.toMatchObject({
      code: 'INPUT_LIMITS',
    });
    // The interaction's attachment_size_limit is the chat's upload limit and what "for Discord" means.
    expect(b.port.limits(m!.chat).maxOutboundBytes).toBe(10_485_760);
    expect(b.port.platformLimits(m!.chat)).toEqual({ discord: 10_485_760 });
    expect(b.port.limits({ platform: 'discord', chatId: '1' }).maxOutboundBytes).toBe(10 * 1024 * 1024);
    // The original message is the deferred reply, edited in place.
    expect(fake.messages.get(it0.originalMessageId ?? '')?.content).toBe('plan');
  });

  it('enforces the 3-second rule, one acknowledgement, the 15-minute token and signed CDN URLs', async () => {
    const fake = await FakeDiscord.start();
    fakes.push(fake);
    const auth = { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' };
    const put = await fetch(`${fake.restApi}/v10/applications/${fake.applicationId}/commands`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify([{ name: 'help', description: 'Help', type: 1 }]),
    });
    expect(put.status).toBe(200);
    const bad = await fetch(`${fake.restApi}/v10/applications/${fake.applicationId}/commands`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify([{ name: 'Has Spaces', description: 'x', type: 1 }]),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: number }).code).toBe(50035);
    const user = fake.user('bo');
    const cb = (id: string, token: string, type = 5): Promise<Response> =>
      fetch(`${fake.restApi}/v10/interactions/${id}/${token}/callback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type }),
      });
    const late = fake.slashCommand({ name: 'help', user });
    fake.advance(3100);
    const r1 = await cb(late.id, late.token);
    expect(r1.status).toBe(404);
    expect(((await r1.json()) as { code: number }).code).toBe(10062);
    const twice = fake.slashCommand({ name: 'help', user });
    expect((await cb(twice.id, twice.token)).status).toBe(204);
    const r2 = await cb(twice.id, twice.token);
    expect(((await r2.json()) as { code: number }).code).toBe(40060);
    const edit = (): Promise<Response> =>
      fetch(`${fake.restApi}/v10/webhooks/${fake.applicationId}/${twice.token}/messages/%40original`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ content: 'x' }),
      });
    expect((await edit()).status).toBe(200);
    fake.advance(15 * 60_000);
    const r3 = await edit();
    expect(r3.status).toBe(401);
    expect(((await r3.json()) as { code: number }).code).toBe(50027);
    const att = fake.cdnFile(await randomFile(10));
    expect((await fetch(att.url)).status).toBe(200);
    // Change the signature's first digit (replacing it with a fixed '0' left it valid 1 time in 16).
    const forged = att.url.replace(/hm=(.)/u, (_m, c: string) => `hm=${c === '0' ? '1' : '0'}`);
    expect((await fetch(forged)).status).toBe(404);
    fake.advance(86_400_000);
    expect((await fetch(att.url)).status).toBe(404);
  });

  it('a mention with an attachment reaches the engine; unaddressed chatter never does; threads keep their id', async () => {
    const { fake, engine } = await setup();
    const user = fake.user('cy');
    const att = fake.cdnFile(await randomFile(1000), { name: 'trip.mov', contentType: 'video/quicktime' });
    const posted = fake.userMessage({ user, content: 'under 8MB', mentionBot: true, attachments: [att] });
    const reply = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`,
    );
    expect((reply.body as { message_reference: { message_id: string } }).message_reference.message_id).toBe(
      posted.id,
    );
    expect(engine.msgs[0]).toMatchObject({
      text: 'under 8MB',
      messageId: posted.id,
      chatKind: 'group',
      addressed: true,
    });
    expect(engine.msgs[0]?.attachments[0]).toMatchObject({ fileName: 'trip.mov', kind: 'video' });
    fake.userMessage({ user, content: 'lol nice', attachments: [att] });
    fake.userMessage({ user, channelId: fake.threadId, content: 'for discord', mentionBot: true });
    await until(() => engine.msgs.length >= 2, 10_000, 'the thread message');
    expect(engine.msgs).toHaveLength(2);
    expect(engine.msgs[1]?.chat).toEqual({
      platform: 'discord',
      chatId: fake.channelId,
      threadId: fake.threadId,
    });
    await fake.waitForCall((c) => c.method === 'POST' && c.path === `/channels/${fake.threadId}/messages`);
    // A DM needs no mention.
    const dm = fake.dmChannel(user);
    fake.userMessage({ user, channelId: dm, content: 'help' });
    await until(() => engine.msgs.length >= 3, 10_000, 'the DM');
    expect(engine.msgs[2]).toMatchObject({ chatKind: 'private', chat: { chatId: dm }, text: 'help' });
  });

  it('the context-menu command and the buttons become InboundMessages', async () => {
    const { fake, b, engine } = await setup();
    const user = fake.user('di');
    const att = fake.cdnFile(await randomFile(1000));
    // Someone else's message without a mention: the context menu is how the bot gets at its video.
    const target = fake.userMessage({ user: fake.user('eve'), content: 'look', attachments: [att] });
    const ctx = fake.messageCommand({ name: 'Compress this video', user, target });
    await fake.waitForCall(isOriginalEdit(ctx.token));
    expect(engine.msgs[0]).toMatchObject({ text: '', messageId: `i:${ctx.id}:${user.id}` });
    expect(engine.msgs[0]?.attachments).toHaveLength(1);
    expect(engine.msgs[0]?.replyTo?.messageId).toBe(target.id);
    // A progress message with a cancel button; pressing it is a DEFERRED_UPDATE_MESSAGE and a button message.
    const ref = await b.port.sendText(engine.msgs[0]!.chat, 'working', {
      buttons: [{ action: 'cancel', label: 'Cancel', jobId: 'job_1-x' }],
    });
    const msg = fake.messages.get(ref.messageId);
    if (!msg) throw new Error('no message');
    expect(JSON.stringify(msg.components)).toContain('vs:cancel:job_1-x');
    engine.reply = () => Promise.resolve();
    const press = fake.pressButton({ user, message: msg, customId: 'vs:cancel:job_1-x' });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${press.id}/`));
    expect((cb.body as { type: number }).type).toBe(6);
    await until(() => engine.msgs.length >= 2, 10_000, 'the button');
    expect(engine.msgs[1]).toMatchObject({ button: { action: 'cancel', jobId: 'job_1-x' }, text: '' });
  });

  it('a 429 on an edit is dropped at once, not queued; the latest text lands after retry_after', async () => {
    const { fake, b } = await setup();
    const chat = { platform: 'discord', chatId: fake.channelId };
    const ref = await b.port.sendText(chat, 'v0');
    fake.inject429('PATCH', /^\/channels\/\d+\/messages\/\d+$/u, { count: 1, retryAfterSec: 0.6 });
    const t0 = Date.now();
    await b.port.editText(ref, 'v1');
    expect(Date.now() - t0).toBeLessThan(500);
    const limited = await fake.waitForCall((c) => c.status === 429);
    expect(limited.method).toBe('PATCH');
    // A newer edit replaces the dropped one; "v1" is never re-sent.
    await b.port.editText(ref, 'v2');
    await until(() => fake.messages.get(ref.messageId)?.content === 'v2', 10_000, 'v2');
    await new Promise((r) => setTimeout(r, 800));
    const landed = fake.calls.filter((c) => c.method === 'PATCH' && c.status === 200);
    expect(landed.map((c) => (c.body as { content: string }).content)).toEqual(['v2']);
    expect(fake.messages.get(ref.messageId)?.content).toBe('v2');
  });

  it('past 14 minutes progress moves to a channel message, and a restarted port finds it again', async () => {
    let offset = 0;
    const now = (): number => Date.now() + offset;
    const { fake, b, engine } = await setup({ now });
    const user = fake.user('fa');
    const it0 = fake.slashCommand({ name: 'status', user });
    await fake.waitForCall(isOriginalEdit(it0.token));
    await until(() => engine.refs.length === 1, 5000, 'the ref');
    const ref = engine.refs[0]!;
    // The ref is JSON-safe and survives a round trip through the database.
    expect(JSON.parse(JSON.stringify(ref))).toEqual(ref);
    await b.port.editText(ref, '10%');
    expect(fake.messages.get(it0.originalMessageId ?? '')?.content).toBe('10%');
    offset += 14.5 * 60_000;
    fake.advance(14.5 * 60_000);
    await b.port.editText(ref, '60%');
    const moved = fake
      .channelMessages(fake.channelId)
      .find((m) => m.message_reference?.message_id === it0.originalMessageId);
    expect(moved?.content).toBe('60%');
    expect(fake.messages.get(it0.originalMessageId ?? '')?.content).toMatch(
      /continues in the message below/u,
    );
    await b.port.editText(ref, '70%');
    expect(moved?.content).toBe('70%');
    // A new process (no memory of the switch) edits the same channel message.
    fake.advance(60_000);
    const restarted = new DiscordPort({
      rest: b.client.rest,
      applicationId: fake.applicationId,
      maxInboundBytes: 1e9,
      log: silent,
      now: () => now() + 60_000,
    });
    await restarted.editText(ref, '90%');
    expect(moved?.content).toBe('90%');
    expect(
      fake
        .channelMessages(fake.channelId)
        .filter((m) => m.message_reference?.message_id === it0.originalMessageId),
    ).toHaveLength(1);
  });

  it('an upload Discord refuses with 40005 lowers the limit and tells the engine; links are buttons', async () => {
    const fake = await FakeDiscord.start({ maxRequestBytes: 4000 });
    fakes.push(fake);
    const { b } = await setup({ fake });
    const chat = { platform: 'discord', chatId: fake.channelId };
    const file = await randomFile(5000);
    const opts = {
      caption: 'done',
      fileName: 'clip-vidshrink.mp4',
      asDocument: false,
      width: 1,
      height: 1,
      durationSec: 1,
    };
    await expect(b.port.sendFile(chat, file, opts)).rejects.toBeInstanceOf(DiscordUploadTooLargeError);
    const refused = fake.calls.find((c) => c.status === 413);
    expect(refused?.errorCode).toBe(40005);
    expect(b.port.limits(chat).maxOutboundBytes).toBe(4999);
    const ref = await b.port.sendLink(
      chat,
      {
        url: 'http://127.0.0.1:1/d/abc',
        fileName: 'clip-vidshrink.mp4',
        sizeBytes: 5000,
        expiresAtMs: Date.now() + 3600_000,
      },
      { caption: 'done', buttons: [{ action: 'smaller', label: 'Smaller', jobId: 'j' }] },
    );
    const msg = fake.messages.get(ref.messageId);
    expect(JSON.stringify(msg?.components)).toContain('"style":5');
    expect(JSON.stringify(msg?.components)).toContain('http://127.0.0.1:1/d/abc');
    // A small file goes through as a real multipart upload and lands on the CDN byte for byte.
    const small = await randomFile(1500);
    const sent = await b.port.sendFile(chat, small, opts);
    const att = fake.messages.get(sent.messageId)?.attachments[0];
    expect(att?.filename).toBe('clip-vidshrink.mp4');
    expect(fake.attachmentBytes(att?.url ?? '')?.equals(await readFile(small))).toBe(true);
  });
});
