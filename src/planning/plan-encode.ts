// Intent × MediaInfo × config → a draft EncodePlan (pure; code-anchors.md §8.1). Decisions that need measurement
// (the CRF that "looks the same", which ladder rung wins) are returned as work for the pipeline's sampler, which feeds
// its measurements back through `finalize*` below; every decision adds a plain-words reason.
import type { EngineConfig } from '../config/engine.js';
import type {
  AudioSpec,
  EncodePlan,
  Estimate,
  QualityVerdict,
  VideoEncodeSpec,
} from '../domain/encode-plan.js';
import { AppError } from '../domain/errors.js';
import type { Container, Intent, Quality, VideoCodec } from '../domain/intent.js';
import type { MediaInfo, VideoStreamInfo } from '../domain/media-info.js';
import { formatBitrate, formatBytes, formatDuration } from '../domain/units.js';
import { planAudio, pickAudioStream } from './audio.js';
import { outputGeometry } from './geometry.js';
import { keyintFor } from './gop.js';
import { ladderCandidates, rungLabel, type Rung } from './ladder.js';
import { QUALITY_TARGETS, type QualityTarget } from './quality.js';
import {
  aacFrames,
  bitsPerPixel,
  containerOverheadBytes,
  MIN_BPP,
  minVideoKbps,
  sizeAimFor,
  vbvFor,
  videoKbpsFor,
} from './size-budget.js';

export type PlanWork =
  | { kind: 'none' }
  /** Search the CRF that meets `target`; `capBytes` (if any) decides whether the result can be delivered as is. */
  | { kind: 'crf-search'; target: QualityTarget; quality: Quality }
  /** Sample-encode these rungs at the size-mode bitrate and keep the one that measures best. */
  | { kind: 'ladder'; rungs: Rung[] };

export interface PlanDraft {
  plan: EncodePlan;
  work: PlanWork;
}

const ENCODERS: Record<
  VideoCodec,
  { encoder: VideoEncodeSpec['encoder']; preset: (cfg: EngineConfig) => string }
> = {
  h264: { encoder: 'libx264', preset: (cfg) => cfg.x264Preset },
  h265: { encoder: 'libx265', preset: (cfg) => cfg.x264Preset },
  // SVT-AV1 preset 8 and VP9 cpu-used 4 run at roughly x264-medium speed on 2 cores.
  av1: { encoder: 'libsvtav1', preset: () => '8' },
  vp9: { encoder: 'libvpx-vp9', preset: () => '4' },
};

const CONTAINER_CODECS: Record<Container, readonly VideoCodec[]> = {
  mp4: ['h264', 'h265', 'av1', 'vp9'],
  mov: ['h264', 'h265'],
  mkv: ['h264', 'h265', 'av1', 'vp9'],
  webm: ['vp9', 'av1'],
};

