// A protocol-faithful fake of the NemoVideo skill API (mega-api-prod.nemovideo.ai) on 127.0.0.1 for tests of the
// NemoVideo backend. It implements chatbot-anchors.md §5 ("Protocol summary for a faithful fake NemoVideo server")
// point by point, with a knob for every variant the public skills disagree on (§4.8). Sources, as collected in
// chatbot-anchors.md §4: the seed product card (seed/000_2f5eb9ebfe70c7e8.txt), nemovideo/nemovideo_skills SKILL.md
// v1.9 and the v4.4 references/api-reference.md, the hub compressor skills built from the same template,
// nemovideo/nemovideo-tools (`RenderStatusResponse`), and Google ADK's `/run_sse` (adk_web_server.py).
//
// Routes (all JSON unless noted; `<me>` is `me` or the token's own user_id, §4.3 "older paths used the real user id"):
//   POST /api/auth/anonymous-token                 X-Client-Id → token (§4.2)
//   POST /api/auth/claim-token                     {task_id, session_id} → clm_ token (§4.2)
//   POST /api/tasks/<me>/with-session/nemo_agent   {task_name, language?} → task_id, session_id (§4.3)
//   POST /api/upload-video/nemo_agent/<me>/<sid>   multipart `files` (repeatable) or {urls, source_type:"url"}
//   POST /run_sse                                  ADK RunAgentRequest → text/event-stream (§4.4)
//   GET  /api/state/nemo_agent/<me>/<sid>/latest   session state (§4.5)
//   GET  /api/credits/balance/simple               {available, frozen, total}
//   POST /api/render/proxy/lambda                  start an export (a real local ffmpeg encode)
//   GET  /api/render/proxy/lambda/<id>             poll, in one of the three documented shapes (§4.6)
//   POST /api/render/proxy/lambda/<id>/cancel      (v4.4 only)
//   GET  /api/render/proxy/<id>/download           the MP4 bytes (Range), Bearer required
//   GET  /cdn/<hash>/<name>, /render-result/<id>.mp4   public "CDN" files (Range), no auth: a client must not send
//                                                  its token there, and the request log lets tests check that.
//   /__fake/...                                    out-of-process controls (not recorded): GET requests, GET state,
//                                                  POST scenario|fail|options|expire-tokens|delete-session|credits.
//
// Error transport. The skills never say whether codes travel as HTTP 200 + `code≠0` or as HTTP errors (§4.7), so
// `errorTransport` picks: 'http200' answers every `{code, message}` error with HTTP 200; 'httpStatus' (default) uses
//   1001 → 401, 1002 → 404, 2001 → 403, 402 → 402, 4001 → 415, 4002 → 413, 400 → 400, 409 → 409, 429 → 429
// (`HTTP_STATUS_FOR_CODE`). Code 400 also covers malformed bodies (missing task_name, a bad /run_sse body). A second
// concurrent /run_sse turn on one session is refused with code 409 (§5.6: "refuse it", no code documented). The
// render routes' own refusals use `{success:false, error}` (HTTP 400/404/409 or 200 by the same knob); auth
// failures on them still use `{code:1001}` (the shared auth layer), and the missing-X-Skill-* block is
// `{code:402}` (§5.2). `sessionNotFound: 'adk404'` answers /run_sse on an unknown session the way ADK's server
// does, HTTP 404 `{"detail":"Session not found"}` regardless of the transport. Unknown paths: FastAPI's 404/405
// `{"detail":…}`. Injected `{kind:'http'}` faults always use their real HTTP status.
//
// Decisions where the sources are silent (documented so tests and the client do not guess):
// - A re-issued token for the same X-Client-Id keeps the same anonymous user (and its credits and sessions) unless
//   `reissueKeepsUser` is false. Quota: `issueQuota` issues per IP per `issueWindowMs` (v1.9: 10 per 7 days),
//   beyond it code 429 with `Retry-After` (seconds until the oldest issue leaves the window).
// - Credits: every account is anonymous. A turn freezes `editCost` at its start (insufficient → 2001 before any
//   stream) and settles at its end: charged when the turn ran its edit (normal, silent, trailing-issue, slow,
//   disconnect — the backend finishes even if the client left), refunded on `error`, on `heartbeats-only` (it ends
//   when the client disconnects) and on close(). Renders are free (§4.2).
// - SSE pacing is counted in heartbeats: each "work" step waits `heartbeatMs` and then writes one heartbeat, so a
//   normal turn takes about 2 × heartbeatMs. Heartbeats use the `heartbeat` knob in both event shapes (ADK itself
//   has none). ADK function responses carry `role:"user"`, as ADK builds them (functions.py); text and function
//   calls `role:"model"`.
// - The edit a turn makes (segment fields are undocumented, §5.6): the last uploaded video becomes
//   `{t:[{tt:0,sg:[{src:<cdn_url>,s:0,e:<ms>}]}], d:<ms>, m:{title,width,height,target_bytes?}}`; sizes such as
//   "under 20MB" / "8 MB" / "1.5 GB" / "700 KB" become target_bytes in SI units (MB = 10^6 bytes; MiB/GiB binary);
//   "720p" (or "4k") becomes m.height with the width scaled to keep the aspect ratio (even); "music"/"bgm" adds a
//   tt:1 track, `title "…"` a tt:7 track. The disconnect scenario applies the edit just before it drops the socket,
//   so state is already updated when the client notices.
// - Render: the first segment of the first tt:0 track must be one of this fake's /cdn URLs; ffmpeg encodes it
//   (trimmed to s..e) with libx264 veryfast, scaled to m.height, CRF 26 — best effort, it may overshoot
//   target_bytes (§5.9) — or, with `honourTargetBytes`, a single-pass bitrate aimed at 90 % of target_bytes. The
//   poll answers `pending` (first poll) then `processing` for `renderPolls` polls, and `completed` or `failed` only
//   on a later poll once ffmpeg has finished. A cancelled render reports `failed` with error "cancelled" (the four
//   documented statuses are kept). `renderFailRate` forces failures. `outputTtlMs` makes /render-result URLs 404
//   after that long (the /download route keeps working, §5.10).
// - Uploads: the whole request body is capped at maxUploadBytes + 1 MiB (multipart overhead) while it is read, and
//   each file at maxUploadBytes → 4002; the body is buffered only up to that cap (a test-sized limit). A file whose
//   extension is outside the list, or a "video" ffprobe cannot read, → 4001. URL uploads fetch only http(s) URLs
//   whose hostname is in `urlUploadHosts`, without following redirects (code 400 otherwise).
// Limits: one process, state in memory, no registered accounts, no scopes, no generation (only the compress edit).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { closeServer } from './http.js';

