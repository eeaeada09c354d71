// Self-test of the fake NemoVideo server (chatbot-anchors.md §5): every documented shape and knob is exercised with
// plain fetch and a real 2-second clip, so the backend's tests can trust what the fake answers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ffprobe, startFakeNemo, TURN_TEXT, type FakeNemo, type FakeNemoOptions } from './nemovideo.js';

const SKILL_HEADERS = {
  'x-skill-source': 'video-compressore-parkside',
  'x-skill-version': '1.0.0',
  'x-skill-platform': 'unknown',
};

let dir = '';
let clip = '';
let fake: FakeNemo | null = null;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fake-nemo-test-'));
  clip = join(dir, 'clip.mp4');
  const r = spawnSync(
    'ffmpeg',
    [
      '-nostdin',
      '-y',
      '-hide_banner',
      '-v',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=320x240:rate=15',
      '-f',
      'lavfi',
      '-i',
      'sine=f=440:sample_rate=44100',
      '-t',
      '2',
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      clip,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`clip: ${r.stderr}`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

afterEach(async () => {
  await fake?.close();
  fake = null;
});

async function start(o: FakeNemoOptions = {}): Promise<FakeNemo> {
  fake = await startFakeNemo({ heartbeatMs: 30, renderPolls: 2, ...o });
  return fake;
}

interface Envelope {
  code: number;
  message: string;
  data?: Record<string, unknown>;
}

async function call(
  f: FakeNemo,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const headers: Record<string, string> = { ...SKILL_HEADERS, ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${f.url}${path}`, {
    method,
    headers,
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

async function anonToken(f: FakeNemo, clientId = 'client-1'): Promise<{ token: string; userId: string }> {
  const r = await call(f, 'POST', '/api/auth/anonymous-token', { headers: { 'x-client-id': clientId } });
  const data = (r.body as unknown as Envelope).data ?? {};
  return { token: String(data.token), userId: String(data.user_id) };
}

async function newSession(f: FakeNemo, token: string): Promise<string> {
  const r = await call(f, 'POST', '/api/tasks/me/with-session/nemo_agent', {
    token,
    body: { task_name: 'project', language: 'en' },
  });
  return String((r.body as unknown as Envelope).data?.session_id);
}

async function upload(
  f: FakeNemo,
  token: string,
  sid: string,
  name = 'clip.mp4',
  bytes: Buffer = readFileSync(clip),
): Promise<{ status: number; body: Envelope }> {
  const form = new FormData();
  form.append('files', new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }), name);
  const res = await fetch(`${f.url}/api/upload-video/nemo_agent/me/${sid}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...SKILL_HEADERS },
    body: form,
  });
  return { status: res.status, body: (await res.json()) as Envelope };
}

function runSse(
  f: FakeNemo,
  token: string,
  sid: string,
  text: string,
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(`${f.url}/run_sse`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'text/event-stream',
      'content-type': 'application/json',
      ...SKILL_HEADERS,
    },
    body: JSON.stringify({
      app_name: 'nemo_agent',
      user_id: 'me',
      session_id: sid,
      new_message: { parts: [{ text }] },
    }),
    ...(signal ? { signal } : {}),
  });
}

interface Frame {
  comment: string | null;
  data: string | null;
}

/** Reads the stream to its end (or until it breaks) and splits it into SSE blocks on blank lines. */
async function readFrames(res: Response): Promise<{ frames: Frame[]; broke: boolean }> {
  const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
  if (!reader) throw new Error('no body');
  const dec = new TextDecoder();
  let raw = '';
  let broke = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      raw += dec.decode(value, { stream: true });
    }
  } catch {
    broke = true;
  }
  return { frames: parseFrames(raw), broke };
}

function parseFrames(raw: string): Frame[] {
  return raw
    .split('\n\n')
    .filter((b) => b !== '')
    .map((block) => {
      let comment: string | null = null;
      let data: string | null = null;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) comment = line.slice(1).trim();
        else if (line.startsWith('data:')) data = line.slice(5).replace(/^ /u, '');
      }
      return { comment, data };
    });
}

function events(frames: Frame[]): Array<Record<string, unknown>> {
  return frames
    .filter((f) => f.data !== null && f.data !== '')
    .map((f) => JSON.parse(f.data ?? '') as Record<string, unknown>);
}

async function state(f: FakeNemo, token: string, sid: string): Promise<Record<string, unknown>> {
  const r = await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token });
  return (r.body as unknown as Envelope).data?.state as Record<string, unknown>;
}

