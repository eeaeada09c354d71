// Argv for samples (pure): lossless cuts (ab-av1's method: `-c:v copy`, always MKV, frame-counted), sample encodes,
// and the SSIM/PSNR graph that scores an encode at the source's geometry.
import type { VideoEncodeSpec } from '../domain/encode-plan.js';
import type { VideoStreamInfo } from '../domain/media-info.js';
import { fileUrl, hardenedInputArgs, intermediateInputArgs } from '../media/allowlists.js';
import { seconds, videoCodecArgs, type TapFormat } from './encode-args.js';
import { fpsText, rotationFilters, tonemapFilters, videoFilterChain } from './filters.js';
import type { SampleWindow } from '../planning/samples.js';

/**
 * One process cuts every window: `frames` frames from the keyframe at or before each start, copied into MKVs
 * (no decode, no quality loss).
 */
export function cutSamplesArgs(
  inputPath: string,
  videoIndex: number,
  cuts: readonly { window: SampleWindow; frames: number; out: string }[],
): string[] {
  const a = ['-hide_banner', '-nostdin', '-y'];
  for (const c of cuts) {
    // AVI/MPEG-PS packets can lack timestamps, which MKV refuses ("Can't write packet with unknown timestamp", seen on
    // Megamind.avi); ab-av1 retries with +genpts, a demuxer flag, so it goes before each -i.
    a.push(
      ...hardenedInputArgs(),
      '-fflags',
      '+genpts',
      '-ss',
      seconds(c.window.startSec),
      '-i',
      fileUrl(inputPath),
    );
  }
  for (const [i, c] of cuts.entries()) {
    a.push(
      '-map',
      `${i}:${videoIndex}`,
      '-c:v',
      'copy',
      '-frames:v',
      String(c.frames),
      '-an',
      '-sn',
      '-dn',
      '-f',
      'matroska',
      c.out,
    );
  }
  return a;
}

function sampleInputs(paths: readonly string[]): string[] {
  // MKV cuts carry no display matrix; rotation is applied explicitly, so autorotate is off for them.
  return paths.flatMap((p) => ['-noautorotate', ...hardenedInputArgs(), '-i', fileUrl(p)]);
}

/** Encode all sample cuts as one stream (concat), with the plan's filters and a given rate control. */
export function sampleEncodeArgs(
  cuts: readonly string[],
  video: VideoEncodeSpec,
  rotationDeg: 0 | 90 | 180 | 270,
  out: string,
): string[] {
  const chain = videoFilterChain(video, { rotateDeg: rotationDeg });
  const graph =
    cuts.map((_, i) => `[${i}:v]${chain},setpts=PTS-STARTPTS[s${i}]`).join(';') +
    `;${cuts.map((_, i) => `[s${i}]`).join('')}concat=n=${cuts.length}:v=1:a=0[v]`;
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...sampleInputs(cuts),
    '-filter_complex',
    graph,
    '-map',
    '[v]',
    '-fps_mode',
    'passthrough',
    ...videoCodecArgs(video, { kind: 'single', passLogPrefix: '' }),
    '-f',
    'matroska',
    out,
  ];
}

/**
 * Pair frames by index, not by timestamp: encodes of copy-cuts come back with irregular timestamps (B-frame
 * reordering in MKV's millisecond clock), and timestamp pairing then compares neighbouring frames. Measured on
 * Megamind.avi: SSIM-Y 0.9825 by timestamp, 0.9942 by index for the same files. Both sides hold the same frames.
 */
const INDEX_TIMESTAMPS = 'setpts=N/(25*TB)';

/**
 * What the reference gets before scoring: only the changes the plan intends (rotation when not automatic, crop, the
 * HDR→SDR tonemap), so the score measures coding loss, not the asked-for edits.
 */
function referenceFilters(video: VideoEncodeSpec, rotationDeg: 0 | 90 | 180 | 270): string[] {
  const f: string[] = [...rotationFilters(rotationDeg)];
  if (video.crop) f.push(`crop=${video.crop.width}:${video.crop.height}:${video.crop.x}:${video.crop.y}`);
  if (video.tonemap) f.push(...tonemapFilters(video.tonemap));
  f.push('format=yuv420p', 'setsar=1');
  return f;
}

/** The encode back on the source's geometry: scaled to the reference size, frame rate restored if the plan lowered it. */
function distortedFilters(
  video: VideoEncodeSpec,
  refWidth: number,
  refHeight: number,
  sourceFps: number,
): string[] {
  return [
    `scale=${refWidth}:${refHeight}:flags=bicubic`,
    'format=yuv420p',
    'setsar=1',
    ...(video.fps !== null ? [`fps=${fpsText(sourceFps)}`] : []),
  ];
}