export function draftPlan(intent: Intent, info: MediaInfo, cfg: EngineConfig): PlanDraft {
  const v = info.video;
  if (!v) throw new AppError('INPUT_NO_VIDEO');
  const reasons: string[] = [];
  const warnings: string[] = [];

  // --- what to produce
  const container: Container = intent.container ?? (intent.videoCodec === 'vp9' ? 'webm' : 'mp4');
  const codec: VideoCodec = intent.videoCodec ?? (container === 'webm' ? 'vp9' : 'h264');
  if (!CONTAINER_CODECS[container].includes(codec)) {
    throw new AppError('FORMAT_MISMATCH', {
      reason: `${codec.toUpperCase()} cannot go in ${container.toUpperCase()}`,
    });
  }
  const trim = resolveTrim(intent, info);
  const outputDurationSec = trim ? (trim.endSec ?? info.durationSec) - trim.startSec : info.durationSec;
  const capBytes =
    intent.maxBytes ??
    (intent.maxBytesRatio === null ? null : Math.floor(intent.maxBytesRatio * info.sizeBytes));
  if (capBytes !== null && capBytes <= 0)
    throw new AppError('INSTRUCTION_INVALID', { reason: 'the size must be above 0' });

  // --- picture
  const sourceShort = Math.min(v.displayWidth, v.displayHeight);
  const maxShort = Math.min(intent.maxShortSide ?? cfg.defaultMaxShortSide, sourceShort);
  if (intent.maxShortSide !== null && intent.maxShortSide > sourceShort) {
    reasons.push(
      `Kept ${sourceShort}p: the video is smaller than ${intent.maxShortSide}p and I never upscale.`,
    );
  }
  const geo = outputGeometry(v.displayWidth, v.displayHeight, intent.aspect, maxShort);
  if (geo.crop) reasons.push(`Cropped to ${intent.aspect ?? ''} (centre).`);
  if (
    Math.min(geo.width, geo.height) <
    Math.min(geo.crop?.width ?? v.displayWidth, geo.crop?.height ?? v.displayHeight)
  ) {
    reasons.push(
      intent.maxShortSide === null
        ? `Scaled to ${Math.min(geo.width, geo.height)}p, the default for sharing.`
        : `Scaled to ${Math.min(geo.width, geo.height)}p, as asked.`,
    );
  }
  if (v.rotationDeg !== 0)
    reasons.push(`Rotation (${v.rotationDeg}°) applied, so it plays upright everywhere.`);
  const { fps, fpsReason } = chooseFps(intent, v, cfg);
  if (fpsReason) reasons.push(fpsReason);
  if (v.hdr)
    reasons.push(`HDR (${v.hdr.toUpperCase()}) converted to standard range so it doesn't look washed out.`);
  if (info.subtitles.length > 0) reasons.push('Subtitle tracks dropped (burned-in text stays).');
  if (info.audio.length > 1) reasons.push(`Kept the first of ${info.audio.length} audio tracks.`);

  const stream = pickAudioStream(info.audio);
  const removeAudio = intent.audio === 'remove';
  const totalKbps = capBytes === null ? null : (capBytes * 8) / outputDurationSec / 1000;
  const audio = planAudio(stream, removeAudio, container, totalKbps);
  if (audio.reason) reasons.push(audio.reason);

  const enc = ENCODERS[codec];
  const outFps = fps ?? v.fps;
  const video: VideoEncodeSpec = {
    mode: 'encode',
    codec,
    encoder: enc.encoder,
    preset: enc.preset(cfg),
    width: geo.width,
    height: geo.height,
    crop: geo.crop,
    fps,
    tonemap: v.hdr,
    pixFmt: 'yuv420p',
    rate: { kind: 'crf', crf: 23, maxrateKbps: null, bufsizeKbps: null },
    keyintFrames: keyintFor(outFps),
  };
  const plan: EncodePlan = {
    version: 1,
    goal: 'quality',
    inputPath: info.path,
    videoStreamIndex: v.index,
    container,
    trim,
    outputDurationSec,
    capBytes,
    targetBytes: null,
    video,
    audio: audio.spec,
    stripMetadata: cfg.stripMetadata,
    estimate: {
      sizeBytes: 0,
      encodeSec: 0,
      quality: { ssim: null, psnrDb: null, verdict: 'looks the same' },
    },
    reasons,
    warnings,
  };

  // --- the input may already be what was asked: copy the streams (promise 4)
  if (canRemux(plan, info, intent)) {
    if (capBytes !== null && info.sizeBytes <= capBytes) {
      return {
        plan: remuxPlan(
          plan,
          info,
          `It's already ${formatBytes(info.sizeBytes)}, under the cap: streams copied, no quality lost.`,
        ),
        work: { kind: 'none' },
      };
    }
    if (isFormatOnlyRequest(intent)) {
      return {
        plan: remuxPlan(
          plan,
          info,
          `Already ${codec.toUpperCase()}: repackaged as ${container.toUpperCase()} without re-encoding.`,
        ),
        work: { kind: 'none' },
      };
    }
  }

  // --- quality first: "without losing quality", no cap at all, or balanced/small without a cap
  const quality: Quality = intent.quality ?? 'high';
  if (capBytes === null || intent.quality === 'high') {
    plan.goal = 'quality';
    plan.estimate = estimateFor(plan, info, cfg, null);
    const q = QUALITY_TARGETS[quality];
    reasons.push(
      capBytes === null
        ? `Quality first: searching the smallest file that ${quality === 'high' ? 'looks the same' : quality === 'balanced' ? 'keeps a good balance' : 'is as small as still watchable'}, measured on samples.`
        : `Quality first, then the cap: if the file that looks the same fits under ${formatBytes(capBytes)}, you get it smaller than asked.`,
    );
    return { plan, work: { kind: 'crf-search', target: q, quality } };
  }

  // --- size cap: two-pass ABR inside the budget, ladder when the budget is thin for the picture
  plan.goal = 'size';
  const sized = applySizeBudget(plan, info, audio.spec, null);
  const fixedSize = intent.maxShortSide !== null;
  const fixedFps = intent.fps !== null;
  const minKbps = minVideoKbps(
    ...smallestRung(geo.width, geo.height, fixedSize),
    fixedFps ? outFps : Math.min(outFps, 30),
  );
  if (sized.videoKbps < minKbps) throw infeasible(capBytes, outputDurationSec, minKbps, audio.spec, info);
  const rungs = ladderCandidates({
    baseWidth: geo.width,
    baseHeight: geo.height,
    baseFps: outFps,
    baseFpsIsSource: fps === null,
    videoKbps: sized.videoKbps,
    fixedSize,
    fixedFps,
    maxCandidates: 3,
  });
  if (rungs.length === 1 && rungs[0]) applyRung(plan, rungs[0], sized.videoKbps);
  plan.estimate = estimateFor(plan, info, cfg, null);
  plan.estimate.quality = {
    ssim: null,
    psnrDb: null,
    verdict: verdictForBpp(bitsPerPixel(sized.videoKbps, geo.width, geo.height, outFps)),
  };
  if (rungs.length > 1) return { plan, work: { kind: 'ladder', rungs } };
  const bpp = bitsPerPixel(
    sized.videoKbps,
    plan.video.mode === 'encode' ? plan.video.width : geo.width,
    plan.video.mode === 'encode' ? plan.video.height : geo.height,
    plan.video.mode === 'encode' ? (plan.video.fps ?? v.fps) : outFps,
  );
  if (bpp < MIN_BPP * 2)
    warnings.push(
      `${formatBytes(capBytes)} is tight for ${formatDuration(outputDurationSec)}: expect visible loss.`,
    );
  return { plan, work: { kind: 'none' } };
}

