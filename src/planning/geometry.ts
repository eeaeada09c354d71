// Output picture size (pure). "1080p" names the short side (PRODUCT.md); never upscale; even dimensions for 4:2:0.
import type { CropRect } from '../domain/encode-plan.js';
import type { Aspect } from '../domain/intent.js';

export interface Geometry {
  crop: CropRect | null;
  width: number;
  height: number;
}

const ASPECT_RATIO: Record<Aspect, number> = { '16:9': 16 / 9, '9:16': 9 / 16, '1:1': 1, '4:5': 4 / 5 };

/** Centered crop of the displayed picture to the asked aspect; null when it already has it (within 1 %). */
export function aspectCrop(displayW: number, displayH: number, aspect: Aspect | null): CropRect | null {
  if (!aspect) return null;
  const want = ASPECT_RATIO[aspect];
  const have = displayW / displayH;
  if (Math.abs(have / want - 1) < 0.01) return null;
  let w = displayW;
  let h = displayH;
  if (have > want) w = even(displayH * want);
  else h = even(displayW / want);
  return { width: w, height: h, x: even((displayW - w) / 2), y: even((displayH - h) / 2) };
}

/** Scale (w, h) so the short side is at most `maxShortSide`, keeping the aspect; even numbers; never upscale. */
export function fitShortSide(w: number, h: number, maxShortSide: number): { width: number; height: number } {
  const short = Math.min(w, h);
  const scale = short > maxShortSide ? maxShortSide / short : 1;
  return { width: Math.max(2, even(w * scale)), height: Math.max(2, even(h * scale)) };
}

export function outputGeometry(
  displayW: number,
  displayH: number,
  aspect: Aspect | null,
  maxShortSide: number,
): Geometry {
  const crop = aspectCrop(displayW, displayH, aspect);
  const w = crop ? crop.width : displayW;
  const h = crop ? crop.height : displayH;
  return { crop, ...fitShortSide(w, h, maxShortSide) };
}

/** Nearest even integer at or below x (x264 needs even sizes for 4:2:0). */
export function even(x: number): number {
  return Math.max(0, 2 * Math.floor(x / 2));
}
