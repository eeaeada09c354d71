// NemoClient against the fake NemoVideo server (test/fakes/nemovideo.ts) over real loopback HTTP: the token flow,
// attribution headers, uploads, both SSE shapes with every heartbeat variant, render polling in the three shapes,
// download with its fallback, and every error the seed's table names (chatbot-anchors.md §4.7). After each test the
// tokens the fake issued are looked for in every log line and every AppError the test saw: they must not be there.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NemoClient } from '../../src/backends/nemo/client.js';
import { changeSummary, isExportable, timelineSummary } from '../../src/backends/nemo/timeline.js';
import { translateGuiTalk } from '../../src/backends/nemo/translate.js';
import { MemoryTokenStore, type SseEnd, type SseEvent } from '../../src/backends/nemo/types.js';
import { loadNemoConfig, type NemoConfig } from '../../src/config/nemo.js';
import { AppError } from '../../src/domain/errors.js';
import { startFakeNemo, TURN_TEXT, type FakeNemo, type FakeNemoOptions } from '../fakes/nemovideo.js';
import { basicClip } from '../fixtures/generate.js';

let dir = '';
let clip = '';
let clipHash = '';
let fake: FakeNemo | null = null;
const clients: NemoClient[] = [];
let logs: unknown[] = [];
let seen: AppError[] = [];

beforeAll(async () => {
  clip = basicClip();
  clipHash = createHash('sha256')
    .update(await readFile(clip))
    .digest('hex')
    .slice(0, 32);
  dir = await mkdtemp(join(tmpdir(), 'vs-nemo-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(async () => {
  const tokens = fake?.tokens().map((t) => t.token) ?? [];
  const haystack = JSON.stringify(logs) + JSON.stringify(seen.map((e) => [e.message, e.details, e.internal]));
  for (const token of tokens) expect(haystack).not.toContain(token);
  for (const c of clients.splice(0)) await c.close();
  await fake?.close();
  fake = null;
  logs = [];
  seen = [];
  vi.restoreAllMocks();
});

interface Setup {
  fake: FakeNemo;
  client: NemoClient;
  store: MemoryTokenStore;
  cfg: NemoConfig;
  sleeps: number[];
}

async function setup(
  fakeOpts: FakeNemoOptions = {},
  env: Record<string, string> = {},
  over: Partial<NemoConfig> = {},
): Promise<Setup> {
  fake ??= await startFakeNemo({ heartbeatMs: 20, renderPolls: 2, ...fakeOpts });
  const store = new MemoryTokenStore();
  const { client, cfg, sleeps } = makeClient(fake, store, env, over);
  return { fake, client, store, cfg, sleeps };
}

function makeClient(
  f: FakeNemo,
  store: MemoryTokenStore,
  env: Record<string, string> = {},
  over: Partial<NemoConfig> = {},
): { client: NemoClient; cfg: NemoConfig; sleeps: number[] } {
  const cfg: NemoConfig = {
    ...loadNemoConfig({ NEMO_API_BASE: f.url, ...env }),
    pollMs: 20,
    retryAfterMs: 30_000,
    ...over,
  };
  const sleeps: number[] = [];
  const client = new NemoClient(cfg, store, {
    allowLoopback: true,
    log: (msg, fields) => logs.push([msg, fields]),
    // Records the wait asked for and waits at most 20 ms of it.
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      await delay(Math.min(ms, 20), undefined, signal ? { signal } : {});
    },
  });
  clients.push(client);
  return { client, cfg, sleeps };
}

/** The AppError a promise rejects with (recorded for the token check). */
async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    seen.push(e as AppError);
    return e as AppError;
  }
  throw new Error('expected a failure');
}

async function collect(gen: AsyncGenerator<SseEvent, SseEnd>): Promise<{ events: SseEvent[]; end: SseEnd }> {
  const events: SseEvent[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { events, end: r.value };
    events.push(r.value);
  }
}

