// The Intent: what a plain-language instruction asks for (PRODUCT.md "The instruction contract").
// Every field the instruction does not mention is null; the planner's defaults then apply.
import { z } from 'zod';

export const COMMANDS = ['compress', 'status', 'cancel', 'help', 'credits', 'export', 'refine'] as const;
export type Command = (typeof COMMANDS)[number];

/** Follow-ups on the last result: "smaller", "better quality", "undo" (issue #3). */
export const ADJUSTS = ['smaller', 'better', 'undo'] as const;
export type Adjust = (typeof ADJUSTS)[number];

export const QUALITIES = ['high', 'balanced', 'small'] as const;
export type Quality = (typeof QUALITIES)[number];

export const VIDEO_CODECS = ['h264', 'h265', 'av1', 'vp9'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

export const CONTAINERS = ['mp4', 'mov', 'mkv', 'webm'] as const;
export type Container = (typeof CONTAINERS)[number];

export const ASPECTS = ['16:9', '9:16', '1:1', '4:5'] as const;
export type Aspect = (typeof ASPECTS)[number];

export const trimSchema = z.object({
  startSec: z.number().min(0),
  endSec: z.number().positive().nullable(),
});
export type Trim = z.infer<typeof trimSchema>;

export const intentSchema = z.object({
  command: z.enum(COMMANDS).nullable(),
  adjust: z.enum(ADJUSTS).nullable(),
  maxBytes: z.number().int().positive().nullable(),
  maxBytesRatio: z.number().positive().max(1).nullable(),
  platform: z.string().nullable(),
  quality: z.enum(QUALITIES).nullable(),
  maxShortSide: z.number().int().positive().nullable(),
  fps: z.number().positive().max(240).nullable(),
  videoCodec: z.enum(VIDEO_CODECS).nullable(),
  container: z.enum(CONTAINERS).nullable(),
  audio: z.enum(['keep', 'remove']).nullable(),
  trim: trimSchema.nullable(),
  aspect: z.enum(ASPECTS).nullable(),
  summary: z.string(),
});
export type Intent = z.infer<typeof intentSchema>;

/** The Intent of an empty or vague instruction: every field null, the engine's defaults apply. */
export function emptyIntent(
  summary = 'Compress with the defaults (H.264 MP4, up to 1080p, looks the same).',
): Intent {
  return {
    command: null,
    adjust: null,
    maxBytes: null,
    maxBytesRatio: null,
    platform: null,
    quality: null,
    maxShortSide: null,
    fps: null,
    videoCodec: null,
    container: null,
    audio: null,
    trim: null,
    aspect: null,
    summary,
  };
}
