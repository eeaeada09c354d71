// SSRF matrix and body limits for URL import (reliability-anchors.md checklist B1–B7). Every blocked case also
// checks the canary: a loopback listener on all interfaces that must see zero connections.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import {
  addressProblem,
  safeDownload,
  type LookupAll,
  type SafeDownloadOptions,
} from '../../src/net/safe-download.js';
import { startServer, type TestServer } from './helpers.js';

/** Stands in for "a public server": the only address the allowAddress hook lets through. */
const LEGIT_IP = '127.0.0.3';
const allowLegit = (ip: string): boolean => ip === LEGIT_IP;
const FAST = { connectMs: 2000, headersMs: 2000, idleMs: 2000, totalMs: 10_000 };

let dir: string;
let canary: TestServer;
let legit: TestServer;
let n = 0;
const dest = (): string => join(dir, `out-${++n}.bin`);

const VIDEO = Buffer.alloc(300_000, 7);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vs-dl-'));
  // '::' with ipv6Only false takes IPv4 too: any loopback spelling (127.0.0.1, 127.0.0.2, ::1) lands here.
  canary = await startServer((_req, res) => res.end('canary'), '::');
  legit = await startServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const p = url.pathname;
    if (p === '/video.mp4') {
      res.setHeader('content-type', 'video/mp4');
      res.setHeader('content-length', VIDEO.length);
      res.end(VIDEO);
    } else if (p === '/named') {
      res.setHeader('content-type', 'video/quicktime');
      res.setHeader(
        'content-disposition',
        `attachment; filename="fallback.mov"; filename*=UTF-8''Cl%C3%ADp%20%2F..%2Fx.mov`,
      );
      res.end(VIDEO);
    } else if (p.startsWith('/redirect')) {
      res.statusCode = Number(url.searchParams.get('status') ?? 302);
      res.setHeader('location', url.searchParams.get('to') ?? '/');
      res.end('moved');
    } else if (p.startsWith('/loop/')) {
      const i = Number(p.slice('/loop/'.length));
      const stop = Number(url.searchParams.get('stop') ?? Infinity);
      if (i >= stop) {
        res.end('done');
        return;
      }
      res.statusCode = 302;
      res.setHeader('location', `/loop/${i + 1}${url.search}`);
      res.end();
    } else if (p === '/endless') {
      res.setHeader('content-type', 'video/mp4');
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = (): void => {
        while (res.write(chunk)) {
          if (res.destroyed) return;
        }
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    } else if (p === '/lying-length') {
      // Promises 1000 bytes, sends 5, hangs up.
      res.setHeader('content-length', '1000');
      res.flushHeaders();
      res.write('12345');
      setTimeout(() => res.socket?.destroy(), 50);
    } else if (p === '/huge-length') {
      res.setHeader('content-length', String(10 * 1024 * 1024 * 1024));
      res.flushHeaders();
      res.write(Buffer.alloc(1000));
    } else if (p === '/trickle') {
      // One byte every 1.5 s: undici's body timer has ~0.5 s resolution, so a 300 ms idle limit trips in between.
      res.flushHeaders();
      const timer = setInterval(() => res.write('x'), 1500);
      res.on('close', () => clearInterval(timer));
    } else if (p === '/no-headers') {
      // Accepts the request and never answers.
    } else if (p === '/gzip') {
      res.setHeader('content-encoding', 'gzip');
      res.setHeader('content-type', 'video/mp4');
      res.end(gzipSync(Buffer.alloc(1_000_000, 0)));
    } else if (p === '/missing') {
      res.statusCode = 404;
      res.end('nope');
    } else {
      res.end('ok');
    }
  }, LEGIT_IP);
});

afterAll(async () => {
  await canary.close();
  await legit.close();
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  expect(canary.connections, 'the canary server must never be contacted').toBe(0);
});

function opts(o: Partial<SafeDownloadOptions> & { url: string }): SafeDownloadOptions {
  return { destPath: dest(), maxBytes: 10_000_000, timeouts: FAST, ...o };
}

async function expectFailure(o: SafeDownloadOptions, code: string, reason?: RegExp): Promise<AppError> {
  const err = await safeDownload(o).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  const e = err as AppError;
  expect(e.code, `${o.url}: ${e.message}`).toBe(code);
  if (reason) expect(String(e.details.reason)).toMatch(reason);
  expect(existsSync(o.destPath), 'no partial file may remain').toBe(false);
  return e;
}

const lookupOf = (table: Record<string, string[]>): LookupAll & ReturnType<typeof vi.fn> =>
  vi.fn(async (host: string) => {
    await Promise.resolve();
    const found = table[host];
    if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  });

