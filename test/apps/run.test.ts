// `npm start` wiring: a Telegram token in the environment starts the bot beside the web chat.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFromEnv } from '../../src/apps/run.js';
import { FakeDiscord } from '../fakes/discord.js';
import { FakeTelegram } from '../fakes/telegram-bot-api.js';

describe('runFromEnv', () => {
  it('starts the web chat, and the Telegram bot when TELEGRAM_BOT_TOKEN is set', async () => {
    const fake = await FakeTelegram.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'vidshrink-run-'));
    const running = await runFromEnv({
      VIDSHRINK_DATA_DIR: dataDir,
      VIDSHRINK_PORT: '0',
      LOG_LEVEL: 'silent',
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
    });
    try {
      expect(running.telegram).not.toBeNull();
      const page = await fetch(`${running.service.url ?? ''}/`);
      expect(page.status).toBe(200);
      const u = fake.user('Ana');
      fake.userSends({ chat: fake.privateChat(u), from: u, text: '/help' });
      const reply = await fake.waitForCall((c) => c.method === 'sendMessage');
      expect(String(reply.params.text)).toMatch(/Send me a video/u);
    } finally {
      await running.stop();
      await fake.close();
    }
  });

  it('logs the Discord bot in when DISCORD_TOKEN and DISCORD_APPLICATION_ID are set', async () => {
    const fake = await FakeDiscord.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'vidshrink-run-'));
    const running = await runFromEnv({
      VIDSHRINK_DATA_DIR: dataDir,
      VIDSHRINK_PORT: '0',
      LOG_LEVEL: 'silent',
      DISCORD_TOKEN: fake.token,
      DISCORD_APPLICATION_ID: fake.applicationId,
      DISCORD_API_URL: fake.restApi,
    });
    try {
      expect(running.discord).not.toBeNull();
      expect(fake.identifies.map((i) => i.token)).toContain(fake.token);
    } finally {
      await running.stop();
      await fake.close();
    }
  });

  it('runs without Telegram when no token is set', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'vidshrink-run-'));
    const running = await runFromEnv({
      VIDSHRINK_DATA_DIR: dataDir,
      VIDSHRINK_PORT: '0',
      LOG_LEVEL: 'silent',
    });
    try {
      expect(running.telegram).toBeNull();
      expect(running.discord).toBeNull();
    } finally {
      await running.stop();
    }
  });
});