const texts = (events: SseEvent[]): string[] => events.flatMap((e) => (e.kind === 'text' ? [e.text] : []));
const kinds = (events: SseEvent[]): string[] =>
  events.filter((e) => e.kind !== 'heartbeat').map((e) => (e.kind === 'tool' ? `tool:${e.phase}` : e.kind));
const reqs = (f: FakeNemo, route: string) => f.requests.filter((r) => r.route === route);

/** A registered-style token for the NEMO_TOKEN path: issued by the fake to a client id of the test's own. */
async function rawToken(f: FakeNemo): Promise<string> {
  const r = await fetch(`${f.url}/api/auth/anonymous-token`, {
    method: 'POST',
    headers: {
      'x-client-id': 'test-registered',
      'x-skill-source': 's',
      'x-skill-version': '1',
      'x-skill-platform': 'p',
    },
  });
  const body = (await r.json()) as { data: { token: string } };
  return body.data.token;
}

/** A session with the clip uploaded. */
async function sessionWithClip(client: NemoClient): Promise<string> {
  const { sessionId } = await client.createSession('en');
  await client.uploadFile(sessionId, clip);
  return sessionId;
}

describe('tokens and headers (§4.2)', () => {
  it('anonymous: one token per stored client id, reused; attribution headers on every API call', async () => {
    const { fake: f, client, store } = await setup();
    expect(client.anonymous).toBe(true);
    const sid = await sessionWithClip(client);
    await client.credits();
    await client.state(sid);
    const clientId = store.get('nemo.clientId');
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/u);
    expect(client.clientId()).toBe(clientId);
    const tokenReqs = reqs(f, 'token');
    expect(tokenReqs).toHaveLength(1);
    expect(tokenReqs[0]?.headers['x-client-id']).toBe(clientId);
    const token = store.get('nemo.token');
    expect(token).toMatch(/^nmv_usr_/u);
    expect(f.tokens().map((t) => t.token)).toEqual([token]);

    // A second client over the same store (a restart) reuses the stored token.
    const again = makeClient(f, store).client;
    await again.credits();
    expect(reqs(f, 'token')).toHaveLength(1);

    const api = f.requests.filter((r) => r.route !== 'cdn' && r.route !== 'renderResult');
    expect(api.length).toBeGreaterThanOrEqual(6);
    for (const r of api) {
      expect(r.headers['x-skill-source']).toBe('vidshrink');
      expect(r.headers['x-skill-version']).toMatch(/^\d+\.\d+\.\d+/u);
      expect(r.headers['x-skill-platform']).toBe('vidshrink-bot');
      if (r.route !== 'token') expect(r.headers.authorization).toBe(`Bearer ${token}`);
    }
    expect(tokenReqs[0]?.headers.authorization).toBeUndefined();
  });

  it('skill headers come from the config', async () => {
    const { fake: f, client } = await setup(
      {},
      { NEMO_SKILL_SOURCE: 'video-compressor', NEMO_SKILL_VERSION: '2.3.4', NEMO_SKILL_PLATFORM: 'terminal' },
    );
    await client.credits();
    for (const r of f.requests) {
      expect(r.headers).toMatchObject({
        'x-skill-source': 'video-compressor',
        'x-skill-version': '2.3.4',
        'x-skill-platform': 'terminal',
      });
    }
  });

  it('NEMO_TOKEN is used as is and never replaced; a rejected one is a clear error', async () => {
    fake = await startFakeNemo({ heartbeatMs: 20 });
    const token = await rawToken(fake);
    const { fake: f, client, store } = await setup({}, { NEMO_TOKEN: token });
    expect(client.anonymous).toBe(false);
    const { sessionId } = await client.createSession(null);
    expect(reqs(f, 'token')).toHaveLength(1);
    expect(reqs(f, 'session')[0]?.headers.authorization).toBe(`Bearer ${token}`);
    f.expireTokens();
    const e = await failure(client.state(sessionId));
    expect(e.code).toBe('NEMO_TOKEN_INVALID');
    expect(e.message).toContain('NEMO_TOKEN');
    expect(e.message).not.toContain(token);
    expect(reqs(f, 'token')).toHaveLength(1);
    expect(reqs(f, 'state')).toHaveLength(1);
    expect(store.get('nemo.token')).toBeNull();
  });

  it('1001 mid-session → a new anonymous token for the same client id, the call retried once', async () => {
    const { fake: f, client, store } = await setup();
    const sid = await sessionWithClip(client);
    const first = store.get('nemo.token');
    f.expireTokens();
    const st = await client.state(sid);
    expect(st.sessionId).toBe(sid);
    const second = store.get('nemo.token');
    expect(second).not.toBe(first);
    const tokenReqs = reqs(f, 'token');
    expect(tokenReqs).toHaveLength(2);
    expect(tokenReqs[1]?.headers['x-client-id']).toBe(tokenReqs[0]?.headers['x-client-id']);
    expect(reqs(f, 'state').map((r) => r.status)).toEqual([401, 200]);

    // An injected 1001 in the HTTP-200 transport is handled the same way.
    f.options.errorTransport = 'http200';
    f.fail('credits', { kind: 'code', code: 1001 });
    expect((await client.credits()).available).toBe(100);
    expect(reqs(f, 'credits')).toHaveLength(2);
  });

  it('1001 that a fresh anonymous token does not cure → NEMO_AUTH_FAILED after one retry', async () => {
    const { fake: f, client } = await setup();
    f.fail('credits', { kind: 'code', code: 1001 }, 5);
    const e = await failure(client.credits());
    expect(e.code).toBe('NEMO_AUTH_FAILED');
    expect(reqs(f, 'credits')).toHaveLength(2);
  });

  it.each(['httpStatus', 'http200'] as const)(
    '400 (missing client id, %s) → a new client id, once; never a loop',
    async (errorTransport) => {
      const { fake: f, client, store } = await setup({ errorTransport });
      f.fail('token', { kind: 'code', code: 400 });
      await client.credits();
      const tokenReqs = reqs(f, 'token');
      expect(tokenReqs).toHaveLength(2);
      expect(tokenReqs[1]?.headers['x-client-id']).not.toBe(tokenReqs[0]?.headers['x-client-id']);
      expect(store.get('nemo.clientId')).toBe(tokenReqs[1]?.headers['x-client-id']);

      const other = makeClient(f, new MemoryTokenStore()).client;
      f.fail('token', { kind: 'code', code: 400 }, 10);
      const e = await failure(other.credits());
      expect(e.code).toBe('NEMO_AUTH_FAILED');
      expect(reqs(f, 'token')).toHaveLength(4);
    },
  );

  it('a 429 on token issuance waits (Retry-After) and retries once', async () => {
    const { fake: f, client, sleeps } = await setup();
    f.fail('token', { kind: 'http', status: 429, retryAfterSec: 2 });
    await client.credits();
    expect(sleeps).toEqual([2000]);
    expect(reqs(f, 'token')).toHaveLength(2);
  });

  it('concurrent calls share one token acquisition', async () => {
    const { fake: f, client } = await setup();
    await Promise.all([client.credits(), client.credits(), client.createSession('en')]);
    expect(reqs(f, 'token')).toHaveLength(1);
  });
});

