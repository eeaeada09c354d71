// Trim (PRODUCT.md contract: "first 20 seconds" → 0–20; "everything after 3:15" → 195–null; "drop the first
// 8 seconds" → 8–null). Runs first: "2m15s" must be read as a time before "2m" could be read as 2 MB.
import { AppError } from '../../domain/errors.js';
import type { Trim } from '../../domain/intent.js';
import { formatDuration, parseTime, TEXT_TIME_UNITS } from '../../domain/units.js';
import { COUNT, countValue, NUMBER, re, TIME, TIME_UNIT, words } from '../patterns.js';
import type { Scanner } from '../scanner.js';
import { allOf, type Vocabulary } from '../vocabulary/index.js';

const w = (pick: (t: Vocabulary['trim']) => readonly string[]): string => words(allOf((v) => pick(v.trim)));

const FIRST = w((t) => t.first);
const FIRST_BETWEEN = w((t) => t.firstBetween);
const DROP = w((t) => t.dropBefore);
const DROP_AFTER = w((t) => t.dropAfter);
const FROM = w((t) => t.from);
const FROM_SUFFIX = w((t) => t.fromSuffix);
const UNTIL = w((t) => t.until);
const TO = `(?:-|~|${w((t) => t.rangeTo)})`;
const AND = w((t) => t.rangeAnd);
const ARTICLE = words(allOf((v) => v.articles));
const UNIT_ALONE = `${TIME_UNIT}(?![a-z])`;

/** The three ways to say "the first N": "les 20 premières secondes" (read first), "first 20 s", "first minute". */
const FIRST_FORMS: readonly { source: string; read: (m: RegExpExecArray) => number | null }[] = [
  {
    source: `(${COUNT})\\s*${FIRST_BETWEEN}\\s*(${UNIT_ALONE})`,
    read: (m) => {
      const n = countValue(m[1] ?? '');
      const u = TEXT_TIME_UNITS[m[2] ?? ''];
      return n === null || u === undefined ? null : n * u;
    },
  },
  { source: `${FIRST}\\s*(${TIME})`, read: (m) => timeValue(m[1])?.sec ?? null },
  { source: `${FIRST}\\s*(${UNIT_ALONE})`, read: (m) => TEXT_TIME_UNITS[m[1] ?? ''] ?? null },
];

const PIECE_SOURCE = `(${COUNT})\\s*(${TIME_UNIT})(?![a-z之])`;
const PIECE = re(PIECE_SOURCE);
const FIRST_PIECE = re(PIECE_SOURCE, '');

/** Seconds of a time token, and whether every unit was a bare "m" (could be megabytes: "from 300m to 20m"). */
export function timeValue(text: string | undefined): { sec: number; bareM: boolean } | null {
  const t = (text ?? '').trim();
  if (/^\d{1,2}:\d{2}/.test(t)) {
    const sec = parseTime(t.replace(',', '.'));
    return sec === null ? null : { sec, bareM: false };
  }
  let sec = 0;
  let pieces = 0;
  let bareM = true;
  for (const m of t.matchAll(PIECE)) {
    const n = countValue(m[1] ?? '');
    const u = TEXT_TIME_UNITS[m[2] ?? ''];
    if (n === null || u === undefined) return null;
    sec += n * u;
    pieces += 1;
    if (m[2] !== 'm') bareM = false;
  }
  return pieces > 0 ? { sec, bareM } : null;
}

interface Part {
  readonly pos: number;
  readonly start?: number;
  readonly end?: number;
}

const RANGE = re(`(?:(${FROM})\\s*)?(?:(${TIME})|(${NUMBER}))\\s*${TO}\\s*(${TIME})`);
const RANGE_AND = re(`${FROM}\\s*(?:(${TIME})|(${NUMBER}))\\s*${AND}\\s*(${TIME})`);

