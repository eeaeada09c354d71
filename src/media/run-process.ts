// The only place that spawns ffmpeg/ffprobe (code-anchors.md rule 1; reliability-anchors.md §4.3):
// argv arrays without a shell, each child in its own process group so a cancel, a timeout or our own exit kills the
// whole tree, a wall-clock deadline and a no-output watchdog (hung demuxers: reliability A8), a minimal environment
// (no secrets reach ffmpeg: reliability F4), and a bounded stderr tail for error context.
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Writable } from 'node:stream';
import { AppError } from '../domain/errors.js';

export interface RunOptions {
  signal?: AbortSignal | undefined;
  /** Hard wall-clock limit for the whole run. */
  timeoutMs: number;
  /** Kill when the child writes nothing (stdout or stderr) for this long; ffmpeg -progress writes every ~0.5 s. */
  stallMs?: number;
  /** Called for every complete stdout line (ffmpeg -progress pipe:1). */
  onStdoutLine?: (line: string) => void;
  /** Collect stdout (ffprobe JSON), capped at this many bytes. */
  collectStdoutBytes?: number;
  /** Lower the child's CPU priority so the chat service stays responsive (PeerTube runs ffmpeg at nice 20). */
  nice?: number;
  /** Open the child's stdin as a pipe and hand it over (the decode tap's reader). */
  onStdin?: (stdin: Writable) => void;
  /**
   * Give the child this pipe as fd 3 (`pipe:3`): the encoder writes its decode tap straight into the decoder's stdin,
   * without passing through this process.
   */
  fd3?: Writable;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderrTail: string;
}

/** VIDSHRINK_TRACE=1: one stderr line per child (seconds, start on the process clock, argv) for profiling a job's stages; paths only, no secrets. */
const trace = process.env.VIDSHRINK_TRACE === '1';

const STDERR_TAIL_BYTES = 32 * 1024; // ab-av1 keeps the last ~32 kB of stderr with every failure.
const KILL_GRACE_MS = 2_000;

/** Process groups still alive; killed if this process exits (Node does not kill children: nodejs/node#14556). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  });
}

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // Already gone.
  }
}

/** Number of child process groups currently running (tests assert it returns to 0 after a cancel). */
export function liveProcessGroups(): number {
  return liveGroups.size;
}

export function runProcess(bin: string, argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  installExitHook();
  if (opts.signal?.aborted) return Promise.reject(new AppError('CANCELLED'));
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(bin, argv, {
      detached: true,
      stdio: [opts.onStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(opts.fd3 ? [opts.fd3] : [])],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    if (opts.onStdin && child.stdin) opts.onStdin(child.stdin);
    let settled = false;
    let stdoutBuf = '';
    let collected = '';
    let stderrTail = '';
    let killedFor: 'cancel' | 'timeout' | 'stall' | null = null;
    const pgid = child.pid;
    if (pgid !== undefined) {
      liveGroups.add(pgid);
      if (opts.nice !== undefined) {
        try {
          setPriority(pgid, opts.nice);
        } catch {
          // Not permitted in some sandboxes; priority is a courtesy, not a requirement.
        }
      }
    }

    const terminate = (why: 'cancel' | 'timeout' | 'stall'): void => {
      if (killedFor !== null || pgid === undefined) return;
      killedFor = why;
      killGroup(pgid, 'SIGTERM');
      setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS).unref();
    };

    const deadline = setTimeout(() => terminate('timeout'), opts.timeoutMs);
    let stallTimer: NodeJS.Timeout | null = null;
    const armStall = (): void => {
      if (opts.stallMs === undefined) return;
      if (stallTimer) stallTimer.refresh();
      else stallTimer = setTimeout(() => terminate('stall'), opts.stallMs);
    };
    armStall();
    const onAbort = (): void => terminate('cancel');
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const { stdout, stderr } = child;
    if (!stdout || !stderr) throw new Error('spawned without stdout/stderr pipes');
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => {
      armStall();
      if (opts.collectStdoutBytes !== undefined && collected.length < opts.collectStdoutBytes) {
        collected += chunk.slice(0, opts.collectStdoutBytes - collected.length);
      }
      if (opts.onStdoutLine) {
        stdoutBuf += chunk;
        let nl: number;
        while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
          opts.onStdoutLine(stdoutBuf.slice(0, nl));
          stdoutBuf = stdoutBuf.slice(nl + 1);
        }
      }
    });
    stderr.setEncoding('utf8');
    stderr.on('data', (chunk: string) => {
      armStall();
      stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
    });

    const started = performance.now();
    const finish = (err: AppError | null, code: number): void => {
      if (settled) return;
      settled = true;
      if (trace) {
        const sec = ((performance.now() - started) / 1000).toFixed(2);
        const at = (started / 1000).toFixed(2);
        process.stderr.write(`[trace] ${sec}s (from ${at}s) ${bin} ${argv.join(' ')}\n`);
      }
      clearTimeout(deadline);
      if (stallTimer) clearTimeout(stallTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pgid !== undefined) {
        // The leader exited; make sure nothing it started outlives it.
        killGroup(pgid, 'SIGKILL');
        liveGroups.delete(pgid);
      }
      if (err) reject(err);
      else resolve({ exitCode: code, stdout: collected, stderrTail });
    };

    child.on('error', (e: NodeJS.ErrnoException) => {
      finish(
        e.code === 'ENOENT'
          ? new AppError('TOOL_MISSING', { tool: bin }, { cause: e })
          : new AppError('INTERNAL', {}, { cause: e, internal: { bin } }),
        -1,
      );
    });
    child.on('close', (code) => {
      const internal = { bin, argv: [...argv], exitCode: code, stderrTail: stderrTail.slice(-4000) };
      if (killedFor === 'cancel') finish(new AppError('CANCELLED', {}, { internal }), -1);
      else if (killedFor === 'timeout' || killedFor === 'stall') {
        finish(new AppError('FFMPEG_TIMEOUT', { reason: killedFor }, { internal }), -1);
      } else finish(null, code ?? -1);
    });
  });
}
