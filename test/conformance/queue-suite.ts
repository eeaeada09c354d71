// One queue-semantics suite for every JobQueue implementation (code-anchors.md §8.5, reliability-anchors.md §5.3 and
// §6.D): the embedded SQLite queue runs it on every test run, the BullMQ queue will run it when REDIS_URL is set, so
// the two cannot drift apart. It uses the public port only, real time and short timings; lower bounds on time only.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import type { JobHandler, JobQueue, QueueItem } from '../../src/jobs/queue.js';

export interface TestPayload {
  n: number;
}

export interface OpenQueueOptions {
  concurrency: number;
  /** Delay before re-running an item whose run number `attempt` failed retryably. */
  backoffMs?: (attempt: number) => number;
}

export interface QueueFixture {
  /** A queue instance on this fixture's durable store. Opening another after stopping the first models the next
   * process after a restart (a fresh connection, nothing shared in memory). */
  open(opts: OpenQueueOptions): JobQueue<TestPayload>;
  /** Releases the store; every queue opened from it has been stopped by then. */
  close(): Promise<void> | void;
}

export type MakeQueueFixture = () => Promise<QueueFixture> | QueueFixture;

interface Delivery {
  id: string;
  attempts: number;
  resumed: boolean;
  at: number;
}

/** Wraps handlers to record every delivery, how many ran at once, and whether one id ever ran twice at once. */
class Recorder {
  readonly deliveries: Delivery[] = [];
  active = 0;
  maxActive = 0;
  overlapped = false;
  private readonly activeIds = new Set<string>();

  wrap(fn: (item: QueueItem<TestPayload>, signal: AbortSignal) => Promise<void>): JobHandler<TestPayload> {
    return async (item, signal) => {
      this.deliveries.push({ id: item.id, attempts: item.attempts, resumed: item.resumed, at: Date.now() });
      if (this.activeIds.has(item.id)) this.overlapped = true;
      this.activeIds.add(item.id);
      this.active++;
      this.maxActive = Math.max(this.maxActive, this.active);
      try {
        await fn(item, signal);
      } finally {
        this.active--;
        this.activeIds.delete(item.id);
      }
    };
  }

  ids(): string[] {
    return this.deliveries.map((d) => d.id);
  }

  of(id: string): Delivery[] {
    return this.deliveries.filter((d) => d.id === id);
  }
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
}

function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

const ok = (): Promise<void> => Promise.resolve();

/** A handler body that holds until released; it also gives up on abort, so a failed test's clean-up cannot hang. */
function holdUntil(release: Deferred): (item: QueueItem<TestPayload>, signal: AbortSignal) => Promise<void> {
  return (_item, signal) => Promise.race([release.promise, untilAborted(signal)]);
}

/** Long enough for a wrongly delivered item to show up; used only to assert that something does NOT happen. */
const QUIET_MS = 60;

async function until(check: () => Promise<void> | void): Promise<void> {
  await vi.waitFor(check, { timeout: 1_500, interval: 5 });
}

