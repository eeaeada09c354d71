// The grammar's building blocks: turns vocabulary entries (./vocabulary) and unit tables (../domain/units.ts)
// into regular expressions, once, at load time. No word of any language appears here.
import { parseDecimal, TEXT_SIZE_UNITS, TEXT_TIME_UNITS } from '../domain/units.js';
import { allOf, LANGUAGES } from './vocabulary/index.js';

/** A Latin letter or digit may not touch a matched word (Chinese needs no spaces, so only alnum-alnum joins count). */
export const LB = '(?:(?<![a-z0-9])|(?![a-z0-9]))';
export const RB = '(?:(?![a-z0-9])|(?<![a-z0-9]))';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Entry sources → one alternation, longest first so "discord nitro" beats "discord" at the same spot. */
export function alt(entries: readonly string[]): string {
  const uniq = [...new Set(entries)].sort((a, b) => b.length - a.length);
  if (uniq.length === 0) return '(?!)';
  return `(?:${uniq.map((e) => e.replace(/ \?/g, '\\s*').replace(/ /g, '\\s+')).join('|')})`;
}

/** Whole-word alternation of entries. */
export function words(entries: readonly string[]): string {
  return `${LB}${alt(entries)}${RB}`;
}

/** Literal strings (unit spellings) → alternation. */
export function literals(entries: readonly string[]): string {
  return alt(entries.map(escape));
}

export const NUMBER = '\\d{1,3}(?:,\\d{3})+(?:\\.\\d+)?|\\d+(?:[.,]\\d+)?';

const numberWords: Record<string, number> = {};
for (const v of LANGUAGES) for (const [w, n] of Object.entries(v.numbers)) numberWords[w] ??= n;
/** "two" → 2, "zwei" → 2 … (first language wins on a clash). */
export const NUMBER_WORDS: Readonly<Record<string, number>> = numberWords;

/** A count: digits or a number word ("first two minutes", "diviser par deux"). */
export const COUNT = `(?:${NUMBER}|${LB}${literals(Object.keys(NUMBER_WORDS))}${RB})`;

export function countValue(text: string): number | null {
  const t = text.trim();
  return NUMBER_WORDS[t] ?? parseDecimal(t);
}

export const SIZE_UNIT = literals(Object.keys(TEXT_SIZE_UNITS));
export const TIME_UNIT = literals(Object.keys(TEXT_TIME_UNITS));

/** Not followed by a size or time unit or a percent sign: "1080p 25" is a frame rate, "1080p 25MB" is not. */
export const NOT_UNIT = `(?!\\s*(?:${SIZE_UNIT}|${TIME_UNIT}|%|x\\d)(?![a-z]))(?![\\d.,]*\\d)`;

/** One "number + time unit" piece: "2m", "15 s", "30秒", "two minutes". "3分之1" is a fraction, not 3 minutes. */
export const TIME_PIECE = `(?:${COUNT})\\s*${TIME_UNIT}(?![a-z之])`;
const JOIN = `(?:\\s*(?:${words(allOf((v) => v.trim.rangeAnd))})?\\s*)`;
/** 3:15, 00:02:10, 1:02.5 — two digits after each colon so the aspect "4:5" is not a time. */
export const CLOCK = '(?<![\\d:])\\d{1,2}:\\d{2}(?::\\d{2})?(?:[.,]\\d+)?(?![\\d:])';
/** A time: clock form or up to three unit pieces ("2m15s", "1 min 30 s", "1分30秒"). */
export const TIME = `(?:${CLOCK}|${TIME_PIECE}(?:${JOIN}${TIME_PIECE}){0,2})`;

/** The consumed-text marker: never in normalized input (control characters are replaced). */
export const BLANK = '\u0001';

/** Clause ends: punctuation, line breaks and each language's "but", so a window never crosses them. */
export const CLAUSE_BREAK = new RegExp(
  `[;!?。！？]|,(?!\\d)|\\.(?=\\s|$)|\\s-\\s|${words(allOf((v) => v.clauseBreaks))}`,
  'g',
);

export function re(source: string, flags = 'g'): RegExp {
  return new RegExp(source, flags);
}
