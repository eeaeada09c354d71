// GOP length (pure). x264 and x265 default to a keyframe every 250 frames, a number picked for 25 fps: at 60 fps that
// is a keyframe every 4.2 s, and on a short clip squeezed under a cap each one is a large share of the budget. The
// 10 s 1080p60 bench pan spent 42 % of its 4 MB on three keyframes, the 10 s 720p30 clip 30 % on two (the second
// 1.7 s before the end). HandBrake sets the GOP to 10 s of frames for the same reason (encx264.c: keyint_max =
// 10 × fps); 10 s also bounds how far a player decodes to seek.

import type { VideoEncodeSpec } from '../domain/encode-plan.js';

/** The longest GOP, in seconds of video (HandBrake's x264 default). */
export const MAX_GOP_SEC = 10;

/** x264's and x265's built-in keyint: kept as the floor, so a low frame rate never gets more keyframes than before. */
const ENCODER_DEFAULT_KEYINT = 250;

/**
 * Keyframe interval in frames for an output frame rate, or null for the encoder's own default. Only the x264/x265
 * default is frame-count based; SVT-AV1 and libvpx-vp9 keep their defaults, which they choose themselves.
 */
export function keyintFor(encoder: VideoEncodeSpec['encoder'], fps: number): number | null {
  if (encoder !== 'libx264' && encoder !== 'libx265') return null;
  if (!Number.isFinite(fps) || fps <= 0) return null;
  return Math.max(ENCODER_DEFAULT_KEYINT, Math.round(MAX_GOP_SEC * fps));
}
