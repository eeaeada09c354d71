// The one-line English read-back of what was understood (PRODUCT.md contract: `summary`), and the human form
// `vidshrink parse` prints without --json.
import type { Intent, Trim, VideoCodec } from '../domain/intent.js';
import { formatBytes, formatDuration } from '../domain/units.js';
import { findPlatform } from './platforms.js';

export const DEFAULTS_TEXT = 'H.264 MP4, up to 1080p, looks the same';

const COMMAND_LINES = {
  status: 'Show how the current job is going.',
  cancel: 'Cancel the current job.',
  help: 'Show what I can do.',
  credits: 'Show the credit balance.',
  export: 'Send the latest result.',
} as const;

const CODEC_NAMES: Readonly<Record<VideoCodec, string>> = {
  h264: 'H.264',
  h265: 'H.265',
  av1: 'AV1',
  vp9: 'VP9',
};
const QUALITY_TEXT = {
  high: 'looks the same',
  balanced: 'balance of size and quality',
  small: 'as small as possible',
};
const ADJUST_TEXT = {
  smaller: 'Make the last result smaller',
  better: 'Make the last result look better',
  undo: 'Undo the last change',
};

function seconds(sec: number): string {
  return sec < 60 ? `${Number(sec.toFixed(1))} s` : formatDuration(sec);
}

function trimText(t: Trim): string {
  if (t.endSec === null) return `from ${formatDuration(t.startSec)} to the end`;
  if (t.startSec === 0) return `first ${seconds(t.endSec)}`;
  return `${formatDuration(t.startSec)}–${formatDuration(t.endSec)}`;
}

function fieldParts(i: Intent): string[] {
  const parts: string[] = [];
  const platform = i.platform === null ? null : (findPlatform(i.platform)?.name ?? i.platform);
  if (i.maxBytes !== null)
    parts.push(`under ${formatBytes(i.maxBytes)}${platform ? ` for ${platform}` : ''}`);
  else if (platform) parts.push(`for ${platform}`);
  if (i.maxBytesRatio !== null)
    parts.push(`at most ${Number((i.maxBytesRatio * 100).toFixed(1))}% of the original size`);
  if (i.quality !== null) parts.push(QUALITY_TEXT[i.quality]);
  if (i.maxShortSide !== null) parts.push(`${i.maxShortSide}p`);
  if (i.fps !== null) parts.push(`${i.fps} fps`);
  if (i.videoCodec !== null) parts.push(CODEC_NAMES[i.videoCodec]);
  if (i.container !== null) parts.push(i.container.toUpperCase());
  if (i.trim !== null) parts.push(trimText(i.trim));
  if (i.audio !== null) parts.push(i.audio === 'remove' ? 'no sound' : 'keep the sound');
  if (i.aspect !== null) parts.push(`crop to ${i.aspect}`);
  return parts;
}

function sentence(parts: readonly string[]): string {
  const s = parts.join(', ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

/** One line, in English, saying back what was understood ("Under 200 MB, looks the same, 720p, first 30 s, no sound."). */
export function summarize(i: Intent): string {
  const parts = fieldParts(i);
  if (i.command === 'refine') {
    const head = i.adjust === null ? 'Redo the last result' : ADJUST_TEXT[i.adjust];
    return parts.length > 0 ? `${head}: ${parts.join(', ')}.` : `${head}.`;
  }
  if (parts.length > 0) return sentence(parts);
  if (i.command === 'compress') return `Compress with the defaults (${DEFAULTS_TEXT}).`;
  if (i.command !== null) return COMMAND_LINES[i.command];
  return `Nothing specific understood; the defaults apply (${DEFAULTS_TEXT}).`;
}

function valueText(key: keyof Intent, v: unknown): string {
  if (key === 'maxBytes' && typeof v === 'number') return `${v} (${formatBytes(v)})`;
  if (key === 'maxBytesRatio' && typeof v === 'number') return `${Number(v.toFixed(4))}`;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The summary, then one indented "field: value" line per non-null field (the CLI's `parse` without --json). */
export function formatIntentHuman(intent: Intent): string {
  const lines = [intent.summary];
  for (const [k, v] of Object.entries(intent) as [keyof Intent, unknown][]) {
    if (k !== 'summary' && v !== null) lines.push(`  ${k}: ${valueText(k, v)}`);
  }
  return lines.join('\n');
}
