// A poster frame for chat platforms. Telegram shows a sendVideo thumbnail only if it is "in JPEG format and less than
// 200 kB in size", with width and height not exceeding 320 (bots/api sendVideo; chatbot-anchors §2.1); without one
// the client shows a grey box until the video loads. The frame is taken ~1 s in (the first frame is often black or a
// fade), or at the start of clips shorter than that.
import { stat, unlink } from 'node:fs/promises';
import { AppError } from '../domain/errors.js';
import { fileUrl, hardenedInputArgs } from './allowlists.js';
import { runFfmpeg } from './ffmpeg.js';

/** Telegram's documented bounds: ≤ 320 px per side, < 200 kB. */
export const THUMBNAIL_MAX_SIDE = 320;
export const THUMBNAIL_MAX_BYTES = 200_000;

export function thumbnailArgs(videoPath: string, outPath: string, atSec: number, quality: number): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    '-v',
    'error',
    ...(atSec > 0 ? ['-ss', String(atSec)] : []),
    ...hardenedInputArgs(),
    '-i',
    fileUrl(videoPath),
    '-map',
    '0:v:0',
    '-frames:v',
    '1',
    '-an',
    '-sn',
    '-dn',
    // Square pixels first (anamorphic sources), then fit inside 320×320 without upscaling; autorotate (default on)
    // has already turned a phone's portrait clip upright.
    '-vf',
    `scale=trunc(iw*sar/2)*2:ih,setsar=1,scale='min(${THUMBNAIL_MAX_SIDE},iw)':'min(${THUMBNAIL_MAX_SIDE},ih)':force_original_aspect_ratio=decrease,format=yuvj420p`,
    '-c:v',
    'mjpeg',
    '-q:v',
    String(quality),
    // The raw mjpeg muxer writes exactly one JPEG; image2 would read "%" in the path as a sequence pattern.
    '-f',
    'mjpeg',
    fileUrl(outPath),
  ];
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Writes a JPEG poster frame of `videoPath` to `outPath` (absolute paths). Throws an AppError when no frame could be
 * decoded or the JPEG cannot be brought under 200 kB.
 */
export async function makeThumbnail(videoPath: string, outPath: string, signal?: AbortSignal): Promise<void> {
  const run = { signal, timeoutMs: 60_000, stallMs: 60_000 };
  // A seek past the end of a short clip encodes nothing (exit 0, empty file): fall back to the first frame.
  for (const atSec of [1, 0]) {
    for (const quality of [4, 12, 31]) {
      await runFfmpeg(thumbnailArgs(videoPath, outPath, atSec, quality), run);
      const size = await sizeOf(outPath);
      if (size === 0) break;
      if (size < THUMBNAIL_MAX_BYTES) return;
    }
  }
  await unlink(outPath).catch(() => undefined);
  throw new AppError('INTERNAL', {}, { internal: { reason: 'no thumbnail frame', videoPath } });
}