export interface FakeNemoOptions {
  /** How `{code, message}` errors travel (§4.7 leaves it open). Default 'httpStatus'. */
  errorTransport?: 'http200' | 'httpStatus';
  /** SSE frame shape: v4.4 `{type,…}` or ADK Event JSON (§4.4). Default 'v44'. */
  eventShape?: 'v44' | 'adk';
  /** `data: {"type":"heartbeat"}` | `data: ` (empty) | `: ping` comment. Default 'json'. */
  heartbeat?: 'json' | 'empty' | 'comment';
  /** Default 20 000. */
  heartbeatMs?: number;
  /** Render poll response shape (§4.6). Default 'toplevel' (the seed's `status` / `output.url`). */
  renderShape?: 'v44' | 'toplevel' | 'cli';
  /** Polls answered pending/processing before completed. Default 3. */
  renderPolls?: number;
  /** Default 7 days (v1.8+); null = never expires (v1.0–1.7). Applies to tokens issued after a change. */
  tokenTtlMs?: number | null;
  /** Render without all three X-Skill-* headers → HTTP 402 for anonymous accounts (§4.2). Default true. */
  strictHeaders?: boolean;
  /** Default 500 MB (the seed). */
  maxUploadBytes?: number;
  /** Credits frozen per SSE turn. Default 50 ("editing ~50/session"). */
  editCost?: number;
  /** Credits of a new anonymous account. Default 100. */
  initialCredits?: number;
  /** Aim the render at 90 % of m.target_bytes instead of CRF 26. Default false. */
  honourTargetBytes?: boolean;
  /** /run_sse on an unknown session: `{code:1002}` or ADK's 404 `{"detail":"Session not found"}`. Default 'json'. */
  sessionNotFound?: 'json' | 'adk404';
  /** Injectable clock (ms) for token expiry, timestamps and the request log. */
  now?: () => number;
  /** Hostnames the fake fetches for URL uploads. Default ['127.0.0.1']. */
  urlUploadHosts?: string[];
  /** Token issues per IP per `issueWindowMs` (v1.9: 10 per 7 days; v4.4: 5 per hour). Default 10. */
  issueQuota?: number;
  /** Default 7 days. */
  issueWindowMs?: number;
  /** A token re-issued to the same X-Client-Id after expiry keeps the same user. Default true. */
  reissueKeepsUser?: boolean;
  /** Probability (0..1) that a render fails without encoding (§5.10 `failRate`). Default 0. */
  renderFailRate?: number;
  /** /render-result URLs answer 404 this long after completion; null = never. Default null. */
  outputTtlMs?: number | null;
}

export type SseScenario =
  'normal' | 'silent' | 'trailing-issue' | 'disconnect' | 'heartbeats-only' | 'error' | 'slow';

export type FakeFault =
  | { kind: 'http'; status: number; retryAfterSec?: number }
  | { kind: 'code'; code: 1001 | 1002 | 2001 | 402 | 4001 | 4002 | 400 }
  | { kind: 'reset' }
  /** Answer normally after `ms` (§5.12 "slow body"). */
  | { kind: 'delay'; ms: number };

export type FakeRoute =
  | 'token'
  | 'session'
  | 'upload'
  | 'sse'
  | 'state'
  | 'credits'
  | 'render'
  | 'renderPoll'
  | 'download'
  | 'claim';
/** Routes beyond the required set: render cancel, the upload CDN and the render-result CDN. */
export type FakeExtraRoute = 'cancel' | 'cdn' | 'renderResult';

export interface RecordedRequest {
  method: string;
  path: string;
  route: FakeRoute | FakeExtraRoute | 'other';
  /** Lower-cased names, Authorization included (tests check where tokens go). */
  headers: Record<string, string>;
  json: unknown;
  bytes: number;
  at: number;
  /** HTTP status answered; null while a stream is open or when the socket was reset. */
  status: number | null;
}

export type FakeNemoResolvedOptions = Required<Omit<FakeNemoOptions, 'now'>>;

export interface FakeNemo {
  url: string;
  options: FakeNemoResolvedOptions;
  requests: RecordedRequest[];
  scenario(...next: SseScenario[]): void;
  fail(route: FakeRoute | FakeExtraRoute, fault: FakeFault, times?: number): void;
  expireTokens(): void;
  deleteSession(sessionId: string): void;
  /** `token` may be 'all': every existing account. */
  setCredits(token: string, available: number): void;
  credits(token: string): { available: number; frozen: number; total: number };
  sessions(): Array<{
    taskId: string;
    sessionId: string;
    owner: string;
    language: string | null;
    draft: unknown;
  }>;
  renders(): Array<{
    id: string;
    sessionId: string;
    status: string;
    polls: number;
    outputPath: string | null;
  }>;
  tokens(): Array<{
    token: string;
    clientId: string;
    userId: string;
    expiresAt: number | null;
    live: boolean;
  }>;
  close(): Promise<void>;
}

/** The HTTP status each API code travels with under `errorTransport: 'httpStatus'`. */
export const HTTP_STATUS_FOR_CODE: Readonly<Record<number, number>> = {
  1001: 401,
  1002: 404,
  2001: 403,
  402: 402,
  4001: 415,
  4002: 413,
  400: 400,
  409: 409,
  429: 429,
};

export const SUPPORTED_EXTENSIONS = {
  video: ['mp4', 'mov', 'avi', 'webm', 'mkv'],
  image: ['jpg', 'png', 'gif', 'webp'],
  audio: ['mp3', 'wav', 'm4a', 'aac'],
} as const;

/** The texts the scripted turns use, exported so tests can assert on them. */
export const TURN_TEXT = {
  ack: 'Sure — compressing your video now…',
  trailingIssue: 'I encountered a temporary issue. Please try again later.',
  error: 'Agent execution failed: upstream model error',
} as const;

const DAY_MS = 86_400_000;
const MULTIPART_SLACK = 1024 * 1024;
const JSON_CAP = 8 * 1024 * 1024;
const TOOL = 'compress_video';

const MESSAGES: Record<number, string> = {
  1001: 'Token expired or invalid',
  1002: 'Session not found',
  2001: 'Insufficient credits',
  402: 'Export is not available on the free plan. Upgrade your subscription to export.',
  4001: `Unsupported file type. Supported formats: ${Object.values(SUPPORTED_EXTENSIONS).flat().join(', ')}`,
  4002: 'File too large',
  400: 'Missing X-Client-Id header',
  409: 'A message is already being processed in this session',
  429: 'Too many requests',
};

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  jpg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
};

interface TokenRec {
  token: string;
  clientId: string;
  userId: string;
  expiresAt: number | null;
  revoked: boolean;
}

interface Account {
  userId: string;
  anonymous: boolean;
  available: number;
  frozen: number;
}

interface VideoInfo {
  filename: string;
  file_type: 'video' | 'image' | 'audio';
  cdn_url: string;
  duration: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  hash: string;
}

interface Session {
  taskId: string;
  sessionId: string;
  owner: string;
  taskName: string;
  language: string | null;
  videoInfos: VideoInfo[];
  draft: Record<string, unknown>;
  canvas: { width: number; height: number; ratio: string };
  running: boolean;
}

type RenderStatus = 'pending' | 'processing' | 'completed' | 'failed';

interface Render {
  id: string;
  sessionId: string;
  owner: string;
  status: RenderStatus;
  polls: number;
  progress: number;
  outputPath: string | null;
  createdAt: number;
  completedAt: number | null;
  done: boolean;
  failed: boolean;
  error: string | null;
  duration: number | null;
  size: number | null;
  proc: ChildProcess | null;
  cancelled: boolean;
}

interface StoredFile {
  path: string;
  name: string;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  rec: RecordedRequest;
  body: Buffer | null;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  parsed: unknown;
  params: string[];
}

type Step =
  | { k: 'text'; text: string }
  | { k: 'call'; args: Record<string, unknown> }
  | { k: 'result'; result: Record<string, unknown> }
  | { k: 'beats'; n: number }
  | { k: 'apply' }
  | { k: 'error'; message: string }
  | { k: 'destroy' };

interface Edit {
  draft: Record<string, unknown>;
  summary: string;
  targetBytes: number | null;
  height: number | null;
}

