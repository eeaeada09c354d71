// `npm run bench:e2e` (issue #4): the chat service end to end, measured from outside, as a browser would use it.
//
//  (a) Time from the start of an upload to a fully downloaded result, for the bench corpus's 1080p60 HEVC pan with
//      "under 4MB", driven over HTTP exactly as the web chat page does (GET /api/session with a cookie jar, tus POST +
//      8 MiB PATCHes, POST /api/messages, /api/events SSE until the `result` event, then GET of the signed link),
//      against the engine alone (runJob) on the same file and instruction, in the same run; 2 repetitions, medians,
//      and their ratio (target ≤ 1.15×).
//  (b) The server's memory while 4 clients upload 500 MB each at once (generated pseudo-random streams, tus PATCHes
//      of 8 MiB): RSS of the server process sampled every 200 ms (target: peak < 300 MB, flat), and each upload's
//      SHA-256 on disk checked against what was sent.
//
// The service runs as a child process (`scripts/launch.sh start`, as `npm start` runs it), so its memory is its own. Everything it
// stores goes to a temp data dir that is removed afterwards. Results: .bench/e2e.md and .bench/e2e.json.
// `npm run bench:e2e -- time` or `-- memory` runs one part.
import { spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createParser } from 'eventsource-parser';
import { Agent, request, type Dispatcher } from 'undici';
import { parseInstruction } from '../src/instruction/parse-instruction.js';
import { runJob } from '../src/pipeline/run-job.js';
import { buildCorpus } from './corpus.js';

const ROOT = resolve(import.meta.dirname, '../..');
const WORK = join(ROOT, '.bench');
const LAUNCH = join(ROOT, 'scripts', 'launch.sh');
const TUS = '1.0.0';
/** The page's tus PATCH size (adapters/web/public/app.js CHUNK_BYTES). */
const CHUNK = 8 * 1024 * 1024;

const INSTRUCTION = 'under 4MB';
const CAP_BYTES = 4_000_000;
const REPEATS = 2;
const TIME_TARGET = 1.15;

const CLIENTS = 4;
const UPLOAD_BYTES = 500_000_000;
const SAMPLE_MS = 200;
const RSS_TARGET = 300_000_000;
/** Disk the memory part needs in the temp dir: the four uploads plus room for the time part's files. */
const DISK_NEEDED = CLIENTS * UPLOAD_BYTES + 300_000_000;

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
const sec = (s: number): string => `${s.toFixed(1)} s`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2;
};
const log = (msg: string): void => {
  process.stderr.write(`[bench:e2e] ${msg}\n`);
};
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

// ------------------------------------------------------------------------------------------------ the service