describe('sessions and uploads (§4.3)', () => {
  it('creates a session with and without a language', async () => {
    const { fake: f, client } = await setup();
    const a = await client.createSession('de');
    const b = await client.createSession(null);
    expect(a.sessionId).toMatch(/^\d{19}$/u);
    expect(a.taskId).toMatch(/^task_/u);
    expect(b.sessionId).not.toBe(a.sessionId);
    expect(reqs(f, 'session').map((r) => r.json)).toEqual([
      { task_name: 'project', language: 'de' },
      { task_name: 'project' },
    ]);
  });

  it('uploads a file as multipart `files`, streamed whole', async () => {
    const { fake: f, client } = await setup();
    const { sessionId } = await client.createSession('en');
    const files = await client.uploadFile(sessionId, clip);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({
      filename: 'basic.mp4',
      fileType: 'video',
      width: 640,
      height: 360,
      hash: clipHash,
    });
    expect(files[0]?.durationSec).toBeCloseTo(4, 0);
    expect(files[0]?.cdnUrl).toContain('/cdn/');
    const up = reqs(f, 'upload')[0];
    const size = (await stat(clip)).size;
    expect(up?.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/u);
    // A known length (not chunked): the Blob is file-backed and sized, its bytes are read while sending.
    expect(Number(up?.headers['content-length'])).toBe(up?.bytes);
    expect(up?.bytes).toBeGreaterThan(size);
    expect(up?.bytes).toBeLessThan(size + 1024);
    const st = await client.state(sessionId);
    expect(st.videoInfos).toHaveLength(1);
    expect(st.draft).toEqual({});
    expect(st.canvas).toEqual({ width: 640, height: 360 });
  });

  it('uploads by URL', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    const cdn = (await client.state(sid)).videoInfos[0] as { cdn_url: string };
    const files = await client.uploadUrl(sid, cdn.cdn_url);
    expect(files[0]?.hash).toBe(clipHash);
    expect(reqs(f, 'upload')[1]?.json).toEqual({ urls: [cdn.cdn_url], source_type: 'url' });
  });

  it.each(['httpStatus', 'http200'] as const)(
    '4001 and 4002 (%s) become messages that say what to do',
    async (t) => {
      const { client } = await setup({ errorTransport: t, maxUploadBytes: 1_000_000 });
      const { sessionId } = await client.createSession('en');
      const notes = join(dir, 'notes.txt');
      await writeFile(notes, 'not a video');
      const unsupported = await failure(client.uploadFile(sessionId, notes));
      expect(unsupported.code).toBe('NEMO_UNSUPPORTED');
      expect(unsupported.message).toMatch(/Send the video as MP4, MOV/u);
      const big = await failure(client.uploadFile(sessionId, clip));
      expect(big.code).toBe('NEMO_TOO_LARGE');
      expect(big.message).toMatch(/Trim it or split it/u);
      const missing = await failure(client.uploadFile(sessionId, join(dir, 'nope.mp4')));
      expect(missing.code).toBe('INPUT_NOT_FOUND');
    },
  );
});

