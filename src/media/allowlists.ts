// What ffmpeg/ffprobe may open (reliability-anchors.md §0 rules 1 and 4, §1.1–1.2). Demuxers that open other files
// (hls, dash, concat, image2, tty, …) are not listed, so a playlist hidden in any extension fails at probe time.

/** `-format_whitelist`: demuxer names (av_match_list matches "mov" against "mov,mp4,m4a,3gp,3g2,mj2"). */
export const DEMUXER_ALLOWLIST = ['mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'ogg', 'flv'] as const;

/**
 * `-codec_whitelist`: decoders allowed on user input. Phone, camera, screen-recorder and editor codecs; everything
 * else (obscure decoders are where most of ffmpeg's CVEs live, e.g. CVE-2026-8461 in MagicYUV) stays closed.
 */
export const DECODER_ALLOWLIST = [
  // video
  'h264',
  'hevc',
  'mpeg4',
  'msmpeg4v1',
  'msmpeg4v2',
  'msmpeg4',
  'mpeg1video',
  'mpeg2video',
  'mjpeg',
  'vp8',
  'vp9',
  'libdav1d',
  'libaom-av1',
  'av1',
  'prores',
  'dnxhd',
  'h263',
  'flv',
  'theora',
  'ffv1',
  'wmv1',
  'wmv2',
  'wmv3',
  'vc1',
  // audio
  'aac',
  'aac_fixed',
  'aac_latm',
  'mp3',
  'mp3float',
  'mp2',
  'mp2float',
  'opus',
  'libopus',
  'vorbis',
  'flac',
  'alac',
  'ac3',
  'ac3_fixed',
  'eac3',
  'pcm_s16le',
  'pcm_s16be',
  'pcm_s24le',
  'pcm_s24be',
  'pcm_s32le',
  'pcm_f32le',
  'pcm_u8',
  'pcm_mulaw',
  'pcm_alaw',
  'adpcm_ima_wav',
  'amrnb',
  'amrwb',
  'libopencore_amrnb',
  'libopencore_amrwb',
  'wmav2',
  // subtitles (probed, never rendered)
  'mov_text',
  'subrip',
  'ass',
  'webvtt',
] as const;

/** Input options that pin what an input may touch. Put before every `-i file:…` of a user file. */
export function hardenedInputArgs(): string[] {
  return [
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    DEMUXER_ALLOWLIST.join(','),
    '-codec_whitelist',
    DECODER_ALLOWLIST.join(','),
  ];
}

/**
 * Input options for our own raw intermediate (pass 1's filtered frames, issue #2 HDR): never a user's file, so only
 * the NUT demuxer and the raw decoder may read it.
 */
export function intermediateInputArgs(): string[] {
  return [
    '-protocol_whitelist',
    'file',
    '-format_whitelist',
    'nut',
    '-codec_whitelist',
    'rawvideo',
    '-f',
    'nut',
  ];
}

/** Map ffprobe's format_name to the container family; null = not allowed. */
export function containerFamily(
  formatName: string,
): 'mp4' | 'matroska' | 'avi' | 'mpegts' | 'mpegps' | 'ogg' | 'flv' | null {
  const names = formatName.split(',');
  if (names.includes('mov') || names.includes('mp4')) return 'mp4';
  if (names.includes('matroska') || names.includes('webm')) return 'matroska';
  if (names.includes('avi')) return 'avi';
  if (names.includes('mpegts')) return 'mpegts';
  if (names.includes('mpeg')) return 'mpegps';
  if (names.includes('ogg')) return 'ogg';
  if (names.includes('flv')) return 'flv';
  return null;
}

/** A path handed to ffmpeg as an input: always the `file:` protocol on an absolute path, never a URL. */
export function fileUrl(absPath: string): string {
  if (!absPath.startsWith('/')) throw new Error(`fileUrl needs an absolute path: ${absPath}`);
  return `file:${absPath}`;
}