describe('fake NemoVideo: tokens, envelope and sessions', () => {
  it('issues anonymous tokens only with X-Client-Id, in both error transports', async () => {
    const f = await start();
    const missing = await call(f, 'POST', '/api/auth/anonymous-token');
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ code: 400 });
    expect(typeof missing.body.message).toBe('string');

    const first = await call(f, 'POST', '/api/auth/anonymous-token', { headers: { 'x-client-id': 'c-1' } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ code: 0, message: 'ok', data: { credits: 100 } });
    const data = (first.body as unknown as Envelope).data ?? {};
    expect(data.token).toMatch(/^nmv_usr_/u);
    expect(data.user_id).toMatch(/^anon_/u);
    expect(Date.parse(String(data.expires_at)) - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const again = await call(f, 'POST', '/api/auth/anonymous-token', { headers: { 'x-client-id': 'c-1' } });
    expect((again.body as unknown as Envelope).data?.token).toBe(data.token);

    f.options.errorTransport = 'http200';
    const missing200 = await call(f, 'POST', '/api/auth/anonymous-token');
    expect(missing200.status).toBe(200);
    expect(missing200.body).toMatchObject({ code: 400 });
    const noAuth = await call(f, 'GET', '/api/credits/balance/simple');
    expect(noAuth.status).toBe(200);
    expect(noAuth.body).toMatchObject({ code: 1001 });
    f.options.errorTransport = 'httpStatus';
    expect((await call(f, 'GET', '/api/credits/balance/simple')).status).toBe(401);
  });

  it('limits token issues per IP with 429 and Retry-After', async () => {
    const f = await start({ issueQuota: 2 });
    await anonToken(f, 'a');
    await anonToken(f, 'b');
    const r = await call(f, 'POST', '/api/auth/anonymous-token', { headers: { 'x-client-id': 'c' } });
    expect(r.status).toBe(429);
    expect(r.body).toMatchObject({ code: 429 });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('expires tokens (1001) and re-issues one to the same client that still owns its session', async () => {
    const f = await start();
    const { token, userId } = await anonToken(f, 'c-exp');
    const sid = await newSession(f, token);
    f.expireTokens();
    const r = await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 1001 });
    const fresh = await anonToken(f, 'c-exp');
    expect(fresh.token).not.toBe(token);
    expect(fresh.userId).toBe(userId);
    expect(
      (await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token: fresh.token })).status,
    ).toBe(200);
  });

  it('creates sessions bound to their owner; deleteSession → 1002; claim tokens grant no access', async () => {
    const f = await start();
    const { token, userId } = await anonToken(f, 'owner');
    const created = await call(f, 'POST', `/api/tasks/${userId}/with-session/nemo_agent`, {
      token,
      body: { task_name: 'project' },
    });
    const data = (created.body as unknown as Envelope).data ?? {};
    expect(created.body).toMatchObject({ code: 0, data: { user_id: userId } });
    expect(data.task_id).toMatch(/^task_\d+$/u);
    expect(data.session_id).toMatch(/^[1-9]\d{18}$/u);
    const sid = String(data.session_id);

    const noName = await call(f, 'POST', '/api/tasks/me/with-session/nemo_agent', { token, body: {} });
    expect(noName.body).toMatchObject({ code: 400 });

    const st = await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token });
    expect(st.body).toMatchObject({
      code: 0,
      data: {
        session_id: sid,
        task_id: data.task_id,
        task_name: 'project',
        state: { video_infos: [], draft: {}, video_analyses: {}, generated_media: [] },
      },
    });

    const other = await anonToken(f, 'stranger');
    const foreign = await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token: other.token });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toMatchObject({ code: 1002 });

    const claim = await call(f, 'POST', '/api/auth/claim-token', {
      token,
      body: { task_id: data.task_id, session_id: sid },
    });
    const ct = String((claim.body as unknown as Envelope).data?.claim_token);
    expect(ct).toMatch(/^clm_/u);
    expect(claim.body).toMatchObject({ data: { expires_in: 604_800 } });
    expect((await call(f, 'GET', '/api/credits/balance/simple', { token: ct })).body).toMatchObject({
      code: 1001,
    });

    f.deleteSession(sid);
    const gone = await call(f, 'GET', `/api/state/nemo_agent/me/${sid}/latest`, { token });
    expect(gone.status).toBe(404);
    expect(gone.body).toMatchObject({ code: 1002 });
  });
});

