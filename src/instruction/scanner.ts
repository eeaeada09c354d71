// The scanner: the normalized text plus what extractors have already consumed (issue #3: "extractors per field
// that consume matched spans so a number used for a size isn't reused as fps"). Consumed characters become BLANK,
// keeping every index stable, so later patterns cannot match across or inside them.
//
// It also decides whether a number is a TARGET or describes the SOURCE (PRODUCT.md: "my clip is 3GB, I need it
// below 250MB" → 250 MB; "shot in 4K at 60, want 1080p at 30" → 1080p30): the marker word closest before the
// number decides ("is"/"shot in" → source; "under"/"want"/"to" → target), within the same clause.
import { BLANK, CLAUSE_BREAK, re, words } from './patterns.js';
import { allOf } from './vocabulary/index.js';

export type Role = 'target' | 'source' | 'plain';

export interface Mention<T> {
  readonly value: T;
  readonly start: number;
  readonly role: Role;
}

/** How far back (characters) a marker may sit from its number, and how long the marker's window is. */
const MARKER_GAP = 16;
const WINDOW = 40;

export class Scanner {
  private current: string;

  constructor(text: string) {
    this.current = text;
  }

  get text(): string {
    return this.current;
  }

  /** Every match of a global regex in the text not yet consumed. */
  find(pattern: RegExp): RegExpExecArray[] {
    pattern.lastIndex = 0;
    return [...this.current.matchAll(pattern)];
  }

  /** Every match, consumed. */
  take(pattern: RegExp): RegExpExecArray[] {
    const found = this.find(pattern);
    for (const m of found) this.consume(m.index, m.index + m[0].length);
    return found;
  }

  consume(start: number, end: number): void {
    if (end <= start) return;
    this.current = this.current.slice(0, start) + BLANK.repeat(end - start) + this.current.slice(end);
  }

  /** The text before `pos` in the same clause, at most WINDOW characters. */
  before(pos: number): { text: string; offset: number } {
    const from = Math.max(0, pos - WINDOW);
    const slice = this.current.slice(from, pos);
    let cut = 0;
    for (const m of slice.matchAll(CLAUSE_BREAK)) cut = m.index + m[0].length;
    return { text: slice.slice(cut), offset: from + cut };
  }

  after(pos: number, length = 24): string {
    return this.current.slice(pos, pos + length);
  }
}

export interface RoleRules {
  readonly target: RegExp;
  readonly source: RegExp;
  /** Right after the number: "200MB or less", "200M以下". */
  readonly targetSuffix?: RegExp;
  /** Right after the number: "a 3GB video" (sizes only). */
  readonly sourceNounAfter?: RegExp;
  /** Right before the number: "a video of 3GB" (sizes only). */
  readonly sourceNounBefore?: RegExp;
}

interface Marker {
  start: number;
  end: number;
}

function lastMarker(pattern: RegExp, window: string): Marker | null {
  let last: Marker | null = null;
  pattern.lastIndex = 0;
  for (const m of window.matchAll(pattern)) last = { start: m.index, end: m.index + m[0].length };
  if (!last) return null;
  const gap = window.slice(last.end);
  // A marker with a number or an already-read mention between it and this one belongs to that other one,
  // unless this one is glued to it ("shot in 4K 60fps": the frame rate shares the resolution's marker).
  const afterRead = gap.slice(gap.lastIndexOf(BLANK) + 1);
  const glued = !gap.includes(BLANK) || /^\s*$/.test(afterRead);
  return gap.length <= MARKER_GAP && !/\d/.test(gap) && glued ? last : null;
}

/**
 * The role of the number at [start, end), and the span to consume with it: an adjacent target marker
 * ("smaller than", "以下") is part of the mention, so it is not read again as "smaller" (a refinement).
 */
export function roleOf(
  sc: Scanner,
  start: number,
  end: number,
  rules: RoleRules,
): { role: Role; from: number; to: number } {
  const { text: window, offset } = sc.before(start);
  const after = sc.after(end);
  const suffix = rules.targetSuffix ? rules.targetSuffix.exec(after) : null;
  const t = lastMarker(rules.target, window);
  const s = lastMarker(rules.source, window);
  const targetWins = t !== null && (s === null || t.end > s.end || (t.end === s.end && t.start <= s.start));
  const to = suffix ? end + suffix[0].length : end;
  if (suffix) return { role: 'target', from: t && targetWins ? offset + t.start : start, to };
  if (targetWins) {
    const adjacent = /^\s*$/.test(window.slice(t.end));
    return { role: 'target', from: adjacent ? offset + t.start : start, to };
  }
  if (s) return { role: 'source', from: start, to };
  if (rules.sourceNounAfter?.test(after) || rules.sourceNounBefore?.test(window)) {
    return { role: 'source', from: start, to };
  }
  return { role: 'plain', from: start, to };
}

/**
 * Roles of several mentions of one field: all are consumed first, so a marker before one mention is not
 * credited to a later one ("convert this MOV to MP4": "this" belongs to MOV, not MP4).
 */
export function rolesOf(
  sc: Scanner,
  spans: readonly { start: number; end: number }[],
  rules: RoleRules,
): Role[] {
  for (const s of spans) sc.consume(s.start, s.end);
  return spans.map((s) => {
    const r = roleOf(sc, s.start, s.end, rules);
    sc.consume(r.from, r.to);
    return r.role;
  });
}

/** The value asked for: the last mention that does not describe the source ("720p, actually 1080p" → 1080p). */
export function pickLast<T>(mentions: readonly Mention<T>[]): Mention<T> | null {
  let best: Mention<T> | null = null;
  for (const m of mentions) if (m.role !== 'source' && (best === null || m.start >= best.start)) best = m;
  return best;
}

const TARGET = words(allOf((v) => v.target));
const SOURCE = words(allOf((v) => v.source));
const NOUNS = words(allOf((v) => v.sourceNouns));

/** Markers for resolutions, frame rates, codecs, containers, aspects and platforms. */
export const ROLE_RULES: RoleRules = { target: re(TARGET), source: re(SOURCE) };

/** Sizes also know "200MB or less" and "a 3GB video". */
export const SIZE_ROLE_RULES: RoleRules = {
  target: re(TARGET),
  source: re(SOURCE),
  targetSuffix: re(`^\\s*${words(allOf((v) => v.targetSuffix))}`, ''),
  sourceNounAfter: re(`^\\s*${NOUNS}`, ''),
  sourceNounBefore: re(`${NOUNS}\\s+${words(allOf((v) => v.sourceLinks))}\\s*$`, ''),
};