/**
 * Before any sample is measured, a verdict from bits per pixel: PeerTube's 1080p average (0.10) looks clean with
 * x264; its floor (0.02) is where blocking is obvious. Replaced by a measured score whenever samples run.
 */
function verdictForBpp(bpp: number): QualityVerdict {
  return bpp >= 0.1
    ? 'looks the same'
    : bpp >= 0.05
      ? 'minor softening'
      : bpp >= 0.03
        ? 'visible loss'
        : 'heavy loss';
}

function smallestRung(w: number, h: number, fixed: boolean): [number, number] {
  if (fixed) return [w, h];
  const short = Math.min(w, h);
  if (short <= 360) return [w, h];
  const k = 360 / short;
  return [Math.round(w * k), Math.round(h * k)];
}

function infeasible(
  capBytes: number,
  durationSec: number,
  minKbps: number,
  audio: AudioSpec,
  info: MediaInfo,
): AppError {
  const audioKbps = audio.mode === 'none' ? 0 : 48;
  const minBytes =
    Math.ceil(((minKbps + audioKbps) * 1000 * durationSec) / 8 / sizeAimFor(durationSec)) +
    overheadFor(durationSec, info, audio);
  return new AppError('CAP_INFEASIBLE', {
    capBytes,
    minBytes,
    capText: formatBytes(capBytes),
    minText: formatBytes(Math.ceil(minBytes / 100_000) * 100_000),
    durationText: formatDuration(durationSec),
  });
}