describe('fake NemoVideo: upload', () => {
  it('accepts multipart files, probes them, serves them from the CDN, and refuses 4001/4002', async () => {
    const f = await start();
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    const up = await upload(f, token, sid);
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ code: 0, data: { session_state_applied: true } });
    const files = up.body.data?.files as Array<Record<string, unknown>>;
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({
      filename: 'clip.mp4',
      file_type: 'video',
      width: 320,
      height: 240,
      fps: 15,
    });
    expect(Number(files[0]?.duration)).toBeCloseTo(2, 0);
    const cdn = String(files[0]?.cdn_url);
    expect(cdn).toBe(`${f.url}/cdn/${String(files[0]?.hash)}/clip.mp4`);
    const served = Buffer.from(await (await fetch(cdn)).arrayBuffer());
    expect(served.equals(readFileSync(clip))).toBe(true);
    const st = await state(f, token, sid);
    expect(st.video_infos).toEqual(files);
    expect(st.canvas_config).toEqual({ width: 320, height: 240, ratio: '4:3' });

    const byUrl = await call(f, 'POST', `/api/upload-video/nemo_agent/me/${sid}`, {
      token,
      body: { urls: [cdn], source_type: 'url' },
    });
    expect(byUrl.body).toMatchObject({ code: 0, data: { files: [{ hash: files[0]?.hash, width: 320 }] } });
    const foreignHost = await call(f, 'POST', `/api/upload-video/nemo_agent/me/${sid}`, {
      token,
      body: { urls: ['http://example.com/a.mp4'], source_type: 'url' },
    });
    expect(foreignHost.body).toMatchObject({ code: 400 });

    const txt = await upload(f, token, sid, 'notes.txt', Buffer.from('hello'));
    expect(txt.status).toBe(415);
    expect(txt.body.code).toBe(4001);

    f.options.maxUploadBytes = 1000;
    const big = await upload(f, token, sid);
    expect(big.status).toBe(413);
    expect(big.body.code).toBe(4002);
    expect((await state(f, token, sid)).video_infos).toHaveLength(2);
  });
});

