// The pure parts of the NemoVideo client (issue #6): envelope and error mapping, SSE frame normalization, render
// shapes, the draft timeline, GUI-talk translation and the config. Variants come from chatbot-anchors.md §4.
import { describe, expect, it } from 'vitest';
import {
  cleanServerText,
  faultToError,
  interpretResponse,
  parseJsonText,
  parseRetryAfter,
  redact,
  type Fault,
} from '../../src/backends/nemo/envelope.js';
import { normalizeRender, normalizeStatus } from '../../src/backends/nemo/render.js';
import { normalizeFrame, TurnFilter } from '../../src/backends/nemo/sse.js';
import {
  changeSummary,
  describeTracks,
  diffDrafts,
  isExportable,
  timelineSummary,
} from '../../src/backends/nemo/timeline.js';
import { translateGuiTalk } from '../../src/backends/nemo/translate.js';
import { MemoryTokenStore } from '../../src/backends/nemo/types.js';
import { loadNemoConfig, vidshrinkVersion } from '../../src/config/nemo.js';
import { AppError } from '../../src/domain/errors.js';

const fault = (code: number, extra: Partial<Fault> = {}): Fault => ({
  code,
  message: null,
  httpStatus: 200,
  retryAfterSec: null,
  ...extra,
});

describe('interpretResponse (both error transports, §4.7)', () => {
  it('unwraps a code:0 envelope', () => {
    expect(interpretResponse(200, { code: 0, message: 'ok', data: { a: 1 } })).toEqual({
      ok: true,
      data: { a: 1 },
    });
  });

  it('reads an error as HTTP 200 + code≠0 and as a non-2xx status with {code,message}', () => {
    const a = interpretResponse(200, { code: 1001, message: 'Token expired' });
    const b = interpretResponse(401, { code: 1001, message: 'Token expired' });
    expect(a).toMatchObject({ ok: false, fault: { code: 1001, httpStatus: 200, message: 'Token expired' } });
    expect(b).toMatchObject({ ok: false, fault: { code: 1001, httpStatus: 401 } });
  });

  it('accepts a numeric string code', () => {
    expect(interpretResponse(200, { code: '2001', msg: 'no credits' })).toMatchObject({
      ok: false,
      fault: { code: 2001, message: 'no credits' },
    });
  });

  it('reads {success:false,error} and {success:true,data}', () => {
    expect(interpretResponse(409, { success: false, error: 'duplicate id' })).toMatchObject({
      ok: false,
      fault: { code: 409, message: 'duplicate id' },
    });
    expect(interpretResponse(200, { success: false, error: { message: 'nope' } })).toMatchObject({
      ok: false,
      fault: { code: 0, message: 'nope' },
    });
    expect(interpretResponse(200, { success: true, data: { id: 'r' } })).toEqual({
      ok: true,
      data: { id: 'r' },
    });
  });

  it('keeps a top-level body (the Chinese v4.x render poll)', () => {
    const body = { taskId: 'r', status: 'processing', progress: 40 };
    expect(interpretResponse(200, body)).toEqual({ ok: true, data: body });
  });

  it("turns ADK's 404 {detail:'Session not found'} into 1002", () => {
    expect(interpretResponse(404, { detail: 'Session not found' })).toMatchObject({
      ok: false,
      fault: { code: 1002 },
    });
  });

  it('uses the HTTP status when the body says nothing (HTML error page, empty body)', () => {
    expect(interpretResponse(502, '<html>Bad gateway</html>')).toMatchObject({
      ok: false,
      fault: { code: 502 },
    });
    expect(interpretResponse(429, null, { retryAfter: '7' })).toMatchObject({
      ok: false,
      fault: { code: 429, retryAfterSec: 7 },
    });
  });

  it('redacts token-shaped strings and the known secrets from server messages', () => {
    const out = interpretResponse(
      200,
      { code: 1001, message: 'bad token nmv_usr_abcdef123 / s3cr3t-token' },
      {
        secrets: ['s3cr3t-token'],
      },
    );
    expect(out.ok).toBe(false);
    if (!out.ok) {
      expect(out.fault.message).not.toContain('nmv_usr_abcdef123');
      expect(out.fault.message).not.toContain('s3cr3t-token');
    }
    expect(redact('Authorization: Bearer abc.def')).toBe('Authorization: Bearer [redacted]');
    expect(cleanServerText(`a\u0000b\n${'x'.repeat(300)}`).length).toBeLessThanOrEqual(200);
  });

  it('parses Retry-After seconds and dates', () => {
    expect(parseRetryAfter('30')).toBe(30);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(parseRetryAfter('soon')).toBeNull();
    expect(parseRetryAfter(null)).toBeNull();
  });

  it('keeps 19-digit ids exact even when sent as JSON numbers', () => {
    expect(parseJsonText('{"data":{"session_id":5529798706024415232,"task_id":"t"}}')).toEqual({
      data: { session_id: '5529798706024415232', task_id: 't' },
    });
  });
});

