// Follow-ups refine the last job (pure): "smaller", "better quality", "now 720p", "no sound" (issue #4).
import type { Intent } from '../domain/intent.js';
import { summarize } from '../instruction/summary.js';

/** Fields an instruction can set; a refinement keeps the previous value of every field it leaves null. */
const FIELDS = [
  'maxBytes',
  'maxBytesRatio',
  'platform',
  'quality',
  'maxShortSide',
  'fps',
  'videoCodec',
  'container',
  'audio',
  'trim',
  'aspect',
] as const satisfies readonly (keyof Intent)[];

/** "smaller" asks for a clearly smaller file: 70 % of what the last one weighed (ffmpeg4discord steps by ~30 %). */
export const SMALLER_FACTOR = 0.7;

export function hasFields(i: Intent): boolean {
  return FIELDS.some((k) => i[k] !== null);
}

/**
 * The intent of a refinement: the previous job's intent with the new fields on top, and "smaller"/"better" turned
 * into concrete numbers against the last result's size.
 */
export function refineIntent(prev: Intent, next: Intent, lastResultBytes: number | null): Intent {
  const merged: Intent = { ...prev, command: 'compress', adjust: null };
  for (const k of FIELDS) {
    if (next[k] !== null) (merged as Record<string, unknown>)[k] = next[k];
  }
  // A new size ask replaces the old one of the other kind ("under 8MB" after "for Discord").
  if (next.maxBytes !== null) {
    merged.platform = next.platform;
    merged.maxBytesRatio = null;
  } else if (next.platform !== null) {
    merged.maxBytes = null;
    merged.maxBytesRatio = null;
  }
  if (next.adjust === 'smaller' && lastResultBytes !== null) {
    const cap = Math.floor(lastResultBytes * SMALLER_FACTOR);
    merged.maxBytes = prev.maxBytes !== null ? Math.min(prev.maxBytes, cap) : cap;
    merged.maxBytesRatio = null;
    merged.platform = null;
    if (merged.quality === 'high') merged.quality = null;
  }
  if (next.adjust === 'better') {
    merged.quality = 'high';
    // A cap the user set stays (it is a promise); a size we derived from a ratio or "smaller" is dropped.
    merged.maxBytesRatio = null;
    if (prev.platform === null && next.maxBytes === null) merged.maxBytes = null;
  }
  merged.summary = summarize(merged);
  return merged;
}
