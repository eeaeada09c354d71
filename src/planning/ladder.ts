// Budget-aware resolution/fps ladder (pure). It proposes rungs; which one wins is decided by measured SSIM on
// samples (src/pipeline/sampler.ts), not by this table alone (issue #2, PRODUCT.md promise 3).
import { fitShortSide } from './geometry.js';
import { bitsPerPixel } from './size-budget.js';

export interface Rung {
  width: number;
  height: number;
  /** null = keep the source timing. */
  fps: number | null;
  label: string;
}

/** Short sides the ladder steps through (HandBrake's Social presets use 1080/720/540/360). */
export const LADDER_SHORT_SIDES = [1080, 720, 540, 360] as const;

/**
 * Above this density the base rung is kept without sampling. Measured rung comparisons (SSIM at the source's
 * geometry, BENCHMARKS.md "Ladder calibration") kept the base at 0.029 bits/pixel (no-audio pan at 1 MB), 0.024 and
 * 0.0117 (the 1080p60 pan at 4 MB and 2 MB) and even 0.005 (the screen recording at 0.3 MB): no smaller picture won any of them.
 * Sampling costs about 14 s on the 10 s pan (0.6× a bare two-pass), so it only runs
 * below the lowest density where the base was seen to win.
 */
export const COMFORTABLE_BPP = 0.011;

export function rungLabel(w: number, h: number, fps: number): string {
  return `${Math.min(w, h)}p${Math.round(fps)}`;
}

/**
 * Candidate rungs for a video bitrate, base first. Empty when the base is comfortable (nothing to decide);
 * `fixedSize`/`fixedFps` mean the user named them, so the ladder keeps them.
 */
export function ladderCandidates(args: {
  baseWidth: number;
  baseHeight: number;
  /** The base output fps (after caps), and whether it is the source's own timing. */
  baseFps: number;
  baseFpsIsSource: boolean;
  videoKbps: number;
  fixedSize: boolean;
  fixedFps: boolean;
  maxCandidates: number;
}): Rung[] {
  const { baseWidth: bw, baseHeight: bh, baseFps } = args;
  const base: Rung = {
    width: bw,
    height: bh,
    fps: args.baseFpsIsSource ? null : baseFps,
    label: rungLabel(bw, bh, baseFps),
  };
  if (bitsPerPixel(args.videoKbps, bw, bh, baseFps) >= COMFORTABLE_BPP) return [];
  const fpsOptions = args.fixedFps || baseFps <= 31 ? [baseFps] : [baseFps, 30];
  const sizes = args.fixedSize
    ? [{ width: bw, height: bh }]
    : [
        { width: bw, height: bh },
        ...LADDER_SHORT_SIDES.filter((s) => s < Math.min(bw, bh)).map((s) => fitShortSide(bw, bh, s)),
      ];
  const all: (Rung & { bpp: number })[] = [];
  for (const size of sizes) {
    for (const fps of fpsOptions) {
      const isBase = size.width === bw && size.height === bh && fps === baseFps;
      const rung: Rung = isBase
        ? base
        : {
            ...size,
            fps: fps === baseFps && args.baseFpsIsSource ? null : fps,
            label: rungLabel(size.width, size.height, fps),
          };
      all.push({ ...rung, bpp: bitsPerPixel(args.videoKbps, size.width, size.height, fps) });
    }
  }
  // Rank the other rungs by closeness (in log space) to the density where x264 starts to look clean, and always
  // measure the base: bits per pixel alone misjudges content (a screen recording at 0.013 bits/pixel is sharp at its
  // own size, but a bpp floor had ruled the base out; BENCHMARKS.md).
  const sweet = 0.09;
  const others = all.filter((r) => !(r.width === bw && r.height === bh && r.fps === base.fps));
  others.sort((a, b) => Math.abs(Math.log(a.bpp / sweet)) - Math.abs(Math.log(b.bpp / sweet)));
  const picked = [{ ...base, bpp: 0 }, ...others.slice(0, Math.max(0, args.maxCandidates - 1))];
  return picked.map(({ bpp: _bpp, ...r }) => r);
}
