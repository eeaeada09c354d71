// Resumable (tus 1.0) and plain uploads against a real listening server, speaking the protocol with raw undici
// requests and raw sockets (reliability-anchors.md §3, checklist C1, C2, C5, C7, C8, C9, C11).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  registerUploadRoute,
  sweepExpiredUploads,
  UPLOAD_ID_RE,
  type CompletedUploadInfo,
} from '../../adapters/web/http/upload-route.js';
import { signToken } from '../../src/links/signed-token.js';

const SECRET = 'upload-route-test-secret-0123456789';
const MAX = 4_000_000;
let clock = Date.now();
let dir: string;
let app: FastifyInstance;
let port: number;
let base: string;
const completed: CompletedUploadInfo[] = [];
let failNextHook = false;
const onUploadComplete = vi.fn(async (u: CompletedUploadInfo) => {
  await Promise.resolve();
  if (failNextHook) {
    failNextHook = false;
    throw new Error('database is locked');
  }
  completed.push(u);
});

const tok = (
  over: { sessionId?: string; id?: string; maxBytes?: number; expiresAtMs?: number } = {},
): string =>
  signToken(SECRET, {
    kind: 'u',
    id: over.id ?? over.sessionId ?? 'sessA',
    sessionId: over.sessionId ?? 'sessA',
    expiresAtMs: over.expiresAtMs ?? clock + 3_600_000,
    maxBytes: over.maxBytes ?? MAX,
  });

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

