// `npm start`: the service plus whichever chat platforms have tokens in the environment (issue #5). Each adapter's
// port is created before the service starts, so jobs resumed at start-up find their platform.
import { pino } from 'pino';
import { createDiscordBot } from '../../adapters/discord/discord-bot.js';
import { createTelegram, type Telegram } from '../../adapters/telegram/telegram-bot.js';
import { loadNemoConfig } from '../config/nemo.js';
import { loadServiceConfig } from '../config/service.js';
import { startService, type Service } from './service.js';

export interface Running {
  service: Service;
  telegram: Telegram | null;
  discord: ReturnType<typeof createDiscordBot> | null;
  stop(): Promise<void>;
}

export async function runFromEnv(env: NodeJS.ProcessEnv): Promise<Running> {
  const cfg = loadServiceConfig(env);
  const log = pino({ level: cfg.logLevel });
  const tgToken = env.TELEGRAM_BOT_TOKEN?.trim();
  const telegram = tgToken
    ? createTelegram({
        token: tgToken,
        apiRoot: env.TELEGRAM_API_ROOT || undefined,
        // A self-hosted Bot API server (tdlib/telegram-bot-api --local) is the only reason to change the root.
        isLocalApi: Boolean(env.TELEGRAM_API_ROOT),
        webhookUrl: env.TELEGRAM_WEBHOOK_URL || undefined,
        webhookListen: env.TELEGRAM_WEBHOOK_URL
          ? { host: cfg.host, port: Number(env.TELEGRAM_WEBHOOK_PORT ?? 8443) }
          : undefined,
        logger: log,
      })
    : null;
  const dToken = env.DISCORD_TOKEN?.trim();
  const appId = env.DISCORD_APPLICATION_ID?.trim();
  const discord =
    dToken && appId
      ? createDiscordBot({
          token: dToken,
          applicationId: appId,
          guildId: env.DISCORD_GUILD_ID || undefined,
          restApi: env.DISCORD_API_URL || undefined,
          maxInboundBytes: cfg.maxInputBytes,
          logger: log,
        })
      : null;
  const ports = [...(telegram ? [telegram.port] : []), ...(discord ? [discord.port] : [])];
  const service = await startService(cfg, {
    logger: log,
    ports,
    ...(cfg.backend === 'nemo' ? { nemo: { config: loadNemoConfig(env) } } : {}),
  });
  try {
    await telegram?.start(service.engine);
    await discord?.start(service.engine);
  } catch (e) {
    await telegram?.stop();
    await service.close();
    throw e;
  }
  return {
    service,
    telegram,
    discord,
    async stop() {
      await telegram?.stop();
      await discord?.stop();
      await service.close();
    },
  };
}
