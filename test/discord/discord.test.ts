// Discord end to end: the real discord.js (REST + gateway) pointed at the fake Discord, the real service (SQLite,
// persistent queue, local ffmpeg backend, link server) and the Discord adapter, with real encodes of small clips.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createDiscordBot, type DiscordBot } from '../../adapters/discord/discord-bot.js';
import { startService, type Service } from '../../src/apps/service.js';
import { loadServiceConfig } from '../../src/config/service.js';
import { liveProcessGroups } from '../../src/media/run-process.js';
import { FakeDiscord, type FakeInteraction, type RecordedCall } from '../fakes/discord.js';
import { longClip, smallClip } from './clips.js';
import { silent, until } from './helpers.js';

interface World {
  fake: FakeDiscord;
  bot: DiscordBot;
  svc: Service;
  dir: string;
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => undefined);
  cleanup = [];
});

async function service(dir: string, bot: DiscordBot): Promise<Service> {
  const cfg = loadServiceConfig({
    VIDSHRINK_DATA_DIR: dir,
    VIDSHRINK_PORT: '0',
    LOG_LEVEL: 'silent',
    VIDSHRINK_RATE_PER_MINUTE: '100',
  });
  // The port goes in before engine.start(), so a resumed job finds its adapter.
  const svc = await startService(cfg, {
    listenPort: 0,
    logger: pino({ level: 'silent' }),
    ports: [bot.port],
  });
  await bot.start(svc.engine);
  return svc;
}

function newBot(fake: FakeDiscord): DiscordBot {
  return createDiscordBot({
    token: fake.token,
    applicationId: fake.applicationId,
    guildId: fake.guildId,
    restApi: fake.restApi,
    maxInboundBytes: 2000e6,
    logger: silent,
  });
}

async function world(o: { fake?: FakeDiscord; dir?: string } = {}): Promise<World> {
  const fake = o.fake ?? (await FakeDiscord.start());
  if (!o.fake) cleanup.push(() => fake.close());
  const dir = o.dir ?? (await mkdtemp(join(tmpdir(), 'vidshrink-discord-')));
  const bot = newBot(fake);
  const svc = await service(dir, bot);
  cleanup.push(async () => {
    await bot.stop();
    await svc.close();
  });
  return { fake, bot, svc, dir };
}

const content = (c: RecordedCall): string => (c.body as { content?: string } | null)?.content ?? '';
const originalEdit =
  (it: FakeInteraction) =>
  (c: RecordedCall): boolean =>
    c.method === 'PATCH' && c.path.endsWith(`/${it.token}/messages/@original`);
const followUp =
  (fake: FakeDiscord, it: FakeInteraction) =>
  (c: RecordedCall): boolean =>
    c.method === 'POST' && c.path === `/webhooks/${fake.applicationId}/${it.token}`;
/** The plan reply; progress edits repeat it as their header, followed by a blank line and the progress. */
const isPlan = (c: RecordedCall): boolean => content(c).startsWith('Got it') && !content(c).includes('\n\n');

