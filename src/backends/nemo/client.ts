// NemoVideo cloud API client (issue #6). The protocol is the public skills' (seed; chatbot-anchors.md §4.2–§4.7)
// and every documented variant is accepted (§4.8): both error transports, three render-poll shapes, two SSE event
// shapes. Rules kept here so the backend cannot get them wrong:
// - Attribution headers on every API call: "missing them will cause auth failures or export 402" (§4.2).
// - Anonymous tokens come from a stored client id and are re-acquired once on 1001; NEMO_TOKEN is never replaced.
// - A /run_sse prompt is never resent once it may have reached the server: "duplicates + double charge" (§4.4).
//   Only refusals that come back before any processing (1001, 429) are retried, once each.
// - 429 → wait 30 s (or Retry-After) and retry once (seed error table).
// - The token never appears in a log call, an error message or error details.
// - The render output URL comes from the cloud, so it is fetched through the SSRF-safe downloader with a byte cap;
//   the authenticated /download fallback goes only to the configured API host, and redirects are never followed
//   blindly: a redirect from the API is handed to the SSRF-safe downloader without credentials.
import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import ipaddr from 'ipaddr.js';
import { Agent, FormData, type Dispatcher } from 'undici';
import type { NemoConfig } from '../../config/nemo.js';
import { vidshrinkVersion } from '../../config/nemo.js';
import { AppError, isAppError } from '../../domain/errors.js';
import { formatBytes } from '../../domain/units.js';
import { ByteCap } from '../../net/byte-cap.js';
import { safeDownload } from '../../net/safe-download.js';
import {
  cleanServerText,
  faultToError,
  interpretResponse,
  isAuthFault,
  isDuplicateId,
  parseJsonText,
  type Fault,
  type Outcome,
} from './envelope.js';
import { normalizeRender } from './render.js';
import { normalizeFrame, TurnFilter } from './sse.js';
import type {
  Credits,
  Draft,
  RenderStatus,
  SessionState,
  SseEnd,
  SseEvent,
  TokenStore,
  UploadedFile,
} from './types.js';
import { isObject, num } from './values.js';

export interface NemoClientOptions {
  /**
   * Lets the render-output download reach loopback addresses and the API's own port, so a fake NemoVideo on
   * 127.0.0.1 can stand in for the cloud in tests. Production never sets it.
   */
  allowLoopback?: boolean;
  /** Waits (429 back-off, poll cadence); injectable so tests need not sleep. Rejects when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Operational log lines; never given a token. */
  log?: (msg: string, fields?: object) => void;
}

type Route =
  'token' | 'session' | 'upload' | 'sse' | 'state' | 'credits' | 'render' | 'renderPoll' | 'download';

interface CallSpec {
  route: Route;
  method: 'GET' | 'POST';
  path: string;
  json?: () => unknown;
  form?: () => Promise<FormData>;
  accept?: string;
  headers?: Record<string, string>;
  signal: AbortSignal | undefined;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
}

/** What an `accept` handler decided about one response. */
type Accepted<T> = { value: T } | { fault: Fault };

const CONNECT_TIMEOUT_MS = 15_000;
const HEADERS_TIMEOUT_MS = 60_000;
const BODY_TIMEOUT_MS = 60_000;
/** The server probes the file after receiving it; a big upload's answer can take minutes. */
const UPLOAD_TIMEOUT_MS = 15 * 60_000;
const SSE_HEADERS_TIMEOUT_MS = 120_000;
/** JSON answers larger than this are not NemoVideo answers. */
const MAX_JSON_BYTES = 8 * 1024 * 1024;
/** A Retry-After longer than this is not worth holding a chat for: fail with NEMO_RATE_LIMITED at once. */
const MAX_RETRY_WAIT_MS = 120_000;
/** Consecutive failed render polls tolerated (a blip during a 5-minute export should not lose it). */
const MAX_POLL_FAILURES = 3;
/** Network failures that prove the request never left this machine: safe to report as "unreachable". */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

const MIME: Readonly<Record<string, string>> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.avi': 'video/x-msvideo',
  '.webm': 'video/webm',
  '.mkv': 'video/x-matroska',
};

