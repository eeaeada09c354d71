// The job-queue port (issue #4). The embedded SQLite queue (sqlite-queue.ts) implements it today; a BullMQ queue for
// several worker machines will implement it later, and both must pass test/conformance/queue-suite.ts
// (code-anchors.md §8.5). Delivery is at least once (reliability-anchors.md §4.1): handlers must be idempotent and
// check the job's own state (our jobs table is the source of truth) before acting.

export const QUEUE_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];

export interface QueueItem<P> {
  id: string;
  queue: string;
  payload: P;
  /** Deliveries of this item so far, this one included (1 on the first run). A run that stop() interrupted is not
   * counted; a run lost to a crash is, so a job that keeps killing the process cannot loop forever. */
  attempts: number;
  /** true when a previous run of this item was interrupted (crash/restart) */
  resumed: boolean;
}

/** `signal.reason` is one of these when the queue aborts a handler. */
export const ABORT_REASONS = {
  /** cancel(id): final, never retried. */
  cancelled: 'cancelled',
  /** stop({ graceful: false }): the item is re-delivered, with `resumed`, on the next start. */
  shutdown: 'shutdown',
  /** Another worker now holds the item (this worker's lease expired); its result would be refused anyway. */
  leaseLost: 'lease-lost',
} as const;
export type AbortReason = (typeof ABORT_REASONS)[keyof typeof ABORT_REASONS];

export type JobHandler<P> = (item: QueueItem<P>, signal: AbortSignal) => Promise<void>;

export interface JobQueue<P> {
  /** Idempotent on id: an id the queue already holds, in any state, is left as it is. */
  enqueue(id: string, payload: P, opts?: { maxAttempts?: number }): Promise<void>;
  /** Begins processing with the configured concurrency; items interrupted by an earlier process are resumed first. */
  start(handler: JobHandler<P>): void;
  /** graceful (the default): take nothing new and wait for running handlers. Otherwise abort them (reason
   * 'shutdown') and wait until they return; their items are re-run, with `resumed`, on the next start. */
  stop(opts?: { graceful: boolean }): Promise<void>;
  /** queued → cancelled; running → status cancelled at once and the handler's signal aborted with reason
   * 'cancelled'. Cancellation is final. false when the item is unknown or already finished. */
  cancel(id: string): Promise<boolean>;
  /** 1-based place among waiting+running items of the queue (running ones count as ahead), null if not waiting. */
  position(id: string): Promise<number | null>;
  status(id: string): Promise<QueueStatus | null>;
  counts(): Promise<Record<QueueStatus, number>>;
}

/** Errors say whether a retry can help through `retryable` (AppError's getter); anything else is worth a retry, the
 * same call toAppError makes when it wraps an unknown error as the retryable INTERNAL. */
export function isRetryable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null || !('retryable' in error)) return true;
  return error.retryable !== false;
}

/** base, 2·base, 4·base … capped at maxMs; `attempt` is the number of the run that just failed (1 after the first). */
export function exponentialBackoff(baseMs: number, maxMs: number): (attempt: number) => number {
  return (attempt) => Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export const DEFAULT_MAX_ATTEMPTS = 3;
