// Pure response interpretation for the NemoVideo API. Whether an error travels as HTTP 200 + `code≠0` or as a
// non-2xx status with `{code,message}` is never stated, and render routes use `{success, data|error}` instead
// (chatbot-anchors.md §4.7, §4.8); nemovideo-tools' client.ts accepts all of them, and so does this. ADK's
// `404 {"detail":"Session not found"}` before streaming (§4.4) is the same thing as code 1002.
import { AppError } from '../../domain/errors.js';
import { isObject } from './values.js';

/** A refusal from the API or the connection, before it becomes an AppError. */
export interface Fault {
  /** The API's numeric code when it sent one (1001, 2001, …), else the HTTP status (402, 429, 500, …). */
  code: number;
  /** The server's own words, already cleaned of anything token-shaped; null when it gave none. */
  message: string | null;
  httpStatus: number;
  /** From a Retry-After header, in seconds. */
  retryAfterSec: number | null;
}

export type Outcome = { ok: true; data: unknown } | { ok: false; fault: Fault };

function numericCode(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d{1,9}$/u.test(v.trim())) return Number(v.trim());
  return null;
}

/** Anything that looks like a NemoVideo token (`nmv_usr_…`, claim tokens `clm_…`) or a Bearer value is blanked. */
export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 6) out = out.split(secret).join('[redacted]');
  return out
    .replace(/\b(?:nmv|clm)_[A-Za-z0-9_-]{4,}/gu, '[redacted]')
    .replace(/\bBearer\s+\S+/giu, 'Bearer [redacted]');
}

/** A server message made safe for a user-facing error: one line, no control characters, bounded, redacted. */
export function cleanServerText(text: string, secrets: readonly string[] = []): string {
  const flat = text
    .replace(/[\p{Cc}\p{Cf}]+/gu, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  const short = flat.length > 200 ? `${flat.slice(0, 199)}…` : flat;
  return redact(short, secrets);
}

function messageOf(body: Record<string, unknown>): string | null {
  for (const key of ['message', 'msg', 'error', 'detail', 'error_message', 'errorMessage']) {
    const v = body[key];
    if (typeof v === 'string' && v.trim() !== '') return v;
    if (isObject(v) && typeof v.message === 'string' && v.message.trim() !== '') return v.message;
  }
  return null;
}

/** Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (value === null || value === undefined) return null;
  const v = value.trim();
  if (/^\d+(?:\.\d+)?$/u.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}

/**
 * 19-digit ids ("5529798706024415232", §4.3) lose precision as JSON numbers; quoting them before JSON.parse keeps
 * them intact if a server ever sends them unquoted.
 */
export function parseJsonText(text: string): unknown {
  const safe = text.replace(
    /("(?:session_id|task_id|sessionId|taskId|id|render_id|user_id)"\s*:\s*)(-?\d{16,})(?=\s*[,}\]])/gu,
    '$1"$2"',
  );
  return JSON.parse(safe) as unknown;
}

/**
 * One HTTP response → success data or a Fault. `data` is `body.data` under a `code:0` or `success:true` envelope,
 * else the whole body (the Chinese v4.x render poll is top-level, §4.6).
 */
export function interpretResponse(
  httpStatus: number,
  body: unknown,
  opts: { retryAfter?: string | null; secrets?: readonly string[] } = {},
): Outcome {
  const ok2xx = httpStatus >= 200 && httpStatus < 300;
  const retryAfterSec = parseRetryAfter(opts.retryAfter);
  const fault = (code: number, message: string | null): Outcome => ({
    ok: false,
    fault: {
      code,
      message: message === null ? null : cleanServerText(message, opts.secrets),
      httpStatus,
      retryAfterSec,
    },
  });
  if (!isObject(body)) return ok2xx ? { ok: true, data: body } : fault(httpStatus, null);
  const code = numericCode(body.code);
  const message = messageOf(body);
  if (httpStatus === 404 && typeof body.detail === 'string' && /session\s+not\s+found/iu.test(body.detail)) {
    return fault(1002, body.detail);
  }
  if (code !== null && code !== 0) return fault(code, message);
  if (body.success === false) return fault(ok2xx ? 0 : httpStatus, message);
  if (!ok2xx) return fault(httpStatus, message);
  const enveloped = code === 0 || body.success === true;
  return { ok: true, data: enveloped && 'data' in body ? body.data : body };
}

/** Codes that mean "this token is no good" (HTTP 401 with no code counts: some gateways answer before the app). */
export const isAuthFault = (f: Fault): boolean => f.code === 1001 || f.code === 401;

/** A duplicate render id (§4.3: "duplicate id → error, retry once with a new id"). */
export const isDuplicateId = (f: Fault): boolean =>
  f.code === 409 || (f.message !== null && /duplicat|already\s+exists?/iu.test(f.message));

export interface FaultContext {
  /** True when the token is an anonymous one (no NEMO_TOKEN). */
  anonymous: boolean;
  /** For the 2001 registration link (issue #6: `?bind=<client id>`). */
  clientId: string;
}

/** The catalog error for a Fault that retries did not cure. Never copies a token into details. */
export function faultToError(f: Fault, ctx: FaultContext): AppError {
  const internal = { code: f.code, httpStatus: f.httpStatus, serverMessage: f.message };
  switch (f.code) {
    case 1001:
    case 401:
      return ctx.anonymous
        ? new AppError('NEMO_AUTH_FAILED', { reason: 'the anonymous token was refused' }, { internal })
        : new AppError('NEMO_TOKEN_INVALID', {}, { internal });
    case 1002:
      return new AppError('NEMO_SESSION_GONE', {}, { internal });
    case 2001:
      return new AppError(
        'NEMO_NO_CREDITS',
        ctx.anonymous
          ? { registerUrl: `https://nemovideo.com/register?bind=${encodeURIComponent(ctx.clientId)}` }
          : {},
        { internal },
      );
    case 4001:
    case 415:
      return new AppError('NEMO_UNSUPPORTED', {}, { internal });
    case 4002:
    case 413:
      return new AppError('NEMO_TOO_LARGE', {}, { internal });
    case 402:
      return new AppError('NEMO_PLAN_BLOCKED', {}, { internal });
    case 429:
      return new AppError('NEMO_RATE_LIMITED', {}, { internal });
    default:
      if ((f.code >= 500 && f.code <= 599) || f.httpStatus >= 500) {
        const status = f.httpStatus >= 500 ? f.httpStatus : f.code;
        return new AppError('NEMO_UNREACHABLE', { reason: `it answered HTTP ${status}` }, { internal });
      }
      return new AppError(
        'NEMO_REJECTED',
        { reason: f.message ?? (f.code === 0 ? 'no reason given' : `code ${f.code}`) },
        { internal },
      );
  }
}