export function queueConformance(name: string, makeQueue: MakeQueueFixture): void {
  describe(`JobQueue conformance: ${name}`, { timeout: 2_000 }, () => {
    let fixture: QueueFixture | null = null;
    let opened: JobQueue<TestPayload>[] = [];

    async function open(opts: OpenQueueOptions): Promise<JobQueue<TestPayload>> {
      fixture ??= await makeQueue();
      const q = fixture.open(opts);
      opened.push(q);
      return q;
    }

    afterEach(async () => {
      await Promise.all(opened.map((q) => q.stop({ graceful: false })));
      opened = [];
      await fixture?.close();
      fixture = null;
    });

    async function statusIs(q: JobQueue<TestPayload>, id: string, status: string): Promise<void> {
      await until(async () => expect(await q.status(id)).toBe(status));
    }

    it('delivers items in FIFO order, also those enqueued after start', async () => {
      const q = await open({ concurrency: 1 });
      const rec = new Recorder();
      for (const n of [1, 2, 3, 4, 5]) await q.enqueue(`item-${n}`, { n });
      q.start(rec.wrap(() => sleep(1)));
      for (const n of [6, 7]) await q.enqueue(`item-${n}`, { n });
      await statusIs(q, 'item-7', 'done');
      expect(rec.ids()).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `item-${n}`));
      expect(rec.deliveries.every((d) => d.attempts === 1 && !d.resumed)).toBe(true);
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 7, failed: 0, cancelled: 0 });
    });

    it('passes the payload through unchanged', async () => {
      const q = await open({ concurrency: 1 });
      const seen: TestPayload[] = [];
      q.start((item) => {
        seen.push(item.payload);
        return ok();
      });
      await q.enqueue('p', { n: 42 });
      await statusIs(q, 'p', 'done');
      expect(seen).toEqual([{ n: 42 }]);
    });

    it('wakes an idle worker on enqueue instead of waiting for a poll', async () => {
      const q = await open({ concurrency: 1 });
      const rec = new Recorder();
      q.start(rec.wrap(ok));
      await sleep(10);
      await q.enqueue('late', { n: 1 });
      await vi.waitFor(() => expect(rec.ids()).toEqual(['late']), { timeout: 1_000, interval: 2 });
    });

    for (const concurrency of [1, 2, 3]) {
      it(`never runs more than ${concurrency} handler(s) at once (concurrency ${concurrency})`, async () => {
        const q = await open({ concurrency });
        const rec = new Recorder();
        for (let n = 0; n < 7; n++) await q.enqueue(`c-${n}`, { n });
        q.start(rec.wrap(() => sleep(15)));
        await until(async () => expect((await q.counts()).done).toBe(7));
        expect(rec.maxActive).toBe(concurrency);
        expect(rec.deliveries).toHaveLength(7);
      });
    }

    it('enqueue is idempotent on id: queued, running and finished ids are left as they are', async () => {
      const q = await open({ concurrency: 1 });
      const rec = new Recorder();
      const release = deferred();
      const payloads: number[] = [];
      await q.enqueue('dup', { n: 1 });
      await q.enqueue('dup', { n: 2 });
      expect((await q.counts()).queued).toBe(1);
      q.start(
        rec.wrap(async (item, signal) => {
          payloads.push(item.payload.n);
          await holdUntil(release)(item, signal);
        }),
      );
      await statusIs(q, 'dup', 'running');
      await q.enqueue('dup', { n: 3 });
      release.resolve();
      await statusIs(q, 'dup', 'done');
      await q.enqueue('dup', { n: 4 });
      await sleep(QUIET_MS);
      expect(payloads).toEqual([1]);
      expect(await q.status('dup')).toBe('done');
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 1, failed: 0, cancelled: 0 });
    });

    it('re-delivers a run interrupted by a non-graceful stop to the next instance: resumed, first, once at a time', async () => {
      const rec = new Recorder();
      const first = await open({ concurrency: 1 });
      const started = deferred();
      await first.enqueue('a', { n: 1 });
      await first.enqueue('b', { n: 2 });
      let abortReason: unknown = null;
      first.start(
        rec.wrap(async (_item, signal) => {
          started.resolve();
          await untilAborted(signal);
          abortReason = signal.reason;
          // A handler that takes a moment to wind down: stop() must wait, or the restart would run 'a' beside it.
          await sleep(30);
        }),
      );
      await started.promise;
      await first.stop({ graceful: false });
      expect(abortReason).toBe('shutdown');
      expect(rec.active).toBe(0);
      expect(await first.status('a')).toBe('queued');
      expect(await first.status('b')).toBe('queued');

      const second = await open({ concurrency: 1 });
      second.start(rec.wrap(() => sleep(1)));
      await statusIs(second, 'b', 'done');
      expect(await second.status('a')).toBe('done');
      expect(rec.ids()).toEqual(['a', 'a', 'b']);
      expect(rec.of('a')[1]).toMatchObject({ resumed: true, attempts: 1 });
      expect(rec.of('b')[0]).toMatchObject({ resumed: false, attempts: 1 });
      expect(rec.overlapped).toBe(false);
      expect(await second.counts()).toEqual({ queued: 0, running: 0, done: 2, failed: 0, cancelled: 0 });
    });

    it('delivers interrupted items before older waiting ones', async () => {
      const rec = new Recorder();
      const first = await open({ concurrency: 1, backoffMs: () => 30 });
      const started = deferred();
      await first.enqueue('older', { n: 1 });
      await first.enqueue('newer', { n: 2 });
      first.start(
        rec.wrap(async (item, signal) => {
          // 'older' fails and waits out its backoff while 'newer' runs and is interrupted.
          if (item.id === 'older') throw new AppError('FFMPEG_TIMEOUT');
          started.resolve();
          await untilAborted(signal);
        }),
      );
      await started.promise;
      await first.stop({ graceful: false });
      await sleep(40);

      const second = await open({ concurrency: 1 });
      second.start(rec.wrap(ok));
      await statusIs(second, 'older', 'done');
      await statusIs(second, 'newer', 'done');
      expect(rec.deliveries.slice(2).map((d) => [d.id, d.resumed])).toEqual([
        ['newer', true],
        ['older', false],
      ]);
    });

    it('graceful stop waits for running handlers, starts nothing new, and leaves the rest queued', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1 });
      const release = deferred();
      let signalAborted = false;
      await q.enqueue('a', { n: 1 });
      await q.enqueue('b', { n: 2 });
      q.start(
        rec.wrap(async (item, signal) => {
          await holdUntil(release)(item, signal);
          signalAborted = signal.aborted;
        }),
      );
      await statusIs(q, 'a', 'running');
      let stopped = false;
      const stopping = q.stop({ graceful: true }).then(() => {
        stopped = true;
      });
      await sleep(QUIET_MS);
      expect(stopped).toBe(false);
      release.resolve();
      await stopping;
      expect(signalAborted).toBe(false);
      expect(await q.status('a')).toBe('done');
      expect(await q.status('b')).toBe('queued');
      expect(rec.ids()).toEqual(['a']);

      const next = await open({ concurrency: 1 });
      next.start(rec.wrap(ok));
      await statusIs(next, 'b', 'done');
      expect(rec.of('b')[0]).toMatchObject({ resumed: false, attempts: 1 });
    });

    it('stop() defaults to graceful', async () => {
      const q = await open({ concurrency: 1 });
      const release = deferred();
      await q.enqueue('a', { n: 1 });
      q.start(holdUntil(release));
      await statusIs(q, 'a', 'running');
      const stopping = q.stop();
      release.resolve();
      await stopping;
      expect(await q.status('a')).toBe('done');
    });

    it('cancel() of a queued item: status cancelled, never delivered', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1 });
      const release = deferred();
      await q.enqueue('a', { n: 1 });
      await q.enqueue('b', { n: 2 });
      q.start(rec.wrap(holdUntil(release)));
      await statusIs(q, 'a', 'running');
      expect(await q.cancel('b')).toBe(true);
      expect(await q.status('b')).toBe('cancelled');
      expect(await q.position('b')).toBeNull();
      release.resolve();
      await statusIs(q, 'a', 'done');
      await sleep(QUIET_MS);
      expect(rec.ids()).toEqual(['a']);
      expect(await q.cancel('b')).toBe(false);
      expect(await q.cancel('a')).toBe(false);
      expect(await q.cancel('unknown')).toBe(false);
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 1, failed: 0, cancelled: 1 });
    });

    it('cancel() of a running item aborts its signal with reason "cancelled"; final, never retried', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1, backoffMs: () => 1 });
      let reason: unknown = null;
      await q.enqueue('a', { n: 1 }, { maxAttempts: 3 });
      await q.enqueue('b', { n: 2 });
      q.start(
        rec.wrap(async (item, signal) => {
          if (item.id !== 'a') return;
          await untilAborted(signal);
          reason = signal.reason;
          // Even an error that asks for a retry does not undo a cancellation.
          throw new AppError('FFMPEG_TIMEOUT');
        }),
      );
      await statusIs(q, 'a', 'running');
      expect(await q.cancel('a')).toBe(true);
      expect(await q.status('a')).toBe('cancelled');
      await statusIs(q, 'b', 'done');
      expect(reason).toBe('cancelled');
      await sleep(QUIET_MS);
      expect(rec.ids()).toEqual(['a', 'b']);
      expect(await q.status('a')).toBe('cancelled');
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 1, failed: 0, cancelled: 1 });
    });

    it('retries retryable failures with growing backoff, then fails after maxAttempts', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1, backoffMs: (attempt) => 40 * 2 ** (attempt - 1) });
      await q.enqueue('flaky', { n: 1 }, { maxAttempts: 3 });
      q.start(rec.wrap(() => Promise.reject(new AppError('FFMPEG_TIMEOUT'))));
      await statusIs(q, 'flaky', 'failed');
      const runs = rec.of('flaky');
      expect(runs.map((d) => d.attempts)).toEqual([1, 2, 3]);
      expect(runs.every((d) => !d.resumed)).toBe(true);
      const [r1, r2, r3] = runs.map((d) => d.at);
      expect(r2! - r1!).toBeGreaterThanOrEqual(40);
      expect(r3! - r2!).toBeGreaterThanOrEqual(80);
      await sleep(QUIET_MS);
      expect(rec.of('flaky')).toHaveLength(3);
    });

    it('a retryable failure followed by a success ends done', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1, backoffMs: () => 5 });
      await q.enqueue('once', { n: 1 });
      q.start(rec.wrap((item) => (item.attempts === 1 ? Promise.reject(new Error('transient')) : ok())));
      await statusIs(q, 'once', 'done');
      expect(rec.of('once').map((d) => d.attempts)).toEqual([1, 2]);
    });

    it('fails at once, without retry, on an error whose retryable is false', async () => {
      const rec = new Recorder();
      const q = await open({ concurrency: 1, backoffMs: () => 1 });
      await q.enqueue('corrupt', { n: 1 }, { maxAttempts: 5 });
      await q.enqueue('plain', { n: 2 }, { maxAttempts: 5 });
      q.start(
        rec.wrap((item) =>
          Promise.reject(
            item.id === 'corrupt'
              ? new AppError('INPUT_CORRUPT', { reason: 'truncated' })
              : Object.assign(new Error('bad input'), { retryable: false }),
          ),
        ),
      );
      await statusIs(q, 'plain', 'failed');
      expect(await q.status('corrupt')).toBe('failed');
      await sleep(QUIET_MS);
      expect(rec.ids()).toEqual(['corrupt', 'plain']);
    });

    it('treats a handler that throws synchronously like one that rejects', async () => {
      const q = await open({ concurrency: 1 });
      await q.enqueue('sync', { n: 1 });
      q.start(() => {
        throw new AppError('INPUT_NO_VIDEO');
      });
      await statusIs(q, 'sync', 'failed');
    });

    it('position() counts running items ahead and is null for anything not waiting', async () => {
      const q = await open({ concurrency: 1 });
      const release = deferred();
      for (const id of ['a', 'b', 'c']) await q.enqueue(id, { n: 0 });
      expect(await q.position('a')).toBe(1);
      expect(await q.position('b')).toBe(2);
      expect(await q.position('c')).toBe(3);
      q.start(holdUntil(release));
      await statusIs(q, 'a', 'running');
      expect(await q.position('a')).toBeNull();
      expect(await q.position('b')).toBe(2);
      expect(await q.position('c')).toBe(3);
      await q.cancel('b');
      expect(await q.position('c')).toBe(2);
      expect(await q.position('unknown')).toBeNull();
      release.resolve();
      await statusIs(q, 'c', 'done');
      expect(await q.position('a')).toBeNull();
      expect(await q.position('c')).toBeNull();
    });

    it('status() and counts() follow an item through queued, running and done', async () => {
      const q = await open({ concurrency: 1 });
      const release = deferred();
      expect(await q.status('s')).toBeNull();
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 });
      await q.enqueue('s', { n: 1 });
      expect(await q.status('s')).toBe('queued');
      expect((await q.counts()).queued).toBe(1);
      q.start(holdUntil(release));
      await statusIs(q, 's', 'running');
      expect(await q.counts()).toEqual({ queued: 0, running: 1, done: 0, failed: 0, cancelled: 0 });
      release.resolve();
      await statusIs(q, 's', 'done');
      expect(await q.counts()).toEqual({ queued: 0, running: 0, done: 1, failed: 0, cancelled: 0 });
    });
  });
}