describe('run_sse (§4.4)', () => {
  it.each([
    ['v44', 'json'],
    ['v44', 'empty'],
    ['v44', 'comment'],
    ['adk', 'json'],
    ['adk', 'empty'],
    ['adk', 'comment'],
  ] as const)('a normal turn in the %s shape with %s heartbeats', async (eventShape, heartbeat) => {
    const { fake: f, client } = await setup({ eventShape, heartbeat });
    const sid = await sessionWithClip(client);
    const { events, end } = await collect(client.run(sid, 'compress this to under 5MB at 360p'));
    expect(end).toEqual({ reason: 'closed' });
    expect(kinds(events)).toEqual(['text', 'tool:call', 'tool:result', 'text']);
    expect(events.filter((e) => e.kind === 'heartbeat').length).toBeGreaterThanOrEqual(2);
    expect(events).toContainEqual({ kind: 'tool', name: 'compress_video', phase: 'call' });
    const [ack, final] = texts(events);
    expect(ack).toBe(TURN_TEXT.ack);
    const t = translateGuiTalk(final ?? '');
    expect(t.text).toMatch(/^Done! I compressed basic\.mp4/u);
    expect(t.text).not.toMatch(/click|button|timeline/iu);
    expect(t.actions.map((a) => a.kind)).toEqual(['state', 'export']);
    const sse = reqs(f, 'sse');
    expect(sse).toHaveLength(1);
    expect(sse[0]?.headers.accept).toBe('text/event-stream');
    expect(sse[0]?.json).toEqual({
      app_name: 'nemo_agent',
      user_id: 'me',
      session_id: sid,
      new_message: { parts: [{ text: 'compress this to under 5MB at 360p' }] },
    });
    const st = await client.state(sid);
    expect(isExportable(st.draft)).toBe(true);
    expect(timelineSummary(st.draft)).toMatch(/^Timeline \(1 track\): 1\. Video: basic\.mp4 \(0-4s\)$/u);
  });

  it('a silent turn: tools but no text; the state diff tells what changed', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    const before = (await client.state(sid)).draft;
    f.scenario('silent');
    const { events, end } = await collect(client.run(sid, 'make it 720p'));
    expect(end.reason).toBe('closed');
    expect(texts(events)).toEqual([]);
    expect(kinds(events)).toEqual(['tool:call', 'tool:result']);
    const after = (await client.state(sid)).draft;
    expect(changeSummary(before, after)).toMatch(
      /^Changed: added Video: basic\.mp4 \(0-4s\); duration — → 4s/u,
    );
    expect(reqs(f, 'sse')).toHaveLength(1);
  });

  it('a trailing "temporary issue" after normal text is dropped', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    f.scenario('trailing-issue');
    const { events, end } = await collect(client.run(sid, 'compress'));
    expect(end.reason).toBe('closed');
    expect(texts(events)).toHaveLength(2);
    expect(texts(events).join(' ')).not.toContain('temporary issue');
  });

  it('an error frame is an error event; the stream close still ends the turn', async () => {
    const { fake: f, client } = await setup({ eventShape: 'adk' });
    const sid = await sessionWithClip(client);
    f.scenario('error');
    const { events, end } = await collect(client.run(sid, 'compress'));
    expect(end.reason).toBe('closed');
    expect(events.filter((e) => e.kind !== 'heartbeat')).toEqual([
      { kind: 'error', message: TURN_TEXT.error },
    ]);
  });

  it('a disconnect ends the turn as `disconnected` and the prompt is never resent', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    f.scenario('disconnect');
    const { events, end } = await collect(client.run(sid, 'compress to 5MB'));
    expect(end).toEqual({ reason: 'disconnected' });
    expect(texts(events)).toEqual([TURN_TEXT.ack]);
    expect(reqs(f, 'sse')).toHaveLength(1);
    // The server finished the edit: the caller reads state instead of asking again.
    expect(isExportable((await client.state(sid)).draft)).toBe(true);
    await delay(50);
    expect(reqs(f, 'sse')).toHaveLength(1);
  });

  it('a reset right after sending is a disconnect too (the prompt may have arrived), without a resend', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    f.fail('sse', { kind: 'reset' });
    const { events, end } = await collect(client.run(sid, 'compress'));
    expect(end).toEqual({ reason: 'disconnected' });
    expect(events).toEqual([]);
    expect(reqs(f, 'sse')).toHaveLength(1);
  });

  it('heartbeats only → `idle` after the idle limit', async () => {
    const { fake: f, client } = await setup({ heartbeat: 'comment' }, {}, { sseIdleMs: 200 });
    const sid = await sessionWithClip(client);
    f.scenario('heartbeats-only');
    const started = Date.now();
    const { events, end } = await collect(client.run(sid, 'compress'));
    expect(end).toEqual({ reason: 'idle' });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events.every((e) => e.kind === 'heartbeat')).toBe(true);
    expect(reqs(f, 'sse')).toHaveLength(1);
  });

  it('the overall ceiling ends a slow turn with `timeout`', async () => {
    const { fake: f, client } = await setup({ heartbeatMs: 100 }, {}, { sseTimeoutMs: 250 });
    const sid = await sessionWithClip(client);
    f.scenario('slow');
    const { end } = await collect(client.run(sid, 'compress'));
    expect(end).toEqual({ reason: 'timeout' });
    expect(reqs(f, 'sse')).toHaveLength(1);
  });

  it('an abort cancels the turn', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    f.scenario('heartbeats-only');
    const ctl = new AbortController();
    const gen = client.run(sid, 'compress', ctl.signal);
    expect((await gen.next()).value).toEqual({ kind: 'heartbeat' });
    ctl.abort();
    const e = await failure(gen.next());
    expect(e.code).toBe('CANCELLED');
  });

  it.each(['json', 'adk404'] as const)(
    'a deleted session (%s) → NEMO_SESSION_GONE before streaming',
    async (sessionNotFound) => {
      const { fake: f, client } = await setup({ sessionNotFound });
      const sid = await sessionWithClip(client);
      f.deleteSession(sid);
      const e = await failure(collect(client.run(sid, 'compress')));
      expect(e.code).toBe('NEMO_SESSION_GONE');
      expect((await failure(client.state(sid))).code).toBe('NEMO_SESSION_GONE');
    },
  );

  it('1001 before the stream starts is cured and the turn runs once', async () => {
    const { fake: f, client } = await setup();
    const sid = await sessionWithClip(client);
    f.fail('sse', { kind: 'code', code: 1001 });
    const { end } = await collect(client.run(sid, 'compress'));
    expect(end.reason).toBe('closed');
    expect(reqs(f, 'sse').map((r) => r.status)).toEqual([401, 200]);
  });
});

