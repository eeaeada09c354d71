// Probe once per input (code-anchors.md rule 3): ffprobe JSON under a timeout, validated, normalized into MediaInfo.
// Inputs are opened as `file:` with the protocol/demuxer/decoder allowlists (reliability-anchors.md §1).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../domain/errors.js';
import type {
  AudioStreamInfo,
  MediaInfo,
  SubtitleStreamInfo,
  VideoStreamInfo,
} from '../domain/media-info.js';
import { containerFamily, fileUrl, hardenedInputArgs } from './allowlists.js';
import { runProcess } from './run-process.js';
import { tools } from './tools.js';

export interface ProbeLimits {
  /** Largest accepted width or height (8K; FFmpeg's fuzzer caps at 4096² per frame). */
  maxSidePx: number;
  maxDurationSec: number;
  maxStreams: number;
  timeoutMs: number;
}

export const DEFAULT_PROBE_LIMITS: ProbeLimits = {
  maxSidePx: 8192,
  maxDurationSec: 6 * 3600,
  maxStreams: 32,
  timeoutMs: 30_000,
};

const streamSchema = z
  .object({
    index: z.number(),
    codec_type: z.string().optional(),
    codec_name: z.string().optional(),
    profile: z.string().optional(),
    width: z.number().optional(),
    height: z.number().optional(),
    sample_aspect_ratio: z.string().optional(),
    pix_fmt: z.string().optional(),
    bits_per_raw_sample: z.string().optional(),
    color_transfer: z.string().optional(),
    color_primaries: z.string().optional(),
    color_space: z.string().optional(),
    r_frame_rate: z.string().optional(),
    avg_frame_rate: z.string().optional(),
    duration: z.string().optional(),
    start_time: z.string().optional(),
    bit_rate: z.string().optional(),
    nb_frames: z.string().optional(),
    channels: z.number().optional(),
    sample_rate: z.string().optional(),
    tags: z.record(z.string(), z.string()).optional(),
    disposition: z.record(z.string(), z.number()).optional(),
    side_data_list: z.array(z.record(z.string(), z.unknown())).optional(),
  })
  .loose();

const probeSchema = z.object({
  format: z
    .object({
      format_name: z.string(),
      duration: z.string().optional(),
      size: z.string().optional(),
      bit_rate: z.string().optional(),
      nb_streams: z.number().optional(),
    })
    .loose(),
  streams: z.array(streamSchema),
});

export type FfprobeJson = z.infer<typeof probeSchema>;

/** Runs ffprobe on a local file. Refuses quickly, with a code, anything that is not an allowed video file. */
export async function probe(
  path: string,
  opts: { signal?: AbortSignal; limits?: Partial<ProbeLimits> } = {},
): Promise<MediaInfo> {
  const limits = { ...DEFAULT_PROBE_LIMITS, ...opts.limits };
  const abs = resolve(path);
  let sizeBytes: number;
  try {
    const st = await stat(abs);
    if (!st.isFile()) throw new AppError('INPUT_UNSUPPORTED', { reason: 'not a regular file' });
    sizeBytes = st.size;
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('INPUT_NOT_FOUND', { path }, { cause: e });
  }
  if (sizeBytes === 0) throw new AppError('INPUT_EMPTY');

  const argv = [
    '-hide_banner',
    '-v',
    'error',
    ...hardenedInputArgs(),
    // Bounded analysis: enough for phone files with a late moov or sparse streams, not an open-ended read.
    '-probesize',
    '50M',
    '-analyzeduration',
    '20M',
    '-show_format',
    '-show_streams',
    '-of',
    'json',
    fileUrl(abs),
  ];
  const res = await runProcess(tools().ffprobe, argv, {
    signal: opts.signal,
    timeoutMs: limits.timeoutMs,
    collectStdoutBytes: 4 * 1024 * 1024,
  }).catch((e: unknown) => {
    if (e instanceof AppError && e.code === 'FFMPEG_TIMEOUT') {
      throw new AppError('INPUT_CORRUPT', { reason: 'reading it took too long' }, { cause: e });
    }
    throw e;
  });
  if (res.exitCode !== 0) throw classifyProbeFailure(res.stderrTail);
  let json: FfprobeJson;
  try {
    json = probeSchema.parse(JSON.parse(res.stdout));
  } catch (e) {
    throw new AppError('INPUT_UNSUPPORTED', { reason: 'unreadable container' }, { cause: e });
  }
  return normalizeProbe(json, abs, sizeBytes, limits);
}

