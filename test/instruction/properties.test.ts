// Property-based tests (issue #3): formatted sizes and time ranges round-trip; arbitrary text never throws
// anything but AppError; no input makes the patterns backtrack catastrophically.
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { intentSchema } from '../../src/domain/intent.js';
import { parseInstruction } from '../../src/instruction/parse-instruction.js';

const MiB = 1_048_576;
const SIZE_UNITS: readonly (readonly [string, number])[] = [
  ['MB', 1e6],
  ['mb', 1e6],
  ['Mb', 1e6],
  ['megabytes', 1e6],
  ['megs', 1e6],
  ['Mo', 1e6],
  ['兆', 1e6],
  ['M', 1e6],
  ['MiB', MiB],
  ['GB', 1e9],
  ['Go', 1e9],
  ['G', 1e9],
  ['gigabytes', 1e9],
  ['GiB', 1_073_741_824],
  ['KB', 1e3],
  ['kb', 1e3],
  ['kilobytes', 1e3],
  ['KiB', 1024],
  ['ko', 1e3],
];
const SIZE_TEMPLATES: readonly ((s: string) => string)[] = [
  (s) => `under ${s}`,
  (s) => `compress to less than ${s} please`,
  (s) => `max ${s}`,
  (s) => `${s} or less`,
  (s) => `<${s}`,
  (s) => `no bigger than ${s}, thanks`,
  (s) => `不超过${s}`,
  (s) => `压缩到${s}以下`,
  (s) => `menos de ${s}`,
  (s) => `unter ${s}`,
  (s) => `moins de ${s}`,
  (s) => `no máximo ${s}`,
  (s) => `my clip is 3GB, I need it below ${s}`,
];

/** bytes = floor(digits × unit / 10^decimals), exactly (BigInt), as PRODUCT.md's units define. */
function expectedBytes(intPart: number, frac: string, unit: number): number {
  const scaled = BigInt(`${intPart}${frac}`) * BigInt(unit);
  return Number(scaled / 10n ** BigInt(frac.length));
}

describe('size round-trip', () => {
  it('any formatted size parses to its exact byte count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.oneof(
          fc.constant(''),
          fc.integer({ min: 0, max: 9 }).map(String),
          fc.integer({ min: 0, max: 99 }).map((n) => n.toString().padStart(2, '0')),
        ),
        fc.constantFrom(...SIZE_UNITS),
        fc.constantFrom('.', ','),
        fc.constantFrom('', ' '),
        fc.constantFrom(...SIZE_TEMPLATES),
        (intPart, frac, [unitText, unit], sep, space, template) => {
          const bytes = expectedBytes(intPart, frac, unit);
          fc.pre(bytes > 0 && bytes <= 10e12);
          const number = frac === '' ? String(intPart) : `${intPart}${sep}${frac}`;
          const intent = parseInstruction(template(`${number}${space}${unitText}`));
          expect(intent.maxBytes).toBe(bytes);
          expect(intent.command).toBe('compress');
        },
      ),
      { numRuns: 1500 },
    );
  });
});

function clock(sec: number, padded: boolean): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  const p = (n: number): string => n.toString().padStart(2, '0');
  if (h > 0 || padded) return `${padded ? p(h) : h}:${p(m)}:${p(s)}`;
  return `${m}:${p(s)}`;
}

const TIME_FORMATS: readonly ((sec: number) => string)[] = [
  (s) => clock(s, false),
  (s) => clock(s, true),
  (s) => `${Math.floor(s / 60)}m${s % 60}s`,
  (s) => `${Math.floor(s / 60)} min ${s % 60} s`,
  (s) => `${s}s`,
  (s) => `${s} seconds`,
];
const RANGE_TEMPLATES: readonly ((a: string, b: string) => string)[] = [
  (a, b) => `from ${a} to ${b}`,
  (a, b) => `${a} - ${b}`,
  (a, b) => `${a}-${b}`,
  (a, b) => `between ${a} and ${b}`,
  (a, b) => `only ${a} to ${b}, no sound`,
  (a, b) => `de ${a} a ${b}`,
  (a, b) => `von ${a} bis ${b}`,
  (a, b) => `从${a}到${b}`,
  (a, b) => `de ${a} até ${b}`,
  (a, b) => `desde ${a} hasta ${b}`,
];
const FIRST_TEMPLATES: readonly ((n: number) => string)[] = [
  (n) => `first ${n} seconds`,
  (n) => `前${n}秒`,
  (n) => `los primeros ${n} segundos`,
  (n) => `die ersten ${n} Sekunden`,
  (n) => `les ${n} premières secondes`,
  (n) => `os primeiros ${n} segundos`,
];

