// Shapes the NemoVideo client hands to the backend (issue #6). Everything the cloud sends is normalized into these
// at the edge, because the public skills disagree on field names and nesting (chatbot-anchors.md §4.6, §4.8).

/** The short-key draft from `state.draft` (§4.5): `t` tracks, `d` duration ms, `m` metadata; kept as sent. */
export type Draft = Record<string, unknown>;

/** One normalized server-sent event of a /run_sse turn (§4.4: v4.4 simplified frames and ADK Event frames). */
export type SseEvent =
  | { kind: 'text'; text: string }
  | { kind: 'tool'; name: string; phase: 'call' | 'result' }
  | { kind: 'heartbeat' }
  | { kind: 'error'; message: string };

/**
 * How a turn ended. `closed`: the server closed the stream (the only end signal there is, §4.4). `disconnected`:
 * the connection broke; the prompt must NOT be resent, read the state instead. `timeout`: the overall ceiling
 * (NEMO_SSE_TIMEOUT_MINUTES) passed. `idle`: nothing but heartbeats for NEMO_SSE_IDLE_MINUTES.
 */
export interface SseEnd {
  reason: 'closed' | 'disconnected' | 'timeout' | 'idle';
}

export interface UploadedFile {
  filename: string | null;
  fileType: string | null;
  cdnUrl: string | null;
  durationSec: number | null;
  width: number | null;
  height: number | null;
  fps: number | null;
  hash: string | null;
}

export interface SessionState {
  sessionId: string;
  taskId: string | null;
  /** `state.draft`; `{}` before the first successful edit, null when the server sent none. */
  draft: Draft | null;
  videoInfos: unknown[];
  generatedMedia: unknown[];
  canvas: { width: number | null; height: number | null } | null;
}

/** One poll of a render job, whichever of the three documented shapes it came in (§4.6). */
export interface RenderStatus {
  status: 'pending' | 'processing' | 'completed' | 'failed';
  /** 0–100, or null when the server gave none. */
  progress: number | null;
  /** The output URL once completed (`data.outputUrl` or `output.url`). */
  url: string | null;
  sizeBytes: number | null;
  durationSec: number | null;
  error: string | null;
}

export interface Credits {
  available: number;
  frozen: number;
  total: number;
}

/** The keys the client persists: the anonymous client id (the account's identity) and the current token. */
export type TokenKey = 'nemo.clientId' | 'nemo.token';

/**
 * Persistence port for the anonymous identity (§4.9: keep Client-Id and token in SQLite). The client treats an
 * empty string like a missing value, so `set(key, '')` is how it forgets a token that was rejected.
 */
export interface TokenStore {
  get(key: TokenKey): string | null;
  set(key: TokenKey, value: string): void;
}

/** In-memory TokenStore for tests and one-shot CLI use. */
export class MemoryTokenStore implements TokenStore {
  readonly #values = new Map<TokenKey, string>();

  constructor(initial: Partial<Record<TokenKey, string>> = {}) {
    for (const [k, v] of Object.entries(initial)) this.#values.set(k as TokenKey, v);
  }

  get(key: TokenKey): string | null {
    return this.#values.get(key) ?? null;
  }

  set(key: TokenKey, value: string): void {
    this.#values.set(key, value);
  }
}