describe('credits (§4.2) and out-of-credit errors', () => {
  it('reads the balance; a turn costs editCost', async () => {
    const { client } = await setup();
    expect(await client.credits()).toEqual({ available: 100, frozen: 0, total: 100 });
    const sid = await sessionWithClip(client);
    await collect(client.run(sid, 'compress'));
    expect(await client.credits()).toEqual({ available: 50, frozen: 0, total: 50 });
  });

  it.each(['httpStatus', 'http200'] as const)(
    '2001 (%s): anonymous → the register link bound to the client id',
    async (t) => {
      const { fake: f, client } = await setup({ errorTransport: t });
      const sid = await sessionWithClip(client);
      f.setCredits('all', 0);
      const e = await failure(collect(client.run(sid, 'compress')));
      expect(e.code).toBe('NEMO_NO_CREDITS');
      expect(e.message).toContain(`https://nemovideo.com/register?bind=${client.clientId()}`);
      expect(reqs(f, 'sse')).toHaveLength(1);
    },
  );

  it('2001 with NEMO_TOKEN → top up', async () => {
    fake = await startFakeNemo({ heartbeatMs: 20 });
    const token = await rawToken(fake);
    const { fake: f, client } = await setup({}, { NEMO_TOKEN: token });
    const sid = await sessionWithClip(client);
    f.setCredits(token, 10);
    const e = await failure(collect(client.run(sid, 'compress')));
    expect(e.code).toBe('NEMO_NO_CREDITS');
    expect(e.message).toMatch(/Top up/u);
    expect(e.message).not.toContain('register');
  });
});