describe('faultToError (§4.7 error table)', () => {
  const anon = { anonymous: true, clientId: 'client-123' };
  const registered = { anonymous: false, clientId: '' };

  it('1001: an auth failure for anonymous tokens, "NEMO_TOKEN is invalid" with NEMO_TOKEN', () => {
    expect(faultToError(fault(1001), anon).code).toBe('NEMO_AUTH_FAILED');
    const e = faultToError(fault(1001), registered);
    expect(e.code).toBe('NEMO_TOKEN_INVALID');
    expect(e.message).toContain('NEMO_TOKEN');
    expect(faultToError(fault(401), registered).code).toBe('NEMO_TOKEN_INVALID');
  });

  it('1002 is a typed session-gone error', () => {
    const e = faultToError(fault(1002), anon);
    expect(e.code).toBe('NEMO_SESSION_GONE');
    expect(e.retryable).toBe(true);
  });

  it('2001: the register link bound to the client id for anonymous users, top up otherwise', () => {
    const a = faultToError(fault(2001), anon);
    expect(a.code).toBe('NEMO_NO_CREDITS');
    expect(a.message).toContain('https://nemovideo.com/register?bind=client-123');
    const r = faultToError(fault(2001), registered);
    expect(r.message).toMatch(/top up/iu);
    expect(r.message).not.toContain('register?bind');
  });

  it('402 is a plan matter, not credits', () => {
    const e = faultToError(fault(402), anon);
    expect(e.code).toBe('NEMO_PLAN_BLOCKED');
    expect(e.message).toMatch(/subscription/iu);
    expect(e.message).toMatch(/not a lack of credits/iu);
  });

  it('4001/4002 (and 415/413) say what to send instead', () => {
    expect(faultToError(fault(4001), anon).message).toMatch(/MP4, MOV/u);
    expect(faultToError(fault(415), anon).code).toBe('NEMO_UNSUPPORTED');
    expect(faultToError(fault(4002), anon).message).toMatch(/500 MB.*Trim it or split/u);
    expect(faultToError(fault(413), anon).code).toBe('NEMO_TOO_LARGE');
  });

  it('429 → rate limited; 5xx → unreachable (retryable); anything else → rejected with the reason', () => {
    expect(faultToError(fault(429), anon).code).toBe('NEMO_RATE_LIMITED');
    const u = faultToError(fault(503, { httpStatus: 503 }), anon);
    expect(u.code).toBe('NEMO_UNREACHABLE');
    expect(u.retryable).toBe(true);
    expect(faultToError(fault(9999, { httpStatus: 500 }), anon).code).toBe('NEMO_UNREACHABLE');
    const r = faultToError(fault(409, { message: 'busy' }), anon);
    expect(r.code).toBe('NEMO_REJECTED');
    expect(r.message).toContain('busy');
  });

  it('every NEMO_* code is in the catalog with a message that says what to do', () => {
    for (const code of [1001, 1002, 2001, 402, 4001, 4002, 429, 500, 418]) {
      const e = faultToError(fault(code), anon);
      expect(e).toBeInstanceOf(AppError);
      expect(e.message.length).toBeGreaterThan(20);
      expect([1, 2, 3]).toContain(e.exitCode);
    }
  });
});