function classifyProbeFailure(stderr: string): AppError {
  const internal = { stderrTail: stderr.slice(-2000) };
  if (/not on whitelist|Protocol '.*' not on whitelist/i.test(stderr)) {
    return new AppError(
      'INPUT_UNSUPPORTED',
      { reason: 'a playlist, list or image file, not a video' },
      { internal },
    );
  }
  if (
    /moov atom not found|Invalid data found|could not find codec parameters|EBML header parsing failed/i.test(
      stderr,
    )
  ) {
    return new AppError(
      'INPUT_UNSUPPORTED',
      { reason: 'not a recognised video file, or badly truncated' },
      { internal },
    );
  }
  return new AppError('INPUT_CORRUPT', { reason: 'the file could not be read' }, { internal });
}

/** Pure: ffprobe JSON → MediaInfo, with the product's limits enforced. Exported for unit tests. */
export function normalizeProbe(
  json: FfprobeJson,
  path: string,
  sizeBytes: number,
  limits: ProbeLimits,
): MediaInfo {
  const container = containerFamily(json.format.format_name);
  if (!container) throw new AppError('INPUT_UNSUPPORTED', { reason: `format ${json.format.format_name}` });
  if (json.streams.length > limits.maxStreams) {
    throw new AppError('INPUT_LIMITS', {
      reason: `${json.streams.length} streams (at most ${limits.maxStreams})`,
    });
  }
  const vStream = pickVideo(json.streams);
  if (!vStream) throw new AppError('INPUT_NO_VIDEO');
  const video = normalizeVideo(vStream);
  if (
    video.width > limits.maxSidePx ||
    video.height > limits.maxSidePx ||
    video.width < 2 ||
    video.height < 2
  ) {
    throw new AppError('INPUT_LIMITS', { reason: `a ${video.width}×${video.height} picture` });
  }
  const durationSec = firstFinite(json.format.duration, vStream.duration);
  if (durationSec === null || durationSec <= 0) {
    throw new AppError('INPUT_CORRUPT', { reason: 'its length is unknown' });
  }
  if (durationSec > limits.maxDurationSec) {
    throw new AppError('INPUT_LIMITS', { reason: `${Math.round(durationSec / 60)} minutes long` });
  }
  const audio: AudioStreamInfo[] = json.streams
    .filter((s) => s.codec_type === 'audio' && s.codec_name !== undefined)
    .map((s) => ({
      index: s.index,
      codec: s.codec_name ?? 'unknown',
      channels: s.channels ?? 2,
      sampleRateHz: Number(s.sample_rate ?? 48000) || 48000,
      bitrateBps: intOrNull(s.bit_rate),
      language: s.tags?.language ?? null,
    }));
  const subtitles: SubtitleStreamInfo[] = json.streams
    .filter((s) => s.codec_type === 'subtitle')
    .map((s) => ({ index: s.index, codec: s.codec_name ?? 'unknown', language: s.tags?.language ?? null }));

  const info: MediaInfo = {
    path,
    formatName: json.format.format_name,
    container,
    durationSec,
    sizeBytes,
    bitrateBps: intOrNull(json.format.bit_rate),
    video: { ...video, frameCount: video.frameCount ?? Math.round(video.fps * durationSec) },
    audio,
    subtitles,
  };
  checkTruncation(info, json);
  return info;
}

/**
 * An MP4 whose moov promises more media than the file holds was cut short (an interrupted upload or copy). The moov
 * stream bitrates come from the sample tables, the file size from the disk: > 10 % missing means truncation.
 */
function checkTruncation(info: MediaInfo, json: FfprobeJson): void {
  if (info.container !== 'mp4') return;
  let declaredBits = 0;
  for (const s of json.streams) {
    const br = intOrNull(s.bit_rate);
    const dur = firstFinite(s.duration) ?? info.durationSec;
    if (br !== null) declaredBits += br * dur;
  }
  if (declaredBits > 0 && declaredBits / 8 > info.sizeBytes * 1.1) {
    throw new AppError('INPUT_CORRUPT', {
      reason: `it is incomplete: ${Math.round((100 * info.sizeBytes * 8) / declaredBits)} % of its data is there`,
    });
  }
}

type RawStream = z.infer<typeof streamSchema>;

