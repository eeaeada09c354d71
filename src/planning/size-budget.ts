// Size cap → video bitrate (pure). Promise 1 (PRODUCT.md): output ≤ cap every time, aiming at ≥ 97 % of it.

/**
 * MP4 index bytes: ftyp/moov headers, 4 B (stsz) + up to 8 B (ctts, B-frames) per video sample, 4 B per AAC sample,
 * and, when there is audio, one chunk per interleave step: as many chunks as the track with fewer samples, 4 B in
 * each track's stco, plus a 12 B stsc entry wherever the other track's samples per chunk change. With r samples of
 * one per sample of the other, the count alternates between ⌊r⌋ and ⌈r⌉, changing 2·min(frac r, 1 − frac r) times
 * per chunk. Measured on ffmpeg 5.1 output (moov box sizes) against this model: 12 s 720p30 screen recording + mono
 * AAC 14,248 B (15,136), 1080p60 pan 17,810 B (18,488), Megamind 8,583 B (9,804), vertical 10,113 B (10,800), vtest
 * without audio 9,890 B (11,588). The old 14 B/frame + 6 B/AAC frame said 10,196 for the screen recording, so its
 * landings sat at 99.7–100 % of the cap and one went over and cost a second pass 2.
 */
export function containerOverheadBytes(videoFrames: number, audioFrames: number): number {
  const samples = 2048 + Math.ceil(videoFrames * 12) + Math.ceil(audioFrames * 4);
  const fewer = Math.min(videoFrames, audioFrames);
  if (audioFrames <= 0 || fewer <= 0) return samples;
  const ratio = Math.max(videoFrames, audioFrames) / fewer;
  const frac = ratio - Math.floor(ratio);
  const stscEntries = Math.ceil(2 * Math.min(frac, 1 - frac) * fewer) + 2;
  return samples + fewer * 8 + stscEntries * 12;
}

/** AAC frames for a duration (1024 samples each). */
export function aacFrames(durationSec: number, sampleRateHz: number): number {
  return Math.ceil((durationSec * sampleRateHz) / 1024);
}

/**
 * Where inside the cap the encode aims, by clip length. On short clips x264's two-pass lands within about ±0.5 % of
 * its target even with the tight `ratetol` below (the 10 s pan: +0.5 % at 0.1), and an overshoot past the cap costs a
 * whole extra pass 2, so they aim at 99.3 %. Long clips give x264 time to correct: vtest (79.5 s) landed at 99.76 % of
 * its video target, and clips of 60–120 s at 97.3–99.9 % of their aim, never over (BENCHMARKS.md, "Seventh
 * session"). Aiming a long clip at 99.3 % left 0.7 % of the cap unspent (vtest: SSIM-Y 0.97724 at 298 kb/s, 0.97740
 * at 300 kb/s). So the aim rises with the clip, on the same 40–80 s ramp as the VBV buffer, to 99.8 %. A bigger miss
 * is corrected by the re-encode loop, never delivered.
 */
export function sizeAimFor(durationSec: number): number {
  return 0.993 + longClipShare(durationSec) * (0.998 - 0.993);
}

/**
 * How far a clip is along the short → long ramp that the aim and the VBV buffer share: 0 up to 40 s, 1 from 80 s.
 * Up to 40 s a clip needs the tight size control short clips get; from 80 s x264 lands near its target unaided.
 */
function longClipShare(durationSec: number): number {
  return Math.min(1, Math.max(0, (durationSec - 40) / 40));
}

/**
 * x264's two-pass rate tolerance (`ratetol`, default 1.0) for a clip length. x264 lets the running size drift by a
 * buffer of about 2·ratetol seconds of bitrate before pulling back, which on a 10 s clip is a fifth of the file: pass 2
 * of the 10 s 1080p60 pan landed 2.6 % over its target at 1.0, 1.3 % at 0.25, 0.5 % at 0.1 (BENCHMARKS.md), and every
 * overshoot past the cap costs a whole extra pass 2. Long clips keep x264's default (vtest, 79.5 s: 99.76 %).
 */
export function x264RateTolerance(durationSec: number): number {
  return Math.round(Math.min(1, Math.max(0.1, durationSec / 120)) * 100) / 100;
}

/** Video kbps for a byte budget already net of audio and overhead. */
export function videoKbpsFor(videoBytes: number, durationSec: number): number {
  return Math.floor((videoBytes * 8) / durationSec / 1000);
}

/**
 * VBV ceiling for two-pass ABR: peaks up to 2× the average, over a buffer of 4 s at the average rate on clips up to
 * 40 s, growing with the clip to 8 s at 80 s and beyond. Wider than ffmpeg4discord's 1.45×/2× (which costs quality on
 * bursty phone footage) and still bounded for streaming playback: a player fed at the peak rate waits bufsize/maxrate =
 * 2 s on clips up to 40 s, and beyond that at most 4 s and 5 % of the clip. Short clips keep 4 s because a wider buffer loosens x264's size
 * control under the tight `ratetol` they need (the 12 s screen recording landed over the cap with 8 s and cost a
 * second pass 2). On long clips it pays: vtest (79.5 s, 10 fps) at 4 s starved its keyframes (70 kB in a 149 kB
 * buffer; with 8 s they took 76 kB and gained 1–1.9 dB PSNR, the frames after them up to 0.9 dB), SSIM-Y +0.00017
 * (BENCHMARKS.md, "Seventh session").
 */
export function vbvFor(videoKbps: number, durationSec: number): { maxrateKbps: number; bufsizeKbps: number } {
  const bufferSec = 4 + 4 * longClipShare(durationSec);
  return { maxrateKbps: Math.round(videoKbps * 2), bufsizeKbps: Math.round(videoKbps * bufferSec) };
}

/** Bits per pixel per frame: the budget's density at a geometry (PeerTube uses 0.10 avg at 1080p). */
export function bitsPerPixel(videoKbps: number, width: number, height: number, fps: number): number {
  return (videoKbps * 1000) / (width * height * fps);
}

/**
 * The least bits a picture can take before it stops being watchable: x264 at 0.02 bits/pixel (PeerTube's floor) on
 * the smallest rung the ladder offers (360p30 for landscape, the short side 360 either way).
 */
export const MIN_BPP = 0.02;

/** Smallest video kbps we accept at a geometry (below this the cap is infeasible). */
export function minVideoKbps(width: number, height: number, fps: number): number {
  return Math.ceil((MIN_BPP * width * height * fps) / 1000);
}

/** Correct the video bitrate after an attempt: scale by how far the measured size missed the aim (ffmpeg4discord). */
export function correctedKbps(prevKbps: number, prevVideoBytes: number, wantVideoBytes: number): number {
  const ratio = wantVideoBytes / Math.max(1, prevVideoBytes);
  // Never step by more than ±30 % at once: a wild miss usually means a broken attempt, not a calibration error.
  return Math.max(1, Math.floor(prevKbps * Math.min(1.3, Math.max(0.7, ratio))));
}
