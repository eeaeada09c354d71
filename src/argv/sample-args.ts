// Argv for samples (pure): lossless cuts (ab-av1's method: `-c:v copy`, always MKV, frame-counted), sample encodes,
// and the SSIM/PSNR graph that scores an encode at the source's geometry.
import type { VideoEncodeSpec } from '../domain/encode-plan.js';
import type { VideoStreamInfo } from '../domain/media-info.js';
import { fileUrl, hardenedInputArgs } from '../media/allowlists.js';
import { seconds, videoCodecArgs } from './encode-args.js';
import { fpsText, rotationFilters, tonemapFilters, videoFilterChain } from './filters.js';
import type { SampleWindow } from '../planning/samples.js';

/** Copy `frames` frames from the keyframe at or before `startSec` into an MKV (no decode, no quality loss). */
export function cutSampleArgs(inputPath: string, videoIndex: number, w: SampleWindow, frames: number, out: string): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...hardenedInputArgs(),
    '-ss',
    seconds(w.startSec),
    '-i',
    fileUrl(inputPath),
    '-map',
    `0:${videoIndex}`,
    '-c:v',
    'copy',
    '-frames:v',
    String(frames),
    '-an',
    '-sn',
    '-dn',
    // Some cuts start without usable timestamps (AVI, MPEG-PS); ab-av1 retries with +genpts, we always set it.
    '-fflags',
    '+genpts',
    '-f',
    'matroska',
    out,
  ];
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
  const refChain: string[] = [...rotationFilters(source.rotationDeg)];
  if (video.crop) refChain.push(`crop=${video.crop.width}:${video.crop.height}:${video.crop.x}:${video.crop.y}`);
  if (video.tonemap) refChain.push(...tonemapFilters(video.tonemap));
  refChain.push('format=yuv420p', 'setsar=1', 'setpts=PTS-STARTPTS');
  const ref = refChain.join(',');
  const n = args.cuts.length;
  const refs = args.cuts.map((_, i) => `[${i + 1}:v]${ref}[r${i}]`).join(';');
  const distorted = [
    `scale=${args.refWidth}:${args.refHeight}:flags=bicubic`,
    'format=yuv420p',
    'setsar=1',
    ...(video.fps !== null ? [`fps=${fpsText(source.fps)}`] : []),
    'setpts=PTS-STARTPTS',
  ].join(',');
  const graph = [
    refs,
    `${args.cuts.map((_, i) => `[r${i}]`).join('')}concat=n=${n}:v=1:a=0,split[ra][rb]`,
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
export function outputMetricArgs(args: {
  output: string;
  source: string;
  windows: readonly SampleWindow[];
  trimStartSec: number;
  video: VideoEncodeSpec;
  sourceFps: number;
  refWidth: number;
  refHeight: number;
}): string[] {
  const { video } = args;
  const refChain: string[] = [];
  if (video.crop) refChain.push(`crop=${video.crop.width}:${video.crop.height}:${video.crop.x}:${video.crop.y}`);
  if (video.tonemap) refChain.push(...tonemapFilters(video.tonemap));
  refChain.push('format=yuv420p', 'setsar=1', 'setpts=PTS-STARTPTS');
  const distortedChain = [
    `scale=${args.refWidth}:${args.refHeight}:flags=bicubic`,
    'format=yuv420p',
    'setsar=1',
    ...(video.fps !== null ? [`fps=${fpsText(args.sourceFps)}`] : []),
    'setpts=PTS-STARTPTS',
  ].join(',');
  const n = args.windows.length;
  const inputs: string[] = [];
  for (const w of args.windows) {
    const at = seconds(Math.max(0, w.startSec - args.trimStartSec));
    inputs.push(...hardenedInputArgs(), '-ss', at, '-t', seconds(w.durationSec), '-i', fileUrl(args.output));
  }
  for (const w of args.windows) {
    inputs.push(...hardenedInputArgs(), '-ss', seconds(w.startSec), '-t', seconds(w.durationSec), '-i', fileUrl(args.source));
  }
  const graph = [
    ...args.windows.map((_, i) => `[${i}:v]${distortedChain}[d${i}]`),
    ...args.windows.map((_, i) => `[${n + i}:v]${refChain.join(',')}[r${i}]`),
    `${args.windows.map((_, i) => `[d${i}]`).join('')}concat=n=${n}:v=1:a=0,split[da][db]`,
    `${args.windows.map((_, i) => `[r${i}]`).join('')}concat=n=${n}:v=1:a=0,split[ra][rb]`,
    '[da][ra]ssim=shortest=1',
    '[db][rb]psnr=shortest=1',
  ].join(';');
  return ['-hide_banner', '-nostdin', '-y', ...inputs, '-filter_complex', graph, '-f', 'null', '-'];
}

/** Full decode of an output with -xerror: exit code 0 can still hide a damaged file (ab-av1 `decode()`). */
export function decodeCheckArgs(path: string): string[] {
  return ['-hide_banner', '-nostdin', '-v', 'error', '-xerror', '-i', fileUrl(path), '-map', '0', '-f', 'null', '-'];
}