function overheadFor(durationSec: number, info: MediaInfo, audio: AudioSpec): number {
  const fps = info.video?.fps ?? 30;
  const sr = audio.mode === 'encode' ? audio.sampleRateHz : 48000;
  return containerOverheadBytes(
    Math.ceil(durationSec * Math.min(fps, 60)),
    audio.mode === 'none' ? 0 : aacFrames(durationSec, sr),
  );
}

/**
 * The size-mode budget: cap minus container overhead minus audio, aimed at `sizeAimFor` its length. `audioBytes` is the
 * measured size of the pre-encoded audio when known (the pipeline encodes audio first), else the nominal bitrate.
 */
export function applySizeBudget(
  plan: EncodePlan,
  info: MediaInfo,
  audio: AudioSpec,
  audioBytes: number | null,
): { videoKbps: number; videoBytes: number } {
  if (plan.capBytes === null) throw new Error('applySizeBudget needs a cap');
  const dur = plan.outputDurationSec;
  const audioKbps =
    audio.mode === 'encode'
      ? audio.kbps
      : audio.mode === 'copy'
        ? sourceAudioKbps(info, audio.streamIndex)
        : 0;
  const audioEstimate = audioBytes ?? Math.ceil((audioKbps * 1000 * dur) / 8);
  const overhead = overheadFor(dur, info, audio);
  const target = Math.floor(plan.capBytes * sizeAimFor(dur));
  const videoBytes = target - overhead - audioEstimate;
  const videoKbps = Math.max(1, videoKbpsFor(videoBytes, dur));
  plan.targetBytes = target;
  if (plan.video.mode === 'encode') {
    plan.video.rate = { kind: 'abr2pass', videoKbps, ...vbvFor(videoKbps, dur) };
  }
  return { videoKbps, videoBytes };
}

function sourceAudioKbps(info: MediaInfo, streamIndex: number): number {
  const s = info.audio.find((a) => a.index === streamIndex);
  return s?.bitrateBps ? Math.ceil(s.bitrateBps / 1000) : 160;
}

/** Apply a chosen ladder rung to the plan (and explain it). */
export function applyRung(plan: EncodePlan, rung: Rung, videoKbps: number): void {
  if (plan.video.mode !== 'encode') return;
  const v = plan.video;
  const before = rungLabel(v.width, v.height, v.fps ?? 0);
  const changed = rung.width !== v.width || rung.height !== v.height || rung.fps !== v.fps;
  v.width = rung.width;
  v.height = rung.height;
  v.fps = rung.fps;
  // A rung that keeps the source's timing (fps null) keeps the GOP planned from the source's rate.
  if (rung.fps !== null) v.keyintFrames = keyintFor(rung.fps);
  if (changed) {
    plan.reasons.push(
      `${before.replace(/p0$/, 'p')} → ${rung.label}: at ${formatBitrate(videoKbps * 1000)} that measured sharpest on samples.`,
    );
  }
}

/** Estimate before encoding: size from the budget or samples, time from the host's measured x264 throughput. */
export function estimateFor(
  plan: EncodePlan,
  info: MediaInfo,
  cfg: EngineConfig,
  sizeBytes: number | null,
): Estimate {
  const v = plan.video;
  const fps = v.mode === 'encode' ? (v.fps ?? info.video?.fps ?? 30) : (info.video?.fps ?? 30);
  const pixels =
    v.mode === 'encode' ? v.width * v.height : (info.video?.width ?? 0) * (info.video?.height ?? 0);
  const mpix = (pixels * fps * plan.outputDurationSec) / 1e6;
  const speed = cfg.x264MpixPerSecPerCore * cfg.cores;
  // Two-pass: x264's fast first pass costs about 40 % of the second (measured on the bench corpus).
  const passes = v.mode === 'encode' && v.rate.kind === 'abr2pass' ? 1.4 : 1;
  const encodeSec = v.mode === 'copy' ? Math.max(1, info.sizeBytes / 200e6) : (mpix / speed) * passes;
  const size =
    sizeBytes ??
    plan.targetBytes ??
    (v.mode === 'copy'
      ? info.sizeBytes
      : Math.round((info.sizeBytes * plan.outputDurationSec) / info.durationSec));
  return { sizeBytes: size, encodeSec, quality: plan.estimate.quality };
}

