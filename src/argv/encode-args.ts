// ffmpeg argv for the real encode (pure; golden-tested). One token per entry, never a shell (code-anchors.md rule 2).
import type { AudioSpec, EncodePlan, RateControl, VideoEncodeSpec } from '../domain/encode-plan.js';
import { fileUrl, hardenedInputArgs, intermediateInputArgs } from '../media/allowlists.js';
import { x264RateTolerance } from '../planning/size-budget.js';
import { videoFilterChain } from './filters.js';

export interface EncodeStep {
  kind: 'pass1' | 'pass2' | 'single';
  /** x264 two-pass stats file prefix (inside the job's temp dir). */
  passLogPrefix: string;
  /** Pre-encoded audio (exact bytes known before the video pass) to mux with -c:a copy; null = no audio. */
  audioPath: string | null;
  outputPath: string;
  /** -fs guard: ffmpeg stops writing past this many bytes (frame-explosion and overshoot guard, reliability A6). */
  maxOutputBytes: number;
  threads?: number;
  /**
   * Decode-and-filter once (issue #2, HDR): pass 1 also writes the filtered frames, raw, to `write`; pass 2 and its
   * corrections read them from `read` instead of decoding and tonemapping the source again.
   */
  intermediate?: { write?: string; read?: string };
  /**
   * The final encode (pass 2 or single) also streams its packets to this URL (`pipe:3`) in this format
   * (decodeTapFormat): a decoder reads them while the encoder runs, so the full decode check costs no wall time after
   * the encode (issue #2's verify; BENCHMARKS.md, "Decode while encoding"). The file is then written through ffmpeg's
   * tee muxer, where `-fs` does not apply: the caller watches the size instead.
   */
  decodeTap?: { url: string; format: TapFormat };
  /** libx264 reports SSIM and PSNR of its own output against its input (the filtered frames), for the final encode. */
  encoderMetrics?: boolean;
  /**
   * libx264's first pass at this constant quality instead of one-pass ABR (`src/planning/first-pass.ts`). Its stream
   * is then written as raw H.264 to /dev/null with a flush per packet, so ffmpeg's progress reports its bytes.
   */
  firstPassCrf?: number;
}

/** Raw frames in NUT keep each frame's timestamp, so VFR stays VFR through the intermediate. */
function readIntermediateArgs(path: string): string[] {
  return ['-hide_banner', '-nostdin', '-y', ...intermediateInputArgs(), '-i', fileUrl(path)];
}

/**
 * x264 frame threads for the real encode on a machine with `cores` CPUs. x264's default (1.5 × cores = 3 here) left
 * a 2-core machine part idle while the decoder waited: 4 threads made pass 2 of the 1080p60 pan 8 % faster (16.9 s →
 * 15.6 s) and the 720p screen recording 6 % (1.99 s → 1.86 s), same size and SSIM (BENCHMARKS.md, "x264 threads").
 * Pass 1 gained nothing. Larger machines keep x264's own choice.
 */
export function x264Threads(cores: number): number | undefined {
  return cores <= 2 ? 4 : undefined;
}

/**
 * x264's lookahead in the second pass. Frame types and MB-tree come from the first pass's files there, so the
 * lookahead only feeds the VBV's frame-cost predictions (the screen recording's pass 2 without a VBV was byte-identical
 * at 40, 20 and 10 frames), yet its 40 frames (preset medium) cost time: with 10, the engine's encode stage was
 * faster on all eight bench clips (−1 % to −8 %, median −4 %; the screen recording 3.97 s → 3.78 s) and x264's SSIM-Y
 * moved by −0.00006 to +0.00005 (BENCHMARKS.md, "Eighth session"). The first pass keeps 40: MB-tree needs it.
 */
export const PASS2_LOOKAHEAD_FRAMES = 10;

