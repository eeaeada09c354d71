// What the bot says (pure): plan replies, progress lines, captions, help. Plain words, one message per job.
import type { EncodePlan } from '../domain/encode-plan.js';
import type { PipelineEvent, Stage } from '../domain/events.js';
import type { MediaInfo } from '../domain/media-info.js';
import { formatBytes, formatDuration } from '../domain/units.js';
import type { StoredResult } from '../storage/repo.js';

/** "4K60" / "1080p30" / "720×1280" style shape of a video. */
export function shapeLabel(width: number, height: number, fps: number | null): string {
  const short = Math.min(width, height);
  const name = short >= 2160 ? '4K' : `${short}p`;
  const portrait = height > width ? ' vertical' : '';
  return `${name}${fps ? Math.round(fps) : ''}${portrait}`;
}

function outShape(plan: EncodePlan, info: MediaInfo): string {
  const v = info.video;
  if (plan.video.mode !== 'encode') return v ? shapeLabel(v.displayWidth, v.displayHeight, v.fps) : '';
  const fps = plan.video.fps ?? v?.fps ?? null;
  return shapeLabel(plan.video.width, plan.video.height, fps);
}

/** The reply within a second: what arrived, what will come out, how long. */
export function planReply(info: MediaInfo, plan: EncodePlan, fileName: string): string {
  const v = info.video;
  const src = v ? shapeLabel(v.displayWidth, v.displayHeight, v.fps) : 'video';
  const parts = [
    `${formatBytes(info.sizeBytes)}, ${formatDuration(info.durationSec)} of ${src}`,
    `→ ${outShape(plan, info)}`,
  ];
  if (plan.capBytes !== null) parts.push(`≤ ${formatBytes(plan.capBytes)}`);
  else if (plan.goal === 'remux') parts.push('stream copy, no re-encode');
  else parts.push(`~${formatBytes(plan.estimate.sizeBytes)}`);
  // Before sampling, only a plan without a cap can promise "looks the same"; a capped one may turn out to cost
  // quality, which the result caption then reports as measured.
  const verdict =
    plan.goal === 'remux'
      ? 'identical'
      : plan.capBytes === null
        ? 'looks the same'
        : plan.goal === 'size'
          ? `est. ${plan.estimate.quality.verdict}`
          : 'as close to the original as fits';
  parts.push(verdict);
  parts.push(`~${etaText(plan.estimate.encodeSec)}`);
  const lines = [`Got it — ${fileName}: ${parts.join(', ')}.`];
  for (const w of plan.warnings) lines.push(`⚠️ ${w}`);
  return lines.join('\n');
}

export function etaText(sec: number): string {
  if (sec < 60) return `${Math.max(1, Math.round(sec))} s`;
  if (sec < 3600) return `${Math.round(sec / 60)} min`;
  return `${Math.floor(sec / 3600)} h ${Math.round((sec % 3600) / 60)} min`;
}

const STAGE_WORDS: Record<Stage, string> = {
  probe: 'Reading the video',
  plan: 'Planning',
  sample: 'Measuring quality on samples',
  encode: 'Compressing',
  verify: 'Checking the result',
  deliver: 'Saving',
  upload: 'Sending the video to the cloud',
  edit: 'The cloud editor is working',
  render: 'Rendering in the cloud',
  download: 'Fetching the result',
};

/** A 10-cell text bar: "▓▓▓▓░░░░░░". */
export function bar(ratio: number, cells = 10): string {
  const n = Math.round(Math.min(1, Math.max(0, ratio)) * cells);
  return '▓'.repeat(n) + '░'.repeat(cells - n);
}

/** State the progress message shows; folded from PipelineEvents. */
export interface ProgressView {
  header: string;
  stage: Stage | null;
  ratio: number | null;
  etaSec: number | null;
  sizeBytes: number;
  attempt: number;
  pass: number | null;
  stillWorking: boolean;
  queuePosition: number | null;
}

export function initialView(header: string): ProgressView {
  return {
    header,
    stage: null,
    ratio: null,
    etaSec: null,
    sizeBytes: 0,
    attempt: 1,
    pass: null,
    stillWorking: false,
    queuePosition: null,
  };
}