function chooseFps(
  intent: Intent,
  v: VideoStreamInfo,
  cfg: EngineConfig,
): { fps: number | null; fpsReason: string | null } {
  if (intent.fps !== null && intent.fps < v.fps - 0.5) {
    return { fps: intent.fps, fpsReason: `${Math.round(v.fps)} → ${intent.fps} fps, as asked.` };
  }
  if (v.fps > cfg.maxFps + 0.5) {
    // 120/240 fps phone slow-motion plays back at normal speed in chat apps; 60 keeps motion smooth at half the bits.
    return {
      fps: cfg.maxFps,
      fpsReason: `${Math.round(v.fps)} → ${cfg.maxFps} fps: chat apps don't play more.`,
    };
  }
  return { fps: null, fpsReason: null };
}

function resolveTrim(intent: Intent, info: MediaInfo): EncodePlan['trim'] {
  const t = intent.trim;
  if (!t) return null;
  const end = t.endSec === null ? null : Math.min(t.endSec, info.durationSec);
  if (t.startSec >= info.durationSec || (end !== null && end <= t.startSec)) {
    throw new AppError('TRIM_OUT_OF_RANGE', {
      trimText: `${formatDuration(t.startSec)}–${t.endSec === null ? 'end' : formatDuration(t.endSec)}`,
      durationText: formatDuration(info.durationSec),
    });
  }
  if (t.startSec === 0 && (end === null || end >= info.durationSec - 0.05)) return null;
  return { startSec: t.startSec, endSec: end };
}

/** Stream copy is possible when nothing about the picture or the codec has to change. */
function canRemux(plan: EncodePlan, info: MediaInfo, intent: Intent): boolean {
  const v = info.video;
  if (!v || plan.video.mode !== 'encode') return false;
  const pv = plan.video;
  const sameCodec =
    (pv.codec === 'h264' && v.codec === 'h264') || (pv.codec === 'h265' && v.codec === 'hevc');
  const samePicture =
    pv.crop === null &&
    pv.fps === null &&
    !pv.tonemap &&
    pv.width === v.displayWidth &&
    pv.height === v.displayHeight;
  // The source audio must already suit the container; its bitrate is irrelevant when the whole file fits.
  const src = pickAudioStream(info.audio);
  const audioCodecs = plan.container === 'webm' ? ['opus', 'vorbis'] : ['aac', 'mp3'];
  const audioOk = intent.audio === 'remove' || src === null || audioCodecs.includes(src.codec);
  return sameCodec && samePicture && v.pixFmt === 'yuv420p' && plan.trim === null && audioOk;
}

function isFormatOnlyRequest(intent: Intent): boolean {
  return (
    intent.container !== null &&
    intent.maxBytes === null &&
    intent.maxBytesRatio === null &&
    intent.quality === null &&
    intent.maxShortSide === null &&
    intent.fps === null
  );
}

function remuxPlan(plan: EncodePlan, info: MediaInfo, reason: string): EncodePlan {
  const audio: AudioSpec =
    plan.audio.mode === 'none' ? plan.audio : { mode: 'copy', streamIndex: plan.audio.streamIndex };
  return {
    ...plan,
    goal: 'remux',
    video: { mode: 'copy' },
    audio,
    targetBytes: null,
    reasons: [reason],
    estimate: {
      sizeBytes: info.sizeBytes,
      encodeSec: Math.max(1, info.sizeBytes / 200e6),
      quality: { ssim: 1, psnrDb: null, verdict: 'identical' },
    },
  };
}