describe('normalizeFrame + TurnFilter (§4.4 event shapes)', () => {
  const frames = (...data: string[]) => {
    const f = new TurnFilter();
    return data.flatMap((d) => f.accept(normalizeFrame(d)));
  };

  it('v4.4 text, tool_call, tool_result, heartbeat, error', () => {
    expect(
      frames(
        '{"type":"text","content":"Hi"}',
        '{"type":"tool_call","name":"compress","args":{}}',
        '{"type":"tool_result","name":"compress","result":{}}',
        '{"type":"heartbeat"}',
        '{"type":"error","message":"boom"}',
      ),
    ).toEqual([
      { kind: 'text', text: 'Hi' },
      { kind: 'tool', name: 'compress', phase: 'call' },
      { kind: 'tool', name: 'compress', phase: 'result' },
      { kind: 'heartbeat' },
      { kind: 'error', message: 'boom' },
    ]);
  });

  it('ADK events: text, functionCall, functionResponse (role user), thoughts dropped', () => {
    const ev = (content: unknown, extra: object = {}) =>
      JSON.stringify({ content, author: 'nemo_agent', invocationId: 'e-1', id: 'x', timestamp: 1, ...extra });
    expect(
      frames(
        ev({ role: 'model', parts: [{ text: 'thinking…', thought: true }, { text: 'Working on it' }] }),
        ev({ role: 'model', parts: [{ functionCall: { id: 'c', name: 'compress_video', args: {} } }] }),
        ev({
          role: 'user',
          parts: [{ functionResponse: { id: 'c', name: 'compress_video', response: {} } }],
        }),
        ev({ role: 'user', parts: [{ text: 'my own prompt echoed' }] }),
      ),
    ).toEqual([
      { kind: 'text', text: 'Working on it' },
      { kind: 'tool', name: 'compress_video', phase: 'call' },
      { kind: 'tool', name: 'compress_video', phase: 'result' },
    ]);
  });

  it('ADK partial chunks are streamed once, the final aggregate is not repeated', () => {
    const ev = (text: string, partial: boolean) =>
      JSON.stringify({ content: { role: 'model', parts: [{ text }] }, author: 'a', partial });
    expect(frames(ev('Hel', true), ev('lo', true), ev('Hello', false))).toEqual([
      { kind: 'text', text: 'Hel' },
      { kind: 'text', text: 'lo' },
    ]);
  });

  it('empty data is a heartbeat; {"error":…} and ADK errorMessage are errors; junk is ignored', () => {
    expect(frames('', '  ')).toEqual([{ kind: 'heartbeat' }, { kind: 'heartbeat' }]);
    expect(frames('{"error":"Agent execution failed"}')).toEqual([
      { kind: 'error', message: 'Agent execution failed' },
    ]);
    expect(frames('{"author":"a","errorCode":"500","errorMessage":"model down"}')).toEqual([
      { kind: 'error', message: 'model down' },
    ]);
    expect(normalizeFrame('not json').recognized).toBe(false);
    expect(normalizeFrame('{"foo":1}').recognized).toBe(false);
    expect(frames('[DONE]', '{"foo":1}')).toEqual([]);
  });

  it('a trailing "I encountered a temporary issue" after real text is dropped, alone it is an error', () => {
    expect(
      frames(
        '{"type":"text","content":"Done!"}',
        '{"type":"text","content":"I encountered a temporary issue. Please try again later."}',
      ),
    ).toEqual([{ kind: 'text', text: 'Done!' }]);
    expect(frames('{"type":"text","content":"I encountered a temporary issue."}')).toEqual([
      { kind: 'error', message: 'temporary issue' },
    ]);
  });
});

describe('normalizeRender (§4.6, three shapes)', () => {
  it('v4.4: fields inside data, outputUrl', () => {
    expect(
      normalizeRender({
        id: 'r',
        status: 'completed',
        progress: 100,
        outputUrl: 'https://static1.nemovideo.ai/render-result/r.mp4',
        createdAt: 'x',
      }),
    ).toEqual({
      status: 'completed',
      progress: 100,
      url: 'https://static1.nemovideo.ai/render-result/r.mp4',
      sizeBytes: null,
      durationSec: null,
      error: null,
    });
    // …and when the envelope reaches the normalizer intact.
    expect(normalizeRender({ success: true, data: { status: 'processing', progress: 50 } })).toMatchObject({
      status: 'processing',
      progress: 50,
    });
  });

  it('top-level and CLI: output.url, size, duration', () => {
    const top = normalizeRender({
      taskId: 'r',
      status: 'completed',
      progress: 100,
      output: { url: 'http://127.0.0.1:9/render-result/r.mp4', duration: 4.2, size: 12345 },
    });
    expect(top).toMatchObject({ status: 'completed', url: 'http://127.0.0.1:9/render-result/r.mp4' });
    expect(top).toMatchObject({ sizeBytes: 12345, durationSec: 4.2 });
    const cli = normalizeRender({ render_id: 'r', status: 'failed', error: 'encoder crashed' });
    expect(cli).toMatchObject({ status: 'failed', error: 'encoder crashed', url: null, progress: null });
  });

  it('maps status words and ignores non-http URLs', () => {
    expect(normalizeStatus('SUCCEEDED')).toBe('completed');
    expect(normalizeStatus('queued')).toBe('pending');
    expect(normalizeStatus(undefined)).toBe('pending');
    expect(normalizeStatus('rendering')).toBe('processing');
    expect(normalizeStatus('cancelled')).toBe('failed');
    expect(normalizeRender({ status: 'completed', outputUrl: 'file:///etc/passwd' }).url).toBeNull();
    expect(normalizeRender({ status: 'failed' }).error).toBe('the render failed');
    expect(normalizeRender({ status: 'processing', progress: 180 }).progress).toBe(100);
  });
});

