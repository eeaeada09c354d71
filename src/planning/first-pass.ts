// The first pass of a two-pass x264 encode (pure). BENCHMARKS.md, "Sixth session", holds the measurements.
//
// x264's second pass plans every frame's size from the first pass's (QP, bits) per frame. A one-pass ABR first pass
// starts badly (the first keyframe is charged to the first second, the next frames run at QP 32 → 44 → 32), and
// under our VBV ceiling with a tight `ratetol` the second pass re-creates that start-up: the vertical test clip's
// first second came out at QP 31–41 instead of ~28 (SSIM-Y 0.97690 against 0.97761 from a constant-quality first
// pass). A CRF first pass has no start-up, but it has to run near the target's rate: far from it the plan
// extrapolates over too many QP steps (mandelbrot at 4× the rate: −0.0007) and the landing drifts (the screen
// recording at 0.76× the rate landed at 94.7 % of the cap).

/**
 * CRF of the first try. At CRF 22 the phone-like clips (camera pans with sensor noise, 720p–1080p, 30–60 fps, HDR
 * after tonemapping) ran at 0.57–0.85 of their targets and the screen recording and Megamind at 0.94–1.33, inside
 * the window below; short CCTV clips, mandelbrot and cellular automata are the ones that need a second try.
 */
export const FIRST_PASS_CRF = 22;

/** Part of the output, as fractions of its duration, whose rate predicts the whole: 0.70–1.14 of it on 12 clips. */
export const RATE_WINDOW: readonly [number, number] = [0.1, 0.3];

/**
 * Past 40 s the window starts 4 s in (the first keyframe is out of it) and spans a tenth of the clip, 8–40 s of
 * video. Every second before its end is first-pass work that a retry throws away, and the decision needs the rate
 * only within a factor of ~1.25: vtest (79.5 s CCTV, 2.46× its target over the whole clip at CRF 22) read 2.12× over
 * 4–12 s and 2.19× over the old 8–24 s window, both of which retry it at CRF 27.5. Clips up to 40 s keep the fractions
 * (the two rules meet at 40 s: 4–12 s).
 */
const LONG_WINDOW = { fromSec: 4, minSpanSec: 8, maxSpanSec: 40, spanOfClip: 0.1 } as const;

/** The output times, in seconds, between which the first pass's rate is read. */
export function rateWindowSec(durationSec: number): { from: number; to: number; minSpan: number } {
  const w = LONG_WINDOW;
  const from = Math.min(RATE_WINDOW[0] * durationSec, w.fromSec);
  const span = Math.min(
    (RATE_WINDOW[1] - RATE_WINDOW[0]) * durationSec,
    Math.min(w.maxSpanSec, Math.max(w.minSpanSec, w.spanOfClip * durationSec)),
  );
  // A span shorter than half the window says too little (the window's end is reached in one progress step on fast
  // encodes), so the meter waits for the next sample.
  return { from, to: from + span, minSpan: span / 2 };
}

/**
 * Rates (first pass bits / target) kept without a second try, by how much of the clip the stopped try has encoded.
 * A second try throws that part away, and x264 and the decoder start up twice. Where the window ends at 30 % (clips
 * up to 40 s) that is about half of pass 1 (vtest's old 8–24 s window: 0.8–1.0 s of a 1.7-s pass 1, 1.20–1.28× the
 * peer's time over three bench runs), so only a rate far off pays: [0.4, 2.6]. Measured at CRF 22 by the engine: the
 * phone-like clips ran at 0.57–0.85 (SSIM within 0.0003 of the best first pass there), Megamind at 1.79 and a
 * heavy-noise stress clip at 1.97 (1.16× → 1.38× the peer's time when retried), both within 0.0001 of the ABR first
 * pass when kept; vtest's 15-s cut (2.83), mandelbrot (4.1) and `life` (5.1) gained 0.0006–0.0009 from the second
 * try. Where the window ends at 20 % of the clip or sooner (clips from about 60 s), the upper bound is 2.0: vtest
 * (CRF 22 at 2.1–2.5× its target) gains SSIM-Y 0.00043 from stats at CRF 27.5 (0.97724 → 0.97767 at 300 kb/s); its
 * stopped try takes 0.8 s, but the CRF 27.5 pass runs 1.9 s against 2.5 s at CRF 22, so ~0.3 s net of an 8.5 s job
 * (BENCHMARKS.md, "Eighth session").
 */
