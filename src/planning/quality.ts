// What "looks the same" means without VMAF (issue #2; calibration in BENCHMARKS.md "Quality target").
//
// SSIM alone depends on content: noisy footage scores low even when transparent, clean screen captures score high
// even when text has gone soft. So the target has two parts, both measured on samples at the source's geometry:
//  1. relative: the encode loses at most `maxLossDb` of SSIM-Y (in dB, −10·log10(1−SSIM)) against a near-transparent
//     reference encode of the same samples (x264 veryfast CRF 16). This catches softening on clean content.
//  2. absolute: SSIM-Y stays ≥ `floorDb` (capped at reference − `floorHeadroomDb` for footage so noisy that even the
//     reference is near the floor). This keeps texture and grain on noisy camera footage, where relative loss alone
//     would let the encoder smear noise into a plastic look.
// Calibration (x264 medium, Debian ffmpeg 5.1): VMAF 95 falls at CRF ≈ 26 on a 720p screen recording, ≈ 27 on
// 768×576 CCTV and ≈ 24.5 on a noisy 1080p60 camera pan (issue #2). Our measured SSIM-Y there: screen 25.4 dB vs ref
// 30.4 (loss 5.0), CCTV 16.9 vs 21.9 (loss 5.0), pan 15.3 vs 17.5 (loss 2.2, floor-bound). Both rules reproduce
// all three points.
import type { QualityVerdict } from '../domain/encode-plan.js';
import type { Quality } from '../domain/intent.js';

export interface QualityTarget {
  maxLossDb: number;
  floorDb: number;
  floorHeadroomDb: number;
}

export const QUALITY_TARGETS: Record<Quality, QualityTarget> = {
  high: { maxLossDb: 5.0, floorDb: 15.4, floorHeadroomDb: 2.0 },
  // About 1.5 CRF steps (≈ 0.6–0.7 dB SSIM-Y each) below "looks the same": softer, ~20 % smaller.
  balanced: { maxLossDb: 6.0, floorDb: 14.6, floorHeadroomDb: 2.8 },
  small: { maxLossDb: 7.5, floorDb: 13.4, floorHeadroomDb: 4.0 },
};

/** The near-transparent reference: x264 veryfast at this CRF. */
export const REFERENCE_CRF = 16;

export function ssimToDb(ssim: number): number {
  return ssim >= 1 ? 60 : -10 * Math.log10(1 - ssim);
}

/** The SSIM-Y dB an encode must reach on this content, given the reference's score. */
export function requiredDb(target: QualityTarget, refDb: number): number {
  const relative = refDb - target.maxLossDb;
  const floor = Math.min(target.floorDb, refDb - target.floorHeadroomDb);
  return Math.max(relative, floor);
}

/** Plain-words verdict for a measured score (chat captions, plan estimates). */
export function verdictFor(ssimDb: number, refDb: number | null): QualityVerdict {
  if (refDb === null) {
    return ssimDb >= 20
      ? 'looks the same'
      : ssimDb >= 15
        ? 'minor softening'
        : ssimDb >= 12
          ? 'visible loss'
          : 'heavy loss';
  }
  const margin = ssimDb - requiredDb(QUALITY_TARGETS.high, refDb);
  if (ssimDb >= refDb - 0.5) return 'identical';
  if (margin >= -0.15) return 'looks the same';
  if (margin >= -1.5) return 'minor softening';
  if (margin >= -4) return 'visible loss';
  return 'heavy loss';
}

export interface CrfProbe {
  crf: number;
  ssimDb: number;
  bytes: number;
}

/** CRF range searched for x264/x265 (ab-av1 searches 10–46; VMAF-95 points sit at 24–27, so 16–32 is ample). */
export const CRF_MIN = 16;
export const CRF_MAX = 32;
/** A probe this close above the requirement is accepted (ab-av1's tolerance idea, in SSIM dB). */
export const ACCEPT_MARGIN_DB = 0.3;

/**
 * Next CRF to probe, or null when done (ab-av1 crf-search: interpolate between bracketing probes). Returns the best
 * known good CRF through `best`.
 */
export function nextCrf(
  probes: readonly CrfProbe[],
  required: number,
  maxProbes: number,
): { next: number | null; best: CrfProbe | null } {
  const good = probes.filter((p) => p.ssimDb >= required).sort((a, b) => b.crf - a.crf);
  const bad = probes.filter((p) => p.ssimDb < required).sort((a, b) => a.crf - b.crf);
  const best = good[0] ?? null;
  if (best && best.ssimDb - required <= ACCEPT_MARGIN_DB) return { next: null, best };
  if (probes.length >= maxProbes) return { next: null, best };
  const lo = best; // highest passing CRF
  const hi = bad[0] ?? null; // lowest failing CRF
  let next: number;
  if (lo && hi) {
    // Linear interpolation of CRF by score between the bracket (ab-av1 vmaf_lerp_q), aiming just above the line.
    const t = (lo.ssimDb - (required + ACCEPT_MARGIN_DB / 2)) / Math.max(1e-6, lo.ssimDb - hi.ssimDb);
    next = lo.crf + Math.min(0.9, Math.max(0.1, t)) * (hi.crf - lo.crf);
  } else if (lo) {
    // Everything passes: step up by the expected slope (~0.6 dB per CRF step in our sweeps).
    next = lo.crf + Math.max(1, (lo.ssimDb - required) / 0.6);
  } else if (hi) {
    next = hi.crf - Math.max(1, (required - hi.ssimDb) / 0.6);
  } else {
    return { next: 25, best: null };
  }
  next = Math.round(Math.min(CRF_MAX, Math.max(CRF_MIN, next)) * 10) / 10;
  if (probes.some((p) => Math.abs(p.crf - next) < 0.25)) return { next: null, best };
  return { next, best };
}

/** Starting CRF: the middle of where VMAF 95 fell in calibration. */
export const FIRST_CRF = 25.5;