interface Server {
  url: string;
  pid: number;
  dataDir: string;
  /** The last lines the service logged (warnings and errors), for the report when something fails. */
  logTail(): string;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** `vidshrink start` in a child process on a random port, with its own data dir; resolves with its URL. */
async function startServer(dataDir: string): Promise<Server> {
  await mkdir(dataDir, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['VIDSHRINK_PUBLIC_URL', 'VIDSHRINK_SECRET', 'VIDSHRINK_BACKEND']) delete env[k];
  Object.assign(env, {
    VIDSHRINK_DATA_DIR: dataDir,
    VIDSHRINK_HOST: '127.0.0.1',
    VIDSHRINK_PORT: '0',
    VIDSHRINK_WEB: 'on',
    VIDSHRINK_MAX_INPUT_MB: '1000',
    VIDSHRINK_QUOTA_MB_PER_DAY: '100000',
    VIDSHRINK_RATE_PER_MINUTE: '1000',
    LOG_LEVEL: 'warn',
  });
  // Through the same launcher as `npm start` (it execs node with the service's V8 flags, keeping the pid).
  const child = spawn('bash', [LAUNCH, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const tail: string[] = [];
  const keep = (line: string): void => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
  };
  let exited = false;
  const exit = new Promise<void>((res) =>
    child.once('exit', () => {
      exited = true;
      children.delete(child);
      res();
    }),
  );
  child.stderr.setEncoding('utf8').on('data', (s: string) => s.split('\n').filter(Boolean).forEach(keep));
  const url = await new Promise<string>((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`the service did not start:\n${tail.join('\n')}`)), 30_000);
    // Keep draining stdout (pino writes there) so the child never blocks on a full pipe.
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^vidshrink web chat: (http:\/\/\S+?)\/?$/u.exec(line);
        if (m?.[1]) {
          clearTimeout(timer);
          res(m[1]);
        } else if (line) keep(line);
      }
    });
    void exit.then(() => {
      clearTimeout(timer);
      rej(new Error(`the service exited at start (${child.exitCode}):\n${tail.join('\n')}`));
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid');
  return {
    url,
    pid,
    dataDir,
    logTail: () => tail.join('\n'),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** Resident set size and its high-water mark (VmHWM) of a process, in bytes, from /proc. */
async function memoryOf(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'mu').exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

// ------------------------------------------------------------------------------------------------ an HTTP client

/** One browser: its own connections and its own cookie jar (the chat is the `vs_chat` cookie). */
class Client {
  private readonly cookies = new Map<string, string>();
  // No body timeout: the event stream is quiet for up to 15 s between keep-alives, a PATCH waits on the disk.
  private readonly agent = new Agent({ bodyTimeout: 0, headersTimeout: 120_000 });

  constructor(readonly base: string) {}

  async call(
    method: Dispatcher.HttpMethod,
    pathOrUrl: string,
    opts: {
      headers?: Record<string, string>;
      body?: string | Buffer | Readable | null;
      signal?: AbortSignal;
    } = {},
  ): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { ...opts.headers };
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const res = await request(new URL(pathOrUrl, this.base), {
      method,
      headers,
      body: opts.body ?? null,
      dispatcher: this.agent,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const set = res.headers['set-cookie'];
    for (const c of Array.isArray(set) ? set : set ? [set] : []) {
      const m = /^([^=;\s]+)=([^;]*)/u.exec(c);
      if (m?.[1]) this.cookies.set(m[1], m[2] ?? '');
    }
    return res;
  }

  async json<T>(method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<T> {
    const res = await this.call(method, path, {
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : null,
    });
    if (res.statusCode >= 300)
      throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${await res.body.text()}`);
    return (await res.body.json()) as T;
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

async function expectStatus(res: Dispatcher.ResponseData, want: number[], what: string): Promise<void> {
  if (want.includes(res.statusCode)) {
    await res.body.dump();
    return;
  }
  throw new Error(`${what}: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
}

/**
 * A tus 1.0.0 upload as the page does it: POST (creation, metadata filename/filetype), then PATCHes of 8 MiB at
 * the offsets the server confirms. `chunk` supplies each PATCH body. Returns the upload id (the Location's last part).
 */
async function tusUpload(
  c: Client,
  endpoint: string,
  fileName: string,
  fileType: string,
  length: number,
  chunk: (offset: number, len: number) => Promise<Buffer | Readable>,
): Promise<string> {
  const created = await c.call('POST', endpoint, {
    headers: {
      'tus-resumable': TUS,
      'upload-length': String(length),
      'upload-metadata': `filename ${b64(fileName)},filetype ${b64(fileType)}`,
    },
  });
  const location = created.headers.location;
  await expectStatus(created, [201], 'tus POST');
  if (typeof location !== 'string') throw new Error('tus POST: no Location');
  const url = new URL(location, endpoint).href;
  let offset = 0;
  while (offset < length) {
    const len = Math.min(CHUNK, length - offset);
    const res = await c.call('PATCH', url, {
      headers: {
        'tus-resumable': TUS,
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(len),
      },
      body: await chunk(offset, len),
    });
    const next = Number(res.headers['upload-offset']);
    await expectStatus(res, [204], `tus PATCH at ${offset}`);
    if (next !== offset + len) throw new Error(`tus PATCH at ${offset}: server is at ${next}`);
    offset = next;
  }
  const id = new URL(url).pathname.split('/').pop();
  if (!id) throw new Error('tus: no upload id');
  return id;
}

interface WebEvent {
  type: string;
  at: number;
  data: { id?: string; text?: string; url?: string; sizeBytes?: number; fileName?: string; caption?: string };
}

/** /api/events as the page's EventSource reads it; resolves once the stream is open. */
async function eventStream(
  c: Client,
  onEvent: (e: WebEvent) => void,
  onError: (e: Error) => void,
): Promise<{ close(): void }> {
  const ac = new AbortController();
  const res = await c.call('GET', '/api/events', {
    headers: { accept: 'text/event-stream' },
    signal: ac.signal,
  });
  if (res.statusCode !== 200) throw new Error(`/api/events: HTTP ${res.statusCode}`);
  const parser = createParser({
    onEvent: (m) =>
      onEvent({
        type: m.event ?? 'message',
        at: performance.now(),
        data: JSON.parse(m.data) as WebEvent['data'],
      }),
  });
  void (async () => {
    const dec = new TextDecoder();
    for await (const chunk of res.body) parser.feed(dec.decode(chunk as Buffer, { stream: true }));
    throw new Error('/api/events: the server closed the stream');
  })().catch((e: unknown) => {
    if (!ac.signal.aborted) onError(e instanceof Error ? e : new Error(String(e)));
  });
  return { close: () => ac.abort() };
}

// ------------------------------------------------------------------------------------------------ (a) time

interface E2eRun {
  totalSec: number;
  uploadSec: number;
  /** From POST /api/messages to the plan reply ("Got it — …"). */
  planSec: number;
  /** From POST /api/messages to the `result` event. */
  jobSec: number;
  downloadSec: number;
  sizeBytes: number;
}

async function e2eOnce(base: string, input: string, fileName: string): Promise<E2eRun> {
  const c = new Client(base);
  const size = (await stat(input)).size;
  const fh = await open(input, 'r');
  const events: WebEvent[] = [];
  let resolveResult!: (e: WebEvent) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<WebEvent>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  // Settled only while awaited below; a rejection before that must not count as unhandled.
  result.catch(() => undefined);
  let stream: { close(): void } | null = null;
  try {
    // The page has its session and its event stream before the user drops a file; so do we (same cookie).
    const session = await c.json<{ uploadUrl: string; maxBytes: number }>('GET', '/api/session');
    stream = await eventStream(
      c,
      (e) => {
        events.push(e);
        if (e.type === 'result') resolveResult(e);
        else if (/(?:^|\n)❌ /u.test(e.data.text ?? ''))
          rejectResult(new Error(`the job failed: ${e.data.text}`));
      },
      rejectResult,
    );
    const t0 = performance.now();
    const id = await tusUpload(
      c,
      session.uploadUrl,
      fileName,
      'video/quicktime',
      size,
      async (offset, len) => {
        const buf = Buffer.allocUnsafe(len);
        const { bytesRead } = await fh.read(buf, 0, len, offset);
        if (bytesRead !== len) throw new Error('short read');
        return buf;
      },
    );
    const tUploaded = performance.now();
    const posted = await c.call('POST', '/api/messages', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: INSTRUCTION, uploads: [id] }),
    });
    await expectStatus(posted, [202], 'POST /api/messages');
    const tPosted = performance.now();
    const timeout = setTimeout(() => rejectResult(new Error('no result within 15 min')), 15 * 60_000);
    const r = await result.finally(() => clearTimeout(timeout));
    const url = r.data.url;
    if (!url) throw new Error('result without a url');
    const dl = await c.call('GET', url);
    if (dl.statusCode !== 200) throw new Error(`download: HTTP ${dl.statusCode}`);
    let bytes = 0;
    for await (const chunk of dl.body) bytes += (chunk as Buffer).length;
    const tDone = performance.now();
    if (bytes !== r.data.sizeBytes)
      throw new Error(`downloaded ${bytes} B, the result said ${r.data.sizeBytes}`);
    if (bytes > CAP_BYTES) throw new Error(`the result is ${bytes} B, over the ${CAP_BYTES} B cap`);
    const plan = events.find((e) => e.type === 'message' && (e.data.text ?? '').startsWith('Got it'));
    return {
      totalSec: (tDone - t0) / 1000,
      uploadSec: (tUploaded - t0) / 1000,
      planSec: plan ? (plan.at - tPosted) / 1000 : NaN,
      jobSec: (r.at - tPosted) / 1000,
      downloadSec: (tDone - r.at) / 1000,
      sizeBytes: bytes,
    };
  } finally {
    stream?.close();
    await fh.close();
    await c.close();
  }
}

async function engineOnce(input: string, outDir: string): Promise<{ sec: number; sizeBytes: number }> {
  await mkdir(outDir, { recursive: true });
  const output = join(outDir, `engine-${randomBytes(4).toString('hex')}.mp4`);
  const intent = parseInstruction(INSTRUCTION);
  const t0 = performance.now();
  let size: number | null = null;
  for await (const e of runJob({ input, intent, output })) {
    if (e.type === 'done') size = e.result.sizeBytes;
    if (e.type === 'error') throw new Error(`engine failed: ${e.error.code} ${e.error.message}`);
  }
  const s = (performance.now() - t0) / 1000;
  if (size === null) throw new Error('engine: no result');
  await rm(output, { force: true });
  return { sec: s, sizeBytes: size };
}

interface TimeReport {
  input: string;
  inputBytes: number;
  instruction: string;
  runs: { e2e: E2eRun; engineSec: number; engineBytes: number; ratio: number }[];
  median: { e2eSec: number; engineSec: number; ratio: number };
  target: number;
  pass: boolean;
}

async function timePart(tmp: string): Promise<TimeReport> {
  log('building the corpus in .bench/corpus (cached)');
  const pan = buildCorpus(join(WORK, 'corpus')).find((c) => c.path.endsWith('pan-1080p60-hevc.mov'));
  if (!pan) throw new Error('the corpus has no pan-1080p60-hevc.mov');
  const inputBytes = (await stat(pan.path)).size;
  const server = await startServer(join(tmp, 'time-data'));
  log(`service pid ${server.pid} at ${server.url}`);
  const runs: TimeReport['runs'] = [];
  try {
    for (let i = 0; i < REPEATS; i++) {
      // Alternate the order, so neither side always runs on a warmer machine.
      const engineFirst = i % 2 === 1;
      let engine: { sec: number; sizeBytes: number } | null = null;
      if (engineFirst) engine = await engineOnce(pan.path, join(tmp, 'engine-out'));
      log(`run ${i + 1}/${REPEATS}: end to end over HTTP`);
      const e2e = await e2eOnce(server.url, pan.path, 'pan-1080p60-hevc.mov').catch((e: unknown) => {
        throw new Error(`${String(e)}\nservice log:\n${server.logTail()}`, { cause: e });
      });
      log(`run ${i + 1}/${REPEATS}: e2e ${sec(e2e.totalSec)}, engine alone`);
      if (!engineFirst) engine = await engineOnce(pan.path, join(tmp, 'engine-out'));
      if (!engine) throw new Error('unreachable');
      runs.push({
        e2e,
        engineSec: engine.sec,
        engineBytes: engine.sizeBytes,
        ratio: e2e.totalSec / engine.sec,
      });
      log(
        `run ${i + 1}/${REPEATS}: engine ${sec(engine.sec)}, ratio ${(e2e.totalSec / engine.sec).toFixed(3)}`,
      );
    }
  } finally {
    await server.stop();
  }
  const e2eSec = median(runs.map((r) => r.e2e.totalSec));
  const engineSec = median(runs.map((r) => r.engineSec));
  const ratio = e2eSec / engineSec;
  return {
    input: pan.path.replace(`${ROOT}/`, ''),
    inputBytes,
    instruction: INSTRUCTION,
    runs,
    median: { e2eSec, engineSec, ratio },
    target: TIME_TARGET,
    pass: ratio <= TIME_TARGET,
  };
}

// ------------------------------------------------------------------------------------------------ (b) memory

/** Pseudo-random bytes, fast (AES-128-CTR keystream), hashed as they are produced. */
class RandomSource {
  private readonly cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
  private readonly zeros = Buffer.alloc(1024 * 1024);
  readonly hash = createHash('sha256');
  sent = 0;

  /** `len` bytes as a stream of 1 MiB pieces (a PATCH body that is never held whole in memory). */
  stream(len: number): Readable {
    return Readable.from(this.pieces(len), { objectMode: false });
  }

  private *pieces(len: number): Generator<Buffer> {
    for (let left = len; left > 0;) {
      const n = Math.min(left, this.zeros.length);
      const piece = this.cipher.update(this.zeros.subarray(0, n));
      this.hash.update(piece);
      this.sent += n;
      left -= n;
      yield piece;
    }
  }
}

interface MemoryReport {
  clients: number;
  bytesEach: number;
  chunkBytes: number;
  wallSec: number;
  throughputMBps: number;
  samples: number;
  sampleEveryMs: number;
  baselineRss: number;
  peakRss: number;
  /** Kernel high-water mark of the process's RSS (catches a spike between two samples). */
  hwm: number;
  /** Largest sample in each quarter of the upload's wall time. */
  quarterPeaks: number[];
  endRss: number;
  uploads: { id: string; sizeOnDisk: number; sentSha256: string; diskSha256: string; match: boolean }[];
  target: number;
  pass: boolean;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }))
    h.update(chunk as Buffer);
  return h.digest('hex');
}

