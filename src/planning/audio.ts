// Audio choice (pure). Audio bitrate scales with the budget (issue #2: 160k → 128k → 96k → 64k mono) and is dropped
// only when asked. A source already in a compatible codec at or below the chosen bitrate is copied, not re-encoded.
import type { AudioSpec } from '../domain/encode-plan.js';
import type { Container } from '../domain/intent.js';
import type { AudioStreamInfo } from '../domain/media-info.js';

interface AudioRung {
  kbps: number;
  channels: 1 | 2;
}

/** HandBrake Social presets use 160k stereo AAC; old Discord presets 64k mono; below that AAC-LC speech still works. */
export const AUDIO_LADDER: readonly AudioRung[] = [
  { kbps: 160, channels: 2 },
  { kbps: 128, channels: 2 },
  { kbps: 96, channels: 2 },
  { kbps: 64, channels: 1 },
  { kbps: 48, channels: 1 },
];

/**
 * Share of the total bitrate audio may take before it steps down. 12 % keeps 128k for budgets ≥ ~1 Mb/s (a 25 MB
 * two-minute clip) and reaches 64k mono near 0.5 Mb/s, where the picture needs every bit.
 */
const AUDIO_SHARE = 0.12;

export function chooseAudioRung(totalBudgetKbps: number | null, sourceKbps: number | null): AudioRung {
  const ceiling = sourceKbps === null ? 160 : Math.max(48, sourceKbps);
  for (const rung of AUDIO_LADDER) {
    if (rung.kbps > ceiling) continue;
    if (totalBudgetKbps === null || rung.kbps <= totalBudgetKbps * AUDIO_SHARE) return rung;
  }
  return AUDIO_LADDER[AUDIO_LADDER.length - 1] ?? { kbps: 48, channels: 1 };
}

/** Pick the default (or first) audio track; phones sometimes add a second track, which is dropped. */
export function pickAudioStream(streams: readonly AudioStreamInfo[]): AudioStreamInfo | null {
  return streams[0] ?? null;
}

export function planAudio(
  stream: AudioStreamInfo | null,
  remove: boolean,
  container: Container,
  totalBudgetKbps: number | null,
): { spec: AudioSpec; reason: string | null } {
  if (remove) return { spec: { mode: 'none' }, reason: 'Sound removed, as asked.' };
  if (!stream) return { spec: { mode: 'none' }, reason: null };
  const codec = container === 'webm' ? 'opus' : 'aac';
  const srcKbps = stream.bitrateBps === null ? null : Math.round(stream.bitrateBps / 1000);
  const rung = chooseAudioRung(totalBudgetKbps, srcKbps);
  const channels: 1 | 2 = stream.channels === 1 ? 1 : rung.channels;
  const kbps = monoKbps(rung, channels);
  const copyable =
    (codec === 'aac' && stream.codec === 'aac') || (codec === 'opus' && stream.codec === 'opus');
  if (copyable && srcKbps !== null && srcKbps <= kbps + 8 && stream.channels <= 2) {
    return { spec: { mode: 'copy', streamIndex: stream.index }, reason: null };
  }
  // Opus only runs at 48 kHz; AAC keeps 44.1/48 kHz and brings anything higher down to 48 kHz.
  const sampleRateHz = codec === 'opus' ? 48000 : stream.sampleRateHz === 44100 ? 44100 : 48000;
  const reason =
    totalBudgetKbps !== null && rung.kbps < 128
      ? `Audio at ${kbps} kb/s${channels === 1 ? ' mono' : ''} to leave the picture enough bits.`
      : null;
  return {
    spec: { mode: 'encode', streamIndex: stream.index, codec, kbps, channels, sampleRateHz },
    reason,
  };
}

/**
 * The ladder's stereo rates are per pair of channels: a mono source (most phone microphones record one) gets half,
 * as HandBrake defaults mono AAC to 80k beside 160k stereo and its Discord presets use 64k mono. 128k spent on one
 * channel was 2 % of a 4 MB, 10-s clip's budget taken from the picture (BENCHMARKS.md, pan clip).
 */
function monoKbps(rung: AudioRung, channels: 1 | 2): number {
  return channels === 1 && rung.channels === 2 ? Math.max(48, rung.kbps / 2) : rung.kbps;
}
