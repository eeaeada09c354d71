// Running ffmpeg for the pipeline: encodes with progress, lossless sample cuts, SSIM/PSNR measurement and the full
// decode check. Argv comes from the pure builders in src/argv; this file only runs and interprets.
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { TapFormat } from '../argv/encode-args.js';
import { tapDecodeArgs } from '../argv/sample-args.js';
import { AppError } from '../domain/errors.js';
import { ProgressParser, type ProgressSample } from './progress.js';
import { runProcess, type RunResult } from './run-process.js';
import { tools } from './tools.js';

export interface FfmpegRunOptions {
  signal?: AbortSignal | undefined;
  timeoutMs: number;
  stallMs: number;
  onProgress?: (p: ProgressSample) => void;
}

/** Runs ffmpeg; a non-zero exit becomes a classified AppError carrying argv and the stderr tail (for logs only). */
export async function runFfmpeg(argv: string[], opts: FfmpegRunOptions): Promise<RunResult> {
  const parser = new ProgressParser();
  const res = await runProcess(tools().ffmpeg, argv, {
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    stallMs: opts.stallMs,
    nice: 10,
    onStdoutLine: (line) => {
      const sample = parser.push(line);
      if (sample && opts.onProgress) opts.onProgress(sample);
    },
  });
  if (res.exitCode !== 0) throw classifyFfmpegFailure(argv, res);
  return res;
}

/** What the decoder on an encode's tap saw: a clean decode of `frames` video frames, or not. */
export interface DecodeTapResult {
  ok: boolean;
  frames: number | null;
  stderrTail: string;
}

/** A tapped encode's outcome: `oversized` = stopped because its file passed `maxBytes` (then `encode` is null). */
export type TappedEncode =
  | { oversized: false; encode: RunResult; tap: DecodeTapResult }
  | { oversized: true; encode: null; tap: DecodeTapResult };

/**
 * Runs an encode built with a `decodeTap` on `pipe:3` and, beside it, a decoder reading that tap: the full decode check
 * happens while the encoder works instead of after it. The decoder never holds the encode up: if it exits early, the
 * encoder goes on without it (and the caller falls back to decoding the file).
 *
 * ffmpeg's `-fs` cannot see a tee's files, so the output file is watched here on every progress report: its size
 * fills the reports' `totalSizeBytes`, and past `output.maxBytes` (a runaway encode, reliability-anchors A6) the
 * encoder is stopped like `-fs` stops it, leaving what it wrote.
 */
export async function runFfmpegWithDecodeTap(
  argv: string[],
  opts: FfmpegRunOptions & { output: { path: string; maxBytes: number }; tapFormat: TapFormat },
): Promise<TappedEncode> {
  const guard = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, guard.signal]) : guard.signal;
  let written = 0;
  let statting = false;
  const watch = (): void => {
    if (statting) return;
    statting = true;
    stat(opts.output.path)
      .then((st) => {
        written = st.size;
        if (written > opts.output.maxBytes) guard.abort();
      })
      .catch(() => undefined)
      .finally(() => (statting = false));
  };
  // Set by the decoder's spawn (synchronously, inside runProcess); a holder, so the type is not narrowed to null.
  const decoder: { stdin: Writable | null } = { stdin: null };
  const parser = new ProgressParser();
  let frames: number | null = null;
  const decoding = runProcess(tools().ffmpeg, tapDecodeArgs(opts.tapFormat), {
    signal,
    // No stall watchdog: the decoder waits while the encoder fills its lookahead. It ends with the encoder's pipe.
    timeoutMs: opts.timeoutMs,
    nice: 10,
    onStdin: (w) => {
      w.on('error', () => undefined);
      decoder.stdin = w;
    },
    onStdoutLine: (line) => {
      const sample = parser.push(line);
      if (sample?.frame !== null && sample?.frame !== undefined) frames = sample.frame;
    },
  }).then(
    (r): DecodeTapResult => ({ ok: r.exitCode === 0, frames, stderrTail: r.stderrTail }),
    (e: unknown): DecodeTapResult => ({ ok: false, frames: null, stderrTail: String(e) }),
  );
  const parserEnc = new ProgressParser();
  // The encoder's fd 3 is the decoder's stdin: the tap's packets go from one child to the other without a copy in
  // this process (that copy cost ~45 ms of CPU per 12-s 720p job, most of this process's share: BENCHMARKS.md).
  // A decoder that quits early costs the encode nothing: ffmpeg ignores SIGPIPE and the tee drops the failed slave
  // (`onfail=ignore`); the decode check then reads the file.
  const encoding = runProcess(tools().ffmpeg, argv, {
    signal,
    timeoutMs: opts.timeoutMs,
    stallMs: opts.stallMs,
    nice: 10,
    ...(decoder.stdin ? { fd3: decoder.stdin } : {}),
    onStdoutLine: (line) => {
      const sample = parserEnc.push(line);
      if (!sample) return;
      watch();
      opts.onProgress?.({ ...sample, totalSizeBytes: written });
    },
  });
  // The encoder holds its own copy of the pipe now (or never started): ours goes, so the decoder sees the end of the
  // stream when the encoder exits, whatever way it exits.
  decoder.stdin?.destroy();
  let encode: RunResult;
  try {
    encode = await encoding;
  } catch (e) {
    // Cancelled, timed out, stopped by the size guard or never started: the decoder has its end of stream; it is
    // awaited before the caller hears of it, so no process outlives the job.
    const tap = await decoding;
    if (guard.signal.aborted && !opts.signal?.aborted) return { oversized: true, encode: null, tap };
    throw e;
  }
  // A tee output that fails to open does not fail ffmpeg (ffmpeg 5.1 applies `onfail` only once an output is open):
  // the file is output #0, and an encode that lost it has failed, whatever the exit code says.
  if (encode.exitCode !== 0 || /Slave muxer #0 failed/u.test(encode.stderrTail)) {
    await decoding;
    throw classifyFfmpegFailure(argv, { ...encode, exitCode: encode.exitCode || 1 });
  }
  return { oversized: false, encode, tap: await decoding };
}

