// The NemoVideo backend driven end to end through the conversation engine (issue #6 "Tests"): the real service
// (SQLite sessions, persistent queue, engine) with VIDSHRINK_BACKEND=nemo against the protocol-faithful fake on
// loopback (test/fakes/nemovideo.ts): upload, instruction, heartbeat edits, agent text without GUI talk, the state
// summary when a turn ends without text, export polled over several polls, download, reply; the hybrid cap check;
// tokens that expire, sessions that vanish, credits that run out, 402, 429, a restart mid-render; and the user
// message of every error the cloud can cause.
import { createReadStream } from 'node:fs';
import { copyFile, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Service } from '../../src/apps/service.js';
import { loadNemoConfig } from '../../src/config/nemo.js';
import { ERRORS } from '../../src/domain/errors.js';
import { probe } from '../../src/media/ffprobe.js';
import { basicClip, noisyClip } from '../fixtures/generate.js';
import { startFakeNemo, type FakeNemo, type FakeNemoOptions } from '../fakes/nemovideo.js';
import {
  fileAttachment,
  message,
  RecordingPort,
  service,
  tempDataDir,
  type Call,
} from '../conversation/helpers.js';

let clip: string;
let noisy: string;
beforeAll(() => {
  clip = basicClip();
  noisy = noisyClip('nemo-noisy-720', 1280, 720, 3);
});

interface Rig {
  fake: FakeNemo;
  port: RecordingPort;
  svc: Service;
  dir: string;
}
const rigs: Rig[] = [];

async function rig(
  fakeOpts: FakeNemoOptions = {},
  env: Record<string, string> = {},
  reuse?: { fake: FakeNemo; dir: string },
): Promise<Rig> {
  const fake = reuse?.fake ?? (await startFakeNemo({ heartbeatMs: 40, renderPolls: 3, ...fakeOpts }));
  const dir = reuse?.dir ?? (await tempDataDir());
  const port = new RecordingPort();
  const nemoEnv = {
    NEMO_API_BASE: fake.url,
    NEMO_POLL_SECONDS: '0.05',
    NEMO_RETRY_AFTER_SECONDS: '0.05',
    ...env,
  };
  const svc = await service(
    dir,
    port,
    { VIDSHRINK_BACKEND: 'nemo' },
    { nemo: { config: loadNemoConfig(nemoEnv), recoveryPollMs: 50 } },
  );
  const r = { fake, port, svc, dir };
  rigs.push(r);
  return r;
}

afterEach(async () => {
  for (const r of rigs.splice(0)) {
    await r.svc.close().catch(() => undefined);
    await r.fake.close().catch(() => undefined);
    await rm(r.dir, { recursive: true, force: true });
  }
});
afterAll(async () => {
  for (const r of rigs.splice(0)) await r.svc.close().catch(() => undefined);
});

const texts = (port: RecordingPort): string[] =>
  port.calls.flatMap((c) => (c.kind === 'text' || c.kind === 'edit' ? [c.text] : []));
const isResult = (c: Call): boolean => c.kind === 'file' || c.kind === 'link';
const fails = (c: Call): boolean => (c.kind === 'edit' || c.kind === 'text') && c.text.includes('❌');

function routes(fake: FakeNemo, route: string): typeof fake.requests {
  return fake.requests.filter((r) => r.route === route);
}

