// Picture settings: resolution (short side, PRODUCT.md: "1080p" names the short side), frame rate, codec,
// container and aspect. Resolution runs before sizes ("4k" is not 4 kB) and before frame rates ("1080p30").
import { AppError } from '../../domain/errors.js';
import { ASPECTS, type Aspect, type Container, type VideoCodec } from '../../domain/intent.js';
import { alt, countValue, LB, NOT_UNIT, NUMBER, RB, re, words } from '../patterns.js';
import { pickLast, roleOf, rolesOf, ROLE_RULES, type Mention, type Scanner } from '../scanner.js';
import { allOf, LANGUAGES } from '../vocabulary/index.js';

/** Short sides people name; a bare number is read as a resolution only if it is one of these. */
const BARE_SHORT_SIDES = '4320|2160|1440|1080|720|576|540|480|360|240|144';
const FPS_UNIT = `\\s*${alt(allOf((v) => v.fpsUnits))}${RB}`;
/** "1080p30", "4K at 60", "720p a 30 fps": a frame rate glued to a resolution. */
const FPS_TAIL = `(?:\\s*(?:${words(allOf((v) => v.fpsJoin))})?\\s*(\\d{2,3}(?:\\.\\d+)?)(?:${FPS_UNIT})?${NOT_UNIT}(?![a-z]))?`;

interface Res {
  readonly side: number;
  readonly fps: number | null;
}

const RESOLUTION_PATTERNS: readonly { pattern: RegExp; read: (m: RegExpExecArray) => Res | null }[] = [
  {
    pattern: re(`(?<![\\d.])(\\d{3,4})\\s*[x×*]\\s*(\\d{3,4})(?!\\d)`),
    read: (m) => ({ side: Math.min(Number(m[1]), Number(m[2])), fps: null }),
  },
  {
    pattern: re(`(?<![\\d.])(?<!\\d,)(\\d{3,4})\\s?p(?![a-z])${FPS_TAIL}`),
    read: (m) => ({ side: Number(m[1]), fps: tailFps(m[2]) }),
  },
  ...namedResolutions(),
  {
    pattern: re(`${words(allOf((v) => v.resolutionWords))}[^\\d\\u0001]{0,12}?(\\d{3,4})(?:\\s?p)?(?!\\d)`),
    read: (m) => ({ side: Number(m[1]), fps: null }),
  },
  {
    pattern: re(`(?<![\\d.:/])(?<!\\d,)(${BARE_SHORT_SIDES})(?![\\d.,:x×*])${NOT_UNIT}`),
    read: (m) => ({ side: Number(m[1]), fps: null }),
  },
];

function namedResolutions(): { pattern: RegExp; read: (m: RegExpExecArray) => Res | null }[] {
  const bySide = new Map<number, string[]>();
  for (const v of LANGUAGES) {
    for (const [side, names] of Object.entries(v.resolutionNames)) {
      bySide.set(Number(side), [...(bySide.get(Number(side)) ?? []), ...names]);
    }
  }
  // Longer names first across sides too ("full hd" before "hd"): sort by the longest name of each side.
  const sides = [...bySide.entries()].sort(
    (a, b) => Math.max(...b[1].map((n) => n.length)) - Math.max(...a[1].map((n) => n.length)),
  );
  return sides.map(([side, names]) => ({
    pattern: re(`${LB}${alt(names)}(?![a-z])${FPS_TAIL}`),
    read: (m: RegExpExecArray) => ({ side, fps: tailFps(m[1]) }),
  }));
}

function tailFps(text: string | undefined): number | null {
  if (text === undefined) return null;
  const v = Number(text);
  return v > 0 && v <= 240 ? v : null;
}

/** The asked-for short side and any frame rate glued to it ("1080p at 30"). */
export function extractResolution(sc: Scanner): { side: number | null; fps: Mention<number> | null } {
  const mentions: Mention<Res>[] = [];
  for (const { pattern, read } of RESOLUTION_PATTERNS) {
    for (const m of sc.find(pattern)) {
      const res = read(m);
      if (res === null || res.side < 100 || res.side > 4320) continue;
      const { role, from, to } = roleOf(sc, m.index, m.index + m[0].length, ROLE_RULES);
      sc.consume(from, to);
      mentions.push({ value: res, start: m.index, role });
    }
  }
  const pick = pickLast(mentions);
  if (pick === null) return { side: null, fps: null };
  const fps = pick.value.fps === null ? null : { value: pick.value.fps, start: pick.start, role: pick.role };
  return { side: pick.value.side, fps };
}