describe('timeline (§4.5 short keys)', () => {
  const seedDraft = {
    t: [
      { tt: 0, sg: [{ n: 'city timelapse', s: 0, e: 10_000 }] },
      { tt: 1, sg: [{ name: 'Lo-fi', s: 0, e: 10_000, v: 0.35 }] },
      { tt: 7, sg: [{ text: 'Urban Dreams', s: 0, e: 3000 }] },
    ],
    d: 10_000,
    m: { title: 'p', width: 1920, height: 1080 },
  };

  it("reproduces the seed's example summary", () => {
    expect(timelineSummary(seedDraft)).toBe(
      'Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)',
    );
  });

  it("reads the fake's segments (src URL, s/e) and tolerates unknown fields and shapes", () => {
    const draft = {
      t: [
        { tt: 0, sg: [{ src: 'http://127.0.0.1:1/cdn/abc/My%20clip.mp4', s: 0, e: 4000, zz: { q: 1 } }] },
        { tt: 1, sg: [{ src: 'bgm:lofi', st: 500, dur: 2500, v: 35 }] },
        { tt: 3, sg: [{}, { e: 1500 }] },
        'garbage',
      ],
    };
    expect(timelineSummary(draft)).toBe(
      'Timeline (4 tracks): 1. Video: My clip.mp4 (0-4s) 2. BGM: bgm:lofi (0.5-3s, 35%) 3. Track (type 3) (2 clips, 0-1.5s) 4. Track: empty',
    );
    expect(describeTracks({ t: [{ tt: 0, sg: [{ s: 'x' }] }] })[0]).toMatchObject({
      startMs: null,
      endMs: null,
    });
  });

  it('empty and non-drafts', () => {
    expect(timelineSummary({})).toMatch(/empty/u);
    expect(timelineSummary(null)).toMatch(/empty/u);
    expect(isExportable({})).toBe(false);
    expect(isExportable({ t: [{ tt: 0, sg: [] }] })).toBe(false);
    expect(
      isExportable({
        t: [
          { tt: 0, sg: [] },
          { tt: 1, sg: [{ s: 0 }] },
        ],
      }),
    ).toBe(true);
    expect(isExportable(seedDraft)).toBe(true);
  });

  it('diffs two drafts in plain phrases', () => {
    const before = {
      t: [{ tt: 0, sg: [{ src: 'a.mp4', s: 0, e: 10_000 }] }],
      d: 10_000,
      m: { width: 1920, height: 1080 },
    };
    const after = {
      t: [
        { tt: 0, sg: [{ src: 'a.mp4', s: 0, e: 4000 }] },
        { tt: 1, sg: [{ n: 'Lo-fi', s: 0, e: 4000, v: 35 }] },
      ],
      d: 4000,
      m: { width: 1280, height: 720, target_bytes: 8_000_000 },
    };
    expect(diffDrafts(before, after)).toEqual([
      'Video 0-10s → 0-4s',
      'added BGM: Lo-fi (0-4s, 35%)',
      'duration 10s → 4s',
      'resolution 1920×1080 → 1280×720',
      'target_bytes — → 8000000',
    ]);
    expect(diffDrafts(after, after)).toEqual([]);
    expect(diffDrafts({}, before)).toContain('added Video: a.mp4 (0-10s)');
    expect(diffDrafts({ t: [], x: 1 }, { t: [], x: 2 })).toEqual(['timeline updated']);
    // Key order alone is not a change.
    expect(diffDrafts({ a: 1, b: 2 }, { b: 2, a: 1 })).toEqual([]);
    expect(changeSummary(before, before)).toBe('Nothing in the timeline changed.');
    expect(changeSummary(before, after)).toMatch(/^Changed: video 0-10s → 0-4s; added BGM/u);
  });
});