function pickVideo(streams: RawStream[]): RawStream | undefined {
  // Cover art is stored as a one-frame "video" stream with the attached_pic disposition; it is not the video.
  const real = streams.filter((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  return real.find((s) => s.disposition?.default === 1) ?? real[0];
}

function normalizeVideo(s: RawStream): VideoStreamInfo {
  const width = s.width ?? 0;
  const height = s.height ?? 0;
  const rotationDeg = rotationOf(s);
  const sar = parseRatio(s.sample_aspect_ratio) ?? 1;
  const sarSafe = sar > 0 && Number.isFinite(sar) ? sar : 1;
  // Apply SAR to the width, then rotate: what a player shows.
  let dw = Math.round(width * sarSafe);
  let dh = height;
  if (rotationDeg === 90 || rotationDeg === 270) [dw, dh] = [dh, dw];
  const declaredFps = parseRatio(s.r_frame_rate) ?? 0;
  const avgFps = parseRatio(s.avg_frame_rate) ?? 0;
  const fps = avgFps > 0 ? avgFps : declaredFps > 0 ? declaredFps : 30;
  const pixFmt = s.pix_fmt ?? 'unknown';
  const bitDepth = Number(s.bits_per_raw_sample) || bitDepthOf(pixFmt);
  const transfer = s.color_transfer ?? null;
  return {
    index: s.index,
    codec: s.codec_name ?? 'unknown',
    profile: s.profile ?? null,
    width,
    height,
    rotationDeg,
    displayWidth: dw,
    displayHeight: dh,
    fps,
    declaredFps: declaredFps > 0 ? declaredFps : fps,
    // Phones record variable frame rate: the declared rate then differs from the average (> 1 %).
    isVfr: declaredFps > 0 && avgFps > 0 && Math.abs(declaredFps - avgFps) / avgFps > 0.01,
    bitDepth,
    pixFmt,
    colorTransfer: transfer,
    colorPrimaries: s.color_primaries ?? null,
    colorSpace: s.color_space ?? null,
    hdr: transfer === 'arib-std-b67' ? 'hlg' : transfer === 'smpte2084' ? 'pq' : null,
    bitrateBps: intOrNull(s.bit_rate),
    frameCount: intOrNull(s.nb_frames),
    startTimeSec: Number.isFinite(Number(s.start_time)) ? Number(s.start_time) : 0,
  };
}

/** Clockwise degrees to display upright, the `rotate` tag's convention; ffprobe's displaymatrix angle is the inverse. */
function rotationOf(s: RawStream): 0 | 90 | 180 | 270 {
  let deg: number | null = null;
  for (const sd of s.side_data_list ?? []) {
    if (typeof sd.rotation === 'number') deg = -sd.rotation;
  }
  if (deg === null && s.tags?.rotate !== undefined) deg = Number(s.tags.rotate);
  if (deg === null || !Number.isFinite(deg)) return 0;
  const n = (((Math.round(deg / 90) * 90) % 360) + 360) % 360;
  return n === 90 || n === 180 || n === 270 ? n : 0;
}

function bitDepthOf(pixFmt: string): number {
  const m = /p(\d{2})(le|be)?$/.exec(pixFmt);
  return m?.[1] ? Number(m[1]) : 8;
}

function parseRatio(v: string | undefined): number | null {
  if (!v) return null;
  const [a, b] = v.split(/[/:]/).map(Number);
  if (a === undefined || !Number.isFinite(a)) return null;
  if (b === undefined) return a;
  return b > 0 && Number.isFinite(b) ? a / b : null;
}

function intOrNull(v: string | undefined): number | null {
  if (v === undefined) return null;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.round(n) : null;
}

function firstFinite(...vals: (string | undefined)[]): number | null {
  for (const v of vals) {
    const n = Number(v);
    if (v !== undefined && Number.isFinite(n) && n > 0) return n;
  }
  return null;
}

/**
 * Time of the video keyframe at or before `sec` (ffprobe seeks, then reports the first packet), or null. Used to
 * start the delivered file's quality windows on source keyframes: seeking elsewhere decodes the whole GOP before the
 * window, which was most of the 5.4 s the 10 s HEVC pan spent in verification (BENCHMARKS.md).
 */
export async function keyframeAtOrBefore(
  path: string,
  videoIndex: number,
  sec: number,
  signal?: AbortSignal,
): Promise<number | null> {
  const argv = [
    '-hide_banner',
    '-v',
    'error',
    ...hardenedInputArgs(),
    '-read_intervals',
    `${sec.toFixed(3)}%+#1`,
    '-select_streams',
    String(videoIndex),
    '-show_entries',
    'packet=pts_time,flags',
    '-of',
    'csv=p=0',
    fileUrl(resolve(path)),
  ];
  const res = await runProcess(tools().ffprobe, argv, {
    signal,
    timeoutMs: 20_000,
    collectStdoutBytes: 4096,
  });
  if (res.exitCode !== 0) return null;
  const [time, flags] = (res.stdout.trim().split('\n')[0] ?? '').split(',');
  const t = Number(time);
  return flags?.startsWith('K') && Number.isFinite(t) && t <= sec + 1e-3 ? t : null;
}