const ROUTES: Array<{ method: string; re: RegExp; route: FakeRoute | FakeExtraRoute }> = [
  { method: 'POST', re: /^\/api\/auth\/anonymous-token$/u, route: 'token' },
  { method: 'POST', re: /^\/api\/auth\/claim-token$/u, route: 'claim' },
  { method: 'POST', re: /^\/api\/tasks\/([^/]+)\/with-session\/nemo_agent$/u, route: 'session' },
  { method: 'POST', re: /^\/api\/upload-video\/nemo_agent\/([^/]+)\/([^/]+)$/u, route: 'upload' },
  { method: 'POST', re: /^\/run_sse$/u, route: 'sse' },
  { method: 'GET', re: /^\/api\/state\/nemo_agent\/([^/]+)\/([^/]+)\/latest$/u, route: 'state' },
  { method: 'GET', re: /^\/api\/credits\/balance\/simple$/u, route: 'credits' },
  { method: 'POST', re: /^\/api\/render\/proxy\/lambda$/u, route: 'render' },
  { method: 'GET', re: /^\/api\/render\/proxy\/lambda\/([^/]+)$/u, route: 'renderPoll' },
  { method: 'POST', re: /^\/api\/render\/proxy\/lambda\/([^/]+)\/cancel$/u, route: 'cancel' },
  { method: 'GET', re: /^\/api\/render\/proxy\/([^/]+)\/download$/u, route: 'download' },
  { method: 'GET', re: /^\/cdn\/([^/]+)\/([^/]+)$/u, route: 'cdn' },
  { method: 'GET', re: /^\/render-result\/([^/]+)\.mp4$/u, route: 'renderResult' },
];

const RENDER_ROUTES = new Set<string>(['render', 'renderPoll', 'cancel', 'download']);

class FakeNemoServer implements FakeNemo {
  url = '';
  readonly options: FakeNemoResolvedOptions;
  readonly requests: RecordedRequest[] = [];

  private readonly now: () => number;
  private server: Server | null = null;
  private dir = '';
  private readonly tokenMap = new Map<string, TokenRec>();
  private readonly liveByClient = new Map<string, string>();
  private readonly userByClient = new Map<string, string>();
  private readonly issuesByIp = new Map<string, number[]>();
  private readonly accounts = new Map<string, Account>();
  private readonly sessionMap = new Map<string, Session>();
  private readonly renderMap = new Map<string, Render>();
  private readonly files = new Map<string, StoredFile>();
  private readonly queue: SseScenario[] = [];
  private readonly faults = new Map<string, Array<{ fault: FakeFault; left: number }>>();
  private readonly turns = new Set<AbortController>();
  private taskN = 0;

  constructor(o: FakeNemoOptions) {
    this.now = o.now ?? Date.now;
    this.options = {
      errorTransport: o.errorTransport ?? 'httpStatus',
      eventShape: o.eventShape ?? 'v44',
      heartbeat: o.heartbeat ?? 'json',
      heartbeatMs: o.heartbeatMs ?? 20_000,
      renderShape: o.renderShape ?? 'toplevel',
      renderPolls: o.renderPolls ?? 3,
      tokenTtlMs: o.tokenTtlMs === undefined ? 7 * DAY_MS : o.tokenTtlMs,
      strictHeaders: o.strictHeaders ?? true,
      maxUploadBytes: o.maxUploadBytes ?? 500 * 1024 * 1024,
      editCost: o.editCost ?? 50,
      initialCredits: o.initialCredits ?? 100,
      honourTargetBytes: o.honourTargetBytes ?? false,
      sessionNotFound: o.sessionNotFound ?? 'json',
      urlUploadHosts: o.urlUploadHosts ?? ['127.0.0.1'],
      issueQuota: o.issueQuota ?? 10,
      issueWindowMs: o.issueWindowMs ?? 7 * DAY_MS,
      reissueKeepsUser: o.reissueKeepsUser ?? true,
      renderFailRate: o.renderFailRate ?? 0,
      outputTtlMs: o.outputTtlMs === undefined ? null : o.outputTtlMs,
    };
  }