describe('NemoVideo backend through the conversation engine', () => {
  it('uploads, sends the words, keeps the chat alive, passes the reply on without GUI talk, exports and replies with the MP4', async () => {
    // Heartbeats slower than the port's edit interval (300 ms), so each one can show.
    const { fake, port, svc } = await rig({ heartbeatMs: 400 });
    fake.scenario('slow');
    await svc.engine.handle(
      message('under 2MB please', [fileAttachment(clip)], {
        sender: { id: 'user-1', displayName: 'Ana', language: 'de' },
      }),
    );
    const result = await port.waitFor(isResult);
    if (result.kind !== 'file') throw new Error('expected a file');
    const out = await probe(result.path);
    expect(out.video?.codec).toBe('h264');
    expect(result.sizeBytes).toBeLessThanOrEqual(2_000_000);
    expect(result.opts.caption).toContain('Under your 2 MB limit');

    const all = texts(port);
    // The agent's words reached the chat as their own message, GUI talk removed (seed "Backend Response Translation").
    const notes = port.calls
      .filter((c) => c.kind === 'text' && !c.buttons.length)
      .map((c) => (c as { text: string }).text);
    expect(notes.some((t) => t.includes('compressing your video'))).toBe(true);
    // The cloud knows the file by the person's name, not our storage id.
    expect(notes.some((t) => t.includes('clip.mp4'))).toBe(true);
    expect(all.some((t) => /click|export button/iu.test(t))).toBe(false);
    // "You can preview it in the timeline" became the track summary.
    expect(notes.some((t) => t.startsWith('Timeline ('))).toBe(true);
    // Heartbeats drove "⏳ Still working..." edits, the render's polls a progress bar.
    expect(all.some((t) => t.includes('⏳ Still working... (the cloud editor is working)'))).toBe(true);
    expect(all.some((t) => t.includes('Rendering in the cloud'))).toBe(true);

    // The protocol, as the seed describes it.
    const tok = routes(fake, 'token');
    expect(tok).toHaveLength(1);
    const clientId = tok[0]?.headers['x-client-id'] ?? '';
    expect(clientId).toMatch(/^[0-9a-f-]{36}$/u);
    expect(svc.repo.getKv('nemo.clientId')).toBe(clientId);
    const sessionReq = routes(fake, 'session')[0];
    expect(sessionReq?.json).toEqual({ task_name: 'project', language: 'de' });
    const sid = fake.sessions()[0]?.sessionId ?? '';
    const sse = routes(fake, 'sse')[0]?.json as {
      app_name: string;
      user_id: string;
      session_id: string;
      new_message: { parts: { text: string }[] };
    };
    expect(sse.app_name).toBe('nemo_agent');
    expect(sse.user_id).toBe('me');
    expect(sse.session_id).toBe(sid);
    expect(sse.new_message.parts[0]?.text).toContain('under 2MB please');
    expect(sse.new_message.parts[0]?.text).toContain('at most 2 MB');
    expect(routes(fake, 'upload')[0]?.headers['content-type']).toMatch(/^multipart\/form-data/u);
    const render = routes(fake, 'render')[0]?.json as {
      id: string;
      sessionId: string;
      draft: unknown;
      output: unknown;
    };
    expect(render.id).toMatch(/^render_\d+/u);
    expect(render.sessionId).toBe(sid);
    expect(render.output).toEqual({ format: 'mp4', quality: 'high' });
    expect(routes(fake, 'renderPoll').length).toBeGreaterThanOrEqual(3);
    for (const r of fake.requests.filter((q) => q.route !== 'cdn' && q.route !== 'renderResult')) {
      expect(r.headers['x-skill-source']).toBe('vidshrink');
      expect(r.headers['x-skill-version']).toMatch(/^\d+\.\d+\.\d+/u);
      expect(r.headers['x-skill-platform']).toBe('vidshrink-bot');
    }
    // The chat's session row keeps the cloud session; the token never reaches a chat message.
    const row = svc.repo.session({ platform: 'test', chatId: 'chat-1' }, 'user-1', 'private', null);
    expect(row.backendSessionId).toBe(sid);
    const token = fake.tokens()[0]?.token ?? 'missing';
    expect(all.join('\n')).not.toContain(token);
  });

  it('summarizes the timeline when the turn ends without text, and reuses the chat’s cloud session', async () => {
    const { fake, port, svc } = await rig();
    fake.scenario('normal', 'silent');
    await svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
    await port.waitFor(isResult);
    const before = port.calls.length;
    await svc.engine.handle(message('now 720p'));
    await port.waitFor((c) => isResult(c) && port.calls.indexOf(c) >= before);
    const later = port.calls
      .slice(before)
      .filter((c) => c.kind === 'text')
      .map((c) => (c as { text: string }).text);
    const summary = later.find((t) => t.startsWith('Changed:'));
    expect(summary).toBeDefined();
    expect(summary).toContain('Timeline (');
    expect(routes(fake, 'session')).toHaveLength(1);
    const sids = routes(fake, 'sse').map((r) => (r.json as { session_id: string }).session_id);
    expect(sids).toHaveLength(2);
    expect(sids[0]).toBe(sids[1]);
  });

  it('re-encodes locally when the cloud’s file breaks the cap, and says so', async () => {
    const { port, svc } = await rig();
    await svc.engine.handle(message('under 300KB', [fileAttachment(noisy, 'noisy.mp4')]));
    const result = await port.waitFor(isResult);
    if (result.kind !== 'file') throw new Error('expected a file');
    expect(result.sizeBytes).toBeLessThanOrEqual(300_000);
    expect(
      texts(port).some((t) =>
        /The cloud's file is .* over your 300 KB limit — re-encoding it here to fit/u.test(t),
      ),
    ).toBe(true);
    expect((await probe(result.path)).durationSec).toBeCloseTo(3, 0);
  });

  it('out of credits: the registration link with the client id, and the local engine offered and used', async () => {
    const { fake, port, svc } = await rig({ initialCredits: 0 });
    await svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
    const failed = await port.waitFor(fails);
    const clientId = svc.repo.getKv('nemo.clientId') ?? 'missing';
    expect('text' in failed && failed.text).toContain(`register?bind=${clientId}`);
    expect('text' in failed && failed.text).toContain('Compress here instead');
    const buttons =
      failed.kind === 'edit' ? (failed.buttons ?? []) : failed.kind === 'text' ? failed.buttons : [];
    const local = buttons.find((b) => b.action === 'local');
    expect(local).toBeDefined();
    const sseCalls = routes(fake, 'sse').length;
    await svc.engine.handle(message('', [], { button: { action: 'local', jobId: local?.jobId ?? '' } }));
    const result = await port.waitFor(isResult);
    if (result.kind !== 'file') throw new Error('expected a file');
    expect(result.sizeBytes).toBeLessThanOrEqual(2_000_000);
    expect(routes(fake, 'sse')).toHaveLength(sseCalls);
    // A second tap on the same button starts nothing new.
    await svc.engine.handle(message('', [], { button: { action: 'local', jobId: local?.jobId ?? '' } }));
    await port.waitFor((c) => c.kind === 'text' && c.text.includes('no longer waiting for a retry'));
    const row = svc.repo.session({ platform: 'test', chatId: 'chat-1' }, 'user-1', 'private', null);
    expect(svc.repo.jobsOf(row.id).filter((j) => j.parentJobId === local?.jobId)).toHaveLength(1);
    // The credits command shows the cloud's real balance.
    await svc.engine.handle(message('credits'));
    const reply = await port.waitFor(
      (c) => c.kind === 'text' && c.text.startsWith('NemoVideo cloud credits'),
    );
    expect('text' in reply && reply.text).toContain('0 available');
  });

  it('a token that expires mid-session is replaced, a vanished session is recreated, a 429 is waited out', async () => {
    const { fake, port, svc } = await rig();
    await svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
    await port.waitFor(isResult);
    const firstSid = fake.sessions()[0]?.sessionId ?? '';
    fake.expireTokens();
    fake.deleteSession(firstSid);
    fake.fail('upload', { kind: 'http', status: 429, retryAfterSec: 0 });
    const before = port.calls.length;
    await svc.engine.handle(message('under 1.5MB', [fileAttachment(clip, 'again.mp4')]));
    await port.waitFor((c) => isResult(c) && port.calls.indexOf(c) >= before);
    expect(routes(fake, 'token')).toHaveLength(2);
    expect(routes(fake, 'session')).toHaveLength(2);
    const sids = routes(fake, 'sse').map((r) => (r.json as { session_id: string }).session_id);
    expect(sids[1]).not.toBe(firstSid);
    expect(port.calls.slice(before).some(fails)).toBe(false);
  });

  it('a session that vanishes before the turn is replaced and the words sent once, there', async () => {
    const { fake, port, svc } = await rig();
    fake.fail('sse', { kind: 'code', code: 1002 });
    await svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
    const result = await port.waitFor(isResult);
    expect(result.kind).toBe('file');
    expect(routes(fake, 'session')).toHaveLength(2);
    expect(routes(fake, 'upload')).toHaveLength(2);
    const turns = routes(fake, 'sse').map((r) => (r.json as { session_id: string }).session_id);
    expect(turns).toHaveLength(2);
    expect(turns[0]).not.toBe(turns[1]);
    const row = svc.repo.session({ platform: 'test', chatId: 'chat-1' }, 'user-1', 'private', null);
    expect(row.backendSessionId).toBe(turns[1]);
  });

  it('a pasted link is handed to the cloud as a link; one the cloud cannot fetch is sent as the file', async () => {
    const files = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'video/mp4' });
      createReadStream(clip).pipe(res);
      void req;
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    const addr = files.address();
    const local = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/walk.mp4`;
    try {
      // The engine's own fetch (SSRF-safe in production) is replaced here: both links resolve to the clip.
      const fake = await startFakeNemo({ heartbeatMs: 40, renderPolls: 2 });
      const dir = await tempDataDir();
      const port = new RecordingPort();
      const svc = await service(
        dir,
        port,
        { VIDSHRINK_BACKEND: 'nemo' },
        {
          nemo: { config: loadNemoConfig({ NEMO_API_BASE: fake.url, NEMO_POLL_SECONDS: '0.05' }) },
          fetchUrl: async ({ destPath }) => {
            await copyFile(clip, destPath);
            return { bytes: (await stat(destPath)).size, fileNameHint: null };
          },
        },
      );
      rigs.push({ fake, port, svc, dir });
      await svc.engine.handle(message(`${local} under 2MB`));
      await port.waitFor(isResult);
      const first = routes(fake, 'upload')[0];
      expect(first?.json).toEqual({ urls: [local], source_type: 'url' });
      const before = port.calls.length;
      await svc.engine.handle(message('https://media.example/hike.mp4 under 2MB'));
      await port.waitFor((c) => isResult(c) && port.calls.indexOf(c) >= before);
      const later = routes(fake, 'upload').slice(1);
      expect(later.map((u) => (u.json === null ? 'file' : 'url'))).toEqual(['url', 'file']);
      expect(later[1]?.headers['content-type']).toMatch(/^multipart\/form-data/u);
      // The cloud's refusal of the link is not a request fault of ours: same account, no new client id.
      expect(routes(fake, 'token')).toHaveLength(1);
    } finally {
      files.close();
    }
  });

  it('a restart during the render resumes polling the same render id without a second turn or export', async () => {
    const first = await rig({ renderPolls: 40 });
    await first.svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
    await first.port.waitFor((c) => c.kind === 'edit' && c.text.includes('Rendering in the cloud'));
    await new Promise((r) => setTimeout(r, 150));
    await first.svc.close();
    const renderId = first.fake.renders()[0]?.id;
    first.fake.options.renderPolls = 2;
    const polls = routes(first.fake, 'renderPoll').length;
    const second = await rig({}, {}, { fake: first.fake, dir: first.dir });
    rigs.splice(rigs.indexOf(first), 1);
    const result = await second.port.waitFor(isResult);
    expect(result.kind).toBe('file');
    expect(routes(first.fake, 'sse')).toHaveLength(1);
    expect(routes(first.fake, 'render')).toHaveLength(1);
    const later = routes(first.fake, 'renderPoll').slice(polls);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((r) => r.path.endsWith(`/${renderId ?? 'x'}`))).toBe(true);
    expect(texts(second.port).some((t) => t.includes('Resumed after a restart'))).toBe(true);
  });
});

describe('every cloud error reaches the chat as its catalog message', () => {
  const cases: {
    name: string;
    code: keyof typeof ERRORS;
    setup: (f: FakeNemo) => void;
    env?: Record<string, string>;
    offer: boolean;
  }[] = [
    {
      name: '402 free plan',
      code: 'NEMO_PLAN_BLOCKED',
      setup: (f) => f.fail('render', { kind: 'code', code: 402 }),
      offer: true,
    },
    {
      name: '4001 unsupported',
      code: 'NEMO_UNSUPPORTED',
      setup: (f) => f.fail('upload', { kind: 'code', code: 4001 }),
      offer: false,
    },
    {
      name: '4002 too large',
      code: 'NEMO_TOO_LARGE',
      setup: (f) => (f.options.maxUploadBytes = 1000),
      offer: false,
    },
    {
      name: '429 twice',
      code: 'NEMO_RATE_LIMITED',
      setup: (f) => f.fail('session', { kind: 'http', status: 429, retryAfterSec: 0 }, 2),
      offer: true,
    },
    {
      name: '1001 with NEMO_TOKEN',
      code: 'NEMO_TOKEN_INVALID',
      setup: () => undefined,
      env: { NEMO_TOKEN: 'nmv_usr_revoked' },
      offer: true,
    },
    {
      name: '2001 with NEMO_TOKEN',
      code: 'NEMO_NO_CREDITS',
      setup: () => undefined,
      env: { NEMO_TOKEN: 'nmv_usr_revoked' },
      offer: true,
    },
    {
      name: 'render failed',
      code: 'NEMO_RENDER_FAILED',
      setup: (f) => (f.options.renderFailRate = 1),
      offer: true,
    },
    { name: 'agent error frame', code: 'NEMO_REJECTED', setup: (f) => f.scenario('error'), offer: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { fake, port, svc } = await rig({}, c.env ?? {});
      if (c.code === 'NEMO_NO_CREDITS') {
        // A registered account out of credits: the token is valid, the balance is empty.
        const tok = await fetch(`${fake.url}/api/auth/anonymous-token`, {
          method: 'POST',
          headers: { 'x-client-id': 'ops' },
        });
        const body = (await tok.json()) as { data: { token: string } };
        fake.setCredits(body.data.token, 0);
        await svc.close();
        rigs.pop();
        const again = await rig({}, { NEMO_TOKEN: body.data.token }, { fake, dir: await tempDataDir() });
        await again.svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
        const failed = await again.port.waitFor(fails);
        expect('text' in failed && failed.text).toContain('Top up the credits');
        expect('text' in failed && failed.text).not.toContain('register?bind=');
        expect('text' in failed && failed.text).not.toContain(body.data.token);
        return;
      }
      c.setup(fake);
      await svc.engine.handle(message('under 2MB', [fileAttachment(clip)]));
      const failed = await port.waitFor(fails);
      const text = 'text' in failed ? failed.text : '';
      const expected = ERRORS[c.code].message({}).split('(')[0]?.slice(0, 40) ?? '';
      expect(text).toContain(expected);
      expect(text.includes('Compress here instead')).toBe(c.offer);
      for (const t of fake.tokens()) expect(texts(port).join('\n')).not.toContain(t.token);
    });
  }
});
