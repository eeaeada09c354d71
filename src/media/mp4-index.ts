// The facts the verify stage checks, read from an MP4/MOV output's own index (moov) with GPAC's MP4Box.js parser,
// without a process: the output ffprobe cost 0.13–0.16 s of every job's critical path, 3–4 % of a 12 s clip's job
// (BENCHMARKS.md, "Eighth session"). Only files this engine encoded are read this way; anything else is ffprobe's.
import { open } from 'node:fs/promises';
import { createFile, MP4BoxBuffer, type Movie } from 'mp4box';
import type { ContainerFacts } from '../domain/media-info.js';

/** ISO BMFF sample entry (RFC 6381 prefix) → ffprobe's codec name, for the codecs this engine writes. */
const CODECS: Record<string, string> = {
  avc1: 'h264',
  avc3: 'h264',
  hvc1: 'hevc',
  hev1: 'hevc',
  av01: 'av1',
  vp09: 'vp9',
  'mp4a.40': 'aac',
  opus: 'opus',
  flac: 'flac',
  'ac-3': 'ac3',
  'ec-3': 'eac3',
};

export function ffprobeCodecName(rfc6381: string): string | null {
  const lower = rfc6381.toLowerCase();
  const [entry = ''] = lower.split('.');
  return CODECS[lower.startsWith('mp4a.40') ? 'mp4a.40' : entry] ?? null;
}

/** The identity display matrix (16.16 and 2.30 fixed point): anything else would rotate or scale the picture. */
const IDENTITY = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000];

/** Reads at most this much of the file looking for the index (faststart puts it first; 12 B a frame). */
const MAX_READ_BYTES = 64 * 1024 * 1024;
const CHUNK_BYTES = 1024 * 1024;

/**
 * The facts of an MP4/MOV file from its index, or null when the index is missing, fragmented, rotated or holds a
 * codec or track this engine does not write: the caller then asks ffprobe.
 */
export async function readMp4Facts(path: string): Promise<ContainerFacts | null> {
  const fh = await open(path, 'r');
  try {
    const sizeBytes = (await fh.stat()).size;
    const file = createFile();
    let movie: Movie | null = null;
    let failed = false;
    file.onReady = (m) => {
      movie = m;
    };
    file.onError = () => {
      failed = true;
    };
    let offset = 0;
    while (movie === null && !failed && offset < Math.min(sizeBytes, MAX_READ_BYTES)) {
      const chunk = new Uint8Array(Math.min(CHUNK_BYTES, sizeBytes - offset));
      const { bytesRead } = await fh.read(chunk, 0, chunk.length, offset);
      if (bytesRead === 0) break;
      const ab = bytesRead === chunk.length ? chunk.buffer : chunk.buffer.slice(0, bytesRead);
      const at = offset;
      quietly(() => file.appendBuffer(MP4BoxBuffer.fromArrayBuffer(ab, at)));
      offset += bytesRead;
    }
    quietly(() => file.flush());
    return movie === null || failed ? null : factsFromMovie(movie, sizeBytes);
  } catch {
    return null;
  } finally {
    await fh.close();
  }
}

/** Pure: MP4Box.js's movie description → ContainerFacts (null for what the caller should leave to ffprobe). */
function factsFromMovie(m: Movie, sizeBytes: number): ContainerFacts | null {
  if (m.isFragmented || !(m.timescale > 0) || !(m.duration > 0)) return null;
  let video: ContainerFacts['video'] = null;
  const audioCodecs: string[] = [];
  for (const t of m.tracks) {
    const codec = ffprobeCodecName(t.codec);
    if (codec === null || !(t.timescale > 0)) return null;
    if (t.type === 'video') {
      if (video !== null || !t.video) return null;
      if (!sameMatrix(t.matrix)) return null;
      const sec = t.duration / t.timescale;
      video = {
        codec,
        displayWidth: Math.round(t.track_width),
        displayHeight: Math.round(t.track_height),
        fps: sec > 0 ? t.nb_samples / sec : 0,
        frameCount: t.nb_samples,
      };
    } else if (t.type === 'audio') {
      audioCodecs.push(codec);
    } else {
      return null;
    }
  }
  return { sizeBytes, durationSec: m.duration / m.timescale, video, audioCodecs };
}

/**
 * MP4Box.js reports boxes it does not know (QuickTime's '©swr' user data in MOV) with console.error, at a level its
 * Log.setLogLevel cannot turn off. The parse is synchronous, so nothing else runs while console.error is muted.
 */
function quietly<T>(parse: () => T): T {
  const error = console.error;
  console.error = () => undefined;
  try {
    return parse();
  } finally {
    console.error = error;
  }
}

function sameMatrix(matrix: ArrayLike<number> | undefined): boolean {
  if (!matrix) return true;
  return IDENTITY.every((x, i) => matrix[i] === x);
}