/**
 * Score an encode against the source cuts at the source's geometry: the encode is scaled back to the reference
 * size (bicubic) and, if the plan lowered the frame rate, repeated back to the source rate, so judder counts too.
 * The reference gets only what the plan intends to change: rotation, crop and the HDR→SDR tonemap.
 */
export function metricArgs(args: {
  encoded: string;
  cuts: readonly string[];
  video: VideoEncodeSpec;
  source: VideoStreamInfo;
  /** Reference size: the source's displayed size, after the crop. */
  refWidth: number;
  refHeight: number;
}): string[] {
  const { video, source } = args;
  const ref = [...referenceFilters(video, source.rotationDeg), 'setpts=PTS-STARTPTS'].join(',');
  const n = args.cuts.length;
  const refs = args.cuts.map((_, i) => `[${i + 1}:v]${ref}[r${i}]`).join(';');
  const distorted = [
    ...distortedFilters(video, args.refWidth, args.refHeight, source.fps),
    INDEX_TIMESTAMPS,
  ].join(',');
  const graph = [
    refs,
    `${args.cuts.map((_, i) => `[r${i}]`).join('')}concat=n=${n}:v=1:a=0,${INDEX_TIMESTAMPS},split[ra][rb]`,
    `[0:v]${distorted},split[da][db]`,
    '[da][ra]ssim',
    '[db][rb]psnr',
  ].join(';');
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...hardenedInputArgs(),
    '-i',
    fileUrl(args.encoded),
    ...sampleInputs(args.cuts),
    '-filter_complex',
    graph,
    '-f',
    'null',
    '-',
  ];
}

/**
 * Score a finished output against the source on the given windows (source time), for the result's "quality
 * measured". Both sides seek accurately (decode-and-discard to the window) so frames align; the source keeps
 * ffmpeg's autorotate, like the real encode.
 */
/** Read past a window's end: covers the mid-frame seek snap and a few frames of decoder delay. */
const WINDOW_SLACK_SEC = 0.25;

