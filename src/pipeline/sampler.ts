// Sample measurements for the planner (issue #2 "measured quality on samples"): cut windows once, then encode and
// score them at candidate settings. The planner's pure functions decide; this file only measures.
import { stat } from 'node:fs/promises';
import { cutSamplesArgs, metricArgs, sampleEncodeArgs } from '../argv/sample-args.js';
import type { VideoEncodeSpec } from '../domain/encode-plan.js';
import type { MediaInfo } from '../domain/media-info.js';
import { runFfmpeg, runMetric } from '../media/ffmpeg.js';
import { REFERENCE_CRF, ssimToDb } from '../planning/quality.js';
import { sampleWindows, type SampleWindow } from '../planning/samples.js';
import type { Workspace } from './workspace.js';

export interface SampleSet {
  cuts: string[];
  windows: SampleWindow[];
  /** Seconds of video the cuts hold (frame-counted). */
  durationSec: number;
}

export interface SampleScore {
  ssim: number;
  ssimDb: number;
  psnrDb: number;
  /** Encoded bytes of all samples together. */
  bytes: number;
  encodeSec: number;
  frames: number;
}

export interface SamplerDeps {
  info: MediaInfo;
  ws: Workspace;
  signal?: AbortSignal | undefined;
  stallMs: number;
}

const SAMPLE_TIMEOUT_MS = 10 * 60_000;
let counter = 0;

export async function cutSamples(
  d: SamplerDeps,
  trimStartSec: number,
  durationSec: number,
  windowSec?: number,
): Promise<SampleSet> {
  const v = d.info.video;
  if (!v) throw new Error('no video');
  const windows = sampleWindows(durationSec, trimStartSec, windowSec);
  const plan = windows.map((window, i) => ({
    window,
    frames: Math.max(1, Math.round(window.durationSec * v.fps)),
    out: d.ws.file(`cut-${i}.mkv`),
  }));
  await runFfmpeg(cutSamplesArgs(d.info.path, v.index, plan), opts(d));
  const cuts = plan.map((c) => c.out);
  const frames = plan.reduce((n, c) => n + c.frames, 0);
  return { cuts, windows, durationSec: frames / v.fps };
}

/** Encode the samples with `video` (its rate control decides CRF or bitrate) and score them against the cuts. */
export async function scoreSamples(
  d: SamplerDeps,
  set: SampleSet,
  video: VideoEncodeSpec,
): Promise<SampleScore> {
  const v = d.info.video;
  if (!v) throw new Error('no video');
  const out = d.ws.file(`probe-${counter++}.mkv`);
  const t0 = performance.now();
  await runFfmpeg(sampleEncodeArgs(set.cuts, video, v.rotationDeg, out), opts(d));
  const encodeSec = (performance.now() - t0) / 1000;
  const bytes = (await stat(out)).size;
  const refWidth = video.crop?.width ?? v.displayWidth;
  const refHeight = video.crop?.height ?? v.displayHeight;
  const m = await runMetric(
    metricArgs({ encoded: out, cuts: set.cuts, video, source: v, refWidth, refHeight }),
    opts(d),
  );
  return { ssim: m.ssim, ssimDb: ssimToDb(m.ssim), psnrDb: m.psnrDb, bytes, encodeSec, frames: m.frames };
}

/** The near-transparent reference (x264 veryfast CRF 16 at the plan's geometry) the quality target is relative to. */
export function referenceSpec(video: VideoEncodeSpec): VideoEncodeSpec {
  return {
    ...video,
    codec: 'h264',
    encoder: 'libx264',
    preset: 'veryfast',
    rate: { kind: 'crf', crf: REFERENCE_CRF, maxrateKbps: null, bufsizeKbps: null },
  };
}

function opts(d: SamplerDeps): { signal?: AbortSignal | undefined; timeoutMs: number; stallMs: number } {
  return { signal: d.signal, timeoutMs: SAMPLE_TIMEOUT_MS, stallMs: d.stallMs };
}