/** Common head of every command that reads the user's file: allowlists, optional trim seek. */
export function inputArgs(plan: Pick<EncodePlan, 'inputPath' | 'trim'>): string[] {
  const a = ['-hide_banner', '-nostdin', '-y', ...hardenedInputArgs()];
  // Input-side -ss seeks fast and is frame-accurate when decoding (ffmpeg ≥ 2.1).
  if (plan.trim && plan.trim.startSec > 0) a.push('-ss', seconds(plan.trim.startSec));
  a.push('-i', fileUrl(plan.inputPath));
  return a;
}

export function encodeArgs(plan: EncodePlan, step: EncodeStep): string[] {
  if (plan.video.mode !== 'encode') throw new Error('encodeArgs needs a video encode plan');
  const v = plan.video;
  const read = step.intermediate?.read;
  const write = step.kind === 'pass1' ? step.intermediate?.write : undefined;
  const a = read ? readIntermediateArgs(read) : inputArgs(plan);
  const withAudio = step.kind !== 'pass1' && step.audioPath !== null;
  if (withAudio && step.audioPath) a.push('-i', fileUrl(step.audioPath));
  if (write) {
    // One decode and one filter run feed both the first pass and the intermediate.
    a.push('-filter_complex', `[0:${videoStreamSelector(plan)}]${videoFilterChain(v)},split=2[enc][raw]`);
    a.push('-map', '[enc]');
  } else {
    a.push('-map', read ? '0:v:0' : `0:${videoStreamSelector(plan)}`);
  }
  if (withAudio) a.push('-map', '1:a:0', '-c:a', 'copy');
  else a.push('-an');
  a.push('-sn', '-dn', '-t', seconds(plan.outputDurationSec));
  // The intermediate's frames are final: the chain already ran in pass 1.
  if (!write && !read) a.push('-vf', videoFilterChain(v));
  // Keep source timing (VFR stays VFR, no duplicated frames) unless the fps filter already made it constant.
  a.push('-fps_mode', 'passthrough');
  a.push(...videoCodecArgs(v, step));
  if (v.encoder === 'libx264') {
    const params = [
      ...(step.kind === 'pass2'
        ? [`ratetol=${x264RateTolerance(plan.outputDurationSec)}`, `rc-lookahead=${PASS2_LOOKAHEAD_FRAMES}`]
        : []),
      // x264 scores each reconstructed frame against its input: the whole clip, for ~1 % of the encode's CPU.
      ...(step.encoderMetrics === true && step.kind !== 'pass1' ? ['ssim=1', 'psnr=1'] : []),
    ];
    if (params.length > 0) a.push('-x264-params', params.join(':'));
  }
  if (v.tonemap) a.push('-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709');
  if (step.threads !== undefined) a.push('-threads', String(step.threads));
  if (step.kind === 'pass1') {
    // 0.1 s progress: a 12 s clip's first pass takes ~1.5 s, and its rate is read over a fifth of it.
    if (firstPassCrf(v, step) !== null) a.push('-f', 'h264', '-flush_packets', '1', '-stats_period', '0.1');
    else a.push('-f', 'null');
    if (write) {
      a.push('/dev/null', '-map', '[raw]', '-an', '-sn', '-dn', '-t', seconds(plan.outputDurationSec));
      a.push('-fps_mode', 'passthrough', '-c:v', 'rawvideo');
      a.push('-f', 'nut', '-progress', 'pipe:1', '-nostats', write);
      return a;
    }
    a.push('-progress', 'pipe:1', '-nostats', '/dev/null');
    return a;
  }
  if (step.decodeTap !== undefined) {
    a.push(...metadataArgs(plan));
    // The tap's decoder reads NUT from a pipe; the MP4 needs the headers out of band (ffmpeg's tee documentation).
    a.push('-flags', '+global_header', '-f', 'tee', '-progress', 'pipe:1', '-nostats');
    const { format, movflags } = muxer(plan.container);
    const opts = [`f=${format}`, ...(movflags ? [`movflags=${movflags}`] : [])].join(':');
    // onfail=ignore: a decoder that goes away must not cost the encode, the file is then decoded after it.
    const tap =
      step.decodeTap.format === 'mpegts' ? 'f=mpegts:onfail=ignore' : 'f=nut:select=v:onfail=ignore';
    a.push(`[${opts}]${teeEscape(fileUrl(step.outputPath))}|[${tap}]${step.decodeTap.url}`);
    return a;
  }
  a.push(...containerArgs(plan));
  a.push('-fs', String(step.maxOutputBytes), '-progress', 'pipe:1', '-nostats', step.outputPath);
  return a;
}