  async start(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), 'fake-nemo-'));
    await mkdir(join(this.dir, 'cdn'));
    await mkdir(join(this.dir, 'render'));
    const server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) {
          const text = JSON.stringify({ code: 500, message: String(e) });
          res.writeHead(500, { 'content-type': 'application/json' }).end(text);
        } else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // ------------------------------------------------------------------ test controls

  scenario(...next: SseScenario[]): void {
    this.queue.push(...next);
  }

  fail(route: FakeRoute | FakeExtraRoute, fault: FakeFault, times = 1): void {
    const list = this.faults.get(route) ?? [];
    list.push({ fault, left: times });
    this.faults.set(route, list);
  }

  expireTokens(): void {
    for (const t of this.tokenMap.values()) t.revoked = true;
  }

  deleteSession(sessionId: string): void {
    this.sessionMap.delete(sessionId);
  }

  setCredits(token: string, available: number): void {
    if (token === 'all') {
      for (const a of this.accounts.values()) a.available = available;
      return;
    }
    this.accountOf(token).available = available;
  }

  credits(token: string): { available: number; frozen: number; total: number } {
    const a = this.accountOf(token);
    return { available: a.available, frozen: a.frozen, total: a.available + a.frozen };
  }

  sessions(): ReturnType<FakeNemo['sessions']> {
    return [...this.sessionMap.values()].map((s) => ({
      taskId: s.taskId,
      sessionId: s.sessionId,
      owner: s.owner,
      language: s.language,
      draft: structuredClone(s.draft),
    }));
  }

  renders(): ReturnType<FakeNemo['renders']> {
    return [...this.renderMap.values()].map((r) => ({
      id: r.id,
      sessionId: r.sessionId,
      status: r.status,
      polls: r.polls,
      outputPath: r.done && !r.failed ? r.outputPath : null,
    }));
  }

  tokens(): ReturnType<FakeNemo['tokens']> {
    return [...this.tokenMap.values()].map((t) => ({
      token: t.token,
      clientId: t.clientId,
      userId: t.userId,
      expiresAt: t.expiresAt,
      live: this.live(t),
    }));
  }

  async close(): Promise<void> {
    for (const c of this.turns) c.abort();
    for (const r of this.renderMap.values()) r.proc?.kill('SIGKILL');
    const s = this.server;
    this.server = null;
    if (s) await closeServer(s);
    await rm(this.dir, { recursive: true, force: true });
  }

  private accountOf(token: string): Account {
    const t = this.tokenMap.get(token);
    const a = t && this.accounts.get(t.userId);
    if (!a) throw new Error(`fake nemo: unknown token ${token.slice(0, 12)}…`);
    return a;
  }

  private live(t: TokenRec): boolean {
    return !t.revoked && (t.expiresAt === null || t.expiresAt > this.now());
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path.startsWith('/__fake/')) return this.control(req, res, path);
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    let route: RecordedRequest['route'] = 'other';
    let params: string[] = [];
    let pathKnown = false;
    for (const r of ROUTES) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (r.method !== method) continue;
      route = r.route;
      params = m.slice(1).map((p) => safeDecode(p ?? ''));
      break;
    }
    const cap = route === 'upload' ? this.options.maxUploadBytes + MULTIPART_SLACK : JSON_CAP;
    const { buf, bytes } = await readBody(req, cap);
    const ct = req.headers['content-type'] ?? '';
    const parsed = buf && !/multipart\//iu.test(ct) ? parseJson(buf) : undefined;
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path,
      route,
      headers: flatHeaders(req),
      json: parsed === undefined ? null : parsed,
      bytes,
      at: this.now(),
      status: null,
    };
    this.requests.push(rec);
    const ctx: Ctx = { req, res, rec, body: buf, parsed, params };
    if (route === 'other') {
      return this.send(ctx, pathKnown ? 405 : 404, {
        detail: pathKnown ? 'Method Not Allowed' : 'Not Found',
      });
    }
    const fault = this.takeFault(route);
    if (fault) {
      if (fault.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault.kind === 'delay') await delay(fault.ms);
      else if (fault.kind === 'http') {
        const headers: Record<string, string> = {};
        if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
        const body = RENDER_ROUTES.has(route)
          ? { success: false, error: `HTTP ${fault.status}` }
          : { code: fault.status, message: MESSAGES[fault.status] ?? `HTTP ${fault.status}` };
        return this.send(ctx, fault.status, body, headers);
      } else return this.refuse(ctx, fault.code);
    }
    if (buf === null) {
      return route === 'upload'
        ? this.refuse(ctx, 4002, `File too large (max ${this.options.maxUploadBytes} bytes)`)
        : this.send(ctx, 413, { code: 400, message: 'Request body too large' });
    }
    if (route === 'token') return this.issueToken(ctx);
    if (route === 'cdn') return this.serveCdn(ctx);
    if (route === 'renderResult') return this.serveRenderResult(ctx);
    const token = this.authenticate(req);
    if (!token) return this.refuse(ctx, 1001);
    switch (route) {
      case 'claim':
        return this.claim(ctx, token);
      case 'session':
        return this.createSession(ctx, token);
      case 'upload':
        return this.upload(ctx, token);
      case 'sse':
        return this.runSse(ctx, token);
      case 'state':
        return this.state(ctx, token);
      case 'credits':
        return this.balance(ctx, token);
      case 'render':
        return this.startRender(ctx, token);
      case 'renderPoll':
        return this.pollRender(ctx, token);
      case 'cancel':
        return this.cancelRender(ctx, token);
      case 'download':
        return this.download(ctx, token);
    }
  }

  private takeFault(route: string): FakeFault | null {
    const list = this.faults.get(route);
    const f = list?.[0];
    if (!list || !f) return null;
    f.left--;
    if (f.left <= 0) list.shift();
    return f.fault;
  }

  private send(ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}): void {
    ctx.rec.status = status;
    const { res } = ctx;
    if (res.writableEnded || res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private ok(ctx: Ctx, data: unknown): void {
    this.send(ctx, 200, { code: 0, message: 'ok', data });
  }

  /** An API error code in the configured transport (see the header comment for the mapping). */
  private refuse(ctx: Ctx, code: number, message?: string, headers: Record<string, string> = {}): void {
    const status = this.options.errorTransport === 'http200' ? 200 : (HTTP_STATUS_FOR_CODE[code] ?? 400);
    this.send(ctx, status, { code, message: message ?? MESSAGES[code] ?? 'error' }, headers);
  }

  /** A render route's own refusal: `{success:false, error}`. */
  private renderRefuse(ctx: Ctx, status: number, error: string): void {
    this.send(ctx, this.options.errorTransport === 'http200' ? 200 : status, { success: false, error });
  }

  private authenticate(req: IncomingMessage): TokenRec | null {
    const m = /^Bearer (nmv_usr_[A-Za-z0-9_-]+)$/u.exec(req.headers.authorization ?? '');
    const t = m?.[1] ? this.tokenMap.get(m[1]) : undefined;
    return t && this.live(t) ? t : null;
  }

  /** The session `sid`, if it exists, belongs to the token's user and `who` ("me" or the user id) names that user. */
  private ownSession(token: TokenRec, who: string, sid: string): Session | null {
    if (who !== 'me' && who !== token.userId) return null;
    const s = this.sessionMap.get(sid);
    return s && s.owner === token.userId ? s : null;
  }

  // ------------------------------------------------------------------ auth

  private issueToken(ctx: Ctx): void {
    const o = this.options;
    const clientId = ctx.req.headers['x-client-id'];
    if (typeof clientId !== 'string' || clientId.trim() === '' || clientId.length > 64) {
      return this.refuse(ctx, 400, 'Missing or invalid X-Client-Id header (1-64 characters)');
    }
    const now = this.now();
    const liveToken = this.liveByClient.get(clientId);
    const existing = liveToken ? this.tokenMap.get(liveToken) : undefined;
    if (existing && this.live(existing)) return this.ok(ctx, this.tokenData(existing));
    const ip = ctx.req.socket.remoteAddress ?? '?';
    const recent = (this.issuesByIp.get(ip) ?? []).filter((t) => t > now - o.issueWindowMs);
    this.issuesByIp.set(ip, recent);
    const oldest = recent[0];
    if (recent.length >= o.issueQuota && oldest !== undefined) {
      const wait = Math.max(1, Math.ceil((oldest + o.issueWindowMs - now) / 1000));
      return this.refuse(ctx, 429, 'Too many anonymous tokens from this IP', { 'retry-after': String(wait) });
    }
    recent.push(now);
    let userId = o.reissueKeepsUser ? this.userByClient.get(clientId) : undefined;
    if (!userId || !this.accounts.has(userId)) {
      userId = `anon_${randomBytes(8).toString('hex')}`;
      this.accounts.set(userId, { userId, anonymous: true, available: o.initialCredits, frozen: 0 });
    }
    this.userByClient.set(clientId, userId);
    const rec: TokenRec = {
      token: `nmv_usr_${randomBytes(24).toString('base64url')}`,
      clientId,
      userId,
      expiresAt: o.tokenTtlMs === null ? null : now + o.tokenTtlMs,
      revoked: false,
    };
    this.tokenMap.set(rec.token, rec);
    this.liveByClient.set(clientId, rec.token);
    this.ok(ctx, this.tokenData(rec));
  }

  private tokenData(t: TokenRec): Record<string, unknown> {
    return {
      token: t.token,
      user_id: t.userId,
      credits: this.accounts.get(t.userId)?.available ?? 0,
      expires_at: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString(),
    };
  }

  private claim(ctx: Ctx, token: TokenRec): void {
    const b = asObject(ctx.parsed);
    if (!b || typeof b.task_id !== 'string' || typeof b.session_id !== 'string') {
      return this.refuse(ctx, 400, 'task_id and session_id are required');
    }
    const s = this.ownSession(token, 'me', b.session_id);
    if (!s || s.taskId !== b.task_id) return this.refuse(ctx, 1002);
    this.ok(ctx, { claim_token: `clm_${randomBytes(24).toString('base64url')}`, expires_in: 604_800 });
  }

  // ------------------------------------------------------------------ sessions, state, credits

  private createSession(ctx: Ctx, token: TokenRec): void {
    const who = ctx.params[0] ?? '';
    if (who !== 'me' && who !== token.userId)
      return this.refuse(ctx, 1001, 'Token does not belong to this user');
    const b = asObject(ctx.parsed);
    if (!b || typeof b.task_name !== 'string' || b.task_name.trim() === '') {
      return this.refuse(ctx, 400, 'task_name is required');
    }
    if (b.language !== undefined && b.language !== null && typeof b.language !== 'string') {
      return this.refuse(ctx, 400, 'language must be a string');
    }
    const s: Session = {
      taskId: `task_${++this.taskN}`,
      sessionId: `${randomInt(1, 10)}${Array.from({ length: 18 }, () => randomInt(0, 10)).join('')}`,
      owner: token.userId,
      taskName: b.task_name,
      language: typeof b.language === 'string' ? b.language : null,
      videoInfos: [],
      draft: {},
      canvas: { width: 1920, height: 1080, ratio: '16:9' },
      running: false,
    };
    this.sessionMap.set(s.sessionId, s);
    this.ok(ctx, { task_id: s.taskId, session_id: s.sessionId, user_id: s.owner });
  }

  private state(ctx: Ctx, token: TokenRec): void {
    const s = this.ownSession(token, ctx.params[0] ?? '', ctx.params[1] ?? '');
    if (!s) return this.refuse(ctx, 1002);
    this.ok(ctx, {
      session_id: s.sessionId,
      task_id: s.taskId,
      task_name: s.taskName,
      state: {
        video_infos: structuredClone(s.videoInfos),
        draft: structuredClone(s.draft),
        canvas_config: { ...s.canvas },
        video_analyses: {},
        generated_media: [],
      },
    });
  }

  private balance(ctx: Ctx, token: TokenRec): void {
    const a = this.accounts.get(token.userId);
    if (!a) return this.refuse(ctx, 1001);
    this.ok(ctx, { available: a.available, frozen: a.frozen, total: a.available + a.frozen });
  }

  // ------------------------------------------------------------------ upload

  private async upload(ctx: Ctx, token: TokenRec): Promise<void> {
    const s = this.ownSession(token, ctx.params[0] ?? '', ctx.params[1] ?? '');
    if (!s) return this.refuse(ctx, 1002);
    const max = this.options.maxUploadBytes;
    const ct = ctx.req.headers['content-type'] ?? '';
    const incoming: Array<{ name: string; bytes: Buffer }> = [];
    if (/^multipart\/form-data/iu.test(ct)) {
      let form: FormData;
      try {
        form = await new Response(ctx.body, { headers: { 'content-type': ct } }).formData();
      } catch {
        return this.refuse(ctx, 400, 'Malformed multipart body');
      }
      for (const v of form.getAll('files')) {
        if (typeof v === 'string') return this.refuse(ctx, 400, 'files must be file parts');
        if (!extensionKind(v.name)) return this.refuse(ctx, 4001);
        if (v.size > max) return this.refuse(ctx, 4002, `File too large (max ${max} bytes)`);
        incoming.push({ name: v.name, bytes: Buffer.from(await v.arrayBuffer()) });
      }
    } else {
      const b = asObject(ctx.parsed);
      if (!b || b.source_type !== 'url' || !Array.isArray(b.urls) || b.urls.length === 0) {
        return this.refuse(ctx, 400, 'Send multipart "files" or {"urls":[…],"source_type":"url"}');
      }
      for (const u of b.urls as unknown[]) {
        const got = await this.fetchUrl(u, max);
        if ('code' in got) return this.refuse(ctx, got.code, got.message);
        incoming.push(got);
      }
    }
    if (incoming.length === 0) return this.refuse(ctx, 400, 'No files in the request');
    const out: VideoInfo[] = [];
    for (const f of incoming) {
      const kind = extensionKind(f.name);
      if (!kind) return this.refuse(ctx, 4001);
      const hash = createHash('sha256').update(f.bytes).digest('hex').slice(0, 32);
      const name = safeName(f.name);
      const path = join(this.dir, 'cdn', `${hash}-${name}`);
      await writeFile(path, f.bytes);
      const probe = await ffprobe(path);
      if (kind === 'video' && !probe?.video) return this.refuse(ctx, 4001, 'Unreadable or unsupported video');
      this.files.set(`${hash}/${name}`, { path, name });
      out.push({
        filename: f.name,
        file_type: kind,
        cdn_url: `${this.url}/cdn/${hash}/${encodeURIComponent(name)}`,
        duration: probe?.duration ?? null,
        width: probe?.video?.width ?? null,
        height: probe?.video?.height ?? null,
        fps: probe?.video?.fps ?? null,
        hash,
      });
    }
    for (const v of out) {
      if (
        v.file_type === 'video' &&
        v.width &&
        v.height &&
        !s.videoInfos.some((x) => x.file_type === 'video')
      ) {
        s.canvas = { width: v.width, height: v.height, ratio: ratioOf(v.width, v.height) };
      }
      s.videoInfos.push(v);
    }
    this.ok(ctx, { files: structuredClone(out), session_state_applied: true });
  }

  private async fetchUrl(
    u: unknown,
    max: number,
  ): Promise<{ name: string; bytes: Buffer } | { code: number; message: string }> {
    let url: URL;
    try {
      url = new URL(String(u));
    } catch {
      return { code: 400, message: `Invalid URL: ${String(u)}` };
    }
    if (!/^https?:$/u.test(url.protocol) || !this.options.urlUploadHosts.includes(url.hostname)) {
      return { code: 400, message: `URL host not allowed: ${url.hostname}` };
    }
    const name = safeDecode(posix.basename(url.pathname));
    if (!extensionKind(name)) return { code: 4001, message: MESSAGES[4001] ?? '' };
    let r: Response;
    try {
      r = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(60_000) });
    } catch (e) {
      return { code: 400, message: `Could not fetch ${url.href}: ${String(e)}` };
    }
    if (!r.ok || !r.body) return { code: 400, message: `Could not fetch ${url.href}: HTTP ${r.status}` };
    const chunks: Uint8Array[] = [];
    let n = 0;
    for await (const c of r.body as AsyncIterable<Uint8Array>) {
      n += c.length;
      if (n > max) return { code: 4002, message: `File too large (max ${max} bytes)` };
      chunks.push(c);
    }
    return { name, bytes: Buffer.concat(chunks) };
  }

  private async serveCdn(ctx: Ctx): Promise<void> {
    const f = this.files.get(`${ctx.params[0] ?? ''}/${ctx.params[1] ?? ''}`);
    if (!f) return this.send(ctx, 404, { detail: 'Not Found' });
    await serveFile(ctx, f.path, CONTENT_TYPES[extOf(f.name)] ?? 'application/octet-stream');
  }

  // ------------------------------------------------------------------ SSE

  private runSse(ctx: Ctx, token: TokenRec): void {
    const o = this.options;
    const b = asObject(ctx.parsed);
    const bad = validateRunRequest(b);
    if (bad || !b) return this.refuse(ctx, 400, bad ?? 'Invalid body');
    const text = messageText(b);
    const s = this.ownSession(token, String(b.user_id), String(b.session_id));
    if (!s) {
      return o.sessionNotFound === 'adk404'
        ? this.send(ctx, 404, { detail: 'Session not found' })
        : this.refuse(ctx, 1002);
    }
    if (s.running) return this.refuse(ctx, 409);
    const acct = this.accounts.get(token.userId);
    if (!acct) return this.refuse(ctx, 1001);
    const cost = o.editCost;
    if (acct.available < cost) {
      return this.refuse(ctx, 2001, `Insufficient credits: ${cost} needed, ${acct.available} available`);
    }
    acct.available -= cost;
    acct.frozen += cost;
    s.running = true;
    const scenario = this.queue.shift() ?? 'normal';
    const video = [...s.videoInfos].reverse().find((v) => v.file_type === 'video');
    const edit = video ? buildEdit(text, video, s.taskName) : null;
    const abort = new AbortController();
    this.turns.add(abort);
    const { res } = ctx;
    ctx.rec.status = 200;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    res.on('close', () => {
      // The backend keeps working when the client leaves (§4.4 "never re-send"), except a stuck turn that only
      // heartbeats: it has nothing to finish, so it stops with the connection.
      if (!res.writableFinished && scenario === 'heartbeats-only') abort.abort();
    });
    let settled = false;
    const settle = (charge: boolean): void => {
      if (settled) return;
      settled = true;
      acct.frozen -= cost;
      if (!charge) acct.available += cost;
      s.running = false;
      this.turns.delete(abort);
    };
    const steps = turnScript(scenario, text, edit);
    void this.playTurn(ctx, steps, s, edit, abort.signal, settle, scenario);
  }

  private async playTurn(
    ctx: Ctx,
    steps: Step[],
    s: Session,
    edit: Edit | null,
    signal: AbortSignal,
    settle: (charge: boolean) => void,
    scenario: SseScenario,
  ): Promise<void> {
    const { res } = ctx;
    const invocationId = `e-${randomUUID()}`;
    let flushed: Promise<void> = Promise.resolve();
    const write = (chunk: string): void => {
      if (res.destroyed || res.writableEnded) return;
      flushed = new Promise((resolve) => {
        // One close listener per frame would pile up on long turns (MaxListenersExceededWarning): drop it once written.
        const done = (): void => {
          res.off('close', done);
          resolve();
        };
        res.once('close', done);
        res.write(chunk, done);
      });
    };
    for (const step of steps) {
      switch (step.k) {
        case 'beats':
          for (let i = 0; i < step.n; i++) {
            if (!(await sleep(this.options.heartbeatMs, signal))) {
              settle(false);
              res.destroy();
              return;
            }
            write(this.heartbeatFrame());
          }
          break;
        case 'text':
          write(this.eventFrame(invocationId, { text: step.text }));
          break;
        case 'call':
          write(this.eventFrame(invocationId, { call: step.args }));
          break;
        case 'result':
          write(this.eventFrame(invocationId, { result: step.result }));
          break;
        case 'apply':
          if (edit) s.draft = structuredClone(edit.draft);
          break;
        case 'error':
          write(`data: ${JSON.stringify({ error: step.message })}\n\n`);
          break;
        case 'destroy':
          // Let the frames already written reach the socket, so the client sees them before the connection drops.
          await flushed;
          settle(true);
          res.destroy();
          return;
      }
    }
    settle(scenario !== 'error');
    res.end();
  }

  private heartbeatFrame(): string {
    switch (this.options.heartbeat) {
      case 'json':
        return 'data: {"type":"heartbeat"}\n\n';
      case 'empty':
        return 'data: \n\n';
      case 'comment':
        return ': ping\n\n';
    }
  }

  private eventFrame(
    invocationId: string,
    e: { text: string } | { call: Record<string, unknown> } | { result: Record<string, unknown> },
  ): string {
    let obj: Record<string, unknown>;
    if (this.options.eventShape === 'v44') {
      if ('text' in e) obj = { type: 'text', content: e.text };
      else if ('call' in e) obj = { type: 'tool_call', name: TOOL, args: e.call };
      else obj = { type: 'tool_result', name: TOOL, result: e.result };
    } else {
      const callId = `adk-${randomUUID()}`;
      let content: Record<string, unknown>;
      if ('text' in e) content = { role: 'model', parts: [{ text: e.text }] };
      else if ('call' in e)
        content = { role: 'model', parts: [{ functionCall: { id: callId, name: TOOL, args: e.call } }] };
      else
        content = {
          role: 'user',
          parts: [{ functionResponse: { id: callId, name: TOOL, response: e.result } }],
        };
      obj = {
        content,
        author: 'nemo_agent',
        invocationId,
        id: randomBytes(6).toString('base64url').slice(0, 8),
        timestamp: this.now() / 1000,
        partial: false,
      };
    }
    return `data: ${JSON.stringify(obj)}\n\n`;
  }

  // ------------------------------------------------------------------ render

  private startRender(ctx: Ctx, token: TokenRec): void {
    const o = this.options;
    const acct = this.accounts.get(token.userId);
    const h = ctx.req.headers;
    if (
      o.strictHeaders &&
      acct?.anonymous &&
      !(h['x-skill-source'] && h['x-skill-version'] && h['x-skill-platform'])
    ) {
      return this.refuse(ctx, 402);
    }
    const b = asObject(ctx.parsed);
    if (!b) return this.renderRefuse(ctx, 400, 'JSON body required');
    if (typeof b.id !== 'string' || !/^[\w.-]{1,128}$/u.test(b.id)) {
      return this.renderRefuse(ctx, 400, 'id is required ([A-Za-z0-9_.-], ≤ 128 characters)');
    }
    if (typeof b.sessionId !== 'string') return this.renderRefuse(ctx, 400, 'sessionId is required');
    const s = this.ownSession(token, 'me', b.sessionId);
    if (!s) return this.renderRefuse(ctx, 404, 'session not found');
    const seg = firstVideoSegment(b.draft);
    if (!seg) return this.renderRefuse(ctx, 400, 'draft has no track with segments');
    if (this.renderMap.has(b.id)) return this.renderRefuse(ctx, 409, 'duplicate id');
    const r: Render = {
      id: b.id,
      sessionId: s.sessionId,
      owner: token.userId,
      status: 'pending',
      polls: 0,
      progress: 5,
      outputPath: join(this.dir, 'render', `${b.id}.mp4`),
      createdAt: this.now(),
      completedAt: null,
      done: false,
      failed: false,
      error: null,
      duration: null,
      size: null,
      proc: null,
      cancelled: false,
    };
    this.renderMap.set(r.id, r);
    const meta = asObject(asObject(b.draft)?.m);
    if (Math.random() < o.renderFailRate) this.finishRender(r, 'render failed (injected)');
    else this.encode(r, seg, meta);
    this.send(ctx, 200, { success: true, data: { id: r.id, status: 'pending', progress: 5 } });
  }

  private encode(
    r: Render,
    seg: { src: string; s: number; e: number },
    meta: Record<string, unknown> | null,
  ): void {
    const prefix = `${this.url}/cdn/`;
    const key = seg.src.startsWith(prefix)
      ? seg.src.slice(prefix.length).split('/').map(safeDecode).join('/')
      : '';
    const src = this.files.get(key);
    if (!src || !r.outputPath) return this.finishRender(r, `source not found: ${seg.src}`);
    const out = r.outputPath;
    const args = ['-nostdin', '-y', '-hide_banner', '-v', 'error'];
    if (seg.s > 0) args.push('-ss', String(seg.s / 1000));
    args.push('-i', src.path);
    if (seg.e > seg.s) args.push('-t', String((seg.e - seg.s) / 1000));
    args.push('-map', '0:v:0', '-map', '0:a:0?');
    const height = typeof meta?.height === 'number' && meta.height > 0 ? Math.round(meta.height) : null;
    if (height) args.push('-vf', `scale=-2:${height - (height % 2)}`);
    args.push('-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p');
    const target = typeof meta?.target_bytes === 'number' ? meta.target_bytes : null;
    const seconds = seg.e > seg.s ? (seg.e - seg.s) / 1000 : 0;
    const audioBps = 96_000;
    if (this.options.honourTargetBytes && target && seconds > 0) {
      const kbps = Math.max(50, Math.floor(((target * 0.9 * 8) / seconds - audioBps) / 1000));
      args.push('-b:v', `${kbps}k`, '-maxrate', `${kbps}k`, '-bufsize', `${kbps * 2}k`);
    } else args.push('-crf', '26');
    args.push('-c:a', 'aac', '-b:a', `${audioBps / 1000}k`, '-movflags', '+faststart', '-f', 'mp4', out);
    const p = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    r.proc = p;
    let stderr = '';
    p.stderr.on('data', (c: Buffer) => {
      if (stderr.length < 4000) stderr += c.toString('utf8');
    });
    p.on('error', (e) => this.finishRender(r, `ffmpeg: ${e.message}`));
    p.on('close', (code) => {
      r.proc = null;
      if (r.done) return;
      if (code !== 0) return this.finishRender(r, `ffmpeg exited ${code}: ${stderr.trim().slice(0, 500)}`);
      void Promise.all([ffprobe(out), stat(out)]).then(
        ([probe, st]) => {
          r.duration = probe?.duration ?? null;
          r.size = st.size;
          this.finishRender(r, null);
        },
        (e: unknown) => this.finishRender(r, `output unreadable: ${String(e)}`),
      );
    });
  }

  private finishRender(r: Render, error: string | null): void {
    if (r.done) return;
    r.done = true;
    r.failed = error !== null;
    r.error = error;
  }

  private ownRender(token: TokenRec, id: string): Render | null {
    const r = this.renderMap.get(id);
    return r && r.owner === token.userId ? r : null;
  }

  private pollRender(ctx: Ctx, token: TokenRec): void {
    const r = this.ownRender(token, ctx.params[0] ?? '');
    if (!r) return this.renderRefuse(ctx, 404, 'render not found');
    const o = this.options;
    r.polls++;
    if (r.status !== 'completed' && r.status !== 'failed') {
      if (r.cancelled || (r.done && r.polls > o.renderPolls)) {
        r.status = r.failed ? 'failed' : 'completed';
        r.progress = r.failed ? r.progress : 100;
        r.completedAt = this.now();
      } else {
        r.status = r.polls <= 1 ? 'pending' : 'processing';
        r.progress = Math.min(95, 5 + Math.round((90 * (r.polls - 1)) / Math.max(1, o.renderPolls)));
      }
    }
    const done = r.status === 'completed';
    const outputUrl = done ? `${this.url}/render-result/${encodeURIComponent(r.id)}.mp4` : null;
    const output = done ? { url: outputUrl, duration: r.duration, size: r.size } : null;
    const error = r.status === 'failed' ? r.error : null;
    switch (o.renderShape) {
      case 'v44':
        return this.send(ctx, 200, {
          success: true,
          data: {
            id: r.id,
            status: r.status,
            progress: r.progress,
            outputUrl,
            createdAt: new Date(r.createdAt).toISOString(),
            completedAt: r.completedAt === null ? null : new Date(r.completedAt).toISOString(),
            ...(error ? { error } : {}),
          },
        });
      case 'toplevel':
        return this.send(ctx, 200, {
          taskId: r.id,
          status: r.status,
          progress: r.progress,
          output,
          ...(error ? { error } : {}),
        });
      case 'cli':
        return this.ok(ctx, {
          render_id: r.id,
          status: r.status,
          ...(output ? { output } : {}),
          ...(error ? { error } : {}),
        });
    }
  }

  private cancelRender(ctx: Ctx, token: TokenRec): void {
    const r = this.ownRender(token, ctx.params[0] ?? '');
    if (!r) return this.renderRefuse(ctx, 404, 'render not found');
    if (r.status === 'completed' || r.status === 'failed') {
      return this.renderRefuse(ctx, 409, `render already ${r.status}`);
    }
    r.cancelled = true;
    r.proc?.kill('SIGKILL');
    this.finishRender(r, 'cancelled');
    r.failed = true;
    r.error = 'cancelled';
    this.send(ctx, 200, { success: true, data: { id: r.id, status: 'failed', error: 'cancelled' } });
  }

  private async download(ctx: Ctx, token: TokenRec): Promise<void> {
    const r = this.ownRender(token, ctx.params[0] ?? '');
    if (!r) return this.renderRefuse(ctx, 404, 'render not found');
    if (!r.done || r.failed || !r.outputPath) return this.renderRefuse(ctx, 404, 'render output not ready');
    await serveFile(ctx, r.outputPath, 'video/mp4', {
      'content-disposition': `attachment; filename="${r.id}.mp4"`,
    });
  }

  private async serveRenderResult(ctx: Ctx): Promise<void> {
    const r = this.renderMap.get(ctx.params[0] ?? '');
    const ttl = this.options.outputTtlMs;
    const expired =
      ttl !== null &&
      r?.completedAt !== null &&
      r?.completedAt !== undefined &&
      this.now() > r.completedAt + ttl;
    if (!r || r.status !== 'completed' || !r.outputPath || expired) {
      return this.send(ctx, 404, { detail: 'Not Found' });
    }
    await serveFile(ctx, r.outputPath, 'video/mp4');
  }

  // ------------------------------------------------------------------ /__fake/ controls

  private async control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const { buf } = await readBody(req, JSON_CAP);
    const b = asObject(buf ? parseJson(buf) : undefined) ?? {};
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    try {
      switch (`${req.method} ${path}`) {
        case 'GET /__fake/requests':
          return reply(200, this.requests);
        case 'GET /__fake/state':
          return reply(200, { sessions: this.sessions(), renders: this.renders(), tokens: this.tokens() });
        case 'POST /__fake/scenario':
          this.scenario(...((Array.isArray(b.scenarios) ? b.scenarios : []) as SseScenario[]));
          return reply(200, { ok: true });
        case 'POST /__fake/fail':
          this.fail(b.route as FakeRoute, b.fault as FakeFault, typeof b.times === 'number' ? b.times : 1);
          return reply(200, { ok: true });
        case 'POST /__fake/options': {
          const unknown = Object.keys(b).filter((k) => !(k in this.options));
          if (unknown.length)
            return reply(400, { ok: false, error: `unknown options: ${unknown.join(', ')}` });
          Object.assign(this.options, b);
          return reply(200, { ok: true, options: this.options });
        }
        case 'POST /__fake/expire-tokens':
          this.expireTokens();
          return reply(200, { ok: true });
        case 'POST /__fake/delete-session':
          this.deleteSession(String(b.sessionId));
          return reply(200, { ok: true });
        case 'POST /__fake/credits':
          this.setCredits(String(b.token), Number(b.available));
          return reply(200, { ok: true });
        default:
          return reply(404, { ok: false, error: 'unknown control' });
      }
    } catch (e) {
      reply(400, { ok: false, error: String(e) });
    }
  }
}

