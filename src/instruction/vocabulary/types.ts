// The shape of one language's vocabulary (issue #3: "vocabulary per language as data"). Adding a language is
// a new file of this shape plus tests; the grammar in ../patterns.ts never names a word of any language.
//
// Every entry is a small regular-expression source written against the NORMALIZED text (../normalize.ts):
// lower case, accents stripped (é → e, ü → u, ß → ss), fullwidth folded to ASCII, Chinese numerals as digits.
// A literal space means "one or more spaces". Entries are matched as whole words: a Latin letter or digit may
// not touch either end (Chinese entries need no spaces around them). Keep them free of nested quantifiers.
import type { Adjust, Aspect, Quality } from '../../domain/intent.js';

/** Commands other than refine (refine comes from `adjust` / `refineMarkers`). */
export type CommandWord = 'compress' | 'status' | 'cancel' | 'help' | 'credits' | 'export';

export interface Vocabulary {
  readonly lang: string;
  /** Number words where a count is expected: "first two minutes", "divide by three". */
  readonly numbers: Readonly<Record<string, number>>;
  /** Words that make the number right after them a target: "under", "at most", "to", "need". */
  readonly target: readonly string[];
  /** Words right after a size that make it a cap: "or less", "max", "以下". */
  readonly targetSuffix: readonly string[];
  /** Words that make the number after them describe the source: "is", "shot in", "weighs" (PRODUCT.md). */
  readonly source: readonly string[];
  /** Nouns for the input: "a 3GB video" describes the source; "video of 3GB" too. */
  readonly sourceNouns: readonly string[];
  /** Words linking a source noun to its size: "video of 3GB", "archivo de 3GB". */
  readonly sourceLinks: readonly string[];
  /** Articles and particles that may sit between a verb and its object ("drop THE first 8 s"). */
  readonly articles: readonly string[];
  /** Words that end a clause, so "shot in 4K, want 1080p" keeps the two apart (punctuation is built in). */
  readonly clauseBreaks: readonly string[];
  readonly trim: {
    /** Before a duration: "first 20 seconds", "前30秒". */
    readonly first: readonly string[];
    /** Between a number and its unit: French "les 20 premières secondes". */
    readonly firstBetween: readonly string[];
    /** Before "first …": "drop the first 8 seconds" → start at 8. */
    readonly dropBefore: readonly string[];
    /** After "first …" (German verb-final): "die ersten 8 Sekunden weg". */
    readonly dropAfter: readonly string[];
    /** Before a start time with no end: "everything after 3:15", "ab 3:15". Also opens a range: "from 0:05 to 0:50". */
    readonly from: readonly string[];
    /** After a start time with no end: "3:15 onwards", "3:15之后". */
    readonly fromSuffix: readonly string[];
    /** Before an end time: "until 1:00", "bis 1:00". */
    readonly until: readonly string[];
    /** Between two times: "to", "-", "a", "bis", "到". */
    readonly rangeTo: readonly string[];
    /** "and" — between two times only after a "from"/"between" word; also joins "1 minute and 30 seconds". */
    readonly rangeAnd: readonly string[];
  };
  readonly ratio: {
    /** Whole phrases meaning "half the size": "halve it", "la mitad", "减半". */
    readonly half: readonly string[];
    readonly third: readonly string[];
    readonly quarter: readonly string[];
    /** Before "N%": "reduce by 60%" → 0.4. */
    readonly reduceBy: readonly string[];
    /** After "N%": "60% smaller" → 0.4. */
    readonly percentSmaller: readonly string[];
    /** Before "N%": "to 25%", "原来的25%" → 0.25. */
    readonly percentTo: readonly string[];
    /** After "N%": "25% of the original" → 0.25. */
    readonly percentOf: readonly string[];
    /** Spelled-out percent: "percent", "por ciento". */
    readonly percentWords: readonly string[];
    /** "5x smaller": the word for times and the comparatives after it. */
    readonly times: readonly string[];
    readonly timesSmaller: readonly string[];
    /** Before N: "divide by 5" → 0.2. */
    readonly divideBy: readonly string[];
    /** Before "N <times>": "缩小5倍" → 0.2. */
    readonly timesBefore: readonly string[];
  };
  readonly quality: Readonly<Record<Quality, readonly string[]>>;
  readonly audio: { readonly keep: readonly string[]; readonly remove: readonly string[] };
  readonly aspect: Readonly<Record<Aspect, readonly string[]>>;
  /** Named resolutions → short side: "full hd" → 1080. */
  readonly resolutionNames: Readonly<Record<number, readonly string[]>>;
  /** Before a bare number: "resolution 720". */
  readonly resolutionWords: readonly string[];
  /** After a number: "30 fps", "24 frames per second", "30帧". */
  readonly fpsUnits: readonly string[];
  /** Before a number: "frame rate to 24", "帧率30". */
  readonly fpsWords: readonly string[];
  /** Between a resolution and a bare frame rate: "1080p at 30", "4K a 60". */
  readonly fpsJoin: readonly string[];
  /** Local names of platforms (ids from ../platforms.ts): email → "correo", "邮件". */
  readonly platforms: Readonly<Record<string, readonly string[]>>;
  readonly commands: Readonly<Record<CommandWord, readonly string[]>>;
  /** Follow-ups on the last result (issue #3): "even smaller", "better quality", "undo". */
  readonly adjust: Readonly<Record<Adjust, readonly string[]>>;
  /** Words that mark a follow-up naming new settings: "now 720p", "this time", "instead". */
  readonly refineMarkers: readonly string[];
}
