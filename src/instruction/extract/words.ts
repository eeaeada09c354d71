// Phrase-only fields: audio, quality and platform. Each phrase list is vocabulary data; these functions only
// decide what a set of found phrases means.
import { AppError } from '../../domain/errors.js';
import type { Quality } from '../../domain/intent.js';
import { re, words } from '../patterns.js';
import { PLATFORMS, platformLimit, type PlatformOverrides } from '../platforms.js';
import { roleOf, ROLE_RULES, type Mention, type Scanner } from '../scanner.js';
import { allOf, LANGUAGES } from '../vocabulary/index.js';

// "don't remove the audio" is a keep: keep phrases are read (and consumed) first.
const KEEP = re(words(allOf((v) => v.audio.keep)));
const REMOVE = re(words(allOf((v) => v.audio.remove)));

/** "mute"/"no sound" → remove, "keep the audio" → keep; both at once cannot be met (issue #3). */
export function extractAudio(sc: Scanner): 'keep' | 'remove' | null {
  const keep = sc.take(KEEP);
  const remove = sc.take(REMOVE);
  if (keep.length > 0 && remove.length > 0) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: `"${remove[0]?.[0] ?? ''}" and "${keep[0]?.[0] ?? ''}" contradict each other: remove the sound or keep it?`,
    });
  }
  if (remove.length > 0) return 'remove';
  return keep.length > 0 ? 'keep' : null;
}

// Read "small" first: "I don't care about quality" must not leave "quality" for another reading.
const QUALITY_ORDER: readonly Quality[] = ['small', 'high', 'balanced'];
const QUALITY_PATTERNS = QUALITY_ORDER.map((q) => ({ q, pattern: re(words(allOf((v) => v.quality[q]))) }));

/** The last quality phrase wins ("best quality… no, as small as possible" → small). */
export function extractQuality(sc: Scanner): Quality | null {
  let best: { q: Quality; at: number } | null = null;
  for (const { q, pattern } of QUALITY_PATTERNS) {
    for (const m of sc.take(pattern)) if (best === null || m.index > best.at) best = { q, at: m.index };
  }
  return best?.q ?? null;
}

/** Each platform's names (table aliases + every language's local names), most specific first. */
const PLATFORM_PATTERNS = PLATFORMS.map((p) => {
  const names = [...p.aliases, ...LANGUAGES.flatMap((v) => v.platforms[p.id] ?? [])];
  return { id: p.id, longest: Math.max(...names.map((n) => n.length)), pattern: re(words(names)) };
}).sort((a, b) => b.longest - a.longest);

/**
 * The platform the video is for. Several named ("for Discord or WhatsApp") → the one with the smallest limit,
 * so the file fits all of them; "downloaded from YouTube" describes the source and is ignored.
 */
export function extractPlatform(
  sc: Scanner,
  overrides?: PlatformOverrides,
): { id: string; limitBytes: number } | null {
  const mentions: Mention<string>[] = [];
  for (const { id, pattern } of PLATFORM_PATTERNS) {
    for (const m of sc.find(pattern)) {
      const r = roleOf(sc, m.index, m.index + m[0].length, ROLE_RULES);
      sc.consume(m.index, m.index + m[0].length);
      mentions.push({ value: id, start: m.index, role: r.role });
    }
  }
  let best: { id: string; limitBytes: number } | null = null;
  for (const m of mentions) {
    if (m.role === 'source') continue;
    const limitBytes = platformLimit(m.value, overrides);
    if (limitBytes !== null && (best === null || limitBytes < best.limitBytes))
      best = { id: m.value, limitBytes };
  }
  return best;
}