async function memoryPart(tmp: string): Promise<MemoryReport> {
  const server = await startServer(join(tmp, 'memory-data'));
  log(`service pid ${server.pid} at ${server.url}; ${CLIENTS} clients × ${mb(UPLOAD_BYTES)}`);
  const samples: { at: number; rss: number }[] = [];
  try {
    // Idle baseline after start-up (one page load's worth of requests first).
    const warm = new Client(server.url);
    await warm.json('GET', '/api/session');
    await warm.close();
    for (let i = 0; i < 5; i++) {
      samples.push({ at: performance.now(), rss: (await memoryOf(server.pid)).rss });
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    const baselineRss = median(samples.map((s) => s.rss));
    samples.length = 0;

    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push({ at: performance.now(), rss: (await memoryOf(server.pid)).rss });
        await new Promise((r) => setTimeout(r, SAMPLE_MS));
      }
    })();
    const t0 = performance.now();
    const uploads = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const c = new Client(server.url);
        try {
          const session = await c.json<{ uploadUrl: string }>('GET', '/api/session');
          const src = new RandomSource();
          const id = await tusUpload(
            c,
            session.uploadUrl,
            `big-${i + 1}.mp4`,
            'video/mp4',
            UPLOAD_BYTES,
            (_o, len) => Promise.resolve(src.stream(len)),
          );
          if (src.sent !== UPLOAD_BYTES) throw new Error(`client ${i + 1} sent ${src.sent} B`);
          return { id, sha: src.hash.digest('hex') };
        } finally {
          await c.close();
        }
      }),
    );
    const t1 = performance.now();
    await new Promise((r) => setTimeout(r, 1000));
    sampling = false;
    await sampler;
    const { rss: endRss, hwm } = await memoryOf(server.pid);
    const during = samples.filter((s) => s.at >= t0 && s.at <= t1);
    const quarterPeaks = [0, 1, 2, 3].map((q) => {
      const lo = t0 + ((t1 - t0) * q) / 4;
      const hi = t0 + ((t1 - t0) * (q + 1)) / 4;
      return Math.max(0, ...during.filter((s) => s.at >= lo && s.at < hi).map((s) => s.rss));
    });
    const peakRss = Math.max(...samples.map((s) => s.rss));
    const gaps = samples.slice(1).map((s, i) => s.at - (samples[i]?.at ?? s.at));

    log('verifying SHA-256 of each upload on disk');
    const checked: MemoryReport['uploads'] = [];
    for (const u of uploads) {
      const path = join(server.dataDir, 'uploads', u.id);
      const sizeOnDisk = (await stat(path)).size;
      const diskSha256 = await sha256File(path);
      checked.push({
        id: u.id,
        sizeOnDisk,
        sentSha256: u.sha,
        diskSha256,
        match: diskSha256 === u.sha && sizeOnDisk === UPLOAD_BYTES,
      });
    }
    const wallSec = (t1 - t0) / 1000;
    return {
      clients: CLIENTS,
      bytesEach: UPLOAD_BYTES,
      chunkBytes: CHUNK,
      wallSec,
      throughputMBps: (CLIENTS * UPLOAD_BYTES) / 1e6 / wallSec,
      samples: samples.length,
      sampleEveryMs: Math.round(median(gaps)),
      baselineRss,
      peakRss,
      hwm,
      quarterPeaks,
      endRss,
      uploads: checked,
      target: RSS_TARGET,
      pass: peakRss < RSS_TARGET && hwm < RSS_TARGET && checked.every((u) => u.match),
    };
  } catch (e) {
    throw new Error(`${String(e)}\nservice log:\n${server.logTail()}`, { cause: e });
  } finally {
    await server.stop();
  }
}