export async function startFakeNemo(opts: FakeNemoOptions = {}): Promise<FakeNemo> {
  const f = new FakeNemoServer(opts);
  await f.start();
  return f;
}

// ------------------------------------------------------------------ turn script and the edit it makes

function turnScript(scenario: SseScenario, text: string, edit: Edit | null): Step[] {
  const call: Step = {
    k: 'call',
    args: { instruction: text, target_bytes: edit?.targetBytes ?? null, height: edit?.height ?? null },
  };
  const result: Step = {
    k: 'result',
    result: edit
      ? { status: 'success', draft_updated: true, summary: edit.summary }
      : { status: 'error', error: 'no video in this session' },
  };
  // The final text talks about a GUI the bot does not have (seed "Backend Response Translation"), so the client's
  // translation is always exercised.
  const final: Step = {
    k: 'text',
    text: edit
      ? `Done! I ${edit.summary}. You can preview it in the timeline. Click the Export button to download your video.`
      : "I don't see a video in this project yet. Click the Upload button to add one.",
  };
  const normal: Step[] = [
    { k: 'text', text: TURN_TEXT.ack },
    { k: 'beats', n: 1 },
    call,
    { k: 'beats', n: 1 },
    result,
    { k: 'apply' },
    final,
  ];
  switch (scenario) {
    case 'normal':
      return normal;
    case 'silent':
      return [{ k: 'beats', n: 1 }, call, { k: 'beats', n: 1 }, result, { k: 'apply' }];
    case 'trailing-issue':
      return [...normal, { k: 'text', text: TURN_TEXT.trailingIssue }];
    case 'disconnect':
      return [
        { k: 'text', text: TURN_TEXT.ack },
        { k: 'beats', n: 1 },
        call,
        { k: 'beats', n: 1 },
        { k: 'apply' },
        { k: 'destroy' },
      ];
    case 'heartbeats-only':
      return [{ k: 'beats', n: Infinity }];
    case 'error':
      return [
        { k: 'beats', n: 1 },
        { k: 'error', message: TURN_TEXT.error },
      ];
    case 'slow':
      return [{ k: 'beats', n: 4 }, ...normal];
  }
}

