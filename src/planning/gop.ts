// GOP length (pure). x264 and x265 default to a keyframe every 250 frames, a number picked for 25 fps: at 60 fps that
// is a keyframe every 4.2 s, and on a short clip squeezed under a cap each one is a large share of the budget. The
// 10 s 1080p60 bench pan spent 42 % of its 4 MB on three keyframes, the 10 s 720p30 clip 30 % on two (the second
// 1.7 s before the end). HandBrake sets the GOP to 10 s of frames for the same reason (encx264.c: keyint_max =
// 10 × fps); 10 s also bounds how far a player decodes to seek. libvpx-vp9 (128 frames) and SVT-AV1 (~5 s) default
// shorter still: a 10 s 320×180 30 fps clip at the same CRF came out 7.7 % (VP9) and 1.9 % (AV1) smaller with one
// keyframe instead of three and two, at the same SSIM (BENCHMARKS.md, "Fifth session").

/** The longest GOP, in seconds of video (HandBrake's x264 default). */
const MAX_GOP_SEC = 10;

/** x264's and x265's built-in keyint, kept as the floor: a low frame rate never gets more keyframes than x264 gives. */
const MIN_KEYINT_FRAMES = 250;

/** Keyframe interval in frames for an output frame rate (ffmpeg's `-g`, which all four encoders honour). */
export function keyintFor(fps: number): number | null {
  if (!Number.isFinite(fps) || fps <= 0) return null;
  return Math.max(MIN_KEYINT_FRAMES, Math.round(MAX_GOP_SEC * fps));
}