const KEEP_LOW = 0.4;
const KEEP_HIGH = { at30: 2.6, at20: 2.0 } as const;

/** The highest rate kept for a clip, from where its window ends (see KEEP_HIGH). */
export function keepHigh(durationSec: number): number {
  const f = durationSec > 0 ? rateWindowSec(durationSec).to / durationSec : RATE_WINDOW[1];
  const t = Math.min(1, Math.max(0, (f - 0.2) / (RATE_WINDOW[1] - 0.2)));
  return KEEP_HIGH.at20 + t * (KEEP_HIGH.at30 - KEEP_HIGH.at20);
}

/**
 * CRF steps per halving of the rate when correcting: 5 fitted the clean and synthetic clips (every corrected try
 * landed at 0.80–1.00 of the target); noisy footage is steeper (the pan: 2.6), and it is noisy footage that runs
 * under the target at CRF 22, so lowering the CRF uses 3.
 */
const STEPS_PER_HALVING = { up: 5, down: 3 } as const;

/**
 * The CRF to retry the first pass of a `durationSec` clip with, or null to keep the one that ran at `crf` with a
 * measured rate `ratio`.
 */
export function retryFirstPassCrf(crf: number, ratio: number, durationSec: number): number | null {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return null;
  if (ratio >= KEEP_LOW && ratio <= keepHigh(durationSec)) return null;
  const steps = ratio > 1 ? STEPS_PER_HALVING.up : STEPS_PER_HALVING.down;
  const next = Math.round((crf + steps * Math.log2(ratio)) * 2) / 2;
  // x264's useful range for a first pass: below 12 every frame is near-lossless, above 40 the picture is gone.
  return Math.min(40, Math.max(12, next));
}

/** Watches a first pass's progress and measures its rate over RATE_WINDOW of the output (pure, fed samples). */
export class FirstPassRate {
  private start: { t: number; bytes: number } | null = null;
  private ratio: number | null = null;

  constructor(
    private readonly durationSec: number,
    private readonly targetKbps: number,
  ) {}

  /** Feed ffmpeg's output time and bytes written; returns the rate ratio once it is known (and then keeps it). */
  push(outTimeSec: number | null, bytes: number | null): number | null {
    if (this.ratio !== null || outTimeSec === null || bytes === null || bytes <= 0) return this.ratio;
    const { from, to, minSpan } = rateWindowSec(this.durationSec);
    if (this.start === null) {
      if (outTimeSec >= from) this.start = { t: outTimeSec, bytes };
      return null;
    }
    if (outTimeSec < to || outTimeSec - this.start.t < minSpan) return null;
    const kbps = ((bytes - this.start.bytes) * 8) / (outTimeSec - this.start.t) / 1000;
    this.ratio = kbps / this.targetKbps;
    return this.ratio;
  }

  /**
   * The pass ended before the window was read (a small clip encodes in a few progress steps): the whole pass's rate,
   * first keyframe included, is what there is. Running such a pass again costs little.
   */
  finish(outTimeSec: number | null, bytes: number | null): number | null {
    if (this.ratio !== null) return this.ratio;
    if (outTimeSec === null || bytes === null || !(outTimeSec > 0) || !(bytes > 0)) return null;
    this.ratio = (bytes * 8) / outTimeSec / 1000 / this.targetKbps;
    return this.ratio;
  }
}
