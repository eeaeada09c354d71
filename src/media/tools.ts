// Where the ffmpeg and ffprobe binaries are: Debian's package on PATH unless FFMPEG_PATH / FFPROBE_PATH say otherwise.

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

export function tools(): Tools {
  return {
    ffmpeg: process.env.FFMPEG_PATH ?? 'ffmpeg',
    ffprobe: process.env.FFPROBE_PATH ?? 'ffprobe',
  };
}
