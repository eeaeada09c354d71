// Running ffmpeg for the pipeline: encodes with progress, lossless sample cuts, SSIM/PSNR measurement and the full
// decode check. Argv comes from the pure builders in src/argv; this file only runs and interprets.
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
