// Size cap → video bitrate (pure). Promise 1 (PRODUCT.md): output ≤ cap every time, aiming at ≥ 97 % of it.

/**
 * MP4 index bytes: x264 with B-frames writes stsz (4 B) + ctts (8 B) + stts run entries per video sample, plus
 * chunk offsets; AAC adds stsz per 1024-sample frame. Measured on ffmpeg 5.1 mp4 output: 11–14 B per video frame and
 * ~5 B per audio frame; 16 and 8 leave headroom. Plus ftyp/moov/mdat headers and the encoder's SEI (~1 kB).
 */
export function containerOverheadBytes(videoFrames: number, audioFrames: number): number {
  return 4096 + Math.ceil(videoFrames * 16) + Math.ceil(audioFrames * 8);
}

/** AAC frames for a duration (1024 samples each). */
export function aacFrames(durationSec: number, sampleRateHz: number): number {
  return Math.ceil((durationSec * sampleRateHz) / 1024);
}

/**
 * Where inside the cap the encode aims. x264's two-pass ABR lands within about ±1 % of the asked bitrate on clips of
 * a few hundred frames (our bench: BENCHMARKS.md); aiming at 98.5 % keeps the result inside [97 %, 100 %].
 */
export const SIZE_AIM = 0.985;

/** Video kbps for a byte budget already net of audio and overhead. */
export function videoKbpsFor(videoBytes: number, durationSec: number): number {
  return Math.floor((videoBytes * 8) / durationSec / 1000);
}

/**
 * VBV ceiling for two-pass ABR: peaks up to 2× the average, over a 4-second buffer at the average rate. Wider than
 * ffmpeg4discord's 1.45×/2× (which costs quality on bursty phone footage) and still bounded for streaming playback.
 */
export function vbvFor(videoKbps: number): { maxrateKbps: number; bufsizeKbps: number } {
  return { maxrateKbps: Math.round(videoKbps * 2), bufsizeKbps: Math.round(videoKbps * 4) };
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