function ranges(sc: Scanner, pattern: RegExp, endGroup: number): Part[] {
  const parts: Part[] = [];
  for (const m of sc.find(pattern)) {
    const t1Text = m[endGroup - 2];
    const bare = m[endGroup - 1];
    const t2 = timeValue(m[endGroup]);
    if (!t2) continue;
    let t1 = timeValue(t1Text);
    if (!t1 && bare !== undefined) {
      // "from 10 to 40 seconds": the bare number takes the second time's unit, if that reading is plausible.
      const unit = FIRST_PIECE.exec(m[endGroup] ?? '');
      const n = countValue(bare);
      const u = TEXT_TIME_UNITS[unit?.[2] ?? ''];
      if (n === null || u === undefined || n * u >= t2.sec) continue;
      t1 = { sec: n * u, bareM: unit?.[2] === 'm' };
    }
    if (!t1 || (t1.bareM && t2.bareM)) continue;
    sc.consume(m.index, m.index + m[0].length);
    parts.push({ pos: m.index, start: t1.sec, end: t2.sec });
  }
  return parts;
}

/** "drop the first 8 s" / "die ersten 8 Sekunden weg" (start), then plain "first 20 s" (end); compiled once. */
const FIRST_PATTERNS: readonly {
  pattern: RegExp;
  side: 'start' | 'end';
  read: (m: RegExpExecArray) => number | null;
}[] = [
  ...FIRST_FORMS.flatMap((f) => [
    { pattern: re(`${DROP}(?:\\s*${ARTICLE}){0,2}\\s*${f.source}`), side: 'start' as const, read: f.read },
    { pattern: re(`${f.source}(?:\\s+[a-z]{1,8})?\\s+${DROP_AFTER}`), side: 'start' as const, read: f.read },
  ]),
  ...FIRST_FORMS.map((f) => ({ pattern: re(f.source), side: 'end' as const, read: f.read })),
];

function firsts(sc: Scanner): Part[] {
  const parts: Part[] = [];
  for (const { pattern, side, read } of FIRST_PATTERNS) {
    for (const m of sc.take(pattern)) {
      const sec = read(m);
      if (sec !== null)
        parts.push(side === 'start' ? { pos: m.index, start: sec } : { pos: m.index, end: sec });
    }
  }
  return parts;
}

function opens(sc: Scanner, pattern: RegExp, side: 'start' | 'end'): Part[] {
  const parts: Part[] = [];
  for (const m of sc.find(pattern)) {
    const t = timeValue(m[1]);
    if (!t || t.bareM) continue;
    sc.consume(m.index, m.index + m[0].length);
    parts.push(side === 'start' ? { pos: m.index, start: t.sec } : { pos: m.index, end: t.sec });
  }
  return parts;
}

// Built once: the patterns above are module constants.
const FROM_OPEN = re(`${FROM}\\s*(${TIME})(?:\\s*${FROM_SUFFIX})?`);
const SUFFIX_OPEN = re(`(${TIME})\\s*${FROM_SUFFIX}`);
const UNTIL_OPEN = re(`${UNTIL}\\s*(${TIME})`);

export function extractTrim(sc: Scanner): Trim | null {
  const parts = [
    ...ranges(sc, RANGE, 4),
    ...ranges(sc, RANGE_AND, 3),
    ...firsts(sc),
    ...opens(sc, FROM_OPEN, 'start'),
    ...opens(sc, SUFFIX_OPEN, 'start'),
    ...opens(sc, UNTIL_OPEN, 'end'),
  ].sort((a, b) => a.pos - b.pos);
  if (parts.length === 0) return null;
  let startSec = 0;
  let endSec: number | null = null;
  for (const p of parts) {
    if (p.start !== undefined) startSec = p.start;
    if (p.end !== undefined) endSec = p.end;
  }
  if (endSec !== null && endSec <= startSec) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: `the cut ends at ${formatDuration(endSec)}, before it starts at ${formatDuration(startSec)}`,
    });
  }
  return { startSec: round3(startSec), endSec: endSec === null ? null : round3(endSec) };
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
