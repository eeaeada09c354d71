import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  parseRange,
  registerDownloadRoute,
  type DownloadableFile,
} from '../../adapters/web/http/download-route.js';
import { signToken, type TokenPayload } from '../../src/links/signed-token.js';

const SECRET = 'download-route-test-secret-0123456789';
const NOW = 1_800_000_000_000;
const DATA = randomBytes(10_000);

let dir: string;
let app: FastifyInstance;
let base: string;
const files = new Map<string, DownloadableFile & { sessionId: string }>();
const resolveFile = vi.fn(async (p: TokenPayload): Promise<DownloadableFile | null> => {
  await Promise.resolve();
  if (p.id === 'explode') throw new Error(`disk on fire at ${dir}`);
  const f = files.get(p.id);
  return f && f.sessionId === p.sessionId ? f : null;
});

const token = (over: Partial<TokenPayload> = {}): string =>
  signToken(SECRET, { kind: 'd', id: 'file1', sessionId: 'sessA', expiresAtMs: NOW + 60_000, ...over });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vs-dlr-'));
  const add = async (id: string, name: string, fileName: string, data: Buffer = DATA): Promise<void> => {
    const path = join(dir, name);
    await writeFile(path, data);
    files.set(id, { path, fileName, sizeBytes: data.length, sessionId: 'sessA' });
  };
  await add('file1', 'abc.mp4', 'Mon clip – été.mp4');
  await add('web', 'w.webm', 'x.webm');
  await add('html', 'h.html', 'evil.html', Buffer.from('<script>alert(1)</script>'));
  await add('empty', 'e.mp4', 'empty.mp4', Buffer.alloc(0));
  files.set('gone', { path: join(dir, 'missing.mp4'), fileName: 'g.mp4', sizeBytes: 5, sessionId: 'sessA' });
  app = Fastify();
  await registerDownloadRoute(app, { secret: SECRET, now: () => NOW, resolveFile });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

describe('parseRange', () => {
  it('follows RFC 9110 for single ranges', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-9', 100)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=90-', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=90-1000', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-10', 100)).toEqual({ kind: 'partial', start: 90, end: 99 });
    expect(parseRange('bytes=-1000', 100)).toEqual({ kind: 'partial', start: 0, end: 99 });
    expect(parseRange('BYTES=1-1', 100)).toEqual({ kind: 'partial', start: 1, end: 1 });
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-', 0)).toEqual({ kind: 'unsatisfiable' });
    for (const ignored of [
      'bytes=5-2',
      'bytes=0-1,3-4',
      'items=0-1',
      'bytes=-',
      'bytes=a-b',
      'bytes=99999999999999999999-',
    ]) {
      expect(parseRange(ignored, 100), ignored).toEqual({ kind: 'full' });
    }
  });
});