describe('address classification', () => {
  it('accepts public unicast only', () => {
    for (const ip of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '2606:4700:4700::1111',
      '2a00:1450:4001::200e',
    ]) {
      expect(addressProblem(ip), ip).toBeNull();
    }
    const blocked = [
      '127.0.0.1',
      '127.255.255.254',
      '0.0.0.0',
      '10.0.0.1',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '100.64.0.1',
      '169.254.169.254',
      '192.0.0.1',
      '192.0.2.1',
      '198.18.0.1',
      '224.0.0.1',
      '240.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:10.0.0.1',
      '::ffff:169.254.169.254',
      '::7f00:1',
      'fd00::1',
      'fc00::1',
      'fe80::1',
      'fe80::1%eth0',
      'ff02::1',
      '64:ff9b::7f00:1',
      '2002:7f00:1::',
      '2001::1',
      '2001:db8::1',
      'not-an-ip',
      '',
    ];
    for (const ip of blocked) expect(addressProblem(ip), ip).not.toBeNull();
  });

  it('relies on the WHATWG URL parser to normalize odd IPv4 spellings', () => {
    for (const host of [
      '127.1',
      '0x7f.1',
      '017700000001',
      '2130706433',
      '0177.0.0.1',
      '0x7f000001',
      '127.0.0.1.',
    ]) {
      expect(new URL(`http://${host}/`).hostname, host).toBe('127.0.0.1');
    }
    expect(new URL('http://0/').hostname).toBe('0.0.0.0');
    expect(new URL('http://[::ffff:127.0.0.1]/').hostname).toBe('[::ffff:7f00:1]');
  });
});

describe('blocked before connecting (B1, B2, B6)', () => {
  it('refuses loopback in every spelling (B1)', async () => {
    const p = canary.port;
    const hosts = [
      '127.0.0.1',
      'localhost',
      'localhost.',
      'a.b.localhost',
      '0',
      '0.0.0.0',
      '127.1',
      '017700000001',
      '0x7f.1',
      '2130706433',
      '127.0.0.2',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[0:0:0:0:0:0:0:1]',
      '[::]',
    ];
    for (const host of hosts) {
      await expectFailure(opts({ url: `http://${host}:${p}/x.mp4`, allowPorts: [p] }), 'URL_NOT_ALLOWED');
    }
  });

  it('refuses private, link-local, CGNAT, metadata and ULA addresses without DNS (B2)', async () => {
    const lookup = lookupOf({});
    const hosts = [
      '169.254.169.254',
      '10.0.0.1',
      '10.255.255.255',
      '172.16.0.1',
      '192.168.0.1',
      '100.64.0.1',
      '224.0.0.1',
      '255.255.255.255',
      '[fd00::1]',
      '[fe80::1]',
      '[64:ff9b::a9fe:a9fe]',
      '[::a9fe:a9fe]',
    ];
    for (const host of hosts) {
      await expectFailure(
        opts({ url: `http://${host}/latest/meta-data/`, lookup }),
        'URL_NOT_ALLOWED',
        /private/u,
      );
    }
    expect(lookup).not.toHaveBeenCalled();
  });

  it('refuses other schemes, credentials and ports before any DNS query (B6)', async () => {
    const lookup = lookupOf({ 'example.test': [LEGIT_IP] });
    const cases: [string, RegExp][] = [
      ['file:///etc/passwd', /only http and https/u],
      ['ftp://example.test/video.mp4', /only http and https/u],
      ['gopher://example.test:70/_GET', /only http and https/u],
      ['data:video/mp4;base64,AAAA', /only http and https/u],
      ['javascript:alert(1)', /only http and https/u],
      ['ws://example.test/', /only http and https/u],
      [`http://user:pass@example.test:${legit.port}/video.mp4`, /user name or password/u],
      [`http://user@example.test/video.mp4`, /user name or password/u],
      [`http://example.test:${legit.port}/video.mp4`, new RegExp(`port ${legit.port}`, 'u')],
      ['http://example.test:22/', /port 22/u],
      ['not a url', /not a valid link/u],
      [`http://example.test/${'a'.repeat(5000)}`, /too long/u],
    ];
    for (const [url, reason] of cases) {
      await expectFailure(opts({ url, lookup, allowAddress: allowLegit }), 'URL_NOT_ALLOWED', reason);
    }
    expect(lookup).not.toHaveBeenCalled();
    expect(legit.requests).toHaveLength(0);
  });
});