/** How the final encode's decode tap carries the streams to its decoder. */
export type TapFormat = 'mpegts' | 'nut';

/**
 * The tee passes each stream's codec tag on to every output, and some formats refuse a foreign tag: NUT refuses the
 * `mp4a` of the job's AAC file and x265's `hvc1`, Matroska refuses `mp4a` too. MPEG-TS maps streams by codec and
 * ignores tags, so H.264 and HEVC go as MPEG-TS with the sound (AAC or Opus, the only audio a plan delivers): one
 * decoder checks every stream while the encoder runs, and no separate process decodes the audio file (a 12-s screen
 * recording's job, fastest of 9-11 rounds: 0.09-0.12 s of wall time, BENCHMARKS.md "Ninth session"). VP9 and AV1, which ffmpeg 5.1 cannot put
 * in MPEG-TS, go as NUT, video only, and the audio file is decoded on its own. A Matroska output gets no tap: it is
 * decoded whole after the encode.
 */
export function decodeTapFormat(plan: EncodePlan): TapFormat | null {
  if (plan.video.mode !== 'encode' || plan.container === 'mkv') return null;
  return plan.video.codec === 'h264' || plan.video.codec === 'h265' ? 'mpegts' : 'nut';
}

/** A tee slave's file name is read with av_get_token: backslash, quote and the slave separator need a backslash. */
function teeEscape(name: string): string {
  return name.replace(/[\\'|]/gu, (c) => `\\${c}`);
}

function videoStreamSelector(plan: EncodePlan): string {
  return plan.videoStreamIndex === null ? 'v:0' : String(plan.videoStreamIndex);
}

export function videoCodecArgs(
  v: VideoEncodeSpec,
  step: Pick<EncodeStep, 'kind' | 'passLogPrefix' | 'firstPassCrf'>,
): string[] {
  const a: string[] = [];
  switch (v.encoder) {
    case 'libx264':
      a.push('-c:v', 'libx264', '-preset', v.preset, '-profile:v', 'high', '-pix_fmt', v.pixFmt);
      break;
    case 'libx265':
      // hvc1 tag: Apple players refuse HEVC in MP4 tagged hev1.
      a.push('-c:v', 'libx265', '-preset', v.preset, '-tag:v', 'hvc1', '-pix_fmt', v.pixFmt);
      a.push('-x265-params', 'log-level=error');
      break;
    case 'libsvtav1':
      a.push('-c:v', 'libsvtav1', '-preset', v.preset, '-pix_fmt', v.pixFmt);
      break;
    case 'libvpx-vp9':
      a.push(
        '-c:v',
        'libvpx-vp9',
        '-deadline',
        'good',
        '-cpu-used',
        v.preset,
        '-row-mt',
        '1',
        '-pix_fmt',
        v.pixFmt,
      );
      break;
  }
  if (v.keyintFrames !== null) a.push('-g', String(v.keyintFrames));
  a.push(...rateArgs(v, step));
  return a;
}

/** The CRF of an x264 first pass run at constant quality, or null for every other step and encoder. */
function firstPassCrf(v: VideoEncodeSpec, step: Pick<EncodeStep, 'kind' | 'firstPassCrf'>): number | null {
  return step.kind === 'pass1' && v.encoder === 'libx264' ? (step.firstPassCrf ?? null) : null;
}

function rateArgs(
  v: VideoEncodeSpec,
  step: Pick<EncodeStep, 'kind' | 'passLogPrefix' | 'firstPassCrf'>,
): string[] {
  const r: RateControl = v.rate;
  const constantQuality = firstPassCrf(v, step);
  if (constantQuality !== null) {
    // No VBV here: the ceiling is the second pass's job, and the first pass only records each frame's cost.
    return ['-crf', String(constantQuality), '-pass', '1', '-passlogfile', step.passLogPrefix];
  }
  if (r.kind === 'crf') {
    const a = ['-crf', String(r.crf)];
    if (v.encoder === 'libvpx-vp9') a.push('-b:v', '0');
    if (r.maxrateKbps !== null && r.bufsizeKbps !== null) {
      a.push('-maxrate', `${r.maxrateKbps}k`, '-bufsize', `${r.bufsizeKbps}k`);
    }
    return a;
  }
  const a = ['-b:v', `${r.videoKbps}k`, '-maxrate', `${r.maxrateKbps}k`, '-bufsize', `${r.bufsizeKbps}k`];
  if (step.kind === 'pass1' || step.kind === 'pass2') {
    if (v.encoder === 'libx265') {
      a.push(
        '-x265-params',
        `log-level=error:pass=${step.kind === 'pass1' ? 1 : 2}:stats=${step.passLogPrefix}.log`,
      );
    } else {
      a.push('-pass', step.kind === 'pass1' ? '1' : '2', '-passlogfile', step.passLogPrefix);
    }
  }
  return a;
}

function metadataArgs(plan: Pick<EncodePlan, 'stripMetadata'>): string[] {
  // Phone clips carry GPS location and device tags; a creator posting publicly should not leak them (Immich strips
  // metadata too). Only the title-less essentials remain.
  return plan.stripMetadata ? ['-map_metadata', '-1', '-map_chapters', '-1'] : [];
}

function muxer(container: EncodePlan['container']): { format: string; movflags: string | null } {
  switch (container) {
    case 'mp4':
      // moov first: playback starts before the whole file has downloaded (PRODUCT.md promise 7).
      return { format: 'mp4', movflags: '+faststart' };
    case 'mov':
      return { format: 'mov', movflags: '+faststart' };
    case 'mkv':
      return { format: 'matroska', movflags: null };
    case 'webm':
      return { format: 'webm', movflags: null };
  }
}

export function containerArgs(plan: Pick<EncodePlan, 'container' | 'stripMetadata'>): string[] {
  const { format, movflags } = muxer(plan.container);
  return [...metadataArgs(plan), ...(movflags ? ['-movflags', movflags] : []), '-f', format];
}

/** Audio encoded (or copied) on its own first, so its exact size is known before the video budget is set. */
export function audioArgs(
  plan: EncodePlan,
  audio: Exclude<AudioSpec, { mode: 'none' }>,
  outputPath: string,
  format: 'mp4' | 'matroska',
): string[] {
  const a = inputArgs(plan);
  a.push('-map', `0:${audio.streamIndex}`, '-vn', '-sn', '-dn', '-t', seconds(plan.outputDurationSec));
  if (audio.mode === 'copy') a.push('-c:a', 'copy');
  else {
    a.push('-c:a', audio.codec === 'opus' ? 'libopus' : 'aac', '-b:a', `${audio.kbps}k`);
    a.push('-ac', String(audio.channels), '-ar', String(audio.sampleRateHz));
  }
  a.push('-map_metadata', '-1', '-f', format, outputPath);
  return a;
}

/** Stream copy into the target container (the remux path: the input already satisfies the request). */
export function remuxArgs(plan: EncodePlan, outputPath: string): string[] {
  const a = inputArgs(plan);
  a.push('-map', '0:v:0');
  if (plan.audio.mode !== 'none') a.push('-map', `0:${plan.audio.streamIndex}`);
  a.push('-c', 'copy', '-sn', '-dn', '-t', seconds(plan.outputDurationSec));
  a.push(...containerArgs(plan), '-progress', 'pipe:1', '-nostats', outputPath);
  return a;
}

export function seconds(x: number): string {
  return Number(x.toFixed(3)).toString();
}
