// Relative caps → maxBytesRatio (PRODUCT.md contract: "a third of the size" 0.333…, "25% of the original" 0.25,
// "reduce by 60%" 0.4, "5x smaller" 0.2; issue #3: "halve it" 0.5). Runs before sizes and platforms so "5x" is
// not read as the platform X and "25%" is not left for anything else.
import { AppError } from '../../domain/errors.js';
import { alt, COUNT, countValue, NOT_UNIT, NUMBER, RB, re, words } from '../patterns.js';
import type { Mention, Scanner } from '../scanner.js';
import { allOf, type Vocabulary } from '../vocabulary/index.js';

const r = (pick: (t: Vocabulary['ratio']) => readonly string[]): string => words(allOf((v) => pick(v.ratio)));

const FRACTIONS: readonly { pattern: RegExp; ratio: number }[] = [
  { pattern: re(r((t) => t.half)), ratio: 1 / 2 },
  { pattern: re(r((t) => t.third)), ratio: 1 / 3 },
  { pattern: re(r((t) => t.quarter)), ratio: 1 / 4 },
];
/** "1/3 of the size": digits over digits followed by "of"-like words ("de", "von", "do"…). */
const SLASH_FRACTION = re(
  `(?<![\\d/])(\\d{1,2})\\s*/\\s*(\\d{1,3})(?![\\d/])\\s*(?=${r((t) => t.percentOf)}|${words(['of', 'de', 'del', 'von', 'do', 'da', 'du'])})`,
);

const PERCENT = re(`(?<![\\d.])(?<!\\d,)(-?${NUMBER})\\s*(?:%|${r((t) => t.percentWords)})`);
const REDUCE_BY = re(r((t) => t.reduceBy));
const PERCENT_TO = re(r((t) => t.percentTo));
const PERCENT_SMALLER = re(`^\\s*${r((t) => t.percentSmaller)}`, '');
const PERCENT_OF = re(`^\\s*${r((t) => t.percentOf)}`, '');

const TIMES = `(?:\\s*${alt(allOf((v) => v.ratio.times))}${RB})`;
const TIMES_SMALLER = r((t) => t.timesSmaller);
const N_TIMES_SMALLER = re(`(?<![\\d.])(?<!\\d,)(${COUNT})${TIMES}\\s*${TIMES_SMALLER}`);
const DIVIDE_BY = re(`${r((t) => t.divideBy)}\\s*(${COUNT})${NOT_UNIT}`);
const BEFORE_N_TIMES = re(`${r((t) => t.timesBefore)}\\s*(${COUNT})${TIMES}`);

/** The closest marker word ending right before `pos` (at most 12 characters of gap). */
function closestEnd(pattern: RegExp, window: string): number {
  let end = -1;
  pattern.lastIndex = 0;
  for (const m of window.matchAll(pattern)) end = m.index + m[0].length;
  return end >= 0 && window.length - end <= 12 ? end : -1;
}

function percents(sc: Scanner): Mention<number>[] {
  const out: Mention<number>[] = [];
  for (const m of sc.find(PERCENT)) {
    const p = countValue((m[1] ?? '').replace('-', ''));
    if (p === null) continue;
    const signed = (m[1] ?? '').startsWith('-') ? -p : p;
    const end = m.index + m[0].length;
    const { text: window } = sc.before(m.index);
    const after = sc.after(end, 40);
    const by = closestEnd(REDUCE_BY, window);
    const to = closestEnd(PERCENT_TO, window);
    const smaller = PERCENT_SMALLER.exec(after);
    const of = PERCENT_OF.exec(after);
    let ratio: number | null = null;
    let consumeTo = end;
    if (smaller) [ratio, consumeTo] = [1 - signed / 100, end + smaller[0].length];
    else if (by > to) ratio = 1 - signed / 100;
    else if (to >= 0 || of) [ratio, consumeTo] = [signed / 100, of ? end + of[0].length : end];
    if (ratio === null) continue;
    sc.consume(m.index, consumeTo);
    out.push({ value: ratio, start: m.index, role: 'target' });
  }
  return out;
}

function times(sc: Scanner): Mention<number>[] {
  const out: Mention<number>[] = [];
  for (const pattern of [N_TIMES_SMALLER, DIVIDE_BY, BEFORE_N_TIMES]) {
    for (const m of sc.take(pattern)) {
      const n = countValue(m[1] ?? '');
      if (n === null) continue;
      if (n <= 0)
        throw new AppError('INSTRUCTION_INVALID', { reason: `"${m[0].trim()}" would make the file empty` });
      out.push({ value: 1 / n, start: m.index, role: 'target' });
    }
  }
  return out;
}

function fractions(sc: Scanner): Mention<number>[] {
  const out: Mention<number>[] = [];
  for (const { pattern, ratio } of FRACTIONS) {
    for (const m of sc.take(pattern)) out.push({ value: ratio, start: m.index, role: 'target' });
  }
  for (const m of sc.take(SLASH_FRACTION)) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (b > 0) out.push({ value: a / b, start: m.index, role: 'target' });
  }
  return out;
}

/** The relative cap asked for (last one wins), validated: a ratio must leave something and not grow the file. */
export function extractRatio(sc: Scanner): number | null {
  const all = [...percents(sc), ...times(sc), ...fractions(sc)];
  let last: Mention<number> | null = null;
  for (const m of all) if (last === null || m.start >= last.start) last = m;
  if (last === null) return null;
  const ratio = last.value;
  if (!(ratio > 0)) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: 'that reduction leaves nothing of the video (0% or less)',
    });
  }
  if (ratio > 1) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: `that asks for ${Math.round(ratio * 100)}% of the original, bigger than it is; I only make videos smaller`,
    });
  }
  return ratio;
}