describe('translateGuiTalk (seed "Backend Response Translation")', () => {
  it("removes the fake's GUI sentences and turns them into actions", () => {
    const r = translateGuiTalk(
      'Done! I compressed clip.mp4 to 720p. You can preview it in the timeline. Click the Export button to download your video.',
    );
    expect(r.text).toBe('Done! I compressed clip.mp4 to 720p.');
    expect(r.actions.map((a) => a.kind)).toEqual(['state', 'export']);
    expect(r.actions[1]?.source).toBe('Click the Export button to download your video.');
  });

  it.each([
    ['Click **Export** when you are happy.', 'export'],
    ['Hit the "Export" button.', 'export'],
    ['Use the export button at the top right.', 'export'],
    ['Open the Music panel to pick a track.', 'state'],
    ['Go to the Text tab and check the title.', 'state'],
    ['Drag the clip edges to trim it.', 'edit'],
    ['Click Apply to confirm.', 'edit'],
    ['点击导出按钮下载视频。', 'export'],
    ['打开音乐面板。', 'state'],
    ['拖拽片段来调整顺序。', 'edit'],
    ['点击应用。', 'edit'],
  ] as const)('%s → %s', (sentence, kind) => {
    const r = translateGuiTalk(`Here you go. ${sentence}`);
    expect(r.actions.map((a) => a.kind)).toEqual([kind]);
    expect(r.text).toBe('Here you go.');
  });

  it('keeps ordinary sentences, numbers with dots, statements of fact, and list structure', () => {
    const text =
      'The file is now 1.5 MB. I exported it at 720p.\n\n- Smaller size\n- Click Export to save\n视频已导出。';
    const r = translateGuiTalk(text);
    expect(r.text).toBe('The file is now 1.5 MB. I exported it at 720p.\n\n- Smaller size\n视频已导出。');
    expect(r.actions).toEqual([{ kind: 'export', source: 'Click Export to save' }]);
    expect(translateGuiTalk('All set.')).toEqual({ text: 'All set.', actions: [] });
  });

  it('one action per kind, and nothing left when the whole reply was GUI talk', () => {
    const r = translateGuiTalk('Click Export. Then click the Export button again.');
    expect(r).toEqual({ text: '', actions: [{ kind: 'export', source: 'Click Export.' }] });
  });
});

describe('loadNemoConfig', () => {
  it('defaults', () => {
    const c = loadNemoConfig({});
    expect(c).toMatchObject({
      apiBase: 'https://mega-api-prod.nemovideo.ai',
      token: null,
      pollMs: 30_000,
      sseTimeoutMs: 15 * 60_000,
      sseIdleMs: 10 * 60_000,
      retryAfterMs: 30_000,
      maxOutputBytes: 2000 * 1_000_000,
      skill: { source: 'vidshrink', platform: 'vidshrink-bot', version: vidshrinkVersion() },
    });
    expect(vidshrinkVersion()).toMatch(/^\d+\.\d+\.\d+/u);
  });

  it('reads every key; a blank NEMO_TOKEN is unset; bad values name the key, never the token', () => {
    const c = loadNemoConfig({
      NEMO_API_BASE: 'http://127.0.0.1:9999/',
      NEMO_TOKEN: 'nmv_usr_x',
      NEMO_POLL_SECONDS: '0.02',
      NEMO_SSE_TIMEOUT_MINUTES: '1',
      NEMO_SKILL_SOURCE: 'src',
      NEMO_SKILL_VERSION: '9.9.9',
      NEMO_SKILL_PLATFORM: 'plat',
      NEMO_RETRY_AFTER_SECONDS: '2',
      NEMO_MAX_OUTPUT_MB: '5',
    });
    expect(c).toMatchObject({
      apiBase: 'http://127.0.0.1:9999',
      token: 'nmv_usr_x',
      pollMs: 20,
      sseTimeoutMs: 60_000,
      retryAfterMs: 2000,
      maxOutputBytes: 5_000_000,
      skill: { source: 'src', version: '9.9.9', platform: 'plat' },
    });
    expect(loadNemoConfig({ NEMO_TOKEN: '  ' }).token).toBeNull();
    expect(() => loadNemoConfig({ NEMO_API_BASE: 'ftp://x' })).toThrow(/NEMO_API_BASE/u);
    expect(() => loadNemoConfig({ NEMO_SKILL_SOURCE: 'bad\nvalue' })).toThrow(/NEMO_SKILL_SOURCE/u);
    expect(() => loadNemoConfig({ NEMO_POLL_SECONDS: 'soon' })).toThrow(/NEMO_POLL_SECONDS/u);
  });

  it('MemoryTokenStore', () => {
    const s = new MemoryTokenStore({ 'nemo.clientId': 'c' });
    expect(s.get('nemo.clientId')).toBe('c');
    expect(s.get('nemo.token')).toBeNull();
    s.set('nemo.token', 't');
    expect(s.get('nemo.token')).toBe('t');
  });
});
