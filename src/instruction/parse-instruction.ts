// Minimal instruction parser (issue #2 allows it until the full parser of issue #3 lands): sizes like
// "under 200MB", quality words, "no sound". Pure; anything else is ignored, never guessed.
import { AppError } from '../domain/errors.js';
import { emptyIntent, type Intent } from '../domain/intent.js';
import { formatBytes, parseSize, TB } from '../domain/units.js';

const SIZE_RE = /(\d+(?:[.,]\d+)?)\s*(kib|mib|gib|kb|mb|gb|tb|k|m|g)\b/gi;

export function parseInstruction(text: string): Intent {
  const t = text.normalize('NFKC').toLowerCase();
  const intent = emptyIntent();
  let last: number | null = null;
  for (const m of t.matchAll(SIZE_RE)) last = parseSize(`${m[1]}${m[2]}`);
  if (last !== null) {
    if (last <= 0) throw new AppError('INSTRUCTION_INVALID', { reason: 'the size must be above 0' });
    if (last > 10 * TB) throw new AppError('INSTRUCTION_INVALID', { reason: 'that size is far beyond any video' });
    intent.maxBytes = last;
  }
  if (/without losing quality|visually lossless|best quality|keep (the )?quality/.test(t)) intent.quality = 'high';
  else if (/as small as possible|smallest/.test(t)) intent.quality = 'small';
  if (/\b(mute|no sound|without (the )?audio|remove (the )?audio|silent)\b/.test(t)) intent.audio = 'remove';
  if (t.trim() !== '') intent.command = 'compress';
  intent.summary = summarize(intent);
  return intent;
}

function summarize(i: Intent): string {
  const parts: string[] = [];
  if (i.maxBytes !== null) parts.push(`under ${formatBytes(i.maxBytes)}`);
  if (i.quality === 'high') parts.push('looks the same');
  if (i.quality === 'small') parts.push('as small as possible');
  if (i.audio === 'remove') parts.push('no sound');
  return parts.length ? `Compress: ${parts.join(', ')}.` : 'Compress with the defaults (H.264 MP4, up to 1080p, looks the same).';
}

export function formatIntentHuman(intent: Intent): string {
  const lines = [intent.summary];
  for (const [k, v] of Object.entries(intent)) if (k !== 'summary' && v !== null) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  return lines.join('\n');
}
