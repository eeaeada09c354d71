// Where to sample a video (pure). ab-av1 spaces samples evenly, excluding the edges (mission-anchors.md b1); its
// 20 s per 12 min is too coarse for phone clips of a minute, so we take 2 s windows, about one per 15 s of video.

export interface SampleWindow {
  startSec: number;
  durationSec: number;
}

export const SAMPLE_SEC = 2;

export function sampleWindows(durationSec: number, offsetSec = 0): SampleWindow[] {
  // Short clips are measured whole: samples would cover most of them anyway (ab-av1 switches at 85 %).
  if (durationSec <= 3 * SAMPLE_SEC) return [{ startSec: offsetSec, durationSec }];
  const n = Math.min(8, Math.max(2, Math.round(durationSec / 15)));
  const gap = (durationSec - n * SAMPLE_SEC) / (n + 1);
  return Array.from({ length: n }, (_, i) => ({
    startSec: offsetSec + gap * (i + 1) + SAMPLE_SEC * i,
    durationSec: SAMPLE_SEC,
  }));
}