export function outputMetricArgs(args: {
  output: string;
  source: string;
  windows: readonly SampleWindow[];
  trimStartSec: number;
  /** Shift of the output's seek point: found by `alignOutputOffset`, since containers disagree on start offsets. */
  outputOffsetSec: number;
  /** Frames compared per window (default: the window's length). */
  framesPerWindow?: number;
  /**
   * false: decode from the start and cut windows by frame index. For containers without per-packet timestamps (AVI,
   * MPEG-PS), where seeking is not frame-exact: Megamind.avi windows came out a frame apart after seeking.
   */
  seek: boolean;
  video: VideoEncodeSpec;
  sourceFps: number;
  refWidth: number;
  refHeight: number;
  /**
   * The encode's own raw intermediate (NUT, frames already cropped and tonemapped, timestamps from the trim start):
   * when the output keeps the reference's geometry and frame rate its frames are the reference, so the source is not
   * decoded and tonemapped a third time. Seek mode only.
   */
  prefilteredReference?: string;
}): string[] {
  const { video } = args;
  const pre = args.seek ? args.prefilteredReference : undefined;
  // The source is read with ffmpeg's autorotate here (no explicit rotation), like the real encode.
  const refChain = pre ? ['format=yuv420p', 'setsar=1'] : referenceFilters(video, 0);
  const distortedChain = distortedFilters(video, args.refWidth, args.refHeight, args.sourceFps);
  const n = args.windows.length;
  // Each window is cut to the same frame count on both sides, so the concatenations stay frame-aligned.
  const frames = args.windows.map(
    (w) => args.framesPerWindow ?? Math.max(1, Math.floor(w.durationSec * args.sourceFps) - 1),
  );
  const tail = [
    `${args.windows.map((_, i) => `[d${i}]`).join('')}concat=n=${n}:v=1:a=0,${INDEX_TIMESTAMPS},split[da][db]`,
    `${args.windows.map((_, i) => `[r${i}]`).join('')}concat=n=${n}:v=1:a=0,${INDEX_TIMESTAMPS},split[ra][rb]`,
    '[da][ra]ssim=shortest=1',
    '[db][rb]psnr=shortest=1',
  ];
  if (!args.seek) {
    const startFrame = (w: SampleWindow): number => Math.round(w.startSec * args.sourceFps);
    const outStart = (w: SampleWindow): number =>
      Math.round((w.startSec - args.trimStartSec) * args.sourceFps);
    const cut = (from: number, i: number): string =>
      `trim=start_frame=${from}:end_frame=${from + (frames[i] ?? 1)},${INDEX_TIMESTAMPS}`;
    const graph = [
      `[0:v]${[...distortedChain, 'setpts=N/(25*TB)'].join(',')},split=${n}${args.windows.map((_, i) => `[ds${i}]`).join('')}`,
      `[1:v]${[...refChain, 'setpts=N/(25*TB)'].join(',')},split=${n}${args.windows.map((_, i) => `[rs${i}]`).join('')}`,
      ...args.windows.map((w, i) => `[ds${i}]${cut(outStart(w), i)}[d${i}]`),
      ...args.windows.map((w, i) => `[rs${i}]${cut(startFrame(w), i)}[r${i}]`),
      ...tail,
    ].join(';');
    const input = (p: string): string[] => [...hardenedInputArgs(), '-i', fileUrl(p)];
    return [
      '-hide_banner',
      '-nostdin',
      '-y',
      ...input(args.output),
      ...input(args.source),
      '-filter_complex',
      graph,
      '-f',
      'null',
      '-',
    ];
  }
  const inputs: string[] = [];
  // Each input is read only a little past its window: with 1 s of slack the 1080p60 pan's HEVC source decoded twice
  // the frames the comparison uses, half of the verify stage's CPU (BENCHMARKS.md, "Verify cost").
  const readSec = (w: SampleWindow): string => seconds(w.durationSec + WINDOW_SLACK_SEC);
  // Seek to the middle of a frame interval: a seek point on a frame boundary lands on either neighbour depending on
  // rounding, which misaligned whole windows in our tests.
  const snap = (t: number): number => (Math.round(t * args.sourceFps) + 0.5) / args.sourceFps;
  for (const w of args.windows) {
    const at = seconds(Math.max(0, snap(w.startSec) - args.trimStartSec + args.outputOffsetSec));
    inputs.push(...hardenedInputArgs(), '-ss', at, '-t', readSec(w), '-i', fileUrl(args.output));
  }
  for (const w of args.windows) {
    if (pre) {
      const at = seconds(Math.max(0, snap(w.startSec) - args.trimStartSec));
      inputs.push(...intermediateInputArgs(), '-ss', at, '-t', readSec(w), '-i', fileUrl(pre));
      continue;
    }
    inputs.push(
      ...hardenedInputArgs(),
      '-ss',
      seconds(snap(w.startSec)),
      '-t',
      readSec(w),
      '-i',
      fileUrl(args.source),
    );
  }
  const cut = (i: number): string => `trim=end_frame=${frames[i] ?? 1},${INDEX_TIMESTAMPS}`;
  const graph = [
    ...args.windows.map((_, i) => `[${i}:v]${[...distortedChain, cut(i)].join(',')}[d${i}]`),
    ...args.windows.map((_, i) => `[${n + i}:v]${[...refChain, cut(i)].join(',')}[r${i}]`),
    ...tail,
  ].join(';');
  return ['-hide_banner', '-nostdin', '-y', ...inputs, '-filter_complex', graph, '-f', 'null', '-'];
}

/**
 * Quiet, and stop at the first decode error: exit code 0 can still hide a damaged file (ab-av1 `decode()`). The
 * decoded pictures are thrown away, so the deblocking filter is skipped: bitstream errors show up while parsing and
 * reconstructing, never in the loop filter, and it was a fifth of the check (vtest's 795 frames: 0.68 → 0.54 CPU-s).
 */
const DECODE_CHECK_HEAD = ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', '-skip_loop_filter', 'all'];

/** Full decode of a file, every stream. */
export function decodeCheckArgs(path: string): string[] {
  return [...DECODE_CHECK_HEAD, '-i', fileUrl(path), '-map', '0', '-f', 'null', '-'];
}

/**
 * The decode check of an encode in progress: the encoder's tee tap (MPEG-TS or NUT on a pipe: decodeTapFormat)
 * decoded as it arrives, with -xerror like the file check. The frame count (from -progress) is compared with the
 * finished file's.
 */
export function tapDecodeArgs(format: TapFormat): string[] {
  return [
    ...DECODE_CHECK_HEAD,
    '-protocol_whitelist',
    'pipe',
    '-format_whitelist',
    format,
    '-f',
    format,
    // One decoding thread: frames arrive at the encoder's pace, and frame threads only add overhead beside x264 on a
    // small machine.
    '-threads',
    '1',
    '-i',
    'pipe:0',
    '-map',
    '0',
    '-f',
    'null',
    '-progress',
    'pipe:1',
    '-nostats',
    '-',
  ];
}
