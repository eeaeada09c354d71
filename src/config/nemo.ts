// NemoVideo cloud client configuration (issue #6), parsed once like src/config/service.ts: "parse once, freeze, fail
// fast naming the key". The defaults follow the public skills (chatbot-anchors.md §4.3, §4.4, §4.6) and the seed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import { MB } from '../domain/units.js';

/** Printable ASCII only: the values travel as HTTP header values (X-Skill-*). */
const headerValue = z
  .string()
  .trim()
  .regex(/^[\x21-\x7e][\x20-\x7e]{0,99}$/u, 'must be 1–100 printable ASCII characters');
const num = (def: number) => z.coerce.number().min(0).default(def);
/** An empty variable counts as unset (a blank `NEMO_TOKEN=` line in .env must not become an empty Bearer). */
const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const envSchema = z.object({
  NEMO_API_BASE: z
    .url({ protocol: /^https?$/u })
    .default('https://mega-api-prod.nemovideo.ai')
    .transform((v) => v.replace(/\/+$/u, '')),
  /** A registered account's token; unset = anonymous tokens bound to a stored client id (§4.2). */
  NEMO_TOKEN: optionalText,
  /** Render poll cadence: 30 s in the v1.x skills and the seed (§4.6). */
  NEMO_POLL_SECONDS: num(30),
  /** The skills' client ceiling for one /run_sse turn: 15 minutes (seed; §4.4). */
  NEMO_SSE_TIMEOUT_MINUTES: num(15),
  /** "10 min of heartbeats only → assume timeout" (§4.4). */
  NEMO_SSE_IDLE_MINUTES: num(10),
  /** Give up polling a render after this long (the skills use 5 minutes; exports of long clips take longer). */
  NEMO_RENDER_TIMEOUT_MINUTES: num(10),
  /** 429 → "wait 30 s and retry once" (seed error table); a Retry-After header wins. */
  NEMO_RETRY_AFTER_SECONDS: num(30),
  /** Largest render output downloaded; more is refused while streaming. */
  NEMO_MAX_OUTPUT_MB: num(2000),
  NEMO_SKILL_SOURCE: headerValue.default('vidshrink'),
  NEMO_SKILL_VERSION: headerValue.optional(),
  NEMO_SKILL_PLATFORM: headerValue.default('vidshrink-bot'),
});

export interface NemoConfig {
  /** No trailing slash. */
  apiBase: string;
  /** NEMO_TOKEN, or null for the anonymous flow. A secret: never log it or put it in an error. */
  token: string | null;
  pollMs: number;
  sseTimeoutMs: number;
  sseIdleMs: number;
  renderTimeoutMs: number;
  retryAfterMs: number;
  maxOutputBytes: number;
  /** The attribution headers sent on every call (§4.2: missing ones cause auth failures or export 402). */
  skill: { source: string; version: string; platform: string };
}

let packageVersion: string | undefined;

/** package.json's version, found from this file in src/ or dist/src/ and read once. */
export function vidshrinkVersion(): string {
  if (packageVersion !== undefined) return packageVersion;
  packageVersion = '0.0.0';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
      };
      if (pkg.name === 'vidshrink' && typeof pkg.version === 'string') {
        packageVersion = pkg.version;
        break;
      }
    } catch {
      // No package.json at this level: keep walking up.
    }
    dir = dirname(dir);
  }
  return packageVersion;
}

export function loadNemoConfig(env: NodeJS.ProcessEnv): Readonly<NemoConfig> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // The message names the key only: a rejected NEMO_TOKEN value must not end up in a log line.
    throw new AppError('USAGE', {
      reason: `configuration ${String(issue?.path.join('.') ?? '?')}: ${issue?.path[0] === 'NEMO_TOKEN' ? 'invalid' : (issue?.message ?? 'invalid')}`,
    });
  }
  const e = parsed.data;
  return Object.freeze({
    apiBase: e.NEMO_API_BASE,
    token: e.NEMO_TOKEN ?? null,
    pollMs: Math.round(e.NEMO_POLL_SECONDS * 1000),
    sseTimeoutMs: Math.round(e.NEMO_SSE_TIMEOUT_MINUTES * 60_000),
    sseIdleMs: Math.round(e.NEMO_SSE_IDLE_MINUTES * 60_000),
    renderTimeoutMs: Math.round(e.NEMO_RENDER_TIMEOUT_MINUTES * 60_000),
    retryAfterMs: Math.round(e.NEMO_RETRY_AFTER_SECONDS * 1000),
    maxOutputBytes: Math.round(e.NEMO_MAX_OUTPUT_MB * MB),
    skill: Object.freeze({
      source: e.NEMO_SKILL_SOURCE,
      version: e.NEMO_SKILL_VERSION ?? vidshrinkVersion(),
      platform: e.NEMO_SKILL_PLATFORM,
    }),
  });
}

/**
 * Client options that follow from the configuration. An API base on a loopback address (a self-hosted gateway or a
 * test double) serves its render outputs from that host too, so the output download may reach loopback there; a
 * public API base keeps the SSRF guard fully closed (reliability-anchors §2).
 */
export function nemoClientOptions(cfg: Pick<NemoConfig, 'apiBase'>): { allowLoopback: boolean } {
  const host = new URL(cfg.apiBase).hostname.replace(/^\[|\]$/gu, '');
  return { allowLoopback: host === 'localhost' || host === '::1' || /^127\./u.test(host) };
}
