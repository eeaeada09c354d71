import { describe, expect, it } from 'vitest';
import { randomId, signToken, verifyToken, type TokenPayload } from '../../src/links/signed-token.js';

const SECRET = 'a-test-secret-of-32-bytes-length!';
const NOW = 1_700_000_000_000;
const payload: TokenPayload = {
  kind: 'd',
  id: 'file_abcdefghijklmnopqr',
  sessionId: 'sess_abcdefghijklmnopq',
  expiresAtMs: NOW + 60_000,
};

/** Flips one character of the given part to another base64url character. */
function flip(token: string, index: number): string {
  const c = token[index];
  const replacement = c === 'A' ? 'B' : 'A';
  return token.slice(0, index) + replacement + token.slice(index + 1);
}

describe('signToken / verifyToken', () => {
  it('round-trips a download token', () => {
    const token = signToken(SECRET, payload);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/u);
    expect(verifyToken(SECRET, token, 'd', NOW)).toEqual({ ok: true, payload });
  });

  it('round-trips an upload token with maxBytes (including 0)', () => {
    for (const maxBytes of [0, 2_000_000_000]) {
      const p: TokenPayload = { ...payload, kind: 'u', maxBytes };
      expect(verifyToken(SECRET, signToken(SECRET, p), 'u', NOW)).toEqual({ ok: true, payload: p });
    }
  });

  it('is URL-safe: no characters that need escaping in a path segment', () => {
    const token = signToken(SECRET, { ...payload, id: 'ü/?#&=+ % "', sessionId: '\u202e../..' });
    expect(encodeURIComponent(token)).toBe(token);
    expect(verifyToken(SECRET, token, 'd', NOW).ok).toBe(true);
  });

  it('accepts a Buffer secret equal to the string secret', () => {
    const token = signToken(Buffer.from(SECRET), payload);
    expect(verifyToken(SECRET, token, 'd', NOW).ok).toBe(true);
  });

  it('refuses a token signed with another secret (forged)', () => {
    const forged = signToken('another-secret-that-is-long-enough', payload);
    expect(verifyToken(SECRET, forged, 'd', NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a tampered payload, even one that decodes to a valid payload', () => {
    const token = signToken(SECRET, payload);
    const [, sig] = token.split('.');
    const evil = Buffer.from(
      JSON.stringify({ k: 'd', i: 'victim_file_id_123456', s: 'victim_session_12345', e: NOW + 1e9 }),
    ).toString('base64url');
    expect(verifyToken(SECRET, `${evil}.${sig}`, 'd', NOW)).toEqual({ ok: false, reason: 'bad-signature' });
    for (let i = 0; i < token.indexOf('.'); i += 7) {
      expect(verifyToken(SECRET, flip(token, i), 'd', NOW).ok).toBe(false);
    }
  });

  it('refuses a tampered or truncated signature', () => {
    const token = signToken(SECRET, payload);
    const dot = token.indexOf('.');
    for (let i = dot + 1; i < token.length; i += 5) {
      expect(verifyToken(SECRET, flip(token, i), 'd', NOW).ok).toBe(false);
    }
    expect(verifyToken(SECRET, token.slice(0, -1), 'd', NOW).ok).toBe(false);
    expect(verifyToken(SECRET, token.slice(0, dot + 1), 'd', NOW)).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('refuses non-canonical base64url spellings of the signature (no malleability)', () => {
    const token = signToken(SECRET, payload);
    const last = token.at(-1) ?? 'A';
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const idx = alphabet.indexOf(last);
    // The last character's low 2 bits are padding; its other spellings decode to the same bytes.
    const variants = [0, 1, 2, 3].map((b) => alphabet[(idx & ~3) | b]).filter((c) => c !== last);
    for (const c of variants) {
      expect(verifyToken(SECRET, token.slice(0, -1) + c, 'd', NOW).ok).toBe(false);
    }
  });

  it('reports expiry only for genuine tokens, at and after expiresAtMs', () => {
    const token = signToken(SECRET, payload);
    expect(verifyToken(SECRET, token, 'd', payload.expiresAtMs - 1).ok).toBe(true);
    expect(verifyToken(SECRET, token, 'd', payload.expiresAtMs)).toEqual({ ok: false, reason: 'expired' });
    const forgedExpired = signToken('another-secret-that-is-long-enough', {
      ...payload,
      expiresAtMs: NOW - 1,
    });
    expect(verifyToken(SECRET, forgedExpired, 'd', NOW)).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a token of the other kind', () => {
    const up = signToken(SECRET, { ...payload, kind: 'u', maxBytes: 10 });
    expect(verifyToken(SECRET, up, 'd', NOW)).toEqual({ ok: false, reason: 'wrong-kind' });
    expect(verifyToken(SECRET, signToken(SECRET, payload), 'u', NOW)).toEqual({
      ok: false,
      reason: 'wrong-kind',
    });
  });

  it('refuses garbage as malformed without throwing', () => {
    const inputs: unknown[] = [
      undefined,
      null,
      42,
      {},
      '',
      '.',
      'abc',
      'a.b.c',
      'a..b',
      '.abc',
      'abc.',
      'ab$c.def',
      'x'.repeat(5000),
      `${'a'.repeat(10)}.${'b'.repeat(43)}`,
    ];
    for (const input of inputs) {
      const r = verifyToken(SECRET, input, 'd', NOW);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(['malformed', 'bad-signature']).toContain(r.reason);
    }
  });

  it('refuses a correctly signed body that is not a valid payload', async () => {
    const { createHmac } = await import('node:crypto');
    const body = Buffer.from(JSON.stringify({ k: 'd', i: '', s: 's', e: NOW + 1 })).toString('base64url');
    const sig = createHmac('sha256', SECRET).update('vidshrink-link-v1\n').update(body).digest('base64url');
    expect(verifyToken(SECRET, `${body}.${sig}`, 'd', NOW)).toEqual({ ok: false, reason: 'malformed' });
  });

  it('rejects invalid payloads and short secrets when signing', () => {
    expect(() => signToken(SECRET, { ...payload, id: '' })).toThrow();
    expect(() => signToken(SECRET, { ...payload, expiresAtMs: Number.NaN })).toThrow();
    expect(() => signToken(SECRET, { ...payload, maxBytes: -1 })).toThrow();
    expect(() => signToken('short', payload)).toThrow(/at least 16 bytes/u);
    expect(() => verifyToken('short', 'a.b', 'd', NOW)).toThrow(/at least 16 bytes/u);
  });
});

describe('randomId', () => {
  it('is 128-bit base64url and unique', () => {
    const ids = new Set(Array.from({ length: 2000 }, () => randomId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) {
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/u);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});