function idString(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v.trim();
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  return null;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function errorCode(e: unknown): string {
  return isObject(e) && typeof e.code === 'string' ? e.code : '';
}

function header(headers: Dispatcher.ResponseData['headers'], name: string): string | null {
  const v = headers[name];
  return Array.isArray(v) ? (v[0] ?? null) : (v ?? null);
}

function uploadedFile(v: unknown): UploadedFile {
  const f = isObject(v) ? v : {};
  return {
    filename: text(f.filename),
    fileType: text(f.file_type) ?? text(f.fileType),
    cdnUrl: text(f.cdn_url) ?? text(f.cdnUrl) ?? text(f.url),
    durationSec: num(f.duration),
    width: num(f.width),
    height: num(f.height),
    fps: num(f.fps),
    hash: text(f.hash),
  };
}

function badResponse(reason: string): AppError {
  return new AppError('NEMO_BAD_RESPONSE', { reason });
}

export class NemoClient {
  readonly anonymous: boolean;
  readonly #cfg: NemoConfig;
  readonly #store: TokenStore;
  readonly #agent: Agent;
  readonly #origin: string;
  readonly #prefix: string;
  readonly #allowLoopback: boolean;
  readonly #sleepImpl: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #logImpl: (msg: string, fields?: object) => void;
  #acquiring: Promise<string> | null = null;

  constructor(cfg: NemoConfig, store: TokenStore, opts: NemoClientOptions = {}) {
    this.#cfg = cfg;
    this.#store = store;
    this.anonymous = cfg.token === null;
    const base = new URL(cfg.apiBase);
    this.#origin = base.origin;
    this.#prefix = base.pathname.replace(/\/+$/u, '');
    this.#allowLoopback = opts.allowLoopback === true;
    this.#sleepImpl = opts.sleep ?? ((ms, signal) => delay(ms, undefined, signal ? { signal } : {}));
    this.#logImpl = opts.log ?? (() => undefined);
    // One connection pool per client; HTTP/1.1 only and no redirect interceptor: a 3xx is an answer, not a hop.
    this.#agent = new Agent({
      connect: { timeout: CONNECT_TIMEOUT_MS },
      headersTimeout: HEADERS_TIMEOUT_MS,
      bodyTimeout: BODY_TIMEOUT_MS,
      allowH2: false,
    });
  }

  /** The stable anonymous identity (created and stored on first use). */
  clientId(): string {
    const stored = this.#store.get('nemo.clientId');
    if (stored) return stored;
    const fresh = randomUUID();
    this.#store.set('nemo.clientId', fresh);
    return fresh;
  }

  /** Closes the connection pool. */
  async close(): Promise<void> {
    await this.#agent.close().catch(() => undefined);
  }

  // ---- the API ----------------------------------------------------------------------------------------------

  /** POST /api/tasks/me/with-session/nemo_agent (§4.3). `language` is left out when null. */
  async createSession(
    language: string | null,
    signal?: AbortSignal,
  ): Promise<{ taskId: string; sessionId: string }> {
    const data = await this.#call({
      route: 'session',
      method: 'POST',
      path: '/api/tasks/me/with-session/nemo_agent',
      json: () => ({ task_name: 'project', ...(language ? { language } : {}) }),
      signal,
    });
    const d = isObject(data) ? data : {};
    const sessionId = idString(d.session_id) ?? idString(d.sessionId);
    const taskId = idString(d.task_id) ?? idString(d.taskId);
    if (sessionId === null || taskId === null) throw badResponse('no session id in the answer');
    return { taskId, sessionId };
  }

  /**
   * Multipart upload of a file on disk, streamed (never read into memory): field `files` (§4.3). `fileName` is what
   * the cloud calls it (the agent names the file in its replies); default: the file's own name.
   */
  async uploadFile(
    sessionId: string,
    path: string,
    signal?: AbortSignal,
    fileName: string = basename(path),
  ): Promise<UploadedFile[]> {
    try {
      await stat(path);
    } catch (e) {
      throw new AppError('INPUT_NOT_FOUND', { path: basename(path) }, { cause: e });
    }
    const type = MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
    const data = await this.#call({
      route: 'upload',
      method: 'POST',
      path: `/api/upload-video/nemo_agent/me/${encodeURIComponent(sessionId)}`,
      // Rebuilt per attempt; openAsBlob gives a file-backed Blob that undici streams from disk.
      form: async () => {
        const form = new FormData();
        form.append('files', await openAsBlob(path, { type }), fileName);
        return form;
      },
      signal,
      headersTimeoutMs: UPLOAD_TIMEOUT_MS,
      bodyTimeoutMs: UPLOAD_TIMEOUT_MS,
    });
    return this.#uploaded(data);
  }

  /** Upload by URL: `{"urls":[…],"source_type":"url"}` (§4.3). */
  async uploadUrl(sessionId: string, url: string, signal?: AbortSignal): Promise<UploadedFile[]> {
    const data = await this.#call({
      route: 'upload',
      method: 'POST',
      path: `/api/upload-video/nemo_agent/me/${encodeURIComponent(sessionId)}`,
      json: () => ({ urls: [url], source_type: 'url' }),
      signal,
      headersTimeoutMs: UPLOAD_TIMEOUT_MS,
    });
    return this.#uploaded(data);
  }

  /**
   * One agent turn over POST /run_sse (§4.4). Yields normalized events and returns how the turn ended. Refusals
   * before the stream starts throw (NEMO_SESSION_GONE, NEMO_NO_CREDITS, …); once the prompt may have reached the
   * server, nothing is resent: a broken connection ends the turn with `disconnected` and the caller reads state.
   */
  async *run(sessionId: string, message: string, signal?: AbortSignal): AsyncGenerator<SseEvent, SseEnd> {
    const ctl = new AbortController();
    let ended: SseEnd['reason'] | null = null;
    const stop = (reason: SseEnd['reason']): void => {
      if (ended !== null) return;
      ended = reason;
      ctl.abort(new Error(`sse ${reason}`));
    };
    const requestSignal = signal ? AbortSignal.any([signal, ctl.signal]) : ctl.signal;
    const ceiling = setTimeout(() => stop('timeout'), this.#cfg.sseTimeoutMs);
    // Heartbeats do not count as activity: "10 min of heartbeats only → assume timeout" (§4.4).
    const idle = setTimeout(() => stop('idle'), this.#cfg.sseIdleMs);
    const cancelled = (cause: unknown): AppError => new AppError('CANCELLED', {}, { cause });
    try {
      let opened: { value: Dispatcher.ResponseData | null } | { fault: Fault };
      try {
        opened = await this.#perform(
          {
            route: 'sse',
            method: 'POST',
            path: '/run_sse',
            accept: 'text/event-stream',
            json: () => ({
              app_name: 'nemo_agent',
              user_id: 'me',
              session_id: sessionId,
              new_message: { parts: [{ text: message }] },
            }),
            signal: requestSignal,
            headersTimeoutMs: SSE_HEADERS_TIMEOUT_MS,
            // No body timeout: silence is judged by the idle and overall limits above.
            bodyTimeoutMs: 0,
          },
          (r) => this.#acceptStream(r),
        );
      } catch (e) {
        if (signal?.aborted) throw cancelled(e);
        if (ended !== null) return { reason: ended };
        if (isAppError(e) && e.code === 'NEMO_UNREACHABLE' && e.internal.mayHaveArrived === true) {
          this.#log('nemo sse connection lost before the answer', { reason: e.details.reason });
          return { reason: 'disconnected' };
        }
        throw e;
      }
      if ('fault' in opened) throw this.#faultError(opened.fault);
      if (opened.value === null) return { reason: 'closed' };
      const body = opened.value.body;
      const queue: SseEvent[] = [];
      const filter = new TurnFilter();
      const parser = createParser({
        onEvent: (m) => {
          const frame = normalizeFrame(m.data);
          if (!frame.recognized) this.#log('nemo sse frame ignored', { bytes: m.data.length });
          queue.push(...filter.accept(frame));
        },
        onComment: () => queue.push({ kind: 'heartbeat' }),
        maxBufferSize: MAX_JSON_BYTES,
      });
      const decoder = new TextDecoder();
      try {
        for await (const chunk of body) {
          parser.feed(decoder.decode(chunk as Uint8Array, { stream: true }));
          for (let ev = queue.shift(); ev !== undefined; ev = queue.shift()) {
            if (ev.kind !== 'heartbeat') idle.refresh();
            yield ev;
          }
        }
        // The close is the end (no done event); a last frame without its blank line still counts.
        parser.feed(`${decoder.decode()}\n\n`);
        for (let ev = queue.shift(); ev !== undefined; ev = queue.shift()) yield ev;
        return { reason: 'closed' };
      } catch (e) {
        if (signal?.aborted) throw cancelled(e);
        if (ended !== null) return { reason: ended };
        this.#log('nemo sse stream broke off', { error: errorCode(e) || String(e) });
        return { reason: 'disconnected' };
      } finally {
        body.destroy();
      }
    } finally {
      clearTimeout(ceiling);
      clearTimeout(idle);
    }
  }

  /** GET /api/state/nemo_agent/me/<sid>/latest (§4.5). */
  async state(sessionId: string, signal?: AbortSignal): Promise<SessionState> {
    const data = await this.#call({
      route: 'state',
      method: 'GET',
      path: `/api/state/nemo_agent/me/${encodeURIComponent(sessionId)}/latest`,
      signal,
    });
    if (!isObject(data)) throw badResponse('the session state is missing');
    const st = isObject(data.state) ? data.state : {};
    const canvas = isObject(st.canvas_config) ? st.canvas_config : null;
    return {
      sessionId: idString(data.session_id) ?? sessionId,
      taskId: idString(data.task_id),
      draft: isObject(st.draft) ? st.draft : null,
      videoInfos: Array.isArray(st.video_infos) ? st.video_infos : [],
      generatedMedia: Array.isArray(st.generated_media) ? st.generated_media : [],
      canvas: canvas === null ? null : { width: num(canvas.width), height: num(canvas.height) },
    };
  }

  /** POST /api/render/proxy/lambda (§4.3); a duplicate id is retried once with a fresh one. Returns the job id. */
  async startRender(sessionId: string, draft: Draft, signal?: AbortSignal): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const id = attempt === 0 ? `render_${Date.now()}` : `render_${Date.now()}_${randomUUID().slice(0, 8)}`;
      const out = await this.#outcome({
        route: 'render',
        method: 'POST',
        path: '/api/render/proxy/lambda',
        json: () => ({ id, sessionId, draft, output: { format: 'mp4', quality: 'high' } }),
        signal,
      });
      if (out.ok) {
        const d = isObject(out.data) ? out.data : {};
        return idString(d.id) ?? idString(d.render_id) ?? idString(d.taskId) ?? id;
      }
      if (attempt === 0 && isDuplicateId(out.fault)) {
        this.#log('nemo render id taken, retrying with a new one', { id });
        continue;
      }
      throw this.#faultError(out.fault);
    }
  }

  /** One poll of GET /api/render/proxy/lambda/<id>, in whichever shape it comes (§4.6). */
  async renderStatus(id: string, signal?: AbortSignal): Promise<RenderStatus> {
    const out = await this.#outcome({
      route: 'renderPoll',
      method: 'GET',
      path: `/api/render/proxy/lambda/${encodeURIComponent(id)}`,
      signal,
    });
    if (out.ok) return normalizeRender(out.data);
    const err = this.#faultError(out.fault);
    // A refusal to report on the job (`{success:false,error}`) is that job failing, in the user's terms.
    if (err.code === 'NEMO_REJECTED') {
      throw new AppError('NEMO_RENDER_FAILED', { reason: err.details.reason }, { internal: err.internal });
    }
    throw err;
  }

  /**
   * Polls every `pollMs` until the job completes (resolves) or fails (NEMO_RENDER_FAILED), within
   * `renderTimeoutMs` (NEMO_RENDER_TIMEOUT). A few failed polls in a row are tolerated.
   */
  async waitRender(
    id: string,
    onPoll: (s: RenderStatus) => void,
    signal?: AbortSignal,
  ): Promise<RenderStatus> {
    const started = Date.now();
    let waited = 0;
    let failures = 0;
    for (;;) {
      let s: RenderStatus | null = null;
      try {
        s = await this.renderStatus(id, signal);
        failures = 0;
      } catch (e) {
        const transient =
          isAppError(e) && ['NEMO_UNREACHABLE', 'NEMO_RATE_LIMITED', 'NEMO_BAD_RESPONSE'].includes(e.code);
        if (!transient || ++failures > MAX_POLL_FAILURES) throw e;
        this.#log('nemo render poll failed, will poll again', { id, code: e.code });
      }
      if (s !== null) {
        onPoll(s);
        if (s.status === 'completed') return s;
        if (s.status === 'failed') {
          throw new AppError('NEMO_RENDER_FAILED', {
            reason: cleanServerText(s.error ?? 'no reason given', this.#secrets()),
          });
        }
      }
      // Real time or the sum of the waits, whichever is further: an injected sleep may not take real time.
      if (Math.max(Date.now() - started, waited) + this.#cfg.pollMs > this.#cfg.renderTimeoutMs) {
        throw new AppError('NEMO_RENDER_TIMEOUT', {
          minutes: Math.max(1, Math.round(this.#cfg.renderTimeoutMs / 60_000)),
        });
      }
      await this.#sleep(this.#cfg.pollMs, signal);
      waited += this.#cfg.pollMs;
    }
  }

  /**
   * Downloads a completed render to `dest` (temp file + rename, so `dest` is whole or absent). The output URL is
   * tried first through the SSRF-safe downloader; when it is missing, fails or has expired, the authenticated
   * GET /api/render/proxy/<id>/download fallback is used (§4.3). More than `maxBytes` aborts either way.
   */
  async download(
    render: RenderStatus & { id: string },
    dest: string,
    maxBytes: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const tmp = join(dirname(dest), `.${basename(dest)}.${randomUUID()}.part`);
    const tooLarge = (): AppError =>
      new AppError('NEMO_OUTPUT_TOO_LARGE', { limitText: formatBytes(maxBytes) });
    try {
      if (render.url !== null) {
        try {
          const bytes = await this.#fetchOutput(render.url, tmp, maxBytes, signal);
          if (bytes > 0) {
            await rename(tmp, dest);
            return bytes;
          }
          this.#log('nemo output url gave an empty file, using the download fallback', { id: render.id });
        } catch (e) {
          if (signal?.aborted) throw new AppError('CANCELLED', {}, { cause: e });
          if (isAppError(e) && (e.code === 'INPUT_LIMITS' || e.code === 'DISK_FULL')) {
            throw e.code === 'INPUT_LIMITS' ? tooLarge() : e;
          }
          this.#log('nemo output url failed, using the download fallback', {
            id: render.id,
            code: isAppError(e) ? e.code : errorCode(e),
          });
        }
        await rm(tmp, { force: true });
      }
      const bytes = await this.#downloadFallback(render.id, tmp, maxBytes, tooLarge, signal);
      if (bytes === 0) throw new AppError('NEMO_DOWNLOAD_FAILED', { reason: 'the file was empty' });
      await rename(tmp, dest);
      return bytes;
    } catch (e) {
      await rm(tmp, { force: true }).catch(() => undefined);
      if (signal?.aborted) throw new AppError('CANCELLED', {}, { cause: e });
      throw e;
    }
  }

  /** GET /api/credits/balance/simple → `{available, frozen, total}` (§4.2; total = available + frozen). */
  async credits(signal?: AbortSignal): Promise<Credits> {
    const data = await this.#call({
      route: 'credits',
      method: 'GET',
      path: '/api/credits/balance/simple',
      signal,
    });
    const d = isObject(data) ? data : {};
    const available = num(d.available);
    if (available === null) throw badResponse('no credit balance in the answer');
    const frozen = num(d.frozen) ?? 0;
    return { available, frozen, total: num(d.total) ?? available + frozen };
  }

  // ---- transport ----------------------------------------------------------------------------------------------

  #log(msg: string, fields?: object): void {
    try {
      this.#logImpl(msg, fields);
    } catch {
      // A failing logger must not fail a job.
    }
  }

  #secrets(): string[] {
    const s = [this.#store.get('nemo.token'), this.#cfg.token];
    return s.filter((v): v is string => typeof v === 'string' && v !== '');
  }

  async #sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await this.#sleepImpl(ms, signal);
    } catch (e) {
      throw new AppError('CANCELLED', {}, { cause: e });
    }
    if (signal?.aborted) throw new AppError('CANCELLED', {});
  }

  #faultError(f: Fault): AppError {
    return faultToError(f, { anonymous: this.anonymous, clientId: this.anonymous ? this.clientId() : '' });
  }

  /** Sends one request. Network failures become NEMO_UNREACHABLE (or CANCELLED); nothing is retried here. */
  async #dispatch(spec: CallSpec, token: string | null): Promise<Dispatcher.ResponseData> {
    const sk = this.#cfg.skill;
    const headers: Record<string, string> = {
      'x-skill-source': sk.source,
      'x-skill-version': sk.version,
      'x-skill-platform': sk.platform,
      'user-agent': `vidshrink/${vidshrinkVersion()}`,
      accept: spec.accept ?? 'application/json',
      ...spec.headers,
    };
    if (token !== null) headers.authorization = `Bearer ${token}`;
    let body: string | FormData | undefined;
    if (spec.json) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json());
    } else if (spec.form) {
      body = await spec.form();
    }
    const started = Date.now();
    try {
      const res = await this.#agent.request({
        origin: this.#origin,
        path: `${this.#prefix}${spec.path}`,
        method: spec.method,
        headers,
        body: body ?? null,
        signal: spec.signal ?? null,
        headersTimeout: spec.headersTimeoutMs ?? HEADERS_TIMEOUT_MS,
        bodyTimeout: spec.bodyTimeoutMs ?? BODY_TIMEOUT_MS,
      });
      this.#log('nemo call', { route: spec.route, status: res.statusCode, ms: Date.now() - started });
      return res;
    } catch (e) {
      if (spec.signal?.aborted) throw new AppError('CANCELLED', {}, { cause: e });
      const code = errorCode(e);
      this.#log('nemo call failed', {
        route: spec.route,
        error: code || 'unknown',
        ms: Date.now() - started,
      });
      const reason =
        code === 'ECONNREFUSED'
          ? 'the connection was refused'
          : code === 'UND_ERR_CONNECT_TIMEOUT'
            ? 'no connection in time'
            : code === 'UND_ERR_HEADERS_TIMEOUT'
              ? 'no answer in time'
              : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
                ? 'its address could not be resolved'
                : 'the connection broke off';
      throw new AppError(
        'NEMO_UNREACHABLE',
        { reason },
        { cause: e, internal: { route: spec.route, netCode: code, mayHaveArrived: !NOT_SENT.has(code) } },
      );
    }
  }

  /** Reads a (JSON) answer with a size cap and interprets the envelope. */
  async #readOutcome(res: Dispatcher.ResponseData, signal: AbortSignal | undefined): Promise<Outcome> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > MAX_JSON_BYTES) {
          res.body.destroy();
          throw badResponse('the answer is far too large');
        }
        chunks.push(buf);
      }
    } catch (e) {
      if (isAppError(e)) throw e;
      if (signal?.aborted) throw new AppError('CANCELLED', {}, { cause: e });
      throw new AppError(
        'NEMO_UNREACHABLE',
        { reason: 'the connection broke off' },
        { cause: e, internal: { netCode: errorCode(e), mayHaveArrived: true } },
      );
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown = raw === '' ? null : raw;
    try {
      if (raw.trim() !== '') parsed = parseJsonText(raw);
    } catch {
      // Not JSON (an HTML error page from a proxy, say): the status decides.
    }
    return interpretResponse(res.statusCode, parsed, {
      retryAfter: header(res.headers, 'retry-after'),
      secrets: this.#secrets(),
    });
  }

  async #bearer(signal: AbortSignal | undefined): Promise<string> {
    if (this.#cfg.token !== null) return this.#cfg.token;
    const stored = this.#store.get('nemo.token');
    if (stored) return stored;
    // One acquisition at a time; it runs without any one caller's signal so a cancelled job cannot fail others.
    this.#acquiring ??= this.#acquire().finally(() => {
      this.#acquiring = null;
    });
    const pending = this.#acquiring;
    if (!signal) return pending;
    signal.throwIfAborted();
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => reject(new AppError('CANCELLED', {}));
      signal.addEventListener('abort', onAbort, { once: true });
      pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  /** POST /api/auth/anonymous-token with X-Client-Id (§4.2); a 400 (missing/bad client id) regenerates it once. */
  async #acquire(): Promise<string> {
    let regenerated = false;
    let waited = false;
    for (;;) {
      const clientId = this.clientId();
      const res = await this.#dispatch(
        {
          route: 'token',
          method: 'POST',
          path: '/api/auth/anonymous-token',
          headers: { 'x-client-id': clientId },
          signal: undefined,
        },
        null,
      );
      const out = await this.#readOutcome(res, undefined);
      if (out.ok) {
        const token = isObject(out.data) && typeof out.data.token === 'string' ? out.data.token.trim() : '';
        if (token === '') throw badResponse('no token in the answer');
        this.#store.set('nemo.token', token);
        this.#log('nemo anonymous token acquired');
        return token;
      }
      const f = out.fault;
      const missingClientId = f.code === 400 || f.httpStatus === 400;
      if (missingClientId && !regenerated) {
        regenerated = true;
        this.#store.set('nemo.clientId', randomUUID());
        this.#log('nemo token request refused (400): new client id, one more try');
        continue;
      }
      if (missingClientId) {
        throw new AppError(
          'NEMO_AUTH_FAILED',
          { reason: 'the cloud did not accept this client' },
          { internal: { code: f.code, httpStatus: f.httpStatus } },
        );
      }
      if (f.code === 429 && !waited) {
        waited = true;
        await this.#backOff(f, undefined);
        continue;
      }
      throw this.#faultError(f);
    }
  }

  /** 429 handling: the configured wait, or Retry-After when the server sent one (within reason). */
  async #backOff(f: Fault, signal: AbortSignal | undefined): Promise<void> {
    const ms = f.retryAfterSec !== null ? Math.ceil(f.retryAfterSec * 1000) : this.#cfg.retryAfterMs;
    if (ms > MAX_RETRY_WAIT_MS) throw this.#faultError(f);
    this.#log('nemo rate limited, waiting once', { ms });
    await this.#sleep(ms, signal);
  }

  /**
   * The retry policy shared by every authenticated call: an auth refusal re-acquires an anonymous token once,
   * a 429 waits and retries once; any other fault is handed back. `accept` turns a response into a value or a
   * Fault and must consume or destroy the body.
   */
  async #perform<T>(
    spec: CallSpec,
    accept: (res: Dispatcher.ResponseData) => Promise<Accepted<T>>,
  ): Promise<{ value: T } | { fault: Fault }> {
    let reauthed = false;
    let waited = false;
    for (;;) {
      const token = await this.#bearer(spec.signal);
      const res = await this.#dispatch(spec, token);
      const r = await accept(res);
      if ('value' in r) return r;
      const f = r.fault;
      this.#log('nemo call refused', { route: spec.route, code: f.code, httpStatus: f.httpStatus });
      if (isAuthFault(f) && this.anonymous && !reauthed) {
        reauthed = true;
        // Forget it only if nobody has replaced it meanwhile.
        if (this.#store.get('nemo.token') === token) this.#store.set('nemo.token', '');
        continue;
      }
      if (f.code === 429 && !waited) {
        waited = true;
        await this.#backOff(f, spec.signal);
        continue;
      }
      return r;
    }
  }

  async #outcome(spec: CallSpec): Promise<Outcome> {
    const r = await this.#perform(spec, async (res) => {
      const out = await this.#readOutcome(res, spec.signal);
      return out.ok ? { value: out.data } : { fault: out.fault };
    });
    return 'value' in r ? { ok: true, data: r.value } : { ok: false, fault: r.fault };
  }

  async #call(spec: CallSpec): Promise<unknown> {
    const out = await this.#outcome(spec);
    if (!out.ok) throw this.#faultError(out.fault);
    return out.data;
  }

  /** /run_sse answers: an event stream, a JSON refusal, or (tolerated) a JSON success with nothing to stream. */
  async #acceptStream(res: Dispatcher.ResponseData): Promise<Accepted<Dispatcher.ResponseData | null>> {
    const type = (header(res.headers, 'content-type') ?? '').toLowerCase();
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    if (ok && !type.includes('json')) return { value: res };
    const out = await this.#readOutcome(res, undefined);
    if (!out.ok) return { fault: out.fault };
    return { value: null };
  }

  #uploaded(data: unknown): UploadedFile[] {
    const files = isObject(data) && Array.isArray(data.files) ? data.files : null;
    if (files === null) throw badResponse('no file list in the upload answer');
    return files.map(uploadedFile);
  }

  /** The cloud-supplied output URL, through the SSRF-safe downloader and without our credentials. */
  async #fetchOutput(
    url: string,
    tmp: string,
    maxBytes: number,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const apiPort = Number(new URL(this.#origin).port);
    const r = await safeDownload({
      url,
      destPath: tmp,
      maxBytes,
      ...(signal ? { signal } : {}),
      ...(this.#allowLoopback
        ? {
            allowAddress: (ip: string) => ipaddr.process(ip).range() === 'loopback',
            allowPorts: apiPort > 0 ? [apiPort] : [],
          }
        : {}),
    });
    return r.bytes;
  }

  /** GET /api/render/proxy/<id>/download on the API host, streamed to `tmp` under the byte cap. */
  async #downloadFallback(
    id: string,
    tmp: string,
    maxBytes: number,
    tooLarge: () => AppError,
    signal: AbortSignal | undefined,
  ): Promise<number> {
    const r = await this.#perform<Dispatcher.ResponseData>(
      {
        route: 'download',
        method: 'GET',
        path: `/api/render/proxy/${encodeURIComponent(id)}/download`,
        accept: '*/*',
        headers: { 'accept-encoding': 'identity' },
        signal,
      },
      async (res) => {
        const type = (header(res.headers, 'content-type') ?? '').toLowerCase();
        if (res.statusCode >= 200 && res.statusCode < 400 && !type.includes('json')) return { value: res };
        // JSON here is an envelope (an error sent as HTTP 200 + code, or a refusal), never the video.
        const out = await this.#readOutcome(res, signal);
        if (!out.ok) return { fault: out.fault };
        throw new AppError('NEMO_DOWNLOAD_FAILED', { reason: 'the cloud sent no file' });
      },
    );
    if ('fault' in r) {
      const err = this.#faultError(r.fault);
      if (err.code === 'NEMO_REJECTED') {
        throw new AppError(
          'NEMO_DOWNLOAD_FAILED',
          { reason: err.details.reason },
          { internal: err.internal },
        );
      }
      throw err;
    }
    const res = r.value;
    if (res.statusCode >= 300) {
      const location = header(res.headers, 'location');
      res.body.destroy();
      if (location === null) {
        throw new AppError('NEMO_DOWNLOAD_FAILED', { reason: `HTTP ${res.statusCode} without an address` });
      }
      // Wherever the API redirects to is fetched like any cloud-supplied URL: vetted, capped, no Bearer.
      const target = new URL(location, `${this.#origin}${this.#prefix}/`).href;
      try {
        return await this.#fetchOutput(target, tmp, maxBytes, signal);
      } catch (e) {
        throw this.#downloadError(e, tooLarge, signal);
      }
    }
    const declared = header(res.headers, 'content-length');
    if (declared !== null && /^\d+$/u.test(declared) && Number(declared) > maxBytes) {
      res.body.destroy();
      throw tooLarge();
    }
    const cap = new ByteCap(maxBytes, tooLarge);
    try {
      await pipeline(res.body, cap, createWriteStream(tmp, { flags: 'wx' }), signal ? { signal } : {});
    } catch (e) {
      throw this.#downloadError(e, tooLarge, signal);
    }
    return cap.bytes;
  }

  #downloadError(e: unknown, tooLarge: () => AppError, signal: AbortSignal | undefined): AppError {
    if (signal?.aborted) return new AppError('CANCELLED', {}, { cause: e });
    if (isAppError(e)) {
      if (e.code === 'INPUT_LIMITS' || e.code === 'NEMO_OUTPUT_TOO_LARGE') return tooLarge();
      if (e.code === 'DISK_FULL' || e.code === 'CANCELLED') return e;
      return new AppError(
        'NEMO_DOWNLOAD_FAILED',
        { reason: cleanServerText(typeof e.details.reason === 'string' ? e.details.reason : e.code) },
        { cause: e },
      );
    }
    if (errorCode(e) === 'ENOSPC') return new AppError('DISK_FULL', {}, { cause: e });
    return new AppError('NEMO_DOWNLOAD_FAILED', { reason: 'the connection broke off' }, { cause: e });
  }
}