describe('DNS answers (B3, B4)', () => {
  it('refuses a public-looking name that resolves to loopback or private (B3)', async () => {
    const p = canary.port;
    const lookup = lookupOf({
      'loopback.test': ['127.0.0.1'],
      'mapped.test': ['::ffff:127.0.0.1'],
      'v6.test': ['::1'],
      'mixed.test': ['8.8.8.8', '127.0.0.1'],
      'private.test': ['10.0.0.8'],
    });
    for (const host of ['loopback.test', 'mapped.test', 'v6.test', 'mixed.test', 'private.test']) {
      await expectFailure(
        opts({ url: `http://${host}:${p}/`, lookup, allowPorts: [p] }),
        'URL_NOT_ALLOWED',
        /resolves to a private/u,
      );
    }
  });

  it('reports a name that does not resolve as a fetch failure', async () => {
    await expectFailure(
      opts({ url: 'http://nowhere.test/', lookup: lookupOf({}) }),
      'URL_FETCH_FAILED',
      /host name/u,
    );
  });

  it('connects only to the validated address when DNS rebinds (B4)', async () => {
    // A second listener on the legit port but another loopback address: where a fresh DNS answer would lead.
    const rebound = await startServer((_req, res) => res.end('rebound'), '127.0.0.1', legit.port);
    try {
      let calls = 0;
      const lookup: LookupAll = vi.fn(async () => {
        await Promise.resolve();
        calls++;
        return [{ address: calls === 1 ? LEGIT_IP : '127.0.0.1', family: 4 }];
      });
      const before = legit.requests.length;
      const out = dest();
      const r = await safeDownload(
        opts({
          url: `http://rebind.test:${legit.port}/video.mp4`,
          destPath: out,
          lookup,
          allowPorts: [legit.port],
          allowAddress: allowLegit,
        }),
      );
      expect(r.bytes).toBe(VIDEO.length);
      expect(lookup).toHaveBeenCalledTimes(1);
      expect(rebound.connections).toBe(0);
      const req = legit.requests[before];
      expect(req?.headers.host).toBe(`rebind.test:${legit.port}`);
    } finally {
      await rebound.close();
    }
  });
});

describe('redirects (B5)', () => {
  const base = (): string => `http://${LEGIT_IP}:${legit.port}`;
  const common = (): Partial<SafeDownloadOptions> => ({
    allowPorts: [legit.port, canary.port],
    allowAddress: allowLegit,
    lookup: lookupOf({ 'legit.test': [LEGIT_IP], 'internal.test': ['10.1.2.3'], localhost: ['127.0.0.1'] }),
  });

  it('follows a redirect to an allowed host and re-validates it', async () => {
    const to = encodeURIComponent(`http://legit.test:${legit.port}/video.mp4`);
    const r = await safeDownload(opts({ url: `${base()}/redirect?status=301&to=${to}`, ...common() }));
    expect(r.bytes).toBe(VIDEO.length);
    expect(r.finalUrl).toBe(`http://legit.test:${legit.port}/video.mp4`);
    expect(r.fileNameHint).toBe('video.mp4');
  });

  it('refuses redirects to private addresses, other schemes and credentials', async () => {
    const c = canary.port;
    const targets: [string, string][] = [
      [`http://127.0.0.1:${c}/`, 'URL_NOT_ALLOWED'],
      [`http://[::1]:${c}/`, 'URL_NOT_ALLOWED'],
      [`http://0x7f.1:${c}/`, 'URL_NOT_ALLOWED'],
      [`http://localhost:${c}/`, 'URL_NOT_ALLOWED'],
      [`http://internal.test/`, 'URL_NOT_ALLOWED'],
      ['http://169.254.169.254/latest/meta-data/', 'URL_NOT_ALLOWED'],
      ['file:///etc/passwd', 'URL_NOT_ALLOWED'],
      ['ftp://legit.test/x', 'URL_NOT_ALLOWED'],
      ['data:text/plain,hello', 'URL_NOT_ALLOWED'],
      [`http://u:p@legit.test:${legit.port}/video.mp4`, 'URL_NOT_ALLOWED'],
      ['http://legit.test:25/', 'URL_NOT_ALLOWED'],
    ];
    for (const [to, code] of targets) {
      for (const status of [302, 307]) {
        await expectFailure(
          opts({ url: `${base()}/redirect?status=${status}&to=${encodeURIComponent(to)}`, ...common() }),
          code,
        );
      }
    }
  });

  it('enforces the hop cap', async () => {
    const before = legit.requests.length;
    await expectFailure(opts({ url: `${base()}/loop/0`, ...common() }), 'URL_FETCH_FAILED', /more than 5/u);
    expect(legit.requests.length - before).toBe(6);
    const r = await safeDownload(opts({ url: `${base()}/loop/0?stop=5`, ...common() }));
    expect(r.bytes).toBe(4);
    await expectFailure(
      opts({ url: `${base()}/loop/0?stop=3`, maxRedirects: 2, ...common() }),
      'URL_FETCH_FAILED',
      /more than 2/u,
    );
  });

  it('fails a redirect without Location', async () => {
    await expectFailure(
      opts({ url: `${base()}/redirect?to=`, ...common() }),
      'URL_FETCH_FAILED',
      /without a new/u,
    );
  });
});