describe('fake NemoVideo: /run_sse', () => {
  it('streams a normal turn (v44 frames, JSON heartbeats), freezes then settles credits, and edits the draft', async () => {
    const f = await start();
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    await upload(f, token, sid);
    const res = await runSse(f, token, sid, 'compress this to under 1.5MB at 180p');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(f.credits(token)).toEqual({ available: 50, frozen: 50, total: 100 });
    const busy = await runSse(f, token, sid, 'again');
    expect(busy.status).toBe(409);
    expect(await busy.json()).toMatchObject({ code: 409 });

    const { frames, broke } = await readFrames(res);
    expect(broke).toBe(false);
    const ev = events(frames);
    expect(ev.map((e) => e.type)).toEqual([
      'text',
      'heartbeat',
      'tool_call',
      'heartbeat',
      'tool_result',
      'text',
    ]);
    expect(ev[0]).toEqual({ type: 'text', content: TURN_TEXT.ack });
    expect(ev[2]).toMatchObject({ name: 'compress_video', args: { target_bytes: 1_500_000, height: 180 } });
    expect(String(ev[5]?.content)).toMatch(/Export button/u);
    expect(f.credits(token)).toEqual({ available: 50, frozen: 0, total: 50 });

    const draft = (await state(f, token, sid)).draft as Record<string, unknown>;
    const info = ((await state(f, token, sid)).video_infos as Array<Record<string, unknown>>)[0];
    expect(draft).toEqual({
      t: [{ tt: 0, sg: [{ src: info?.cdn_url, s: 0, e: 2000 }] }],
      d: 2000,
      m: { title: 'project', width: 240, height: 180, target_bytes: 1_500_000 },
    });

    f.setCredits(token, 10);
    const broke2001 = await runSse(f, token, sid, 'make it smaller');
    expect(broke2001.status).toBe(403);
    expect(await broke2001.json()).toMatchObject({ code: 2001 });
  });

  it('speaks ADK event shape with empty-data heartbeats, and a silent turn still edits state', async () => {
    const f = await start({ eventShape: 'adk', heartbeat: 'empty' });
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    await upload(f, token, sid);
    const normal = await readFrames(await runSse(f, token, sid, 'compress to 8 MB'));
    expect(normal.frames.filter((fr) => fr.data === '')).toHaveLength(2);
    const ev = events(normal.frames);
    expect(ev).toHaveLength(4);
    for (const e of ev) {
      expect(e).toMatchObject({ author: 'nemo_agent', partial: false, invocationId: ev[0]?.invocationId });
      expect(typeof e.id).toBe('string');
      expect(typeof e.timestamp).toBe('number');
    }
    expect(ev[0]?.content).toEqual({ role: 'model', parts: [{ text: TURN_TEXT.ack }] });
    expect(ev[1]?.content).toMatchObject({ parts: [{ functionCall: { name: 'compress_video' } }] });
    expect(ev[2]?.content).toMatchObject({ parts: [{ functionResponse: { name: 'compress_video' } }] });

    f.scenario('silent');
    const silent = await readFrames(await runSse(f, token, sid, 'compress to 2 MB'));
    const sev = events(silent.frames);
    expect(sev.some((e) => JSON.stringify(e.content).includes('"text"'))).toBe(false);
    expect(sev).toHaveLength(2);
    const m = ((await state(f, token, sid)).draft as { m: Record<string, unknown> }).m;
    expect(m.target_bytes).toBe(2_000_000);
  });

  it('drops the socket mid-stream on disconnect (comment heartbeats), after updating state', async () => {
    const f = await start({ heartbeat: 'comment' });
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    await upload(f, token, sid);
    f.scenario('disconnect');
    const { frames, broke } = await readFrames(await runSse(f, token, sid, 'compress to 720p'));
    expect(broke).toBe(true);
    expect(frames.filter((fr) => fr.comment === 'ping')).toHaveLength(2);
    expect(events(frames).map((e) => e.type)).toEqual(['text', 'tool_call']);
    expect(((await state(f, token, sid)).draft as { m: Record<string, unknown> }).m.height).toBe(720);
    expect(f.credits(token)).toEqual({ available: 50, frozen: 0, total: 50 });
  });

  it('slow, trailing-issue, error and heartbeats-only scenarios; refunds when the turn did nothing', async () => {
    const f = await start({ initialCredits: 200 });
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    await upload(f, token, sid);
    f.scenario('slow', 'trailing-issue', 'error', 'heartbeats-only');
    const slow = events((await readFrames(await runSse(f, token, sid, 'compress'))).frames);
    expect(slow.slice(0, 5).map((e) => e.type)).toEqual([
      'heartbeat',
      'heartbeat',
      'heartbeat',
      'heartbeat',
      'text',
    ]);
    expect(slow).toHaveLength(10);

    const trailing = events((await readFrames(await runSse(f, token, sid, 'compress'))).frames);
    expect(trailing.at(-1)).toEqual({ type: 'text', content: TURN_TEXT.trailingIssue });
    expect(String(trailing.at(-2)?.content)).toMatch(/Export button/u);

    const err = events((await readFrames(await runSse(f, token, sid, 'compress'))).frames);
    expect(err).toEqual([{ type: 'heartbeat' }, { error: TURN_TEXT.error }]);
    expect(f.credits(token)).toEqual({ available: 100, frozen: 0, total: 100 });

    const ac = new AbortController();
    const res = await runSse(f, token, sid, 'compress', ac.signal);
    const reader = res.body?.getReader() as ReadableStreamDefaultReader<Uint8Array> | undefined;
    let beats = 0;
    let raw = '';
    while (beats < 3) {
      const chunk = await reader?.read();
      if (!chunk || chunk.done) throw new Error('heartbeats-only stream ended by itself');
      raw += new TextDecoder().decode(chunk.value);
      beats = parseFrames(raw).length;
    }
    expect(events(parseFrames(raw)).every((e) => e.type === 'heartbeat')).toBe(true);
    expect(f.credits(token).frozen).toBe(50);
    ac.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(f.credits(token)).toEqual({ available: 100, frozen: 0, total: 100 });
    expect((await runSse(f, token, sid, 'compress')).status).toBe(200);
  });

  it('validates the snake_case body and answers unknown sessions as 1002 or ADK 404', async () => {
    const f = await start();
    const { token } = await anonToken(f);
    const camel = await call(f, 'POST', '/run_sse', {
      token,
      body: { appName: 'nemo_agent', userId: 'me', sessionId: '1', newMessage: { parts: [{ text: 'x' }] } },
    });
    expect(camel.status).toBe(400);
    expect(camel.body).toMatchObject({ code: 400 });
    const unknown = await runSse(f, token, '1234567890123456789', 'compress');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ code: 1002 });
    f.options.sessionNotFound = 'adk404';
    const adk = await runSse(f, token, '1234567890123456789', 'compress');
    expect(adk.status).toBe(404);
    expect(await adk.json()).toEqual({ detail: 'Session not found' });
  });
});

