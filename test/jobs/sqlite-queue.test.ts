// The embedded queue: the shared conformance suite on a database file, then what only SQLite has — rows a killed
// process leaves behind, leases on a fake clock, seq, several queues in one table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { exponentialBackoff, isRetryable, type JobHandler, type QueueItem } from '../../src/jobs/queue.js';
import { SqliteQueue, type SqliteQueueOptions } from '../../src/jobs/sqlite-queue.js';
import { migrateDb, openDb, type OpenDb } from '../../src/storage/db.js';
import { queueItems } from '../../src/storage/schema.js';
import { queueConformance, type TestPayload } from '../conformance/queue-suite.js';

const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vidshrink-queue-'));
  dirs.push(dir);
  return dir;
}

function openFile(path: string): OpenDb {
  const handle = openDb(path);
  migrateDb(handle.db);
  return handle;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

queueConformance('SqliteQueue on a database file', () => {
  const path = join(tempDir(), 'queue.db');
  const handles: OpenDb[] = [];
  return {
    open: ({ concurrency, backoffMs }) => {
      // Its own connection, as the next process after a restart would have.
      const handle = openFile(path);
      handles.push(handle);
      // A long poll: every wake-up the suite sees must come from enqueue, a finished run or a due backoff.
      return new SqliteQueue<TestPayload>({
        db: handle.db,
        queue: 'conformance',
        concurrency,
        backoffMs,
        pollMs: 60_000,
      });
    },
    close: () => {
      for (const h of handles) h.close();
    },
  };
});

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(check: () => Promise<void> | void): Promise<void> {
  await vi.waitFor(check, { timeout: 1_500, interval: 5 });
}

describe('SqliteQueue', { timeout: 2_000 }, () => {
  let clock = 1_000_000;
  const now = (): number => clock;
  let handles: OpenDb[] = [];
  let queues: SqliteQueue<TestPayload>[] = [];

  afterEach(async () => {
    await Promise.all(queues.map((q) => q.stop({ graceful: false })));
    queues = [];
    for (const h of handles) h.close();
    handles = [];
    clock = 1_000_000;
  });

  function connect(path: string): OpenDb {
    const handle = openFile(path);
    handles.push(handle);
    return handle;
  }

  function queue(handle: OpenDb, opts: Partial<SqliteQueueOptions> = {}): SqliteQueue<TestPayload> {
    const q = new SqliteQueue<TestPayload>({
      db: handle.db,
      queue: 'q',
      concurrency: 1,
      now,
      pollMs: 5,
      ...opts,
    });
    queues.push(q);
    return q;
  }

  function row(handle: OpenDb, id: string): typeof queueItems.$inferSelect {
    const r = handle.db.select().from(queueItems).where(eq(queueItems.id, id)).get();
    if (!r) throw new Error(`no row ${id}`);
    return r;
  }

  /** Records deliveries; every handler here also honours its signal so clean-up never hangs. */
  function recording(body: (item: QueueItem<TestPayload>, signal: AbortSignal) => Promise<void>): {
    handler: JobHandler<TestPayload>;
    seen: QueueItem<TestPayload>[];
  } {
    const seen: QueueItem<TestPayload>[] = [];
    return {
      seen,
      handler: async (item, signal) => {
        seen.push(item);
        await body(item, signal);
      },
    };
  }

  it('gives every new item a larger seq, across connections to one file', async () => {
    const path = join(tempDir(), 'q.db');
    const a = queue(connect(path));
    const b = queue(connect(path));
    for (let n = 0; n < 6; n++) await (n % 2 === 0 ? a : b).enqueue(`s-${n}`, { n });
    await a.enqueue('s-0', { n: 99 });
    const seqs = handles[0]!.db.select({ id: queueItems.id, seq: queueItems.seq }).from(queueItems).all();
    const ordered = [...seqs].sort((x, y) => x.seq - y.seq).map((r) => r.id);
    expect(ordered).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4', 's-5']);
    expect(new Set(seqs.map((r) => r.seq)).size).toBe(6);
  });

  it('a process killed mid-run: the next one delivers its item first, resumed, with the lost run counted', async () => {
    const dir = tempDir();
    const live = connect(join(dir, 'live.db'));
    const dying = queue(live, { owner: 'worker-1' });
    await dying.enqueue('a', { n: 1 });
    await dying.enqueue('b', { n: 2 });
    const started = recording((_item, signal) => untilAborted(signal));
    dying.start(started.handler);
    await until(() => expect(row(live, 'a').status).toBe('running'));
    // The file exactly as a kill -9 leaves it: 'a' running under worker-1's lease, nobody to finish it.
    const crashedPath = join(dir, 'crashed.db');
    await live.sqlite.backup(crashedPath);
    await dying.stop({ graceful: false });

    const after = connect(crashedPath);
    expect(row(after, 'a')).toMatchObject({ status: 'running', leaseOwner: 'worker-1', attempts: 1 });
    const next = queue(after, { owner: 'worker-2' });
    const { handler, seen } = recording(() => Promise.resolve());
    next.start(handler);
    await until(() => expect(row(after, 'b').status).toBe('done'));
    expect(seen.map((i) => [i.id, i.attempts, i.resumed])).toEqual([
      ['a', 2, true],
      ['b', 1, false],
    ]);
    expect(row(after, 'a')).toMatchObject({ status: 'done', leaseOwner: null, leaseUntil: null });
  });

  it('a crash loop ends: an item whose runs keep dying with the process fails after maxAttempts', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const seed = queue(h);
    await seed.enqueue('poison', { n: 1 }, { maxAttempts: 2 });
    await seed.enqueue('unlucky', { n: 2 }, { maxAttempts: 2 });
    const running = { status: 'running' as const, leaseOwner: 'dead', leaseUntil: clock + 60_000 };
    h.db
      .update(queueItems)
      .set({ ...running, attempts: 2 })
      .where(eq(queueItems.id, 'poison'))
      .run();
    h.db
      .update(queueItems)
      .set({ ...running, attempts: 1 })
      .where(eq(queueItems.id, 'unlucky'))
      .run();

    const q = queue(h);
    const { handler, seen } = recording(() => Promise.resolve());
    q.start(handler);
    expect(row(h, 'poison').status).toBe('failed');
    expect(row(h, 'poison').lastError).toMatch(/interrupted.*run 2 of 2/);
    await until(() => expect(row(h, 'unlucky').status).toBe('done'));
    expect(seen.map((i) => [i.id, i.attempts, i.resumed])).toEqual([['unlucky', 2, true]]);
  });

  it('recovers a lease that expires while it runs, and leaves a live one alone', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { leaseMs: 1_000 });
    const { handler, seen } = recording(() => Promise.resolve());
    q.start(handler);
    h.db
      .insert(queueItems)
      .values({
        id: 'ghost',
        queue: 'q',
        payload: { n: 1 },
        status: 'running',
        attempts: 1,
        leaseOwner: 'other-worker',
        leaseUntil: clock + 1_000,
        seq: 1,
        createdAt: clock,
        updatedAt: clock,
      })
      .run();
    await sleep(40);
    expect(row(h, 'ghost')).toMatchObject({ status: 'running', leaseOwner: 'other-worker' });
    expect(seen).toHaveLength(0);
    clock += 1_001;
    await until(() => expect(row(h, 'ghost').status).toBe('done'));
    expect(seen.map((i) => [i.id, i.attempts, i.resumed])).toEqual([['ghost', 2, true]]);
  });

  it('renews the lease of a running handler and never recovers its own item', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { owner: 'me', leaseMs: 40 });
    let release = (): void => undefined;
    const { handler, seen } = recording(
      (_item, signal) =>
        new Promise<void>((resolve) => {
          release = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    );
    await q.enqueue('long', { n: 1 });
    q.start(handler);
    await until(() => expect(row(h, 'long').status).toBe('running'));
    expect(row(h, 'long').leaseUntil).toBe(clock + 40);
    // Far past the lease: only renewal (every 20 ms) keeps it, and the 5 ms poll must not take it back meanwhile.
    clock += 10_000;
    await until(() => expect(row(h, 'long').leaseUntil).toBe(clock + 40));
    expect(row(h, 'long')).toMatchObject({ status: 'running', leaseOwner: 'me' });
    expect(seen).toHaveLength(1);
    release();
    await until(() => expect(row(h, 'long').status).toBe('done'));
    expect(seen).toHaveLength(1);
  });

  it('a cancel through another connection aborts the running handler at its next lease renewal', async () => {
    const path = join(tempDir(), 'q.db');
    const h = connect(path);
    const worker = queue(h, { leaseMs: 40 });
    let reason: unknown = null;
    const { handler } = recording(async (_item, signal) => {
      await untilAborted(signal);
      reason = signal.reason;
    });
    await worker.enqueue('x', { n: 1 });
    worker.start(handler);
    await until(() => expect(row(h, 'x').status).toBe('running'));
    const web = queue(connect(path));
    expect(await web.cancel('x')).toBe(true);
    await until(() => expect(reason).toBe('cancelled'));
    await sleep(20);
    expect(row(h, 'x').status).toBe('cancelled');
  });

  it('a worker that lost its lease is aborted with "lease-lost" and cannot record a result', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { owner: 'slow', leaseMs: 40 });
    let reason: unknown = null;
    const { handler } = recording(async (_item, signal) => {
      await untilAborted(signal);
      reason = signal.reason;
    });
    await q.enqueue('x', { n: 1 });
    q.start(handler);
    await until(() => expect(row(h, 'x').status).toBe('running'));
    // What another worker's recovery does once this one's lease has expired.
    h.db.update(queueItems).set({ leaseOwner: 'fast', attempts: 2 }).where(eq(queueItems.id, 'x')).run();
    await until(() => expect(reason).toBe('lease-lost'));
    await sleep(20);
    expect(row(h, 'x')).toMatchObject({ status: 'running', leaseOwner: 'fast', attempts: 2 });
  });

  it('refuses a late success from a worker whose item was taken over', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { owner: 'slow', leaseMs: 60_000 });
    let release = (): void => undefined;
    const { handler } = recording(
      (_item, signal) =>
        new Promise<void>((resolve) => {
          release = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    );
    await q.enqueue('x', { n: 1 });
    q.start(handler);
    await until(() => expect(row(h, 'x').status).toBe('running'));
    h.db.update(queueItems).set({ leaseOwner: 'fast', attempts: 2 }).where(eq(queueItems.id, 'x')).run();
    release();
    await sleep(20);
    expect(row(h, 'x')).toMatchObject({ status: 'running', leaseOwner: 'fast' });
  });

  it('holds a failed item until not_before on the queue clock, then runs it again', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { backoffMs: (attempt) => 1_000 * attempt });
    const { handler, seen } = recording((item) =>
      item.attempts === 1 ? Promise.reject(new AppError('DISK_FULL')) : Promise.resolve(),
    );
    await q.enqueue('x', { n: 1 });
    q.start(handler);
    await until(() => expect(row(h, 'x').lastError).toMatch(/^DISK_FULL: /));
    expect(row(h, 'x')).toMatchObject({ status: 'queued', notBefore: clock + 1_000, leaseOwner: null });
    await sleep(40);
    expect(seen).toHaveLength(1);
    clock += 1_000;
    await until(() => expect(row(h, 'x').status).toBe('done'));
    expect(seen.map((i) => i.attempts)).toEqual([1, 2]);
  });

  it('a non-graceful stop puts the run back without counting it', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { owner: 'me' });
    const { handler } = recording((_item, signal) => untilAborted(signal));
    await q.enqueue('x', { n: 1 });
    q.start(handler);
    await until(() => expect(row(h, 'x').status).toBe('running'));
    await q.stop({ graceful: false });
    expect(row(h, 'x')).toMatchObject({ status: 'queued', attempts: 0, leaseOwner: 'me', leaseUntil: null });
  });

  it('keeps queues that share a table apart', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    const mail = queue(h, { queue: 'mail' });
    const video = queue(h, { queue: 'video' });
    await mail.enqueue('m1', { n: 1 });
    await video.enqueue('v1', { n: 2 });
    await video.enqueue('v2', { n: 3 });
    expect(await mail.status('v1')).toBeNull();
    expect(await mail.cancel('v1')).toBe(false);
    expect(await mail.position('m1')).toBe(1);
    expect(await video.position('v2')).toBe(2);
    expect((await mail.counts()).queued).toBe(1);
    expect((await video.counts()).queued).toBe(2);
    const { handler, seen } = recording(() => Promise.resolve());
    mail.start(handler);
    await until(() => expect(row(h, 'm1').status).toBe('done'));
    expect(seen.map((i) => i.id)).toEqual(['m1']);
    expect(row(h, 'v1').status).toBe('queued');
  });

  it('runs a backed-off item that comes due between the claim and the timer, without waiting for the poll', async () => {
    // CI stop 14: a 5 ms backoff expired after claim() read the clock but before the next timer was planned, so the
    // timer looked only at items due later and the retry waited for the 60 s poll. A clock that moves one tick per
    // read puts every due time, one after the other, into that gap.
    let ticking = 5_000_000;
    const h = connect(join(tempDir(), 'q.db'));
    const q = queue(h, { now: () => ticking++, pollMs: 60_000, backoffMs: (attempt) => attempt });
    const { handler, seen } = recording((item) =>
      item.attempts <= 8 ? Promise.reject(new Error('transient')) : Promise.resolve(),
    );
    await q.enqueue('flaky', { n: 1 }, { maxAttempts: 9 });
    q.start(handler);
    await until(() => expect(row(h, 'flaky').status).toBe('done'));
    expect(seen.map((i) => i.attempts)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('refuses a second start and bad limits', async () => {
    const h = connect(join(tempDir(), 'q.db'));
    expect(() => queue(h, { concurrency: 0 })).toThrow(RangeError);
    expect(() => queue(h, { concurrency: 1.5 })).toThrow(RangeError);
    const q = queue(h);
    await expect(q.enqueue('x', { n: 1 }, { maxAttempts: 0 })).rejects.toThrow(RangeError);
    q.start(() => Promise.resolve());
    expect(() => q.start(() => Promise.resolve())).toThrow(/already started/);
  });
});

describe('queue helpers', () => {
  it('exponentialBackoff doubles from the base up to the cap', () => {
    const backoff = exponentialBackoff(5_000, 60_000);
    expect([1, 2, 3, 4, 5, 6].map(backoff)).toEqual([5_000, 10_000, 20_000, 40_000, 60_000, 60_000]);
  });

  it('isRetryable follows the error catalog and retries unknown errors', () => {
    expect(isRetryable(new AppError('INPUT_CORRUPT'))).toBe(false);
    expect(isRetryable(new AppError('FFMPEG_TIMEOUT'))).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { retryable: false }))).toBe(false);
    expect(isRetryable(new Error('x'))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
    expect(isRetryable(null)).toBe(true);
  });
});
