// Service configuration from the environment, parsed once at start-up (code-anchors.md: "parse once, freeze, fail
// fast naming the key"). Every key is documented in .env.example and the README.
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { GB, MB } from '../domain/units.js';

const int = (def: number) => z.coerce.number().int().min(0).default(def);
const num = (def: number) => z.coerce.number().min(0).default(def);

const envSchema = z.object({
  VIDSHRINK_DATA_DIR: z.string().min(1).default('./data'),
  VIDSHRINK_HOST: z.string().min(1).default('127.0.0.1'),
  VIDSHRINK_PORT: int(8080),
  /** Base of the links the bot hands out (downloads, uploads); defaults to the local web chat's address. */
  VIDSHRINK_PUBLIC_URL: z.url().optional(),
  /** HMAC key for download/upload links; generated and kept in the data dir when unset. */
  VIDSHRINK_SECRET: z.string().min(32).optional(),
  /** Jobs at once. One x264 encode already uses both cores of the reference machine. */
  VIDSHRINK_CONCURRENCY: int(1),
  VIDSHRINK_MAX_INPUT_MB: num(2000),
  VIDSHRINK_RETENTION_HOURS: num(24),
  VIDSHRINK_LINK_HOURS: num(24),
  /** Daily allowance per user: input bytes and encode minutes (the local backend's "credits"). */
  VIDSHRINK_QUOTA_MB_PER_DAY: num(10_000),
  VIDSHRINK_QUOTA_MINUTES_PER_DAY: num(120),
  /** Input MB per chat per day, shared by its members. */
  VIDSHRINK_QUOTA_CHAT_MB_PER_DAY: num(50_000),
  /** Messages per user per minute before the bot asks them to slow down. */
  VIDSHRINK_RATE_PER_MINUTE: int(20),
  VIDSHRINK_BACKEND: z.enum(['local', 'nemo']).default('local'),
  VIDSHRINK_WEB: z.enum(['on', 'off']).default('on'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface ServiceConfig {
  dataDir: string;
  dbPath: string;
  filesDir: string;
  host: string;
  port: number;
  publicUrl: string | null;
  secret: string | null;
  concurrency: number;
  maxInputBytes: number;
  retentionMs: number;
  linkTtlMs: number;
  quotaBytesPerDay: number;
  quotaEncodeSecPerDay: number;
  quotaChatBytesPerDay: number;
  ratePerMinute: number;
  backend: 'local' | 'nemo';
  web: boolean;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
}

export function loadServiceConfig(env: NodeJS.ProcessEnv): Readonly<ServiceConfig> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('USAGE', {
      reason: `configuration ${String(issue?.path.join('.') ?? '?')}: ${issue?.message ?? 'invalid'}`,
    });
  }
  const e = parsed.data;
  const dataDir = resolve(e.VIDSHRINK_DATA_DIR);
  return Object.freeze({
    dataDir,
    dbPath: resolve(dataDir, 'vidshrink.db'),
    filesDir: resolve(dataDir, 'files'),
    host: e.VIDSHRINK_HOST,
    port: e.VIDSHRINK_PORT,
    publicUrl: e.VIDSHRINK_PUBLIC_URL ?? null,
    secret: e.VIDSHRINK_SECRET ?? null,
    concurrency: Math.max(1, e.VIDSHRINK_CONCURRENCY),
    maxInputBytes: Math.round(e.VIDSHRINK_MAX_INPUT_MB * MB),
    retentionMs: e.VIDSHRINK_RETENTION_HOURS * 3_600_000,
    linkTtlMs: e.VIDSHRINK_LINK_HOURS * 3_600_000,
    quotaBytesPerDay: Math.round(e.VIDSHRINK_QUOTA_MB_PER_DAY * MB),
    quotaEncodeSecPerDay: e.VIDSHRINK_QUOTA_MINUTES_PER_DAY * 60,
    quotaChatBytesPerDay: Math.round(e.VIDSHRINK_QUOTA_CHAT_MB_PER_DAY * MB),
    ratePerMinute: e.VIDSHRINK_RATE_PER_MINUTE,
    backend: e.VIDSHRINK_BACKEND,
    web: e.VIDSHRINK_WEB === 'on',
    logLevel: e.LOG_LEVEL,
  });
}

/** Two gigabytes: the default input ceiling (issue #4), also Telegram's local Bot API limit. */
export const DEFAULT_MAX_INPUT_BYTES = 2 * GB;