const FPS_PATTERNS: readonly RegExp[] = [
  re(`(?<![\\d.])(?<!\\d,)(${NUMBER})${FPS_UNIT}`),
  re(`${words(allOf((v) => v.fpsWords))}[^\\d\\u0001]{0,16}?(${NUMBER})(?:${FPS_UNIT})?${NOT_UNIT}`),
];

/** The frame rate asked for; `glued` is the one found with the resolution ("1080p30"). */
export function extractFps(sc: Scanner, glued: Mention<number> | null): number | null {
  const mentions: Mention<number>[] = glued ? [glued] : [];
  for (const pattern of FPS_PATTERNS) {
    for (const m of sc.find(pattern)) {
      const v = countValue(m[1] ?? '');
      if (v === null) continue;
      const { role, from, to } = roleOf(sc, m.index, m.index + m[0].length, ROLE_RULES);
      sc.consume(from, to);
      mentions.push({ value: v, start: m.index, role });
    }
  }
  const pick = pickLast(mentions);
  if (pick === null) return null;
  if (pick.value <= 0 || pick.value > 240) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: `${pick.value} fps is not a frame rate I can make (1–240)`,
    });
  }
  return pick.value;
}

/** Technical names, the same in every language. */
const CODECS = named<VideoCodec>([
  ['h264', 'h\\.?\\s?264|avc|x264'],
  ['h265', 'h\\.?\\s?265|hevc|x265'],
  ['av1', 'av-?1'],
  ['vp9', 'vp-?9'],
]);
const CONTAINERS = named<Container>([
  ['mp4', 'mp4|m4v|mpeg-?4'],
  ['mov', 'mov|quicktime'],
  ['mkv', 'mkv|matroska'],
  ['webm', 'webm'],
]);
const ASPECT_WORDS = named<Aspect>(ASPECTS.map((a) => [a, alt(allOf((v) => v.aspect[a]))]));
const ASPECT_NUMERIC = re(`(?<![\\d:./])(?<!\\d,)(16|9|1|4)\\s*[:/]\\s*(16|9|1|5)(?![\\d:/.,])`);

function named<T>(table: readonly (readonly [T, string])[]): readonly { value: T; pattern: RegExp }[] {
  return table.map(([value, source]) => ({ value, pattern: re(`${LB}(?:${source})${RB}`) }));
}

function namedMentions<T>(
  sc: Scanner,
  table: readonly { value: T; pattern: RegExp }[],
  fileExt: boolean,
): Mention<T>[] {
  const found: { value: T; start: number; end: number; isFileName: boolean }[] = [];
  for (const { value, pattern } of table) {
    for (const m of sc.find(pattern)) {
      const isFileName = fileExt && /[a-z0-9_)\]-]\.$/.test(sc.text.slice(Math.max(0, m.index - 2), m.index));
      found.push({ value, start: m.index, end: m.index + m[0].length, isFileName });
    }
  }
  const roles = rolesOf(sc, found, ROLE_RULES);
  return found.map((f, k) => ({
    value: f.value,
    start: f.start,
    role: f.isFileName ? 'source' : (roles[k] ?? 'plain'),
  }));
}

export function extractCodec(sc: Scanner): VideoCodec | null {
  return pickLast(namedMentions(sc, CODECS, false))?.value ?? null;
}

/** "convert this MOV to MP4" → mp4: the target, not the source (issue #3). "clip.mov" is a file name. */
export function extractContainer(sc: Scanner): Container | null {
  return pickLast(namedMentions(sc, CONTAINERS, true))?.value ?? null;
}

/** "9:16", "vertical", "portrait for reels", "square", "16:9"/"landscape" (issue #3). */
export function extractAspect(sc: Scanner): Aspect | null {
  const mentions: Mention<Aspect>[] = [];
  for (const m of sc.find(ASPECT_NUMERIC)) {
    const a = ASPECTS.find((x) => x === `${m[1]}:${m[2]}`);
    if (a === undefined) continue;
    const r = roleOf(sc, m.index, m.index + m[0].length, ROLE_RULES);
    sc.consume(m.index, m.index + m[0].length);
    mentions.push({ value: a, start: m.index, role: r.role });
  }
  mentions.push(...namedMentions(sc, ASPECT_WORDS, false));
  return pickLast(mentions)?.value ?? null;
}
