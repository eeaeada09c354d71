// Shared set-up for the Discord tests: the fake Discord, the real discord.js bot pointed at it, a silent logger.
import type { Logger } from '../../src/conversation/engine.js';
import { createDiscordBot, type DiscordBot, type EngineLike } from '../../adapters/discord/discord-bot.js';
import type { FakeDiscord } from '../fakes/discord.js';

export const silent: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function bot(fake: FakeDiscord, o: { maxInboundBytes?: number; now?: () => number } = {}): DiscordBot {
  return createDiscordBot({
    token: fake.token,
    applicationId: fake.applicationId,
    guildId: fake.guildId,
    restApi: fake.restApi,
    maxInboundBytes: o.maxInboundBytes ?? 2_000_000_000,
    logger: silent,
    ...(o.now ? { now: o.now } : {}),
  });
}

/** Polls `cond` until it holds (for state that is not a recorded call). */
export async function until(cond: () => boolean, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type { EngineLike };
