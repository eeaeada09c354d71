// The embedded persistent queue (issue #4): the JobQueue port on the `queue_items` table, for one machine. Jobs
// survive restarts: queued items wait in the database, a running item carries a lease (owner + lease_until) renewed
// while its handler runs, and items left running by a process that died are re-delivered with `resumed` before
// anything else (PeerTube ran them after later jobs, reliability-anchors.md §4.2). better-sqlite3 is synchronous, so
// each state change is one statement or one IMMEDIATE transaction and the event loop never interleaves inside it.
//
// A queued row with a lease_owner is an interrupted one: the owner whose run stopped is kept as the marker that the
// next delivery is `resumed` (and goes first); enqueue and retries leave lease_owner null. The schema has no column
// of its own for this.
//
// One SqliteQueue per database file and queue name: start() treats every row still `running` as left behind by an
// earlier process. Several worker machines are the BullMQ implementation's job.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  and,
  asc,
  eq,
  gt,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  notInArray,
  or,
  sql,
  type SQL,
} from 'drizzle-orm';
import type { SQLiteUpdateSetSource } from 'drizzle-orm/sqlite-core';
import type { Db } from '../storage/db.js';
import { queueItems } from '../storage/schema.js';
import {
  ABORT_REASONS,
  DEFAULT_MAX_ATTEMPTS,
  QUEUE_STATUSES,
  exponentialBackoff,
  isRetryable,
  type JobHandler,
  type JobQueue,
  type QueueItem,
  type QueueStatus,
} from './queue.js';

export interface SqliteQueueOptions {
  db: Db;
  /** Name of the queue inside the table; several queues can share one database. */
  queue: string;
  /** Handlers at once (the service's VIDSHRINK_CONCURRENCY, 1 on the 2-core reference machine). */
  concurrency: number;
  /** Written into lease_owner; default host:pid:random, unique per instance. */
  owner?: string;
  /** How long a lease holds without renewal; renewed every leaseMs/2 (BullMQ's lockDuration/lockRenewTime). */
  leaseMs?: number;
  /** Fallback poll for work that no enqueue() on this instance announced, and for expired leases. */
  pollMs?: number;
  /** The clock written into rows (lease_until, not_before, created_at); tests pass a fake one. */
  now?: () => number;
  /** Delay before re-running an item whose run number `attempt` failed with a retryable error. */
  backoffMs?: (attempt: number) => number;
  /** Database errors in background work (lease renewal, polling, recording a result); the queue carries on. */
  onError?: (error: unknown) => void;
}

interface Running<P> {
  item: QueueItem<P>;
  maxAttempts: number;
  controller: AbortController;
  done: Promise<void>;
}

const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_POLL_MS = 1_000;

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : '';
  return `${code}${error.message}`;
}

/** Runs `fn` so that a synchronous throw becomes a rejection, as callers of an async port expect. */
function promised<T>(fn: () => T): Promise<T> {
  return new Promise((resolve) => resolve(fn()));
}

export class SqliteQueue<P> implements JobQueue<P> {
  private readonly db: Db;
  private readonly queue: string;
  private readonly concurrency: number;
  private readonly owner: string;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly backoffMs: (attempt: number) => number;
  private readonly onError: (error: unknown) => void;

  private handler: JobHandler<P> | null = null;
  /** false while stopping: running handlers finish, nothing new is claimed. */
  private accepting = false;
  private readonly running = new Map<string, Running<P>>();
  private pollTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private kickPending = false;