describe('fake NemoVideo: render', () => {
  async function editedSession(f: FakeNemo): Promise<{ token: string; sid: string; draft: unknown }> {
    const { token } = await anonToken(f);
    const sid = await newSession(f, token);
    await upload(f, token, sid);
    await readFrames(await runSse(f, token, sid, 'compress to under 5MB at 180p'));
    return { token, sid, draft: (await state(f, token, sid)).draft };
  }

  async function pollUntilSettled(
    f: FakeNemo,
    token: string,
    id: string,
  ): Promise<Array<{ status: number; body: Record<string, unknown> }>> {
    const seen: Array<{ status: number; body: Record<string, unknown> }> = [];
    for (let i = 0; i < 200; i++) {
      const r = await call(f, 'GET', `/api/render/proxy/lambda/${id}`, { token });
      seen.push(r);
      const b = r.body;
      const inner = (b.data ?? b) as Record<string, unknown>;
      if (inner.status === 'completed' || inner.status === 'failed') return seen;
      await new Promise((res) => setTimeout(res, 25));
    }
    throw new Error('render never settled');
  }

  it('needs the X-Skill-* headers (402), refuses duplicate ids, and renders a real MP4 in every poll shape', async () => {
    const f = await start();
    const { token, sid, draft } = await editedSession(f);
    const body = { id: 'render_1', sessionId: sid, draft, output: { format: 'mp4', quality: 'high' } };
    const bare = await fetch(`${f.url}/api/render/proxy/lambda`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(bare.status).toBe(402);
    expect(await bare.json()).toMatchObject({ code: 402 });

    const outputs: string[] = [];
    for (const shape of ['toplevel', 'v44', 'cli'] as const) {
      f.options.renderShape = shape;
      const id = `render_${shape}`;
      const started = await call(f, 'POST', '/api/render/proxy/lambda', { token, body: { ...body, id } });
      expect(started.body).toEqual({ success: true, data: { id, status: 'pending', progress: 5 } });
      const seen = await pollUntilSettled(f, token, id);
      expect(seen.length).toBeGreaterThanOrEqual(3);
      const last = seen.at(-1)?.body ?? {};
      if (shape === 'toplevel') {
        expect(seen[0]?.body).toMatchObject({ taskId: id, status: 'pending', progress: 5, output: null });
        expect(seen[1]?.body).toMatchObject({ status: 'processing' });
        expect(last).toMatchObject({ taskId: id, status: 'completed', progress: 100 });
        const out = last.output as { url: string; size: number; duration: number };
        expect(out.size).toBeGreaterThan(0);
        expect(out.duration).toBeCloseTo(2, 0);
        outputs.push(out.url);
      } else if (shape === 'v44') {
        expect(seen[1]?.body).toMatchObject({
          success: true,
          data: { id, status: 'processing', outputUrl: null },
        });
        expect(last).toMatchObject({ success: true, data: { id, status: 'completed' } });
        const data = last.data as { outputUrl: string; createdAt: string; completedAt: string };
        expect(Date.parse(data.completedAt)).toBeGreaterThanOrEqual(Date.parse(data.createdAt));
        outputs.push(data.outputUrl);
      } else {
        expect(seen[0]?.body).toEqual({ code: 0, message: 'ok', data: { render_id: id, status: 'pending' } });
        expect(last).toMatchObject({ code: 0, data: { render_id: id, status: 'completed' } });
        outputs.push((last.data as { output: { url: string } }).output.url);
      }
    }
    expect(outputs).toEqual(['toplevel', 'v44', 'cli'].map((s) => `${f.url}/render-result/render_${s}.mp4`));

    const mp4 = Buffer.from(await (await fetch(outputs[0] ?? '')).arrayBuffer());
    const local = join(dir, 'out.mp4');
    writeFileSync(local, mp4);
    const probe = await ffprobe(local);
    expect(probe?.video).toMatchObject({ width: 240, height: 180 });
    expect(probe?.duration).toBeCloseTo(2, 0);

    const ranged = await fetch(outputs[1] ?? '', { headers: { range: 'bytes=0-99' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toMatch(/^bytes 0-99\/\d+$/u);
    expect((await ranged.arrayBuffer()).byteLength).toBe(100);
    const dl = await fetch(`${f.url}/api/render/proxy/render_cli/download`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(dl.status).toBe(200);
    expect((await dl.arrayBuffer()).byteLength).toBeGreaterThan(1000);

    const dup = await call(f, 'POST', '/api/render/proxy/lambda', {
      token,
      body: { ...body, id: 'render_cli' },
    });
    expect(dup.body).toEqual({ success: false, error: 'duplicate id' });
    expect(f.renders().map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(
      f.requests.filter((r) => r.path.startsWith('/render-result/')).every((r) => !r.headers.authorization),
    ).toBe(true);
  });

  it('reports failed for a forced failure and for a cancelled render', async () => {
    const f = await start({ renderFailRate: 1, renderPolls: 0 });
    const { token, sid, draft } = await editedSession(f);
    await call(f, 'POST', '/api/render/proxy/lambda', {
      token,
      body: { id: 'r_fail', sessionId: sid, draft },
    });
    const failed = (await pollUntilSettled(f, token, 'r_fail')).at(-1)?.body;
    expect(failed).toMatchObject({ status: 'failed', error: 'render failed (injected)' });

    f.options.renderFailRate = 0;
    f.options.renderPolls = 50;
    await call(f, 'POST', '/api/render/proxy/lambda', {
      token,
      body: { id: 'r_cancel', sessionId: sid, draft },
    });
    const cancel = await call(f, 'POST', '/api/render/proxy/lambda/r_cancel/cancel', { token });
    expect(cancel.body).toMatchObject({ success: true, data: { status: 'failed' } });
    const after = await call(f, 'GET', '/api/render/proxy/lambda/r_cancel', { token });
    expect(after.body).toMatchObject({ status: 'failed', error: 'cancelled' });
  });
});

describe('fake NemoVideo: faults and controls', () => {
  it('injects 429 with Retry-After once, 500, resets and code faults', async () => {
    const f = await start();
    const { token } = await anonToken(f);
    f.fail('credits', { kind: 'http', status: 429, retryAfterSec: 30 });
    const limited = await call(f, 'GET', '/api/credits/balance/simple', { token });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('30');
    const fine = await call(f, 'GET', '/api/credits/balance/simple', { token });
    expect(fine.body).toEqual({ code: 0, message: 'ok', data: { available: 100, frozen: 0, total: 100 } });

    f.fail('credits', { kind: 'http', status: 500 }, 2);
    expect((await call(f, 'GET', '/api/credits/balance/simple', { token })).status).toBe(500);
    expect((await call(f, 'GET', '/api/credits/balance/simple', { token })).status).toBe(500);
    expect((await call(f, 'GET', '/api/credits/balance/simple', { token })).status).toBe(200);

    f.fail('session', { kind: 'reset' });
    await expect(
      call(f, 'POST', '/api/tasks/me/with-session/nemo_agent', { token, body: { task_name: 'p' } }),
    ).rejects.toThrow();

    f.options.errorTransport = 'http200';
    f.fail('state', { kind: 'code', code: 1002 });
    const coded = await call(f, 'GET', '/api/state/nemo_agent/me/1/latest', { token });
    expect(coded.status).toBe(200);
    expect(coded.body).toMatchObject({ code: 1002 });
  });

  it('serves the same controls over HTTP under /__fake/ and records every request with its headers', async () => {
    const f = await start();
    const { token } = await anonToken(f);
    const post = (path: string, body: unknown): Promise<Response> =>
      fetch(`${f.url}/__fake/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post('options', { errorTransport: 'http200' })).status).toBe(200);
    expect(f.options.errorTransport).toBe('http200');
    expect((await post('options', { nope: 1 })).status).toBe(400);
    await post('fail', { route: 'credits', fault: { kind: 'code', code: 2001 }, times: 1 });
    expect((await call(f, 'GET', '/api/credits/balance/simple', { token })).body).toMatchObject({
      code: 2001,
    });

    const sid = await newSession(f, token);
    await post('scenario', { scenarios: ['error'] });
    const ev = events((await readFrames(await runSse(f, token, sid, 'compress'))).frames);
    expect(ev.at(-1)).toEqual({ error: TURN_TEXT.error });

    const log = (await (await fetch(`${f.url}/__fake/requests`)).json()) as Array<Record<string, unknown>>;
    expect(log.map((r) => r.route)).toEqual(['token', 'credits', 'session', 'sse']);
    expect(log[1]).toMatchObject({
      method: 'GET',
      path: '/api/credits/balance/simple',
      headers: { authorization: `Bearer ${token}`, 'x-skill-source': 'video-compressore-parkside' },
    });
    expect(log[3]?.json).toMatchObject({ app_name: 'nemo_agent', session_id: sid });
  });
});
