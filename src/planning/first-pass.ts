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
 * On long videos the window stops at 20–60 s: the decision needs the rate within a factor of ~2, and a stopped first
 * try of a 10-minute 1080p video would otherwise throw away minutes of work. Clips up to 200 s keep the fractions.
 */
const WINDOW_CAP_SEC = { start: 20, span: 40 } as const;

/** The output times, in seconds, between which the first pass's rate is read. */
export function rateWindowSec(durationSec: number): { from: number; to: number; minSpan: number } {
  const from = Math.min(RATE_WINDOW[0] * durationSec, WINDOW_CAP_SEC.start);
  const to = Math.min(RATE_WINDOW[1] * durationSec, from + WINDOW_CAP_SEC.span);
  // A span shorter than half the window says too little (the window's end is reached in one progress step on fast
  // encodes), so the meter waits for the next sample.
  return { from, to, minSpan: (to - from) / 2 };
}

/**
 * Rates (first pass bits / target) kept without a second try. A second try costs about half of pass 1: the first is
 * stopped once 30 % of the clip is out of x264's lookahead, and x264 and the decoder start up twice (vtest: 0.8–1.0 s
 * of a 1.7-s pass 1, which put it at 1.20–1.28× the peer's time over three bench runs). So it has to buy more than
 * it costs. Measured at CRF 22 by the engine: the phone-like clips ran at 0.57–0.85 (SSIM within 0.0003 of the best
 * first pass there), Megamind at 1.79, a heavy-noise stress clip at 1.97 and vtest at 2.36–2.45, all within 0.0001 of
 * the ABR first pass when kept (vtest gains 0.0002–0.0003 from a retry, not worth 10 % of its time). vtest's 15-s
 * cut (2.83), mandelbrot (4.1) and `life` (5.1) gained 0.0006–0.0009 from the second try.
 */
const KEEP: readonly [number, number] = [0.4, 2.6];

/**
 * CRF steps per halving of the rate when correcting: 5 fitted the clean and synthetic clips (every corrected try
 * landed at 0.80–1.00 of the target); noisy footage is steeper (the pan: 2.6), and it is noisy footage that runs
 * under the target at CRF 22, so lowering the CRF uses 3.
 */
const STEPS_PER_HALVING = { up: 5, down: 3 } as const;

/** The CRF to retry the first pass with, or null to keep the one that ran at `crf` with a measured rate `ratio`. */
export function retryFirstPassCrf(crf: number, ratio: number): number | null {
  if (!(ratio > 0) || !Number.isFinite(ratio)) return null;
  if (ratio >= KEEP[0] && ratio <= KEEP[1]) return null;
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
