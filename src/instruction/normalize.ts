// The normalizer (issue #3): one canonical form so the vocabulary is written once per word, not once per
// spelling. Lower case; fullwidth → ASCII and ligatures folded (NFKC); accents stripped (NFD, drop marks) so
// "qualité"/"qualite" and "Qualität"/"qualitat" are one entry; quotes and dashes unified; Chinese numerals
// next to a unit become digits (前三十秒 → 前30秒) so one grammar reads both.

/**
 * Instructions are chat messages; reading only the first 1,000 characters bounds the parser's time
 * (it must answer in well under 5 ms) and loses nothing a real instruction says.
 */
export const MAX_INSTRUCTION_CHARS = 1_000;

const CN_DIGITS: Readonly<Record<string, number>> = {
  零: 0,
  〇: 0,
  一: 1,
  二: 2,
  两: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
};
const CN_UNITS: Readonly<Record<string, number>> = { 十: 10, 百: 100, 千: 1000 };
const CN_NUM = '[零〇一二两三四五六七八九十百千万]+';
/** A Chinese numeral is read as a number only next to something that needs one; 一下 / 一个 stay words. */
const CN_BEFORE_UNIT = new RegExp(`(${CN_NUM})(?=\\s*(?:秒|分|兆|帧|倍|个?小时|个?钟|g|m|k|p|fps|%|/))`, 'g');
const CN_AFTER_FRACTION = new RegExp(`(?<=分之)(${CN_NUM})`, 'g');
const CN_PERCENT = new RegExp(`百分之(${CN_NUM}|\\d+)`, 'g');

/** 三十 → 30, 一百二十 → 120, 十五 → 15, 两 → 2, 一万 → 10000. */
export function chineseToNumber(s: string): number {
  let total = 0;
  let section = 0;
  let digit = 0;
  for (const ch of s) {
    const d = CN_DIGITS[ch];
    if (d !== undefined) {
      digit = d;
      continue;
    }
    if (ch === '万') {
      total += (section + digit) * 10_000;
      section = 0;
    } else {
      section += (digit === 0 ? 1 : digit) * (CN_UNITS[ch] ?? 1);
    }
    digit = 0;
  }
  return total + section + digit;
}

function chineseNumerals(t: string): string {
  const num = (s: string): string => {
    const digits = /^\d+$/.test(s) ? s : String(chineseToNumber(s));
    return digits;
  };
  return t
    .replace(CN_PERCENT, (_m, n: string) => `${num(n)}%`)
    .replace(CN_BEFORE_UNIT, (_m, n: string) => num(n))
    .replace(CN_AFTER_FRACTION, (_m, n: string) => num(n));
}

export function normalize(raw: string): string {
  let t = raw.length > MAX_INSTRUCTION_CHARS ? raw.slice(0, MAX_INSTRUCTION_CHARS) : raw;
  t = t.normalize('NFKC').toLowerCase().replace(/ß/g, 'ss');
  t = t.normalize('NFD').replace(/\p{M}+/gu, '');
  t = t
    .replace(/[‘’‚‛′`´]/g, "'")
    .replace(/[“”„«»]/g, '"')
    .replace(/[‐‑‒–—―−]/g, '-')
    .replace(/[～〜]/g, '~')
    .replace(/≤/g, '<=')
    .replace(/\s*[\r\n]+\s*/g, '; ') // a line break ends a clause
    .replace(/\p{Cc}/gu, ' '); // control characters: the scanner uses one to mark consumed text
  t = chineseNumerals(t);
  return t.replace(/\s+/g, ' ').trim();
}
