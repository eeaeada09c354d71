// The Telegram adapter against the fake Bot API: real grammY (client.apiRoot → the fake), the real service (SQLite,
// queue, local ffmpeg backend, web server for links) and the adapter, wired the way the composition root does it.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createTelegram, type Telegram, type TelegramOptions } from '../../adapters/telegram/telegram-bot.js';
import { startService, type Service } from '../../src/apps/service.js';
import { loadServiceConfig } from '../../src/config/service.js';
import { FakeTelegram, type FakeTelegramOptions, type RecordedCall } from '../fakes/telegram-bot-api.js';

/** Every log line of the service and the adapter, to assert the token never appears. */
export class LogSink {
  readonly lines: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      this.lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  readonly logger = pino({ level: 'info' }, this.stream);
}

export interface Harness {
  fake: FakeTelegram;
  tg: Telegram;
  svc: Service;
  logs: LogSink;
  dataDir: string;
  close(): Promise<void>;
}

export async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vidshrink-tg-'));
}

export async function harness(
  o: {
    fake?: FakeTelegram;
    fakeOptions?: FakeTelegramOptions;
    dataDir?: string;
    telegram?: Partial<TelegramOptions>;
    env?: Record<string, string>;
  } = {},
): Promise<Harness> {
  const fake = o.fake ?? (await FakeTelegram.start(o.fakeOptions));
  const dataDir = o.dataDir ?? (await tempDir());
  const logs = new LogSink();
  // The port exists before the service starts so jobs resumed at start-up find their adapter.
  const tg = createTelegram({
    token: fake.token,
    apiRoot: fake.apiRoot,
    logger: logs.logger,
    pollTimeoutSec: 2,
    ...o.telegram,
  });
  const cfg = loadServiceConfig({
    VIDSHRINK_DATA_DIR: dataDir,
    VIDSHRINK_PORT: '0',
    LOG_LEVEL: 'silent',
    VIDSHRINK_RATE_PER_MINUTE: '100',
    ...o.env,
  });
  const svc = await startService(cfg, { listenPort: 0, logger: logs.logger, ports: [tg.port] });
  await tg.start(svc.engine);
  let closed = false;
  return {
    fake,
    tg,
    svc,
    logs,
    dataDir,
    async close() {
      if (closed) return;
      closed = true;
      await tg.stop();
      await svc.close();
    },
  };
}

export const text = (c: RecordedCall): string =>
  typeof c.params.text === 'string'
    ? c.params.text
    : typeof c.params.caption === 'string'
      ? c.params.caption
      : '';

export const resultMessageId = (c: RecordedCall): number =>
  Number((c.response.result as { message_id?: number } | undefined)?.message_id ?? NaN);

export const callbackData = (c: RecordedCall): string[] => {
  const kb = (c.params.reply_markup as { inline_keyboard?: { callback_data?: string }[][] } | undefined)
    ?.inline_keyboard;
  return (kb ?? []).flat().flatMap((b) => (b.callback_data ? [b.callback_data] : []));
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
