// Absolute size caps → maxBytes (PRODUCT.md "Units and words": MB = 10^6 B, MiB = 2^20 B; Mo, 兆/M alike).
// Every "number + size unit" is a mention; the ones describing the source ("my clip is 3GB") are consumed but
// not used; the last other one is the cap ("under 200MB… actually 150MB" → 150 MB).
import { AppError } from '../../domain/errors.js';
import { decimalToBytes, formatBytes, TB, TEXT_SIZE_UNITS } from '../../domain/units.js';
import { NUMBER, re, SIZE_UNIT } from '../patterns.js';
import { pickLast, roleOf, SIZE_ROLE_RULES, type Mention, type Scanner } from '../scanner.js';

/** Beyond any video anyone sends to a chat bot (issue #3: "pick a sane ceiling like > 10 TB"). */
export const MAX_CAP_BYTES = 10 * TB;

/** "-5MB" keeps its sign so it can be refused; "mb/s" is a bit rate, not a size. */
const SIZE = re(`(?<![\\w./])(?<!\\d,)(-\\s?)?(${NUMBER})\\s*(${SIZE_UNIT})(?![a-z])(?!\\s*/\\s*s)`);

export function extractSize(sc: Scanner): number | null {
  const mentions: Mention<{ bytes: number; text: string }>[] = [];
  for (const m of sc.find(SIZE)) {
    const unit = TEXT_SIZE_UNITS[m[3] ?? ''];
    const bytes = unit === undefined ? null : decimalToBytes(m[2] ?? '', unit);
    if (bytes === null) continue;
    const end = m.index + m[0].length;
    const { role, from, to } = roleOf(sc, m.index, end, SIZE_ROLE_RULES);
    sc.consume(from, to);
    mentions.push({ value: { bytes: m[1] ? -bytes : bytes, text: m[0].trim() }, start: m.index, role });
  }
  const pick = pickLast(mentions);
  if (pick === null) return null;
  const { bytes, text } = pick.value;
  if (bytes <= 0)
    throw new AppError('INSTRUCTION_INVALID', { reason: `a size cap of ${text} leaves no room for a video` });
  if (bytes > MAX_CAP_BYTES) {
    throw new AppError('INSTRUCTION_INVALID', {
      reason: `a cap of ${text} (${formatBytes(bytes)}) is beyond any video; ask for a size under ${formatBytes(MAX_CAP_BYTES)}`,
    });
  }
  return bytes;
}