describe('rate limits and outages', () => {
  it('429 once → one retry after Retry-After; without the header after the configured wait', async () => {
    const { fake: f, client, sleeps } = await setup({}, {}, { retryAfterMs: 1234 });
    await client.credits();
    f.fail('credits', { kind: 'http', status: 429, retryAfterSec: 3 });
    expect((await client.credits()).available).toBe(100);
    f.fail('state', { kind: 'http', status: 429 });
    const { sessionId } = await client.createSession('en');
    await client.state(sessionId);
    expect(sleeps).toEqual([3000, 1234]);
    expect(reqs(f, 'credits')).toHaveLength(3);
    expect(reqs(f, 'state')).toHaveLength(2);
  });

  it('429 twice → NEMO_RATE_LIMITED after exactly one retry', async () => {
    const { fake: f, client, sleeps } = await setup();
    await client.credits();
    f.fail('credits', { kind: 'http', status: 429 }, 2);
    const e = await failure(client.credits());
    expect(e.code).toBe('NEMO_RATE_LIMITED');
    expect(e.retryable).toBe(true);
    expect(sleeps).toEqual([30_000]);
    expect(reqs(f, 'credits')).toHaveLength(3);
  });

  it('a Retry-After too long to hold a chat for fails at once', async () => {
    const { fake: f, client, sleeps } = await setup();
    await client.credits();
    f.fail('credits', { kind: 'http', status: 429, retryAfterSec: 3600 });
    expect((await failure(client.credits())).code).toBe('NEMO_RATE_LIMITED');
    expect(sleeps).toEqual([]);
  });

  it('5xx and connection resets → NEMO_UNREACHABLE (retryable); a closed port too', async () => {
    const { fake: f, client } = await setup();
    await client.credits();
    f.fail('credits', { kind: 'http', status: 503 });
    const a = await failure(client.credits());
    expect(a.code).toBe('NEMO_UNREACHABLE');
    expect(a.retryable).toBe(true);
    f.fail('credits', { kind: 'reset' });
    expect((await failure(client.credits())).code).toBe('NEMO_UNREACHABLE');
    const url = f.url;
    await f.close();
    fake = null;
    const dead = new NemoClient(loadNemoConfig({ NEMO_API_BASE: url }), new MemoryTokenStore());
    clients.push(dead);
    const c = await failure(dead.credits());
    expect(c.code).toBe('NEMO_UNREACHABLE');
    expect(c.message).toMatch(/refused/u);
  });
});

