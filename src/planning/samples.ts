// Where to sample a video (pure). ab-av1 spaces samples evenly, excluding the edges (mission-anchors.md b1); its
// 20 s per 12 min is too coarse for phone clips of a minute, so we take 2 s windows, about one per 15 s of video.

export interface SampleWindow {
  startSec: number;
  durationSec: number;
}

export const SAMPLE_SEC = 2;

/**
 * Windows for a purpose: `quality` (the CRF search: 2 s windows, precision first), `ladder` (ranking rungs in the size
 * mode, where the time target is 1.25× a bare two-pass: ~9 % of the clip in total, see `ladderWindowSec`), and
 * `verify` (the delivered file's score: 1 s windows).
 */
export function sampleWindows(durationSec: number, offsetSec = 0, windowSec = SAMPLE_SEC): SampleWindow[] {
  // Short clips are measured whole: samples would cover most of them anyway (ab-av1 switches at 85 %).
  if (durationSec <= 3 * windowSec) return [{ startSec: offsetSec, durationSec }];
  const n = Math.min(8, Math.max(2, Math.round(durationSec / 15)));
  const gap = (durationSec - n * windowSec) / (n + 1);
  return Array.from({ length: n }, (_, i) => ({
    startSec: offsetSec + gap * (i + 1) + windowSec * i,
    durationSec: windowSec,
  }));
}

/**
 * Window length for ranking ladder rungs: ~9 % of the clip in total keeps sampling near a tenth of a medium two-pass,
 * but never under 1.5 s a window: with 0.45 s windows x264's one-pass rate-control warm-up favoured small pictures and
 * the pan picked 540p (SSIM 0.946 vs 0.976 at 1080p; BENCHMARKS.md).
 */
export function ladderWindowSec(durationSec: number): number {
  const n = Math.min(8, Math.max(2, Math.round(durationSec / 15)));
  return Math.min(SAMPLE_SEC, Math.max(1.5, (0.09 * durationSec) / n));
}
