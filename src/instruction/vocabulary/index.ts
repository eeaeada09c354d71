// All languages the parser reads (PRODUCT.md: English, Chinese, Spanish, German, French and Portuguese are
// first-class). Every language is read on every message: people mix them ("compress 到 200M") and a short message
// gives no reliable language signal. Adding a language = one file + one line here + phrasings in the tests.
import { de } from './de.js';
import { en } from './en.js';
import { es } from './es.js';
import { fr } from './fr.js';
import { pt } from './pt.js';
import type { Vocabulary } from './types.js';
import { zh } from './zh.js';

export const LANGUAGES: readonly Vocabulary[] = [en, zh, es, de, fr, pt];

/** Every language's entries for one slot, merged. */
export function allOf(pick: (v: Vocabulary) => readonly string[] | undefined): string[] {
  return LANGUAGES.flatMap((v) => pick(v) ?? []);
}

export type { Vocabulary } from './types.js';