  constructor(opts: SqliteQueueOptions) {
    if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
      throw new RangeError(`concurrency must be a whole number ≥ 1, got ${opts.concurrency}`);
    }
    this.db = opts.db;
    this.queue = opts.queue;
    this.concurrency = opts.concurrency;
    this.owner = opts.owner ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
    this.pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.now = opts.now ?? Date.now;
    this.backoffMs = opts.backoffMs ?? exponentialBackoff(5_000, 5 * 60_000);
    this.onError =
      opts.onError ??
      ((e) => process.emitWarning(e instanceof Error ? e : String(e), { code: 'VIDSHRINK_QUEUE' }));
  }

  enqueue(id: string, payload: P, opts: { maxAttempts?: number } = {}): Promise<void> {
    return promised(() => {
      const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
        throw new RangeError(`maxAttempts must be a whole number ≥ 1, got ${maxAttempts}`);
      }
      const t = this.now();
      // One statement, so the max(seq)+1 it reads and the row it writes are one atomic step.
      this.db
        .insert(queueItems)
        .values({
          id,
          queue: this.queue,
          payload,
          status: 'queued',
          attempts: 0,
          maxAttempts,
          notBefore: 0,
          seq: sql`(SELECT coalesce(max(${queueItems.seq}), 0) + 1 FROM ${queueItems})`,
          createdAt: t,
          updatedAt: t,
        })
        .onConflictDoNothing()
        .run();
      this.kick();
    });
  }

  start(handler: JobHandler<P>): void {
    if (this.handler) throw new Error(`queue ${this.queue} is already started`);
    // Nothing runs here yet, so every running row is a previous process's (or this owner name's previous life).
    // First, so a database error leaves the queue unstarted rather than half-started.
    this.recover(null);
    this.handler = handler;
    this.accepting = true;
    this.renewTimer = setInterval(() => this.renew(), Math.max(1, Math.floor(this.leaseMs / 2)));
    this.kick();
  }

  async stop(opts: { graceful: boolean } = { graceful: true }): Promise<void> {
    if (!this.handler) return;
    this.accepting = false;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (!opts.graceful) {
      for (const r of this.running.values()) {
        if (!r.controller.signal.aborted) r.controller.abort(ABORT_REASONS.shutdown);
      }
    }
    // Also when not graceful: an aborted handler may still be writing, and a restart must not run the item beside it.
    await Promise.all([...this.running.values()].map((r) => r.done));
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.handler = null;
  }

  cancel(id: string): Promise<boolean> {
    return promised(() => {
      const res = this.db
        .update(queueItems)
        .set({ status: 'cancelled', leaseOwner: null, leaseUntil: null, updatedAt: this.now() })
        .where(and(this.mine(id), inArray(queueItems.status, ['queued', 'running'])))
        .run();
      if (res.changes === 0) return false;
      const r = this.running.get(id);
      if (r && !r.controller.signal.aborted) r.controller.abort(ABORT_REASONS.cancelled);
      return true;
    });
  }

  position(id: string): Promise<number | null> {
    return promised(() => {
      const row = this.db
        .select({ status: queueItems.status, leaseOwner: queueItems.leaseOwner, seq: queueItems.seq })
        .from(queueItems)
        .where(this.mine(id))
        .get();
      if (!row || row.status !== 'queued') return null;
      // The delivery order of claim(): interrupted items first, then seq.
      const ahead =
        row.leaseOwner === null
          ? or(isNotNull(queueItems.leaseOwner), lt(queueItems.seq, row.seq))
          : and(isNotNull(queueItems.leaseOwner), lt(queueItems.seq, row.seq));
      const n = this.db
        .select({ n: sql<number>`count(*)` })
        .from(queueItems)
        .where(
          and(
            eq(queueItems.queue, this.queue),
            or(eq(queueItems.status, 'running'), and(eq(queueItems.status, 'queued'), ahead)),
          ),
        )
        .get();
      return (n?.n ?? 0) + 1;
    });
  }

  status(id: string): Promise<QueueStatus | null> {
    return promised(
      () =>
        this.db.select({ status: queueItems.status }).from(queueItems).where(this.mine(id)).get()?.status ??
        null,
    );
  }

  counts(): Promise<Record<QueueStatus, number>> {
    return promised(() => {
      const out = Object.fromEntries(QUEUE_STATUSES.map((s) => [s, 0])) as Record<QueueStatus, number>;
      const rows = this.db
        .select({ status: queueItems.status, n: sql<number>`count(*)` })
        .from(queueItems)
        .where(eq(queueItems.queue, this.queue))
        .groupBy(queueItems.status)
        .all();
      for (const r of rows) out[r.status] = r.n;
      return out;
    });
  }

  // ---------------------------------------------------------------- processing

  private mine(id: string): SQL | undefined {
    return and(eq(queueItems.id, id), eq(queueItems.queue, this.queue));
  }

  /** Coalesces wake-ups (several enqueues, several finishing handlers) into one pump on the next turn. */
  private kick(): void {
    if (!this.accepting || this.kickPending) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.pump();
    });
  }

  /** One clock read per pump: claim() and the timer must judge "due" at the same instant. With a read each, an item
   * whose backoff ran out between them was too late for the claim and, being due, not "later" for the timer, so it
   * waited for the poll (CI stop 14: a 5 ms backoff against the 60 s poll). */
  private pump(): void {
    if (!this.accepting) return;
    const t = this.now();
    try {
      this.recover(t);
      while (this.running.size < this.concurrency) {
        const claimed = this.claim(t);
        if (!claimed) break;
        this.launch(claimed.item, claimed.maxAttempts);
      }
    } catch (e) {
      this.onError(e);
    }
    this.schedulePoll(t);
  }

  /** The next pump: at pollMs, or sooner when a backed-off item becomes due after `t`, the pump's instant. */
  private schedulePoll(t: number): void {
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    if (!this.accepting) return;
    let delay = this.pollMs;
    try {
      const next = this.db
        .select({ at: sql<number | null>`min(${queueItems.notBefore})` })
        .from(queueItems)
        .where(
          and(eq(queueItems.queue, this.queue), eq(queueItems.status, 'queued'), gt(queueItems.notBefore, t)),
        )
        .get();
      if (typeof next?.at === 'number') delay = Math.min(delay, Math.max(1, next.at - t));
    } catch (e) {
      this.onError(e);
    }
    this.pollTimer = setTimeout(() => this.pump(), delay);
  }

  /** Atomically moves the next item due at `t` to running under this owner's lease. */
  private claim(t: number): { item: QueueItem<P>; maxAttempts: number } | null {
    return this.db.transaction(
      (tx) => {
        const next = tx
          .select({ id: queueItems.id, leaseOwner: queueItems.leaseOwner })
          .from(queueItems)
          .where(
            and(
              eq(queueItems.queue, this.queue),
              eq(queueItems.status, 'queued'),
              lte(queueItems.notBefore, t),
            ),
          )
          .orderBy(sql`${queueItems.leaseOwner} IS NULL`, asc(queueItems.seq))
          .limit(1)
          .get();
        if (!next) return null;
        const row = tx
          .update(queueItems)
          .set({
            status: 'running',
            attempts: sql`${queueItems.attempts} + 1`,
            leaseOwner: this.owner,
            leaseUntil: t + this.leaseMs,
            updatedAt: t,
          })
          .where(and(eq(queueItems.id, next.id), eq(queueItems.status, 'queued')))
          .returning()
          .get();
        if (!row) return null;
        return {
          item: {
            id: row.id,
            queue: row.queue,
            payload: row.payload as P,
            attempts: row.attempts,
            resumed: next.leaseOwner !== null,
          },
          maxAttempts: row.maxAttempts,
        };
      },
      { behavior: 'immediate' },
    );
  }

  private launch(item: QueueItem<P>, maxAttempts: number): void {
    const handler = this.handler;
    if (!handler) return;
    const controller = new AbortController();
    const run = async (): Promise<void> => {
      let outcome: { ok: true } | { ok: false; error: unknown };
      try {
        await handler(item, controller.signal);
        outcome = { ok: true };
      } catch (error) {
        outcome = { ok: false, error };
      }
      try {
        this.finish(item, maxAttempts, controller.signal, outcome);
      } catch (e) {
        // The row stays running under a lease nobody renews, so it is recovered once the lease expires.
        this.onError(e);
      }
    };
    // In the map before the handler's first line runs, so a cancel() from inside it finds the run.
    const entry: Running<P> = { item, maxAttempts, controller, done: Promise.resolve() };
    this.running.set(item.id, entry);
    entry.done = run().finally(() => {
      this.running.delete(item.id);
      this.kick();
    });
  }

  /** Records a run's end. Conditional on still holding this delivery's lease, so a stale worker's late result is
   * refused (reliability-anchors.md §6.D3). */
  private finish(
    item: QueueItem<P>,
    maxAttempts: number,
    signal: AbortSignal,
    outcome: { ok: true } | { ok: false; error: unknown },
  ): void {
    const t = this.now();
    const held = and(
      eq(queueItems.id, item.id),
      eq(queueItems.status, 'running'),
      eq(queueItems.leaseOwner, this.owner),
      eq(queueItems.attempts, item.attempts),
    );
    const set = (values: SQLiteUpdateSetSource<typeof queueItems>): void => {
      this.db
        .update(queueItems)
        .set({ ...values, updatedAt: t })
        .where(held)
        .run();
    };
    if (signal.aborted) {
      // The abort decides, not how the handler ended: an aborted handler may return normally or throw anything.
      const reason: unknown = signal.reason;
      if (reason === ABORT_REASONS.cancelled) {
        set({ status: 'cancelled', leaseOwner: null, leaseUntil: null });
      } else if (reason === ABORT_REASONS.shutdown) {
        // Stopped by us, not by the job: back to the front, and the run does not count against maxAttempts.
        set({
          status: 'queued',
          leaseUntil: null,
          notBefore: 0,
          attempts: sql`${queueItems.attempts} - 1`,
        });
      }
      return;
    }
    if (outcome.ok) {
      set({ status: 'done', leaseOwner: null, leaseUntil: null, lastError: null });
      return;
    }
    const lastError = errorText(outcome.error);
    if (isRetryable(outcome.error) && item.attempts < maxAttempts) {
      set({
        status: 'queued',
        leaseOwner: null,
        leaseUntil: null,
        notBefore: t + this.backoffMs(item.attempts),
        lastError,
      });
    } else {
      set({ status: 'failed', leaseOwner: null, leaseUntil: null, lastError });
    }
  }

  /** Extends the leases of this instance's running items; a handler whose row was taken away is aborted. */
  private renew(): void {
    if (this.running.size === 0) return;
    try {
      const ids = [...this.running.keys()];
      const kept = new Set(
        this.db
          .update(queueItems)
          .set({ leaseUntil: this.now() + this.leaseMs })
          .where(
            and(
              eq(queueItems.queue, this.queue),
              eq(queueItems.status, 'running'),
              eq(queueItems.leaseOwner, this.owner),
              inArray(queueItems.id, ids),
            ),
          )
          .returning({ id: queueItems.id })
          .all()
          .map((r) => r.id),
      );
      for (const [id, r] of this.running) {
        if (kept.has(id) || r.controller.signal.aborted) continue;
        // Cancelled through another instance on this database, or the lease expired and another worker has it.
        const status = this.db
          .select({ status: queueItems.status })
          .from(queueItems)
          .where(this.mine(id))
          .get()?.status;
        r.controller.abort(status === 'cancelled' ? ABORT_REASONS.cancelled : ABORT_REASONS.leaseLost);
      }
    } catch (e) {
      this.onError(e);
    }
  }

  /** Puts runs that no live worker holds back in the queue, marked interrupted (lease_owner kept). `t` null: every
   * running row not run by this instance (at start); otherwise only rows whose lease expired before `t`. A lost run
   * counts as an attempt: an item whose runs keep dying with the process fails once it has used maxAttempts. */
  private recover(t: number | null): void {
    this.db.transaction(
      (tx) => {
        const ids = [...this.running.keys()];
        const stale = and(
          eq(queueItems.queue, this.queue),
          eq(queueItems.status, 'running'),
          ids.length > 0 ? notInArray(queueItems.id, ids) : undefined,
          t === null ? undefined : or(isNull(queueItems.leaseUntil), lt(queueItems.leaseUntil, t)),
        );
        const at = this.now();
        tx.update(queueItems)
          .set({
            status: 'failed',
            leaseUntil: null,
            lastError: sql`'interrupted: the process stopped during run ' || ${queueItems.attempts} || ' of ' || ${queueItems.maxAttempts}`,
            updatedAt: at,
          })
          .where(and(stale, sql`${queueItems.attempts} >= ${queueItems.maxAttempts}`))
          .run();
        tx.update(queueItems)
          .set({
            status: 'queued',
            leaseOwner: sql`coalesce(${queueItems.leaseOwner}, 'unknown')`,
            leaseUntil: null,
            notBefore: 0,
            updatedAt: at,
          })
          .where(stale)
          .run();
      },
      { behavior: 'immediate' },
    );
  }
}