// ------------------------------------------------------------------------------------------------ report

function markdown(time: TimeReport | null, memory: MemoryReport | { skipped: string } | null): string {
  const out: string[] = [
    `# vidshrink end-to-end benchmark`,
    '',
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · ${cpus().length} cores · Node ${process.version} · ` +
      'command: `npm run bench:e2e` · service in a child process (`scripts/launch.sh start`, as `npm start`), local ffmpeg backend',
  ];
  if (time) {
    out.push(
      '',
      `## (a) Upload → downloadable result, over HTTP as the page does, vs the engine alone`,
      '',
      `Input: \`${time.input}\` (${mb(time.inputBytes)}, 1080p60 HEVC 25 Mb/s MOV, 10 s), instruction "${time.instruction}". ` +
        'End to end = GET /api/session → tus POST + 8 MiB PATCHes → POST /api/messages → SSE `result` → full GET of the link. ' +
        'Engine alone = `runJob` on the same file in the bench process.',
      '',
      '| run | end to end | upload | plan reply | job (post → result) | download | engine alone | ratio | result size |',
      '| --- | ---------- | ------ | ---------- | ------------------- | -------- | ------------ | ----- | ----------- |',
      ...time.runs.map(
        (r, i) =>
          `| ${i + 1} | ${sec(r.e2e.totalSec)} | ${r.e2e.uploadSec.toFixed(2)} s | ${r.e2e.planSec.toFixed(2)} s | ${sec(r.e2e.jobSec)} | ` +
          `${r.e2e.downloadSec.toFixed(2)} s | ${sec(r.engineSec)} | ${r.ratio.toFixed(3)}× | ${r.e2e.sizeBytes} B (engine ${r.engineBytes} B) |`,
      ),
      `| **median** | **${sec(time.median.e2eSec)}** | | | | | **${sec(time.median.engineSec)}** | **${time.median.ratio.toFixed(3)}×** | |`,
      '',
      `Target ≤ ${time.target}×: **${time.pass ? 'met' : 'NOT met'}**.`,
    );
  }
  if (memory && 'skipped' in memory) {
    out.push('', '## (b) Server memory during 4 × 500 MB uploads', '', `Skipped: ${memory.skipped}`);
  } else if (memory) {
    out.push(
      '',
      `## (b) Server memory while ${memory.clients} clients upload ${mb(memory.bytesEach)} each at once`,
      '',
      `Generated pseudo-random streams (AES-CTR keystream), tus PATCHes of ${memory.chunkBytes / 1048576} MiB, each client its own ` +
        `connections and cookie. RSS of the service process from /proc every ${SAMPLE_MS} ms (median gap ${memory.sampleEveryMs} ms, ` +
        `${memory.samples} samples); VmHWM is the kernel's peak for the process's whole life. MB = 10^6 bytes.`,
      '',
      '| uploads | wall time | throughput | RSS idle | RSS peak (sampled) | VmHWM | peak per quarter of the upload | RSS after | SHA-256 on disk |',
      '| ------- | --------- | ---------- | -------- | ------------------ | ----- | ------------------------------ | --------- | --------------- |',
      `| ${memory.clients} × ${mb(memory.bytesEach)} | ${sec(memory.wallSec)} | ${memory.throughputMBps.toFixed(0)} MB/s | ${mb(memory.baselineRss)} | ` +
        `${mb(memory.peakRss)} | ${mb(memory.hwm)} | ${memory.quarterPeaks.map(mb).join(' · ')} | ${mb(memory.endRss)} | ` +
        `${memory.uploads.filter((u) => u.match).length}/${memory.uploads.length} match |`,
      '',
      `Target peak < ${mb(memory.target)}, flat, every upload intact: **${memory.pass ? 'met' : 'NOT met'}**.`,
    );
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only !== undefined && only !== 'time' && only !== 'memory') {
    throw new Error(`usage: bench/e2e.js [time|memory] (got ${only})`);
  }
  await mkdir(WORK, { recursive: true });
  const tmp = await mkdtemp(join(tmpdir(), 'vidshrink-bench-e2e-'));
  let time: TimeReport | null = null;
  let memory: MemoryReport | { skipped: string } | null = null;
  try {
    const fs = await statfs(tmp);
    const free = fs.bavail * fs.bsize;
    log(`temp data dir ${tmp}: ${mb(free)} free, the memory part needs ${mb(DISK_NEEDED)}`);
    if (only !== 'memory') time = await timePart(tmp);
    if (only !== 'time') {
      if (free < DISK_NEEDED) {
        memory = {
          skipped: `only ${mb(free)} free in ${tmpdir()}; ${CLIENTS} uploads of ${mb(UPLOAD_BYTES)} need ${mb(DISK_NEEDED)}`,
        };
        log(memory.skipped);
      } else {
        memory = await memoryPart(tmp);
      }
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const md = markdown(time, memory);
  process.stdout.write(`${md}\n`);
  await writeFile(join(WORK, 'e2e.md'), `${md}\n`);
  await writeFile(join(WORK, 'e2e.json'), `${JSON.stringify({ time, memory }, null, 2)}\n`);
  log('wrote .bench/e2e.md and .bench/e2e.json');
  // Targets are reported, not enforced; a corrupted upload is a bug, so it fails the run.
  if (memory && 'uploads' in memory && !memory.uploads.every((u) => u.match)) process.exitCode = 1;
}

await main();