/** libx264's own scores of its output (`ssim=1:psnr=1`), from the summary it logs when the encode closes. */
export function parseEncoderMetrics(stderr: string): { ssim: number; psnrDb: number } | null {
  const ssim = /SSIM Mean Y:([0-9.]+)/.exec(stderr)?.[1];
  const psnr = /PSNR Mean Y:([0-9.]+|inf)/.exec(stderr)?.[1];
  if (ssim === undefined || psnr === undefined) return null;
  return { ssim: Number(ssim), psnrDb: psnr === 'inf' ? 100 : Math.min(100, Number(psnr)) };
}

export function classifyFfmpegFailure(argv: string[], res: RunResult): AppError {
  const internal = { argv, exitCode: res.exitCode, stderrTail: res.stderrTail.slice(-4000) };
  const err = res.stderrTail;
  if (/No space left on device/i.test(err)) return new AppError('DISK_FULL', {}, { internal });
  if (/not on whitelist/i.test(err)) {
    return new AppError(
      'INPUT_UNSUPPORTED',
      { reason: 'it uses a codec or format I do not open' },
      { internal },
    );
  }
  if (/Invalid data found|corrupt|error while decoding|Error splitting the input/i.test(err)) {
    return new AppError('INPUT_CORRUPT', { reason: 'the encoder hit damaged data' }, { internal });
  }
  return new AppError('FFMPEG_FAILED', {}, { internal });
}

export interface MetricResult {
  /** Mean SSIM, luma. */
  ssim: number;
  /** Mean PSNR, luma, dB (capped at 100 for identical frames). */
  psnrDb: number;
  frames: number;
}

/** Parses the summary lines ffmpeg's ssim and psnr filters print at the end of a run. */
export function parseMetrics(stderr: string): MetricResult | null {
  const ssim = /SSIM Y:([0-9.]+)/.exec(stderr);
  const psnr = /PSNR y:([0-9.]+|inf)/.exec(stderr);
  const frames = /n:(\d+) Y:/.exec(stderr);
  if (!ssim?.[1]) return null;
  const p = psnr?.[1];
  return {
    ssim: Number(ssim[1]),
    psnrDb: p === undefined ? NaN : p === 'inf' ? 100 : Math.min(100, Number(p)),
    frames: frames?.[1] ? Number(frames[1]) : 0,
  };
}

/** Runs a metric graph built by src/argv/sample-args.ts and returns the parsed scores. */
export async function runMetric(argv: string[], opts: FfmpegRunOptions): Promise<MetricResult> {
  const res = await runFfmpeg(argv, opts);
  const m = parseMetrics(res.stderrTail);
  if (!m) throw new AppError('INTERNAL', {}, { internal: { argv, stderrTail: res.stderrTail.slice(-2000) } });
  return m;
}