const SIZE_UNITS: Record<string, number> = {
  kb: 1e3,
  kib: 1024,
  mb: 1e6,
  mib: 1024 ** 2,
  gb: 1e9,
  gib: 1024 ** 3,
};

/** "under 20MB", "8 MB", "1.5 GB", "700 kb" → bytes (SI for kB/MB/GB, binary for KiB/MiB/GiB). */
export function parseTargetBytes(text: string): number | null {
  const m = /(\d+(?:[.,]\d+)?)\s*(kib|mib|gib|kb|mb|gb|megabytes?|gigabytes?|kilobytes?)\b/iu.exec(text);
  if (!m?.[1] || !m[2]) return null;
  const unit = m[2].toLowerCase();
  const key = unit.startsWith('mega')
    ? 'mb'
    : unit.startsWith('giga')
      ? 'gb'
      : unit.startsWith('kilo')
        ? 'kb'
        : unit;
  const mult = SIZE_UNITS[key];
  const n = Number(m[1].replace(',', '.'));
  return mult && n > 0 ? Math.round(n * mult) : null;
}

/** "720p" → 720, "4k" → 2160. */
export function parseHeight(text: string): number | null {
  if (/\b4k\b/iu.test(text)) return 2160;
  const m = /\b(\d{3,4})p\b/iu.exec(text);
  return m?.[1] ? Number(m[1]) : null;
}