describe('export (§4.3, §4.6)', () => {
  async function exportable(client: NemoClient): Promise<{ sid: string; draft: Record<string, unknown> }> {
    const sid = await sessionWithClip(client);
    await collect(client.run(sid, 'compress at 180p'));
    const draft = (await client.state(sid)).draft;
    if (draft === null) throw new Error('no draft');
    return { sid, draft };
  }

  it.each(['v44', 'toplevel', 'cli'] as const)(
    'renders, polls (%s shape) and downloads from the output URL',
    async (renderShape) => {
      const { fake: f, client, sleeps } = await setup({ renderShape, renderPolls: 3 });
      const { sid, draft } = await exportable(client);
      const id = await client.startRender(sid, draft);
      expect(id).toMatch(/^render_\d+$/u);
      expect(reqs(f, 'render')[0]?.json).toEqual({
        id,
        sessionId: sid,
        draft,
        output: { format: 'mp4', quality: 'high' },
      });
      const polls: string[] = [];
      const done = await client.waitRender(id, (s) => polls.push(s.status));
      expect(done.status).toBe('completed');
      expect(done.url).toMatch(new RegExp(`^${f.url}/render-result/`, 'u'));
      expect(polls[0]).toBe('pending');
      expect(polls).toContain('processing');
      expect(polls.at(-1)).toBe('completed');
      expect(polls.length).toBeGreaterThanOrEqual(4);
      expect(sleeps.every((ms) => ms === 20)).toBe(true);
      if (renderShape !== 'v44') expect(done.sizeBytes).toBeGreaterThan(0);

      const dest = join(dir, `out-${renderShape}.mp4`);
      const bytes = await client.download({ ...done, id }, dest, 50_000_000);
      const out = f.renders().find((r) => r.id === id)?.outputPath;
      expect(bytes).toBe((await stat(out ?? '')).size);
      expect((await readFile(dest)).equals(await readFile(out ?? ''))).toBe(true);
      // The CDN got no credentials; the fallback was not needed.
      const cdn = reqs(f, 'renderResult');
      expect(cdn).toHaveLength(1);
      expect(cdn[0]?.headers.authorization).toBeUndefined();
      expect(reqs(f, 'download')).toHaveLength(0);
      await rm(dest);
    },
  );

  it('an expired output URL falls back to /download (with auth); a byte cap leaves nothing behind', async () => {
    const { fake: f, client } = await setup({ outputTtlMs: 0, renderPolls: 1 });
    const { sid, draft } = await exportable(client);
    const id = await client.startRender(sid, draft);
    const done = await client.waitRender(id, () => undefined);
    await delay(5);
    const dest = join(dir, 'fallback.mp4');
    const bytes = await client.download({ ...done, id }, dest, 50_000_000);
    expect(bytes).toBeGreaterThan(1000);
    expect(reqs(f, 'renderResult').map((r) => r.status)).toEqual([404]);
    const dl = reqs(f, 'download');
    expect(dl).toHaveLength(1);
    expect(dl[0]?.headers.authorization).toMatch(/^Bearer nmv_usr_/u);
    expect(dl[0]?.headers['x-skill-source']).toBe('vidshrink');

    // No URL at all → straight to the fallback.
    const dest2 = join(dir, 'nourl.mp4');
    expect(await client.download({ ...done, url: null, id }, dest2, 50_000_000)).toBe(bytes);
    expect(reqs(f, 'download')).toHaveLength(2);

    const capped = join(dir, 'capped.mp4');
    const e = await failure(client.download({ ...done, id }, capped, 1000));
    expect(e.code).toBe('NEMO_OUTPUT_TOO_LARGE');
    expect(e.message).toContain('larger than 1 KB');
    expect(existsSync(capped)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.endsWith('.part'))).toEqual([]);
    await rm(dest);
    await rm(dest2);
  });

  it('a render that fails → NEMO_RENDER_FAILED with the reason', async () => {
    const { client } = await setup({ renderFailRate: 1, renderShape: 'cli', renderPolls: 1 });
    const { sid, draft } = await exportable(client);
    const id = await client.startRender(sid, draft);
    const e = await failure(client.waitRender(id, () => undefined));
    expect(e.code).toBe('NEMO_RENDER_FAILED');
    expect(e.message).toContain('render failed (injected)');
  });

  it('the poll ceiling → NEMO_RENDER_TIMEOUT', async () => {
    const { client } = await setup({ renderPolls: 1000 }, {}, { renderTimeoutMs: 100 });
    const { sid, draft } = await exportable(client);
    const id = await client.startRender(sid, draft);
    const polls: number[] = [];
    const e = await failure(client.waitRender(id, () => polls.push(1)));
    expect(e.code).toBe('NEMO_RENDER_TIMEOUT');
    expect(polls.length).toBeGreaterThanOrEqual(2);
  });

  it('a duplicate render id is retried once with a new id', async () => {
    const { fake: f, client } = await setup();
    const { sid, draft } = await exportable(client);
    vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    const a = await client.startRender(sid, draft);
    const b = await client.startRender(sid, draft);
    vi.restoreAllMocks();
    expect(a).toBe('render_1700000000000');
    expect(b).toMatch(/^render_1700000000000_[0-9a-f]{8}$/u);
    expect(reqs(f, 'render').map((r) => r.status)).toEqual([200, 409, 200]);
  });

  it('a few failed polls in a row are tolerated', async () => {
    const { fake: f, client } = await setup({ renderPolls: 1 });
    const { sid, draft } = await exportable(client);
    const id = await client.startRender(sid, draft);
    f.fail('renderPoll', { kind: 'http', status: 502 }, 2);
    expect((await client.waitRender(id, () => undefined)).status).toBe('completed');
  });

  it('402: the fake blocks an export without skill headers; our client always sends them', async () => {
    const { fake: f, client, store } = await setup();
    const { sid, draft } = await exportable(client);
    const raw = await fetch(`${f.url}/api/render/proxy/lambda`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${store.get('nemo.token') ?? ''}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ id: 'render_raw', sessionId: sid, draft }),
    });
    expect(raw.status).toBe(402);
    expect(await client.startRender(sid, draft)).toMatch(/^render_/u);
    // And the 402 itself is the plan message, not a credits one.
    f.fail('render', { kind: 'code', code: 402 });
    const e = await failure(client.startRender(sid, draft));
    expect(e.code).toBe('NEMO_PLAN_BLOCKED');
    expect(e.message).toMatch(/not a lack of credits/u);
  });
});
