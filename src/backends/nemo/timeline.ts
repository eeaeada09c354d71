// Pure reading of `state.draft` (chatbot-anchors.md §4.5; seed "Draft JSON uses short keys"): `t` tracks, `tt` track
// type (0 video, 1 audio/BGM, 7 text/title), `sg` segments, `d` duration in ms, `m` metadata. Segment fields are
// documented nowhere, so names, times and volume are looked up under several plausible keys and anything unknown is
// ignored. Three uses: the seed's one-line summary ("preview in timeline" → show it), a "what changed" diff for the
// ~30 % of edits that end with no text (§4.4), and the "exportable" test (≥ 1 track with a non-empty `sg`).
import type { Draft } from './types.js';
import { isObject, num } from './values.js';

function firstNum(obj: Record<string, unknown>, keys: readonly string[]): number | null {
  for (const k of keys) {
    const v = num(obj[k]);
    if (v !== null) return v;
  }
  return null;
}

function firstText(obj: Record<string, unknown>, keys: readonly string[]): string | null {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' && v.trim() !== '') return v;
  }
  return null;
}

export interface TrackView {
  /** 1-based, as shown. */
  index: number;
  type: number | null;
  label: string;
  name: string | null;
  segments: number;
  startMs: number | null;
  endMs: number | null;
  /** Percent (0–100) when the track or its first segment carries a volume. */
  volumePct: number | null;
}

const TRACK_LABELS: Readonly<Record<number, string>> = { 0: 'Video', 1: 'BGM', 7: 'Title' };
const TEXT_KEYS = ['tx', 'text', 'txt', 'content', 'title', 'n', 'name', 'label'];
const NAME_KEYS = ['n', 'name', 'title', 'label', 'fn', 'filename', 'file_name'];
const SRC_KEYS = ['src', 'url', 'u', 'path', 'cdn_url', 'source'];
const START_KEYS = ['s', 'st', 'start', 'startMs', 'start_ms', 'from'];
const END_KEYS = ['e', 'et', 'end', 'endMs', 'end_ms', 'to'];
const DUR_KEYS = ['d', 'dur', 'duration'];
const VOLUME_KEYS = ['v', 'vol', 'volume'];