describe('GET /d/:token', () => {
  it('serves the file as a safe attachment', async () => {
    const res = await app.inject({ method: 'GET', url: `/d/${token()}` });
    expect(res.statusCode).toBe(200);
    expect(res.rawPayload.equals(DATA)).toBe(true);
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.headers['content-length']).toBe(String(DATA.length));
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="Mon clip _ _t_.mp4"; filename*=UTF-8''Mon%20clip%20%E2%80%93%20%C3%A9t%C3%A9.mp4`,
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['cache-control']).toBe('private');
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['content-security-policy']).toContain('sandbox');
    expect(resolveFile).toHaveBeenLastCalledWith({
      kind: 'd',
      id: 'file1',
      sessionId: 'sessA',
      expiresAtMs: NOW + 60_000,
    });
  });

  it('takes the type from our storage extension, never from the user: HTML is an opaque download', async () => {
    const web = await app.inject({ method: 'GET', url: `/d/${token({ id: 'web' })}` });
    expect(web.headers['content-type']).toBe('video/webm');
    const html = await app.inject({ method: 'GET', url: `/d/${token({ id: 'html' })}` });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('application/octet-stream');
    expect(html.headers['content-disposition']).toMatch(/^attachment;/u);
  });

  it('answers HEAD with the headers and no body', async () => {
    const res = await app.inject({ method: 'HEAD', url: `/d/${token()}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe(String(DATA.length));
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.rawPayload).toHaveLength(0);
  });

  it('serves an empty file', async () => {
    const res = await app.inject({ method: 'GET', url: `/d/${token({ id: 'empty' })}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-length']).toBe('0');
  });

  it('answers 410 with a short explanation for an expired genuine link', async () => {
    const res = await app.inject({ method: 'GET', url: `/d/${token({ expiresAtMs: NOW })}` });
    expect(res.statusCode).toBe(410);
    expect(res.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(res.body).toMatch(/expired/u);
  });

  it('gives forged, malformed, wrong-kind, unknown and other-session links the same 404', async () => {
    const forged = signToken('some-other-secret-0123456789abcdef', {
      kind: 'd',
      id: 'file1',
      sessionId: 'sessA',
      expiresAtMs: NOW + 60_000,
    });
    const urls = [
      `/d/${forged}`,
      `/d/not-a-token`,
      `/d/${'A'.repeat(2000)}`,
      `/d/${encodeURIComponent('../../etc/passwd')}`,
      `/d/${signToken(SECRET, { kind: 'u', id: 'file1', sessionId: 'sessA', expiresAtMs: NOW + 60_000, maxBytes: 1 })}`,
      `/d/${token({ id: 'nope' })}`,
      `/d/${token({ sessionId: 'sessB' })}`,
      `/d/${token({ id: 'gone' })}`,
      `/d/${token()}/extra`,
      // Forged AND expired: must not be told apart from any other bad link.
      `/d/${signToken('some-other-secret-0123456789abcdef', { kind: 'd', id: 'file1', sessionId: 'sessA', expiresAtMs: 1 })}`,
    ];
    const bodies = new Set<string>();
    for (const url of urls) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      bodies.add(`${res.headers['content-type']}|${res.body}`);
    }
    expect(bodies.size).toBe(1);
  });

  it('does not leak storage paths when the resolver fails', async () => {
    const res = await app.inject({ method: 'GET', url: `/d/${token({ id: 'explode' })}` });
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain(dir);
  });
});

describe('ranges over a real socket', () => {
  const get = async (headers: Record<string, string>, method: 'GET' | 'HEAD' = 'GET') => {
    const res = await request(`${base}/d/${token()}`, { method, headers });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  };

  it('serves single ranges with 206 and Content-Range', async () => {
    const a = await get({ range: 'bytes=0-99' });
    expect(a.status).toBe(206);
    expect(a.headers['content-range']).toBe(`bytes 0-99/${DATA.length}`);
    expect(a.headers['content-length']).toBe('100');
    expect(a.body.equals(DATA.subarray(0, 100))).toBe(true);

    const b = await get({ range: 'bytes=9000-' });
    expect(b.status).toBe(206);
    expect(b.body.equals(DATA.subarray(9000))).toBe(true);

    const c = await get({ range: 'bytes=-10' });
    expect(c.headers['content-range']).toBe(`bytes ${DATA.length - 10}-${DATA.length - 1}/${DATA.length}`);
    expect(c.body.equals(DATA.subarray(-10))).toBe(true);

    const d = await get({ range: 'bytes=5000-5000' }, 'HEAD');
    expect(d.status).toBe(206);
    expect(d.headers['content-length']).toBe('1');
    expect(d.body).toHaveLength(0);
  });

  it('answers 416 for a range past the end', async () => {
    const r = await get({ range: `bytes=${DATA.length}-` });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe(`bytes */${DATA.length}`);
  });

  it('ignores multiple ranges and bad syntax with a full 200', async () => {
    for (const range of ['bytes=0-1,5-6', 'bytes=9-3', 'lines=1-2']) {
      const r = await get({ range });
      expect(r.status, range).toBe(200);
      expect(r.body.equals(DATA)).toBe(true);
    }
  });

  it('honours If-Range only for the current validator', async () => {
    const full = await get({});
    const etag = String(full.headers.etag);
    expect((await get({ range: 'bytes=0-9', 'if-range': etag })).status).toBe(206);
    expect((await get({ range: 'bytes=0-9', 'if-range': '"stale"' })).status).toBe(200);
  });
});
