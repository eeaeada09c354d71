// MediaInfo: one normalized ffprobe result (code-anchors.md rule 3). Units are in the field names.

export interface VideoStreamInfo {
  index: number;
  codec: string;
  profile: string | null;
  /** Coded size, before rotation. */
  width: number;
  height: number;
  /** Display-matrix rotation in degrees, normalized to 0/90/180/270 (phones store portrait as 90/270). */
  rotationDeg: 0 | 90 | 180 | 270;
  /** What a player shows: coded size rotated, sample aspect ratio applied. */
  displayWidth: number;
  displayHeight: number;
  /** Average frame rate (frames / duration). */
  fps: number;
  /** Declared (r_frame_rate) rate; differs from the average on variable-frame-rate phone clips. */
  declaredFps: number;
  isVfr: boolean;
  bitDepth: number;
  pixFmt: string;
  colorTransfer: string | null;
  colorPrimaries: string | null;
  colorSpace: string | null;
  /** HLG (arib-std-b67) or PQ (smpte2084) transfer. */
  hdr: 'hlg' | 'pq' | null;
  bitrateBps: number | null;
  frameCount: number | null;
  /** First timestamp of the stream (encoders' B-frame delay shows up here), seconds. */
  startTimeSec: number;
}

export interface AudioStreamInfo {
  index: number;
  codec: string;
  channels: number;
  sampleRateHz: number;
  bitrateBps: number | null;
  language: string | null;
}

export interface SubtitleStreamInfo {
  index: number;
  codec: string;
  language: string | null;
}

export interface MediaInfo {
  path: string;
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  formatName: string;
  /** The allowlisted demuxer family the file was recognised as. */
  container: 'mp4' | 'matroska' | 'avi' | 'mpegts' | 'mpegps' | 'ogg' | 'flv';
  durationSec: number;
  sizeBytes: number;
  bitrateBps: number | null;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo[];
  subtitles: SubtitleStreamInfo[];
}

/** Short side of what the viewer sees ("1080p" names the short side: PRODUCT.md). */
export function shortSide(v: Pick<VideoStreamInfo, 'displayWidth' | 'displayHeight'>): number {
  return Math.min(v.displayWidth, v.displayHeight);
}

/** What verification and the job result need to know about a delivered file. */
export interface ContainerFacts {
  sizeBytes: number;
  durationSec: number;
  video: {
    codec: string;
    displayWidth: number;
    displayHeight: number;
    /** Frames / duration, as ffprobe's average rate. */
    fps: number;
    /** Samples in the index, or null where the container does not count them. */
    frameCount: number | null;
  } | null;
  /** ffprobe codec names of the audio streams, in file order. */
  audioCodecs: string[];
}

export function containerFactsOf(info: MediaInfo): ContainerFacts {
  const v = info.video;
  return {
    sizeBytes: info.sizeBytes,
    durationSec: info.durationSec,
    video: v
      ? {
          codec: v.codec,
          displayWidth: v.displayWidth,
          displayHeight: v.displayHeight,
          fps: v.fps,
          frameCount: v.frameCount,
        }
      : null,
    audioCodecs: info.audio.map((a) => a.codec),
  };
}