function basenameOf(src: string): string | null {
  // Only web URLs are unwrapped; other schemes ("bgm:lofi") name a library item and are shown as they are.
  let path = src;
  if (/^https?:\/\//iu.test(src)) {
    try {
      path = new URL(src).pathname;
    } catch {
      // A malformed URL is shown by its last path-like part all the same.
    }
  }
  const last = path
    .split('/')
    .filter((p) => p !== '')
    .pop();
  if (last === undefined) return null;
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

function segmentName(seg: Record<string, unknown>, isText: boolean): string | null {
  const meta = isObject(seg.m) ? seg.m : {};
  const direct = isText
    ? (firstText(seg, TEXT_KEYS) ?? firstText(meta, TEXT_KEYS))
    : (firstText(seg, NAME_KEYS) ?? firstText(meta, NAME_KEYS));
  if (direct !== null) return direct;
  const src = firstText(seg, SRC_KEYS) ?? firstText(meta, SRC_KEYS);
  return src === null ? null : basenameOf(src);
}

function volumePct(obj: Record<string, unknown>): number | null {
  const v = firstNum(obj, VOLUME_KEYS);
  if (v === null) return null;
  return Math.round(v <= 1 ? v * 100 : v);
}

function tracksOf(draft: unknown): unknown[] {
  return isObject(draft) && Array.isArray(draft.t) ? draft.t : [];
}

/** The draft's tracks in display form; unknown shapes degrade to "Track" with no name or range. */
export function describeTracks(draft: unknown): TrackView[] {
  return tracksOf(draft).map((raw, i): TrackView => {
    const track = isObject(raw) ? raw : {};
    const type = num(track.tt);
    const label = type === null ? 'Track' : (TRACK_LABELS[type] ?? `Track (type ${type})`);
    const segs = (Array.isArray(track.sg) ? track.sg : []).filter(isObject);
    let startMs: number | null = null;
    let endMs: number | null = null;
    for (const seg of segs) {
      const s = firstNum(seg, START_KEYS);
      const d = firstNum(seg, DUR_KEYS);
      const e = firstNum(seg, END_KEYS) ?? (d !== null ? (s ?? 0) + d : null);
      const start = s ?? (e !== null ? 0 : null);
      if (start !== null) startMs = startMs === null ? start : Math.min(startMs, start);
      if (e !== null) endMs = endMs === null ? e : Math.max(endMs, e);
    }
    const first = segs[0];
    return {
      index: i + 1,
      type,
      label,
      name: first === undefined ? null : segmentName(first, type === 7),
      segments: segs.length,
      startMs,
      endMs,
      volumePct: volumePct(track) ?? (first === undefined ? null : volumePct(first)),
    };
  });
}

/** Milliseconds as the seed writes them: "10s", "3.5s" without the unit here. */
function sec(ms: number): string {
  const v = Math.round(ms / 100) / 10;
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function shortName(name: string): string {
  const flat = name.replace(/\s+/gu, ' ').trim();
  return flat.length > 40 ? `${flat.slice(0, 39)}…` : flat;
}

function range(t: TrackView): string | null {
  if (t.startMs === null && t.endMs === null) return null;
  return `${sec(t.startMs ?? 0)}-${t.endMs === null ? '?' : sec(t.endMs)}s`;
}

function trackLine(t: TrackView): string {
  const name = t.name === null ? '' : t.type === 7 ? `"${shortName(t.name)}"` : shortName(t.name);
  if (t.segments === 0) return `${t.index}. ${t.label}: empty`;
  const details: string[] = [];
  if (t.segments > 1) details.push(`${t.segments} clips`);
  const r = range(t);
  if (r !== null) details.push(r);
  if (t.volumePct !== null && t.type !== 0 && t.type !== 7) details.push(`${t.volumePct}%`);
  const head = name === '' ? `${t.index}. ${t.label}` : `${t.index}. ${t.label}: ${name}`;
  return details.length === 0 ? head : `${head} (${details.join(', ')})`;
}

/** `Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) 3. Title: "Urban Dreams" (0-3s)`. */
export function timelineSummary(draft: unknown): string {
  const tracks = describeTracks(draft);
  if (tracks.length === 0) return 'Timeline is empty: nothing has been added yet.';
  const n = tracks.length;
  return `Timeline (${n} ${n === 1 ? 'track' : 'tracks'}): ${tracks.map(trackLine).join(' ')}`;
}

/** Exportable when `draft.t` has at least one track with a non-empty `sg` (§4.5). */
export function isExportable(draft: unknown): boolean {
  return tracksOf(draft).some((t) => isObject(t) && Array.isArray(t.sg) && t.sg.length > 0);
}

/** JSON with sorted keys, so two drafts that differ only in key order compare equal. */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function shown(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'string') return shortName(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const json = stable(v);
  return json.length > 40 ? 'changed' : json;
}

function metaLines(prev: Record<string, unknown>, next: Record<string, unknown>): string[] {
  const lines: string[] = [];
  const differs = (k: string): boolean => stable(prev[k]) !== stable(next[k]);
  if (differs('width') || differs('height')) {
    const res = (m: Record<string, unknown>): string =>
      num(m.width) !== null && num(m.height) !== null ? `${num(m.width)}×${num(m.height)}` : '—';
    lines.push(`resolution ${res(prev)} → ${res(next)}`);
  }
  const keys = [...new Set([...Object.keys(prev), ...Object.keys(next)])].filter(
    (k) => k !== 'width' && k !== 'height' && differs(k),
  );
  for (const k of keys.sort()) lines.push(`${k} ${shown(prev[k])} → ${shown(next[k])}`);
  return lines;
}

function trackDescription(t: TrackView): string {
  return trackLine({ ...t, index: 0 }).replace(/^0\. /u, '');
}

/**
 * What changed between two drafts, as short phrases ("duration 10s → 4s", "added BGM: Lo-fi (0-10s, 35%)").
 * Empty when nothing did. Tracks are compared by position; a change in a field nobody knows still shows up as
 * "timeline updated" rather than being reported as "no change".
 */
export function diffDrafts(prev: Draft | null, next: Draft | null): string[] {
  const lines: string[] = [];
  const a = describeTracks(prev);
  const b = describeTracks(next);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const before = a[i];
    const after = b[i];
    if (before === undefined && after !== undefined) {
      lines.push(`added ${trackDescription(after)}`);
    } else if (after === undefined && before !== undefined) {
      lines.push(`removed ${trackDescription(before)}`);
    } else if (before !== undefined && after !== undefined) {
      const what = after.label;
      if (before.label !== after.label) lines.push(`track ${i + 1} is now ${after.label}`);
      if (before.name !== after.name && after.name !== null) {
        lines.push(
          `${what} ${before.name === null ? 'set to' : `"${shortName(before.name)}" →`} "${shortName(after.name)}"`,
        );
      }
      if (before.segments !== after.segments) {
        lines.push(`${what} clips ${before.segments} → ${after.segments}`);
      }
      const ra = range(before);
      const rb = range(after);
      if (ra !== rb) lines.push(`${what} ${ra ?? '—'} → ${rb ?? '—'}`);
      if (before.volumePct !== after.volumePct) {
        lines.push(
          `${what} volume ${before.volumePct === null ? '—' : `${before.volumePct}%`} → ${after.volumePct === null ? '—' : `${after.volumePct}%`}`,
        );
      }
    }
  }
  const da = isObject(prev) ? num(prev.d) : null;
  const db = isObject(next) ? num(next.d) : null;
  if (da !== db)
    lines.push(`duration ${da === null ? '—' : `${sec(da)}s`} → ${db === null ? '—' : `${sec(db)}s`}`);
  const ma = isObject(prev) && isObject(prev.m) ? prev.m : {};
  const mb = isObject(next) && isObject(next.m) ? next.m : {};
  lines.push(...metaLines(ma, mb));
  if (lines.length === 0 && stable(prev ?? {}) !== stable(next ?? {})) lines.push('timeline updated');
  return lines;
}

/** One sentence for the user after a turn that produced no text (§4.4: "summarize changes to the user"). */
export function changeSummary(prev: Draft | null, next: Draft | null): string {
  const lines = diffDrafts(prev, next);
  if (lines.length === 0) return 'Nothing in the timeline changed.';
  const text = lines.join('; ');
  return `Changed: ${text.charAt(0).toLowerCase()}${text.slice(1)}.`;
}
