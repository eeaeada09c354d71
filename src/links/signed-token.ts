// Signed, expiring link tokens for downloads (/d/) and uploads (/u/) (issue #4). A token is
// `base64url(JSON payload) "." base64url(HMAC-SHA256)`: stateless, so a link works without a database lookup, and
// unforgeable without the server secret. The payload is readable by whoever holds the link, so it carries only ids
// the holder is entitled to anyway, never paths or secrets. Ids are 128-bit random (reliability-anchors.md §6 F1).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type TokenKind = 'd' | 'u';

export interface TokenPayload {
  /** 'd' = download a stored file, 'u' = upload into a session. */
  kind: TokenKind;
  /** What the link grants access to: a file id ('d') or the upload grant ('u'). */
  id: string;
  /** The chat session that owns `id`; resolvers check it so a token for one session never reaches another's data. */
  sessionId: string;
  /** Epoch milliseconds after which the token is refused. */
  expiresAtMs: number;
  /** Upload tokens: the largest upload accepted, in bytes. */
  maxBytes?: number;
}

export type TokenFailure = 'malformed' | 'bad-signature' | 'expired' | 'wrong-kind';

export type VerifyResult = { ok: true; payload: TokenPayload } | { ok: false; reason: TokenFailure };

/** The signed bytes start with this, so an HMAC made for another purpose with the same secret never verifies here. */
const CONTEXT = 'vidshrink-link-v1\n';
/** Generous for ~100-byte payloads; anything longer is refused before any work. */
const MAX_TOKEN_LENGTH = 1024;
const MAX_ID_LENGTH = 128;
const SIG_BYTES = 32;
const B64URL = /^[A-Za-z0-9_-]+$/u;
const MIN_SECRET_BYTES = 16;

/** 128 random bits, base64url (22 characters): unguessable ids for links, uploads and files (§6 F1). */
export function randomId(): string {
  return randomBytes(16).toString('base64url');
}

function secretBytes(secret: string | Uint8Array): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  // A short key makes the HMAC brute-forceable; this is a wiring mistake, not a user error.
  if (key.length < MIN_SECRET_BYTES) {
    throw new Error(`link secret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  return key;
}

function mac(key: Buffer, body: string): Buffer {
  return createHmac('sha256', key).update(CONTEXT).update(body).digest();
}

function validId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH;
}

function validPayload(p: TokenPayload): boolean {
  return (
    (p.kind === 'd' || p.kind === 'u') &&
    validId(p.id) &&
    validId(p.sessionId) &&
    Number.isSafeInteger(p.expiresAtMs) &&
    (p.maxBytes === undefined || (Number.isSafeInteger(p.maxBytes) && p.maxBytes >= 0))
  );
}

/** Wire form: short keys keep links short. */
interface Wire {
  k: TokenKind;
  i: string;
  s: string;
  e: number;
  m?: number;
}

export function signToken(secret: string | Uint8Array, payload: TokenPayload): string {
  if (!validPayload(payload)) throw new Error('invalid token payload');
  const wire: Wire = { k: payload.kind, i: payload.id, s: payload.sessionId, e: payload.expiresAtMs };
  if (payload.maxBytes !== undefined) wire.m = payload.maxBytes;
  const body = Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
  return `${body}.${mac(secretBytes(secret), body).toString('base64url')}`;
}

function decode(body: string): TokenPayload | null {
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof wire !== 'object' || wire === null) return null;
  const w = wire as Partial<Record<keyof Wire, unknown>>;
  const p = {
    kind: w.k,
    id: w.i,
    sessionId: w.s,
    expiresAtMs: w.e,
    ...(w.m === undefined ? {} : { maxBytes: w.m }),
  } as TokenPayload;
  return validPayload(p) ? p : null;
}

/**
 * Checks the signature before looking inside, then kind, then expiry, so only a token this server signed can
 * tell "expired" apart from "unknown" (routes answer 410 for the former and 404 for everything else).
 */
export function verifyToken(
  secret: string | Uint8Array,
  token: unknown,
  kind: TokenKind,
  nowMs: number,
): VerifyResult {
  const key = secretBytes(secret);
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  const [body, sig] = parts;
  if (parts.length !== 2 || !body || !sig || !B64URL.test(body) || !B64URL.test(sig)) {
    return { ok: false, reason: 'malformed' };
  }
  const given = Buffer.from(sig, 'base64url');
  // 43 base64url characters carry 258 bits for 256: without this, four spellings of one signature would verify.
  if (given.toString('base64url') !== sig) return { ok: false, reason: 'malformed' };
  const expected = mac(key, body);
  // The length check is not secret (every valid signature is 32 bytes); the comparison itself is constant-time.
  if (given.length !== SIG_BYTES || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad-signature' };
  }
  const payload = decode(body);
  if (!payload) return { ok: false, reason: 'malformed' };
  if (payload.kind !== kind) return { ok: false, reason: 'wrong-kind' };
  if (nowMs >= payload.expiresAtMs) return { ok: false, reason: 'expired' };
  return { ok: true, payload };
}