describe('Discord adapter end to end (discord.js ⇄ fake Discord, real encodes)', () => {
  it('/compress "under 8MB without losing quality": deferred within 3 s, plan and progress edit @original, result is a new follow-up ≤ cap', async () => {
    const { fake } = await world();
    const user = fake.user('ana');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      // ~17 s of work on 2 cores (a quality search under a cap): long enough for throttled progress edits.
      attachment: fake.cdnFile(longClip(), { name: 'ride.mp4' }),
      strings: { instruction: 'under 8MB without losing quality' },
      attachmentSizeLimit: 10_485_760,
    });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${it0.id}/`));
    expect(cb.status).toBe(204);
    expect((cb.body as { type: number }).type).toBe(5);
    expect((it0.ackAt ?? Infinity) - it0.dispatchedAt).toBeLessThan(3000);
    const plan = await fake.waitForCall((c) => originalEdit(it0)(c) && isPlan(c));
    expect(plan.status).toBe(200);
    expect(content(plan)).toMatch(/≤ 8 MB/u);
    expect(JSON.stringify((plan.body as { components: unknown }).components)).toMatch(
      /"custom_id":"vs:cancel:/u,
    );
    const result = await fake.waitForCall((c) => followUp(fake, it0)(c) && c.files.length > 0, 120_000);
    expect(result.status).toBe(200);
    expect(result.files[0]?.name).toBe('ride-vidshrink.mp4');
    expect(result.files[0]?.size).toBeLessThanOrEqual(8_000_000);
    // Edits do not notify: the result is a new message that mentions the requester.
    expect(content(result)).toContain(`<@${user.id}>`);
    expect((result.body as { allowed_mentions: { users: string[] } }).allowed_mentions.users).toEqual([
      user.id,
    ]);
    const resultMsg = fake.channelMessages(fake.channelId).find((m) => m.attachments.length > 0);
    expect(resultMsg?.id).not.toBe(it0.originalMessageId);
    expect(fake.attachmentBytes(resultMsg?.attachments[0]?.url ?? '')?.length).toBeLessThanOrEqual(8_000_000);
    // One progress message: every edit lands on the deferred reply, throttled to ≥ ~5 s, ending in "Done".
    await until(
      () => /✅ Done/u.test(fake.messages.get(it0.originalMessageId ?? '')?.content ?? ''),
      10_000,
      'done',
    );
    const edits = fake.calls.filter((c) => originalEdit(it0)(c) && c.status === 200);
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(fake.messages.get(it0.originalMessageId ?? '')?.editCount).toBe(edits.length);
    const progress = edits.slice(1, -1);
    expect(progress.length).toBeGreaterThan(0);
    expect(
      progress.every((c) => /%|Still working|Measuring|Compressing|Checking|Planning/u.test(content(c))),
    ).toBe(true);
    for (let i = 1; i < progress.length; i++) {
      expect((progress[i]?.at ?? 0) - (progress[i - 1]?.at ?? 0)).toBeGreaterThanOrEqual(4500);
    }
    expect(fake.calls.filter((c) => isPlan(c))).toHaveLength(1);
  }, 180_000);

  it('"small enough for Discord" targets the interaction\'s attachment_size_limit; the cancel button kills the job', async () => {
    const { fake } = await world();
    const user = fake.user('bo');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      // Long enough to still be encoding when the button is pressed (the 4-s clip can finish first).
      attachment: fake.cdnFile(longClip()),
      strings: { instruction: 'small enough for Discord' },
      attachmentSizeLimit: 10_485_760,
    });
    const plan = await fake.waitForCall((c) => originalEdit(it0)(c) && isPlan(c), 60_000);
    // 10,485,760 B from the interaction (10.5 MB), not the built-in 10 MB default.
    expect(content(plan)).toMatch(/≤ 10\.5 MB/u);
    await fake.waitForCall(
      (c) => originalEdit(it0)(c) && !isPlan(c) && /%|Still working|Measuring|Compressing/u.test(content(c)),
      60_000,
    );
    const msg = fake.messages.get(it0.originalMessageId ?? '');
    const customId = /"custom_id":"(vs:cancel:[^"]+)"/u.exec(JSON.stringify(msg?.components))?.[1];
    if (!msg || !customId) throw new Error('no cancel button on the progress message');
    const press = fake.pressButton({ user, message: msg, customId });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${press.id}/`));
    expect((cb.body as { type: number }).type).toBe(6);
    await fake.waitForCall((c) => originalEdit(it0)(c) && /Cancelled/u.test(content(c)), 30_000);
    // The cancel sends SIGTERM, then SIGKILL after a 2-s grace (run-process.ts): poll instead of guessing a delay.
    await expect.poll(() => liveProcessGroups(), { timeout: 5_000 }).toBe(0);
    expect(fake.calls.some((c) => c.files.length > 0)).toBe(false);
  }, 180_000);

  it("a result over the interaction's attachment_size_limit arrives as a link button that downloads", async () => {
    const { fake } = await world();
    const user = fake.user('cy');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      attachment: fake.cdnFile(smallClip()),
      strings: { instruction: 'under 300KB' },
      attachmentSizeLimit: 100_000,
    });
    const res = await fake.waitForCall((c) => followUp(fake, it0)(c) && c.files.length === 0, 120_000);
    expect(content(res)).toContain(`<@${user.id}>`);
    const url = /"style":5,"label":"Download","url":"([^"]+)"/u.exec(
      JSON.stringify((res.body as { components: unknown }).components),
    )?.[1];
    if (!url) throw new Error('no link button');
    const dl = await fetch(url);
    expect(dl.status).toBe(200);
    const size = (await dl.arrayBuffer()).byteLength;
    expect(size).toBeGreaterThan(100_000);
    expect(size).toBeLessThanOrEqual(300_000);
  }, 180_000);

  it('a mention with an attachment in a channel: plan replies to the message, result is a new reply with the file', async () => {
    const { fake } = await world();
    const user = fake.user('di');
    const posted = fake.userMessage({
      user,
      content: 'under 300KB please',
      mentionBot: true,
      attachments: [fake.cdnFile(smallClip())],
    });
    const channelPost = (c: RecordedCall): boolean =>
      c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`;
    const plan = await fake.waitForCall((c) => channelPost(c) && isPlan(c), 60_000);
    expect((plan.body as { message_reference: { message_id: string } }).message_reference.message_id).toBe(
      posted.id,
    );
    const planMsg = fake
      .channelMessages(fake.channelId)
      .find(
        (m) =>
          m.author.id === fake.bot.id &&
          m.attachments.length === 0 &&
          m.message_reference?.message_id === posted.id,
      );
    expect(planMsg).toBeDefined();
    const result = await fake.waitForCall((c) => channelPost(c) && c.files.length > 0, 120_000);
    expect(result.files[0]?.size).toBeLessThanOrEqual(300_000);
    expect((result.body as { message_reference: { message_id: string } }).message_reference.message_id).toBe(
      posted.id,
    );
    expect(fake.calls.some((c) => c.method === 'PATCH' && c.path.endsWith(`/messages/${planMsg?.id}`))).toBe(
      true,
    );
  }, 180_000);

  it('"Compress this video" on someone else\'s message compresses its attachment', async () => {
    const { fake } = await world();
    const user = fake.user('eve');
    const target = fake.userMessage({
      user: fake.user('fay'),
      content: 'look at this',
      attachments: [fake.cdnFile(smallClip(), { name: 'skate.mp4' })],
    });
    const it0 = fake.messageCommand({ name: 'Compress this video', user, target });
    await fake.waitForCall((c) => originalEdit(it0)(c) && isPlan(c), 60_000);
    const result = await fake.waitForCall((c) => followUp(fake, it0)(c) && c.files.length > 0, 120_000);
    expect(result.files[0]?.name).toBe('skate-vidshrink.mp4');
    expect(result.files[0]?.size).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(content(result)).toContain(`<@${user.id}>`);
  }, 180_000);

  it('a 429 on a progress edit is dropped, not queued, and later edits land', async () => {
    const { fake } = await world();
    const user = fake.user('gus');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      attachment: fake.cdnFile(longClip()),
      strings: { instruction: 'under 8MB without losing quality' },
    });
    await fake.waitForCall((c) => originalEdit(it0)(c) && isPlan(c), 60_000);
    const path = new RegExp(`/${it0.token}/messages/@original$`, 'u');
    fake.inject429('PATCH', path, { count: 1, retryAfterSec: 1 });
    const limited = await fake.waitForCall((c) => originalEdit(it0)(c) && c.status === 429, 60_000);
    await fake.waitForCall((c) => originalEdit(it0)(c) && c.status === 200 && c.at > limited.at, 60_000);
    await fake.waitForCall((c) => followUp(fake, it0)(c) && c.files.length > 0, 150_000);
    await until(
      () => /✅ Done/u.test(fake.messages.get(it0.originalMessageId ?? '')?.content ?? ''),
      10_000,
      'done',
    );
    // Only one 429 was needed: the port did not hammer the route while limited.
    expect(fake.calls.filter((c) => c.status === 429)).toHaveLength(1);
  }, 200_000);

  it('a restart mid-job resumes and edits the same message, then delivers', async () => {
    const fake = await FakeDiscord.start();
    cleanup.push(() => fake.close());
    const dir = await mkdtemp(join(tmpdir(), 'vidshrink-discord-'));
    const bot1 = newBot(fake);
    const svc1 = await service(dir, bot1);
    const user = fake.user('hal');
    const it0 = fake.slashCommand({
      name: 'compress',
      user,
      attachment: fake.cdnFile(longClip()),
      strings: { instruction: 'under 8MB without losing quality' },
    });
    await fake.waitForCall((c) => originalEdit(it0)(c) && isPlan(c), 60_000);
    await fake.waitForCall(
      (c) => originalEdit(it0)(c) && !isPlan(c) && /%|Compressing|Measuring/u.test(content(c)),
      60_000,
    );
    await svc1.close();
    await bot1.stop();
    expect(liveProcessGroups()).toBe(0);
    const { fake: same } = await world({ fake, dir });
    expect(same).toBe(fake);
    const resumed = await fake.waitForCall(
      (c) => originalEdit(it0)(c) && /Resumed after a restart/u.test(content(c)),
      60_000,
    );
    expect(resumed.status).toBe(200);
    // The new process has no interaction token in memory: the result is a channel message mentioning the user.
    const result = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages` && c.files.length > 0,
      150_000,
    );
    expect(result.files[0]?.size).toBeLessThanOrEqual(8_000_000);
    expect(content(result)).toContain(`<@${user.id}>`);
    expect(fake.messages.get(it0.originalMessageId ?? '')?.content).toMatch(/Resumed after a restart/u);
    expect(fake.calls.filter((c) => isPlan(c))).toHaveLength(1);
  }, 240_000);
});