function buildEdit(text: string, v: VideoInfo, taskName: string): Edit {
  const d = Math.round((v.duration ?? 0) * 1000);
  const targetBytes = parseTargetBytes(text);
  const height = parseHeight(text);
  const srcW = v.width ?? 0;
  const srcH = v.height ?? 0;
  const outH = height ?? srcH;
  const outW = height && srcH ? 2 * Math.round((srcW * height) / srcH / 2) : srcW;
  const tracks: Array<Record<string, unknown>> = [{ tt: 0, sg: [{ src: v.cdn_url, s: 0, e: d }] }];
  if (/\b(music|bgm|soundtrack)\b/iu.test(text))
    tracks.push({ tt: 1, sg: [{ src: 'bgm:lofi', s: 0, e: d, v: 35 }] });
  const title = /\btitle\s+"([^"]+)"/iu.exec(text)?.[1];
  if (title) tracks.push({ tt: 7, sg: [{ text: title, s: 0, e: Math.min(3000, d) }] });
  const m: Record<string, unknown> = { title: taskName, width: outW, height: outH };
  if (targetBytes) m.target_bytes = targetBytes;
  const parts = [`compressed ${v.filename}`];
  if (height) parts.push(`to ${height}p`);
  if (targetBytes) parts.push(`aiming for under ${(targetBytes / 1e6).toFixed(1)} MB`);
  return { draft: { t: tracks, d, m }, summary: parts.join(' '), targetBytes, height };
}