export function foldProgress(v: ProgressView, e: PipelineEvent): ProgressView {
  switch (e.type) {
    case 'stage':
      return { ...v, stage: e.stage, ratio: null, etaSec: null, stillWorking: false, queuePosition: null };
    case 'progress':
      return {
        ...v,
        stage: e.stage,
        ratio: e.ratio,
        etaSec: e.etaSec,
        sizeBytes: e.sizeBytes,
        attempt: e.attempt,
        pass: e.pass,
        stillWorking: false,
        queuePosition: null,
      };
    case 'heartbeat':
      return v.ratio === null ? { ...v, stillWorking: true } : v;
    case 'attempt':
      return { ...v, attempt: e.n + (e.action === 'retry-lower' || e.action === 'retry-higher' ? 1 : 0) };
    case 'probe':
    case 'plan':
    case 'note':
    case 'done':
    case 'error':
      return v;
  }
}

export function progressText(v: ProgressView): string {
  const lines = [v.header];
  if (v.queuePosition !== null) {
    lines.push(v.queuePosition <= 1 ? '⏳ Starting…' : `⏳ #${v.queuePosition} in the queue`);
    return lines.join('\n\n');
  }
  if (v.stage === null) return lines.join('\n\n');
  const words = STAGE_WORDS[v.stage];
  if (v.ratio === null) {
    lines.push(v.stillWorking ? `⏳ Still working... (${words.toLowerCase()})` : `⏳ ${words}…`);
    return lines.join('\n\n');
  }
  const pct = Math.floor(v.ratio * 100);
  const bits = [`${bar(v.ratio)} ${pct}%`];
  if (v.etaSec !== null && v.stage === 'encode') bits.push(`ETA ${formatDuration(Math.round(v.etaSec))}`);
  // Pass 1 writes only statistics (its "size" is a few bytes of null muxer output): show sizes of the real file only.
  if (v.sizeBytes > 0 && v.stage === 'encode' && v.pass !== 1) bits.push(formatBytes(v.sizeBytes));
  const attempt = v.attempt > 1 ? ` (try ${v.attempt})` : '';
  lines.push(`${words}${attempt}\n${bits.join(' · ')}`);
  return lines.join('\n\n');
}

/** Caption of a delivered result: before → after, shape, duration, quality. */
export function resultCaption(r: StoredResult): string {
  const saved = r.inputBytes > 0 ? Math.round((1 - r.sizeBytes / r.inputBytes) * 100) : 0;
  const change = saved >= 0 ? `−${saved}%` : `+${-saved}%`;
  const lines = [
    `✅ ${formatBytes(r.inputBytes)} → ${formatBytes(r.sizeBytes)} (${change})`,
    `${r.width}×${r.height} · ${Math.round(r.fps * 100) / 100} fps · ${formatDuration(r.durationSec)}`,
  ];
  const q = r.verdict ? `Quality: ${r.verdict}` : null;
  if (q) lines.push(r.ssim !== null ? `${q} (SSIM ${r.ssim.toFixed(3)})` : q);
  if (r.capBytes !== null) lines.push(`Under your ${formatBytes(r.capBytes)} limit.`);
  return lines.join('\n');
}

export const HINT =
  'Tip: tell me what you want in plain words, e.g. "under 25MB", "small enough for Discord", "first 30 s, no sound, 720p".';

export function helpText(maxInputBytes: number): string {
  return [
    'Send me a video (or a link to one) and say what you want:',
    '• "under 200MB without losing quality"',
    '• "small enough for Discord"',
    '• "first 30 s, no sound, 720p"',
    'With no instruction I keep it looking the same and make it smaller (H.264 MP4, up to 1080p).',
    'After a result: "smaller", "better quality", "now 720p", "send as file".',
    `Commands: status, cancel, credits, export (send the last result again), help. Files up to ${formatBytes(maxInputBytes)}.`,
  ].join('\n');
}

export function failureText(message: string): string {
  return `❌ ${message}`;
}