async function call(
  method: 'POST' | 'HEAD' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'PUT' | 'GET',
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<Res> {
  const res = await request(`${base}${path}`, { method, headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

const tusHeaders = (h: Record<string, string> = {}): Record<string, string> => ({
  'tus-resumable': '1.0.0',
  ...h,
});

async function create(token: string, length: number, metadata?: string): Promise<string> {
  const res = await call(
    'POST',
    `/u/${token}`,
    tusHeaders({ 'upload-length': String(length), ...(metadata ? { 'upload-metadata': metadata } : {}) }),
  );
  expect(res.status, res.text).toBe(201);
  return String(res.headers.location);
}

const patch = (
  location: string,
  offset: number,
  chunk: Buffer,
  extra: Record<string, string> = {},
): Promise<Res> =>
  call(
    'PATCH',
    location,
    tusHeaders({
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
      ...extra,
    }),
    chunk,
  );

const head = (location: string): Promise<Res> => call('HEAD', location, tusHeaders());

/** Sends a PATCH's headers and part of its body on a raw socket, then kills the connection. */
async function interruptedPatch(
  location: string,
  offset: number,
  declared: number,
  sent: Buffer,
): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(
    [
      `PATCH ${location} HTTP/1.1`,
      `Host: 127.0.0.1:${port}`,
      'Tus-Resumable: 1.0.0',
      `Upload-Offset: ${offset}`,
      'Content-Type: application/offset+octet-stream',
      `Content-Length: ${declared}`,
      '',
      '',
    ].join('\r\n'),
  );
  await new Promise<void>((resolve) => socket.write(sent, () => resolve()));
  await new Promise((r) => setTimeout(r, 150));
  socket.destroy();
}

/** HEAD until the offset stops moving: the server may still be flushing the interrupted request. */
async function settledOffset(location: string): Promise<number> {
  let last = -1;
  for (let i = 0; i < 50; i++) {
    const res = await head(location);
    expect(res.status).toBe(200);
    const offset = Number(res.headers['upload-offset']);
    if (offset === last) return offset;
    last = offset;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vs-up-'));
  app = Fastify();
  await registerUploadRoute(app, { secret: SECRET, now: () => clock, directory: dir, onUploadComplete });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  port = typeof addr === 'object' && addr ? addr.port : 0;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  await app.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  clock = Date.now();
  completed.length = 0;
  onUploadComplete.mockClear();
});

describe('tus: create, chunk, interrupt, resume (C1)', () => {
  it('ends byte-identical, with the hook fired exactly once', async () => {
    const source = randomBytes(3_000_000);
    const token = tok();
    const metadata = [
      `filename ${b64('../../evil\u202e clip.mp4')}`,
      `filetype ${b64('video/mp4')}`,
      `thumbnail ${b64('/etc/passwd')}`,
      `vs_session ${b64('victim')}`,
    ].join(',');
    const created = await call(
      'POST',
      `/u/${token}`,
      tusHeaders({ 'upload-length': String(source.length), 'upload-metadata': metadata }),
    );
    expect(created.status).toBe(201);
    expect(created.headers['upload-expires']).toBeTruthy();
    const location = String(created.headers.location);
    const id = location.split('/').pop() ?? '';
    expect(location).toBe(`/u/${token}/${id}`);
    expect(id).toMatch(UPLOAD_ID_RE);

    const first = await patch(location, 0, source.subarray(0, 1_000_000));
    expect(first.status).toBe(204);
    expect(first.headers['upload-offset']).toBe('1000000');
    expect(first.headers['upload-expires']).toBeTruthy();

    await interruptedPatch(location, 1_000_000, 1_000_000, source.subarray(1_000_000, 1_300_000));
    const resumeAt = await settledOffset(location);
    expect(resumeAt).toBeGreaterThanOrEqual(1_000_000);
    expect(resumeAt).toBeLessThanOrEqual(1_300_000);
    const h = await head(location);
    expect(h.headers['cache-control']).toBe('no-store');
    expect(h.headers['upload-length']).toBe(String(source.length));

    let offset = resumeAt;
    while (offset < source.length) {
      const next = Math.min(offset + 700_000, source.length);
      const res = await patch(location, offset, source.subarray(offset, next));
      expect(res.status, res.text).toBe(204);
      offset = Number(res.headers['upload-offset']);
      expect(offset).toBe(next);
    }

    expect(onUploadComplete).toHaveBeenCalledTimes(1);
    const done = completed[0];
    expect(done).toEqual({
      sessionId: 'sessA',
      uploadId: id,
      path: join(dir, id),
      sizeBytes: source.length,
      fileName: 'evil clip.mp4',
    });
    expect(sha(await readFile(done?.path ?? ''))).toBe(sha(source));

    // Unknown metadata dropped, the owner keys are the server's, not the client's (C8).
    const meta = String((await head(location)).headers['upload-metadata'])
      .split(',')
      .map((pair) => pair.split(' '));
    const decoded: Record<string, string> = Object.fromEntries(
      meta.map(([k, v]): [string, string] => [k ?? '', Buffer.from(v ?? '', 'base64').toString()]),
    );
    expect(decoded).toEqual({
      filename: 'evil clip.mp4',
      filetype: 'video/mp4',
      vs_session: 'sessA',
      vs_grant: 'sessA',
    });

    // A repeated final PATCH (lost response, client retries) does not fire the hook again.
    const again = await patch(location, source.length, Buffer.alloc(0));
    expect(again.status).toBe(204);
    expect(onUploadComplete).toHaveBeenCalledTimes(1);
  });

  it('accepts creation-with-upload in one POST', async () => {
    const data = randomBytes(50_000);
    const res = await call(
      'POST',
      `/u/${tok()}`,
      tusHeaders({ 'upload-length': String(data.length), 'content-type': 'application/offset+octet-stream' }),
      data,
    );
    expect(res.status).toBe(201);
    expect(res.headers['upload-offset']).toBe(String(data.length));
    expect(onUploadComplete).toHaveBeenCalledTimes(1);
    expect(completed[0]?.fileName).toBe('upload');
    expect(sha(await readFile(completed[0]?.path ?? ''))).toBe(sha(data));
  });

  it('runs a failed completion hook again when the client retries the final PATCH', async () => {
    const data = randomBytes(1000);
    const location = await create(tok(), data.length);
    failNextHook = true;
    const failed = await patch(location, 0, data);
    expect(failed.status).toBe(500);
    expect(completed).toHaveLength(0);
    const retry = await patch(location, data.length, Buffer.alloc(0));
    expect(retry.status).toBe(204);
    expect(onUploadComplete).toHaveBeenCalledTimes(2);
    expect(completed).toHaveLength(1);
  });
});

describe('tus: protocol and limits (C2, C5, C11)', () => {
  it('answers a wrong Upload-Offset with 409 and leaves the upload unchanged', async () => {
    const location = await create(tok(), 1000);
    expect((await patch(location, 0, randomBytes(100))).status).toBe(204);
    const res = await patch(location, 50, randomBytes(100));
    expect(res.status).toBe(409);
    expect((await head(location)).headers['upload-offset']).toBe('100');
    expect((await patch(location, 500, randomBytes(10))).status).toBe(409);
  });

  it('refuses uploads over the cap at creation (413), deferred lengths, and empty or invalid lengths', async () => {
    const token = tok({ maxBytes: 1000 });
    expect((await call('POST', `/u/${token}`, tusHeaders({ 'upload-length': '1001' }))).status).toBe(413);
    expect(
      (await call('POST', `/u/${token}`, tusHeaders({ 'upload-length': '99999999999999999999' }))).status,
    ).toBe(413);
    const deferred = await call('POST', `/u/${token}`, tusHeaders({ 'upload-defer-length': '1' }));
    expect(deferred.status).toBeGreaterThanOrEqual(400);
    expect((await call('POST', `/u/${token}`, tusHeaders({ 'upload-length': '-5' }))).status).toBe(400);
    expect((await call('POST', `/u/${token}`, tusHeaders({ 'upload-length': '0' }))).status).toBe(422);
    expect((await call('POST', `/u/${token}`, tusHeaders())).status).toBe(400);
    expect((await call('POST', `/u/${token}`, { 'upload-length': '10' })).status).toBe(412);
    expect((await call('POST', `/u/${token}`, tusHeaders({ 'upload-length': '1000' }))).status).toBe(201);
    const leftovers = (await readdir(dir)).filter((n) => n.endsWith('.json'));
    const infos = await Promise.all(
      leftovers.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as { size?: number }),
    );
    expect(infos.every((i) => typeof i.size === 'number' && i.size > 0)).toBe(true);
  });

  it('advertises the token cap and no deferred length in OPTIONS', async () => {
    const res = await call('OPTIONS', `/u/${tok({ maxBytes: 12345 })}`);
    expect(res.status).toBe(204);
    expect(res.headers['tus-max-size']).toBe('12345');
    expect(String(res.headers['tus-extension'])).not.toContain('creation-defer-length');
  });

  it('stops a PATCH that sends more than the declared length (413), keeping what fits', async () => {
    const location = await create(tok(), 100);
    const res = await patch(location, 0, randomBytes(200));
    expect(res.status).toBe(413);
    expect(Number((await head(location)).headers['upload-offset'])).toBeLessThanOrEqual(100);
    expect(onUploadComplete).not.toHaveBeenCalled();
  });

  it('lets the owner terminate an upload', async () => {
    const location = await create(tok(), 100);
    expect((await call('DELETE', location, tusHeaders())).status).toBe(204);
    expect((await head(location)).status).toBe(404);
  });
});

describe('tokens and ownership (C7)', () => {
  it("gives another session's token 404 on HEAD, PATCH and DELETE and leaves the upload intact", async () => {
    const location = await create(tok(), 1000);
    await patch(location, 0, randomBytes(10));
    const id = location.split('/').pop() ?? '';
    for (const other of [tok({ sessionId: 'sessB' }), tok({ sessionId: 'sessA', id: 'another-grant' })]) {
      const path = `/u/${other}/${id}`;
      expect((await call('HEAD', path, tusHeaders())).status).toBe(404);
      expect((await patch(path, 10, randomBytes(10))).status).toBe(404);
      expect((await call('DELETE', path, tusHeaders())).status).toBe(404);
    }
    const unknown = await call('HEAD', `/u/${tok()}/AAAAAAAAAAAAAAAAAAAAAA`, tusHeaders());
    expect(unknown.status).toBe(404);
    const h = await head(location);
    expect(h.status).toBe(200);
    expect(h.headers['upload-offset']).toBe('10');
  });

  it('refuses expired (410), forged, malformed and download tokens (404) on every method', async () => {
    const location = await create(tok(), 1000);
    const id = location.split('/').pop() ?? '';
    const expired = tok({ expiresAtMs: clock - 1 });
    const forged = signToken('an-attackers-secret-0123456789abcdef', {
      kind: 'u',
      id: 'sessA',
      sessionId: 'sessA',
      expiresAtMs: clock + 60_000,
      maxBytes: MAX,
    });
    const download = signToken(SECRET, {
      kind: 'd',
      id: 'sessA',
      sessionId: 'sessA',
      expiresAtMs: clock + 60_000,
    });
    expect((await call('POST', `/u/${expired}`, tusHeaders({ 'upload-length': '10' }))).status).toBe(410);
    expect((await call('HEAD', `/u/${expired}/${id}`, tusHeaders())).status).toBe(410);
    expect((await patch(`/u/${expired}/${id}`, 0, randomBytes(5))).status).toBe(410);
    for (const bad of [forged, download, 'garbage', '']) {
      expect((await call('POST', `/u/${bad}`, tusHeaders({ 'upload-length': '10' }))).status).toBe(404);
      expect((await call('HEAD', `/u/${bad}/${id}`, tusHeaders())).status).toBe(404);
      expect((await call('PUT', `/u/${bad}/plain`, {}, Buffer.from('x'))).status).toBe(404);
    }
    expect((await call('HEAD', `/u/${tok()}/${id}/extra`, tusHeaders())).status).toBe(404);
    expect((await call('HEAD', `/u/${tok()}/..%2F..%2Fetc`, tusHeaders())).status).toBe(404);
    expect((await call('GET', `/u/${tok()}/${id}`)).status).toBe(404);
  });
});

describe('plain single-request upload', () => {
  it('streams the body to disk and fires the hook', async () => {
    const data = randomBytes(500_000);
    const res = await call(
      'PUT',
      `/u/${tok()}/plain?name=${encodeURIComponent('../My clip.mov')}`,
      { 'content-type': 'video/quicktime' },
      data,
    );
    expect(res.status).toBe(201);
    const body = JSON.parse(res.text) as { uploadId: string; sizeBytes: number; fileName: string };
    expect(body.uploadId).toMatch(UPLOAD_ID_RE);
    expect(body).toMatchObject({ sizeBytes: data.length, fileName: 'My clip.mov' });
    expect(completed).toEqual([
      {
        sessionId: 'sessA',
        uploadId: body.uploadId,
        path: join(dir, body.uploadId),
        sizeBytes: data.length,
        fileName: 'My clip.mov',
      },
    ]);
    expect(sha(await readFile(join(dir, body.uploadId)))).toBe(sha(data));
  });

  it('accepts JSON-typed bodies as raw bytes (no parsing)', async () => {
    const res = await call(
      'PUT',
      `/u/${tok()}/plain`,
      { 'content-type': 'application/json' },
      Buffer.from('{not json'),
    );
    expect(res.status).toBe(201);
    expect(await readFile(completed[0]?.path ?? '', 'utf8')).toBe('{not json');
  });

  it('refuses an oversized body by Content-Length and by counting, leaving no partial file', async () => {
    const token = tok({ maxBytes: 10_000 });
    const declared = await call('PUT', `/u/${token}/plain`, {}, randomBytes(10_001));
    expect(declared.status).toBe(413);
    // No Content-Length: a chunked stream of 64 KB pieces.
    function* chunks(): Generator<Buffer> {
      for (let i = 0; i < 20; i++) yield randomBytes(64 * 1024);
    }
    const counted = await request(`${base}/u/${token}/plain`, {
      method: 'PUT',
      body: Readable.from(chunks()),
    }).then(
      async (r) => {
        await r.body.dump();
        return r.statusCode;
      },
      () => 'connection closed',
    );
    expect([413, 'connection closed']).toContain(counted);
    await new Promise((r) => setTimeout(r, 100));
    expect((await readdir(dir)).filter((n) => n.endsWith('.part'))).toEqual([]);
    expect(onUploadComplete).not.toHaveBeenCalled();
  });

  it('refuses an empty body', async () => {
    expect((await call('PUT', `/u/${tok()}/plain`, {}, Buffer.alloc(0))).status).toBe(422);
  });
});

describe('sweepExpiredUploads (C9)', () => {
  it('removes expired uploads and leftovers, keeps fresh ones and foreign files, and is idempotent', async () => {
    const sweepDir = await mkdtemp(join(tmpdir(), 'vs-sweep-'));
    const sweepApp = Fastify();
    await registerUploadRoute(sweepApp, {
      secret: SECRET,
      directory: sweepDir,
      onUploadComplete,
      expiryMs: 60_000,
    });
    const post = (len: number) =>
      sweepApp.inject({
        method: 'POST',
        url: `/u/${tok()}`,
        headers: tusHeaders({ 'upload-length': String(len) }),
      });
    const stale = await post(100);
    const fresh = await post(100);
    expect(stale.statusCode).toBe(201);
    const staleId = String(stale.headers.location).split('/').pop() ?? '';
    const freshId = String(fresh.headers.location).split('/').pop() ?? '';
    // Age the stale upload: tus counts expiry from the creation date in its info file.
    const infoPath = join(sweepDir, `${staleId}.json`);
    const info = JSON.parse(await readFile(infoPath, 'utf8')) as { creation_date: string };
    info.creation_date = new Date(Date.now() - 120_000).toISOString();
    await writeFile(infoPath, JSON.stringify(info));
    await writeFile(join(sweepDir, `${staleId}.done`), '');
    // An orphaned plain-upload part and a finished plain upload nobody claimed, both old.
    const old = new Date(Date.now() - 120_000);
    for (const name of ['BBBBBBBBBBBBBBBBBBBBBB.part', 'CCCCCCCCCCCCCCCCCCCCCC']) {
      await writeFile(join(sweepDir, name), 'x');
      await utimes(join(sweepDir, name), old, old);
    }
    await writeFile(join(sweepDir, 'README.txt'), 'not ours');
    await utimes(join(sweepDir, 'README.txt'), old, old);

    expect(await sweepExpiredUploads(sweepDir, { expiryMs: 60_000 })).toBe(3);
    const left = (await readdir(sweepDir)).sort();
    expect(left).toEqual([freshId, `${freshId}.json`, 'README.txt'].sort());
    const gone = await sweepApp.inject({
      method: 'HEAD',
      url: `/u/${tok()}/${staleId}`,
      headers: tusHeaders(),
    });
    expect(gone.statusCode).toBe(404);
    expect(await sweepExpiredUploads(sweepDir, { expiryMs: 60_000 })).toBe(0);
    expect(await sweepExpiredUploads(sweepDir, { expiryMs: 60_000, nowMs: Date.now() + 3_600_000 })).toBe(1);
    expect(existsSync(join(sweepDir, freshId))).toBe(false);
    expect(await sweepExpiredUploads(join(sweepDir, 'missing'))).toBe(0);
    await sweepApp.close();
    await rm(sweepDir, { recursive: true, force: true });
  });
});