function firstVideoSegment(draft: unknown): { src: string; s: number; e: number } | null {
  const t = asObject(draft)?.t;
  if (!Array.isArray(t)) return null;
  for (const track of t as unknown[]) {
    const tr = asObject(track);
    if (!tr || tr.tt !== 0 || !Array.isArray(tr.sg)) continue;
    const sg = asObject((tr.sg as unknown[])[0]);
    if (!sg || typeof sg.src !== 'string') continue;
    return { src: sg.src, s: typeof sg.s === 'number' ? sg.s : 0, e: typeof sg.e === 'number' ? sg.e : 0 };
  }
  return null;
}

function validateRunRequest(b: Record<string, unknown> | null): string | null {
  if (!b) return 'JSON body required';
  for (const camel of ['appName', 'userId', 'sessionId', 'newMessage']) {
    if (camel in b) return `Unexpected field ${camel}: the RunAgentRequest fields are snake_case`;
  }
  if (b.app_name !== 'nemo_agent') return 'app_name must be "nemo_agent"';
  if (typeof b.user_id !== 'string' || b.user_id === '') return 'user_id is required';
  if (typeof b.session_id !== 'string' || b.session_id === '') return 'session_id is required';
  const msg = asObject(b.new_message);
  if (!msg || !Array.isArray(msg.parts) || msg.parts.length === 0) return 'new_message.parts is required';
  if (messageText(b) === '') return 'new_message.parts[].text is required';
  return null;
}

function messageText(b: Record<string, unknown>): string {
  const parts = asObject(b.new_message)?.parts;
  if (!Array.isArray(parts)) return '';
  return (parts as unknown[])
    .map((p) => asObject(p)?.text)
    .filter((t): t is string => typeof t === 'string')
    .join('\n')
    .trim();
}

// ------------------------------------------------------------------ helpers

function asObject(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function extOf(name: string): string {
  const m = /\.([A-Za-z0-9]+)$/u.exec(name);
  return m?.[1]?.toLowerCase() ?? '';
}

function extensionKind(name: string): VideoInfo['file_type'] | null {
  const ext = extOf(name);
  for (const [kind, list] of Object.entries(SUPPORTED_EXTENSIONS) as Array<
    [VideoInfo['file_type'], readonly string[]]
  >) {
    if (list.includes(ext)) return kind;
  }
  return null;
}

function safeName(name: string): string {
  const base = posix.basename(name.replace(/\\/gu, '/'));
  return base.replace(/[^\w.-]/gu, '_') || 'file';
}

function ratioOf(w: number, h: number): string {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(w, h) || 1;
  return `${w / g}:${h / g}`;
}

async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** The whole body, or null (after reading and dropping the rest) once it passes `cap` bytes. */
async function readBody(req: IncomingMessage, cap: number): Promise<{ buf: Buffer | null; bytes: number }> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  let keep = !(Number.isFinite(declared) && declared > cap);
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    bytes += c.length;
    if (keep && bytes > cap) {
      keep = false;
      chunks.length = 0;
    }
    if (keep) chunks.push(c);
  }
  return { buf: keep ? Buffer.concat(chunks) : null, bytes };
}

interface Probe {
  duration: number | null;
  video: { width: number; height: number; fps: number | null } | null;
}

/** ffprobe's JSON for a file, or null when ffprobe cannot read it. */
export async function ffprobe(path: string): Promise<Probe | null> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path];
  const out = await new Promise<string | null>((resolve) => {
    const p = spawn('ffprobe', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    p.stdout.on('data', (c: Buffer) => {
      s += c.toString('utf8');
    });
    p.on('error', () => resolve(null));
    p.on('close', (code) => resolve(code === 0 ? s : null));
  });
  const j = asObject(out ? parseJson(Buffer.from(out)) : undefined);
  if (!j) return null;
  const streams = Array.isArray(j.streams) ? (j.streams as unknown[]).map(asObject) : [];
  const v = streams.find((st) => st?.codec_type === 'video');
  const duration = Number(asObject(j.format)?.duration);
  const rate = (
    typeof v?.avg_frame_rate === 'string' && v.avg_frame_rate !== '0/0' ? v.avg_frame_rate : v?.r_frame_rate
  ) as string | undefined;
  const [num, den] = (rate ?? '').split('/').map(Number);
  const fps = num && den ? Math.round((num / den) * 1000) / 1000 : null;
  return {
    duration: Number.isFinite(duration) ? duration : null,
    video:
      v && typeof v.width === 'number' && typeof v.height === 'number'
        ? { width: v.width, height: v.height, fps }
        : null,
  };
}

/** Serves a file with single-range support (RFC 9110 §14): 206 + Content-Range, 416 when unsatisfiable. */
async function serveFile(
  ctx: Ctx,
  path: string,
  contentType: string,
  extra: Record<string, string> = {},
): Promise<void> {
  const { req, res } = ctx;
  const st = await stat(path).catch(() => null);
  if (!st) {
    ctx.rec.status = 404;
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"detail":"Not Found"}');
    return;
  }
  const size = st.size;
  let start = 0;
  let end = size - 1;
  let status = 200;
  const m = /^bytes=(\d*)-(\d*)$/u.exec((req.headers.range ?? '').trim());
  if (m && (m[1] || m[2])) {
    if (!m[1]) start = Math.max(0, size - Number(m[2]));
    else {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
    }
    if (start > end || start >= size) {
      ctx.rec.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    status = 206;
  }
  ctx.rec.status = status;
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': end - start + 1,
    'accept-ranges': 'bytes',
    ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    ...extra,
  });
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  createReadStream(path, { start, end }).pipe(res);
}