describe('time round-trip', () => {
  it('any formatted range parses to its trim', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 35_999 }),
        fc.integer({ min: 1, max: 3600 }),
        fc.constantFrom(...TIME_FORMATS),
        fc.constantFrom(...TIME_FORMATS),
        fc.constantFrom(...RANGE_TEMPLATES),
        (start, length, f1, f2, template) => {
          const end = start + length;
          const intent = parseInstruction(template(f1(start), f2(end)));
          expect(intent.trim).toEqual({ startSec: start, endSec: end });
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('"the first N seconds" in every language is 0–N', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5999 }), fc.constantFrom(...FIRST_TEMPLATES), (n, template) => {
        expect(parseInstruction(template(n)).trim).toEqual({ startSec: 0, endSec: n });
      }),
      { numRuns: 600 },
    );
  });

  it('a range that ends before it starts is refused', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7200 }), fc.integer({ min: 0, max: 7200 }), (start, back) => {
        const end = Math.max(0, start - back);
        expect(() => parseInstruction(`from ${clock(start, false)} to ${clock(end, false)}`)).toThrow(
          AppError,
        );
      }),
      { numRuns: 300 },
    );
  });
});

/** Words and numbers from the grammar, so random text reaches the extractors' deeper paths. */
const TOKENS = [
  'under',
  '20MB',
  '1,5 Go',
  '-3mb',
  '0mb',
  'first',
  '30s',
  '2m15s',
  'from',
  'to',
  '1:00',
  '0:30',
  '-',
  'between',
  'and',
  '720p',
  '4k',
  '1080p60',
  'at',
  '60',
  'fps',
  'mute',
  'keep the audio',
  'no sound',
  'for discord',
  'x',
  '5x',
  'smaller',
  '%',
  '25',
  'of the original',
  'reduce by',
  'h264',
  'hevc',
  'mov',
  'mp4',
  '9:16',
  '4:5',
  'vertical',
  '前',
  '秒',
  '兆',
  '以下',
  '三十',
  '分之',
  '百分之',
  'los primeros',
  'die ersten',
  'premières',
  'secondes',
  'my clip is',
  '/compress',
  '/status@bot',
  'now',
  'undo',
  'better',
  'status',
  'cancel',
  '?',
  '🙏',
  '，',
  '。',
  '\n',
  '1920x1080',
  'divide by',
  'half the size',
  'everything after',
  'until',
  'onwards',
  'de',
  'a',
  'até',
];
const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 25 }).map((t) => t.join(' '));
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ maxLength: 300 }),
  tokenSoup,
  fc.tuple(tokenSoup, fc.string({ unit: 'grapheme', maxLength: 40 }), tokenSoup).map((p) => p.join('')),
);

function parseOrAppError(text: string): void {
  try {
    const intent = parseInstruction(text);
    intentSchema.parse(intent);
    expect(intent.summary.length).toBeGreaterThan(0);
  } catch (e) {
    if (!(e instanceof AppError) || e.code !== 'INSTRUCTION_INVALID') throw e;
  }
}

describe('arbitrary input', () => {
  it('never throws anything but AppError(INSTRUCTION_INVALID), and every Intent fits the schema', () => {
    fc.assert(
      fc.property(anyText, (text) => parseOrAppError(text)),
      { numRuns: 3000 },
    );
  });

  // A guard against catastrophic regex backtracking (a 2,000-char input taking seconds), not a speed figure: typical
  // calls take well under 5 ms, but a loaded CI machine must not turn scheduling noise into a failure.
  it('never backtracks catastrophically, even on 2,000-character inputs', () => {
    for (let i = 0; i < 200; i++) parseOrAppError(`under ${i}MB, 720p, first ${i + 1} s, mute, for discord`);
    let worst = 0;
    let worstText = '';
    fc.assert(
      fc.property(
        fc.oneof(anyText, fc.string({ unit: 'grapheme', minLength: 900, maxLength: 2000 })),
        (text) => {
          // Best of three calls: a garbage-collection pause is not the parser's time.
          let best = Infinity;
          for (let k = 0; k < 3; k++) {
            const t0 = performance.now();
            parseOrAppError(text);
            best = Math.min(best, performance.now() - t0);
          }
          if (best > worst) [worst, worstText] = [best, text];
        },
      ),
      { numRuns: 800 },
    );
    expect(worst, `slowest input: ${JSON.stringify(worstText.slice(0, 200))}`).toBeLessThan(250);
  });
});
