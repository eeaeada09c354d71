// PipelineEvent → what a person sees on a terminal (a progress bar with ETA), or NDJSON for scripts (--json).
import type { PipelineEvent, JobResult } from '../domain/events.js';
import type { EncodePlan } from '../domain/encode-plan.js';
import type { MediaInfo } from '../domain/media-info.js';
import { formatBitrate, formatBytes, formatDuration } from '../domain/units.js';

export interface Out {
  write(s: string): void;
  isTTY: boolean;
}

export function renderJson(e: PipelineEvent, input: string, out: Out): void {
  out.write(JSON.stringify({ ...e, input }) + '\n');
}

export class TtyRenderer {
  private lastLen = 0;
  /** `err` receives failures: a script reading stdout must still see them on stderr. */
  constructor(
    private readonly out: Out,
    private readonly err: Out = out,
  ) {}

  event(e: PipelineEvent): void {
    switch (e.type) {
      case 'stage':
        this.clear();
        if (!this.out.isTTY || e.stage === 'probe' || e.stage === 'plan') this.line(`· ${e.message}…`);
        break;
      case 'probe':
        this.line(describeInfo(e.info));
        break;
      case 'plan':
        this.line(describePlan(e.plan));
        break;
      case 'progress':
        if (this.out.isTTY) this.bar(e);
        break;
      case 'heartbeat':
        if (this.out.isTTY) this.status(`⏳ Still working… ${formatDuration(e.elapsedSec)}`);
        break;
      case 'note':
        this.clear();
        this.line(e.text);
        break;
      case 'attempt':
        this.clear();
        if (e.action !== 'accept') this.line(`  attempt ${e.n}: ${formatBytes(e.sizeBytes)} — ${e.reason}`);
        break;
      case 'done':
        this.clear();
        this.line(describeResult(e.result));
        break;
      case 'error':
        this.clear();
        this.err.write(`✗ ${e.error.message} [${e.error.code}]\n`);
        break;
    }
  }

  private bar(e: Extract<PipelineEvent, { type: 'progress' }>): void {
    const width = 24;
    const filled = Math.round(e.ratio * width);
    const pct = `${Math.floor(e.ratio * 100)}%`.padStart(4);
    const parts = [`[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${pct}`, e.stage];
    if (e.pass !== null) parts.push(`pass ${e.pass}`);
    if (e.sizeBytes > 0) parts.push(formatBytes(e.sizeBytes));
    if (e.speed !== null) parts.push(`${e.speed.toFixed(2)}×`);
    if (e.etaSec !== null) parts.push(`ETA ${formatDuration(Math.round(e.etaSec))}`);
    this.status(parts.join(' · '));
  }

  private status(s: string): void {
    const pad = Math.max(0, this.lastLen - s.length);
    this.out.write(`\r${s}${' '.repeat(pad)}`);
    this.lastLen = s.length;
  }

  private clear(): void {
    if (this.lastLen > 0) {
      this.out.write(`\r${' '.repeat(this.lastLen)}\r`);
      this.lastLen = 0;
    }
  }

  private line(s: string): void {
    this.out.write(s + '\n');
  }
}

export function describeInfo(info: MediaInfo): string {
  const v = info.video;
  const pic = v
    ? `${v.displayWidth}×${v.displayHeight} ${v.codec}${v.hdr ? ` HDR ${v.hdr.toUpperCase()}` : ''} ${v.fps.toFixed(2).replace(/\.00$/, '')} fps${v.isVfr ? ' (variable)' : ''}${v.rotationDeg ? `, rotated ${v.rotationDeg}°` : ''}`
    : 'no video';
  const aud = info.audio.length ? info.audio.map((a) => `${a.codec} ${a.channels}ch`).join(', ') : 'no audio';
  return `  ${formatBytes(info.sizeBytes)}, ${formatDuration(info.durationSec)} · ${pic} · ${aud}`;
}

export function describePlan(plan: EncodePlan): string {
  const lines: string[] = [];
  const v = plan.video;
  let what: string;
  if (v.mode === 'copy') what = `copy streams into ${plan.container.toUpperCase()}`;
  else {
    const rate =
      v.rate.kind === 'crf'
        ? `CRF ${v.rate.crf}`
        : `2-pass ${formatBitrate(v.rate.videoKbps * 1000)} (peaks ≤ ${formatBitrate(v.rate.maxrateKbps * 1000)})`;
    what = `${v.codec.toUpperCase()} ${v.width}×${v.height}${v.fps ? ` @${v.fps} fps` : ''}, ${rate}`;
  }
  const a = plan.audio;
  const audio =
    a.mode === 'none'
      ? 'no audio'
      : a.mode === 'copy'
        ? 'audio copied'
        : `${a.codec.toUpperCase()} ${a.kbps} kb/s${a.channels === 1 ? ' mono' : ''}`;
  lines.push(`Plan: ${what}, ${audio}${plan.capBytes !== null ? `, ≤ ${formatBytes(plan.capBytes)}` : ''}`);
  const q = plan.estimate.quality;
  lines.push(
    `  est. ${formatBytes(plan.estimate.sizeBytes)}, quality: ${q.verdict}${q.ssim !== null ? ` (SSIM ${q.ssim.toFixed(4)})` : ''}, ~${formatDuration(Math.round(plan.estimate.encodeSec))} to encode`,
  );
  for (const r of plan.reasons) lines.push(`  - ${r}`);
  for (const w of plan.warnings) lines.push(`  ! ${w}`);
  return lines.join('\n');
}

export function describeResult(r: JobResult): string {
  const pct = Math.round((100 * r.sizeBytes) / r.inputBytes);
  const cap =
    r.capBytes !== null
      ? ` (cap ${formatBytes(r.capBytes)}, ${((100 * r.sizeBytes) / r.capBytes).toFixed(1)} % used)`
      : '';
  const q = r.quality;
  return [
    `✓ ${r.outputPath}`,
    `  ${formatBytes(r.inputBytes)} → ${formatBytes(r.sizeBytes)} (${pct} %)${cap}`,
    `  ${r.width}×${r.height} ${r.fps} fps ${r.videoCodec}${r.audioCodec ? ` + ${r.audioCodec}` : ''}, ${formatDuration(r.durationSec)}, quality: ${q.verdict}${q.ssim !== null ? ` (SSIM ${q.ssim.toFixed(4)}, PSNR ${q.psnrDb?.toFixed(1)} dB)` : ''}, ${r.elapsedSec.toFixed(1)} s`,
  ].join('\n');
}
