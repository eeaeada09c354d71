// EncodePlan: pure, JSON-safe data (code-anchors.md rule 4). The argv builder turns it into ffmpeg commands; the
// chat and the CLI show its `reasons` as the explanation of every choice.
import type { Container, Trim, VideoCodec } from './intent.js';

export type RateControl =
  /** Constant quality; the optional VBV ceiling keeps peaks playable. */
  | { kind: 'crf'; crf: number; maxrateKbps: number | null; bufsizeKbps: number | null }
  /** Two-pass average bitrate with a VBV ceiling: the size-cap mode. */
  | { kind: 'abr2pass'; videoKbps: number; maxrateKbps: number; bufsizeKbps: number };

export interface CropRect {
  width: number;
  height: number;
  x: number;
  y: number;
}

export interface VideoEncodeSpec {
  mode: 'encode';
  codec: VideoCodec;
  encoder: 'libx264' | 'libx265' | 'libsvtav1' | 'libvpx-vp9';
  /** x264/x265 preset name, SVT-AV1 preset number, or VP9 cpu-used, as the encoder expects it. */
  preset: string;
  /** Output size as displayed (rotation already applied), even numbers. */
  width: number;
  height: number;
  /** Crop in displayed (post-rotation) source pixels, applied before scaling; null = none. */
  crop: CropRect | null;
  /** Output frame rate; null keeps the source timing untouched (VFR passthrough, no duplicated frames). */
  fps: number | null;
  /** Tonemap HDR to BT.709 SDR (8-bit H.264 cannot carry HLG/PQ). */
  tonemap: 'hlg' | 'pq' | null;
  pixFmt: 'yuv420p';
  rate: RateControl;
  /** GOP length in frames; null = encoder default. */
  keyintFrames: number | null;
}

export type VideoSpec = { mode: 'copy' } | VideoEncodeSpec;

export type AudioSpec =
  | { mode: 'none' }
  | { mode: 'copy'; streamIndex: number }
  | {
      mode: 'encode';
      streamIndex: number;
      codec: 'aac' | 'opus';
      kbps: number;
      channels: 1 | 2;
      sampleRateHz: number;
    };

/** How the plan chose what it chose; each value is shown to the user as one line. */
export type Goal = 'size' | 'quality' | 'default' | 'remux';

export interface QualityEstimate {
  /** Mean SSIM (luma) at the source's geometry, on samples. */
  ssim: number | null;
  /** Mean PSNR (luma) in dB at the source's geometry, on samples. */
  psnrDb: number | null;
  /** The calibrated verdict ("looks the same", …); see src/planning/quality.ts for how it is derived. */
  verdict: QualityVerdict;
}

/** 'not measured': a file made elsewhere (the NemoVideo cloud) and only checked for size, duration and decoding. */
export type QualityVerdict =
  'identical' | 'looks the same' | 'minor softening' | 'visible loss' | 'heavy loss' | 'not measured';

export interface Estimate {
  sizeBytes: number;
  encodeSec: number;
  quality: QualityEstimate;
}

export interface EncodePlan {
  version: 1;
  goal: Goal;
  inputPath: string;
  /** ffprobe index of the video stream to use (cover art and extra angles are skipped); null = first video stream. */
  videoStreamIndex: number | null;
  container: Container;
  trim: Trim | null;
  /** Duration the output must have (the verify step checks it within 1 % or 0.2 s). */
  outputDurationSec: number;
  /** The hard cap in bytes (promise: output ≤ cap), or null. */
  capBytes: number | null;
  /** Bytes the size-mode encode aims for (inside the cap, after overhead). */
  targetBytes: number | null;
  video: VideoSpec;
  audio: AudioSpec;
  /** Keep the source's metadata (creation time, location) or strip it. */
  stripMetadata: boolean;
  estimate: Estimate;
  /** One line per decision, in plain words ("1080p60 → 720p30: 0.03 bits/pixel at 1080p would block up"). */
  reasons: string[];
  /** Things the user should know before minutes are spent (e.g. "this cap forces visible loss"). */
  warnings: string[];
}