describe('hostile bodies (B7)', () => {
  const base = (): string => `http://${LEGIT_IP}:${legit.port}`;
  const o = (path: string, extra: Partial<SafeDownloadOptions> = {}): SafeDownloadOptions =>
    opts({ url: `${base()}${path}`, allowPorts: [legit.port], allowAddress: allowLegit, ...extra });

  it('cuts an endless body at maxBytes and removes the partial file', async () => {
    const e = await expectFailure(
      o('/endless', { maxBytes: 1_000_000 }),
      'INPUT_LIMITS',
      /larger than 1 MB/u,
    );
    expect(e.httpStatus).toBe(413);
  });

  it('accepts a body of exactly maxBytes and refuses one byte less of budget', async () => {
    const r = await safeDownload(o('/video.mp4', { maxBytes: VIDEO.length }));
    expect(r.bytes).toBe(VIDEO.length);
    await expectFailure(o('/video.mp4', { maxBytes: VIDEO.length - 1 }), 'INPUT_LIMITS');
  });

  it('fails early on a Content-Length over the cap', async () => {
    const started = Date.now();
    await expectFailure(o('/huge-length', { maxBytes: 1_000_000 }), 'INPUT_LIMITS');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('counts bytes itself: a cap below a body without Content-Length still holds', async () => {
    await expectFailure(o('/named', { maxBytes: 1000 }), 'INPUT_LIMITS');
  });

  it('fails when the server sends less than its Content-Length and hangs up', async () => {
    await expectFailure(o('/lying-length'), 'URL_FETCH_FAILED', /broke off/u);
  });

  it('aborts a slow trickle at the idle timeout', async () => {
    const started = Date.now();
    await expectFailure(
      o('/trickle', { timeouts: { ...FAST, idleMs: 300 } }),
      'URL_FETCH_FAILED',
      /stopped sending/u,
    );
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('aborts at the header timeout and at the total deadline', async () => {
    await expectFailure(
      o('/no-headers', { timeouts: { ...FAST, headersMs: 300 } }),
      'URL_FETCH_FAILED',
      /did not answer/u,
    );
    await expectFailure(
      o('/trickle', { timeouts: { ...FAST, idleMs: 5000, totalMs: 800 } }),
      'URL_FETCH_FAILED',
      /took too long/u,
    );
  });

  it('reports a caller abort as CANCELLED', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expectFailure(o('/trickle', { signal: ac.signal }), 'CANCELLED');
  });

  it('stores a gzip body as is: never decompressed, asks for identity', async () => {
    const out = dest();
    const r = await safeDownload(o('/gzip', { destPath: out, maxBytes: 100_000 }));
    const stored = await readFile(out);
    expect(stored.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(r.bytes).toBe(stored.length);
    expect(r.bytes).toBeLessThan(100_000);
    expect(legit.requests.at(-1)?.headers['accept-encoding']).toBe('identity');
  });

  it('fails on HTTP errors without leaving a file', async () => {
    await expectFailure(o('/missing'), 'URL_FETCH_FAILED', /HTTP 404/u);
  });

  it('never overwrites an existing file', async () => {
    const out = dest();
    await writeFile(out, 'keep me');
    await expect(safeDownload(o('/video.mp4', { destPath: out }))).rejects.toBeInstanceOf(AppError);
    expect(await readFile(out, 'utf8')).toBe('keep me');
  });
});

describe('successful download', () => {
  it('streams to disk and reports name, type and final URL', async () => {
    const out = dest();
    const r = await safeDownload(
      opts({
        url: `http://files.test:${legit.port}/named?x=1#frag`,
        destPath: out,
        lookup: lookupOf({ 'files.test': [LEGIT_IP] }),
        allowPorts: [legit.port],
        allowAddress: allowLegit,
      }),
    );
    expect(r).toEqual({
      bytes: VIDEO.length,
      finalUrl: `http://files.test:${legit.port}/named?x=1`,
      contentType: 'video/quicktime',
      fileNameHint: 'x.mov',
    });
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    expect(sha(await readFile(out))).toBe(sha(VIDEO));
    const req = legit.requests.at(-1);
    expect(req?.headers.host).toBe(`files.test:${legit.port}`);
    expect(req?.headers.cookie).toBeUndefined();
    expect(req?.headers.authorization).toBeUndefined();
  });
});
