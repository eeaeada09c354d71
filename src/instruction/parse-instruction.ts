// The plain-language instruction parser (issue #3; PRODUCT.md "The instruction contract"). Pure and
// deterministic: the same text always gives the same Intent; no I/O, no clock, no randomness.
//
// Pipeline: normalize → slash command → one extractor per field, in an order where each consumes what it read
// so a number is used once (trim before sizes: "2m15s"; ratio before sizes and platforms: "5x"; resolution
// before sizes and frame rates: "4k", "1080p30") → command → summary. Anything not understood is ignored, never
// guessed. Requests that cannot be met as stated throw AppError('INSTRUCTION_INVALID') (CLI exit status 2).
import { emptyIntent, type Intent } from '../domain/intent.js';
import { extractAdjust, findCommandWord, hasRefineMarker, takeSlashCommand } from './extract/command.js';
import { extractRatio } from './extract/ratio.js';
import { extractSize } from './extract/size.js';
import { extractTrim } from './extract/trim.js';
import {
  extractAspect,
  extractCodec,
  extractContainer,
  extractFps,
  extractResolution,
} from './extract/video.js';
import { extractAudio, extractPlatform, extractQuality } from './extract/words.js';
import { normalize } from './normalize.js';
import type { PlatformOverrides } from './platforms.js';
import { Scanner } from './scanner.js';
import { summarize } from './summary.js';

export { formatIntentHuman } from './summary.js';
export type { PlatformOverrides } from './platforms.js';

export interface ParseOptions {
  /** Per-platform limit overrides in bytes (config), e.g. { discord: 25_000_000 }. */
  readonly platforms?: PlatformOverrides;
  /** Reserved for date-dependent readings; the parser reads no clock today, so it is unused. */
  readonly now?: Date;
}

type Fields = Omit<Intent, 'command' | 'adjust' | 'summary'>;

function extractFields(sc: Scanner, options: ParseOptions): Fields {
  const trim = extractTrim(sc);
  const maxBytesRatio = extractRatio(sc);
  const resolution = extractResolution(sc);
  const explicitBytes = extractSize(sc);
  const fps = extractFps(sc, resolution.fps);
  const videoCodec = extractCodec(sc);
  const container = extractContainer(sc);
  const audio = extractAudio(sc);
  const quality = extractQuality(sc);
  const aspect = extractAspect(sc);
  const platform = extractPlatform(sc, options.platforms);
  return {
    // An explicit number wins over the platform's default (PRODUCT.md contract, `maxBytes`).
    maxBytes: explicitBytes ?? platform?.limitBytes ?? null,
    maxBytesRatio,
    platform: platform?.id ?? null,
    quality,
    maxShortSide: resolution.side,
    fps,
    videoCodec,
    container,
    audio,
    trim,
    aspect,
  };
}

function hasAnyField(f: Fields): boolean {
  return Object.values(f).some((v) => v !== null);
}

export function parseInstruction(text: string, options: ParseOptions = {}): Intent {
  const sc = new Scanner(normalize(typeof text === 'string' ? text : ''));
  const slash = takeSlashCommand(sc);
  const fields = extractFields(sc, options);
  const adjust = extractAdjust(sc) ?? slash?.adjust ?? null;
  const any = hasAnyField(fields);
  let command: Intent['command'];
  if (adjust !== null || (any && hasRefineMarker(sc) && findCommandWord(sc) !== 'compress'))
    command = 'refine';
  else if (slash !== null) command = slash.command;
  else if (any) command = 'compress';
  else command = findCommandWord(sc);
  const intent: Intent = { ...emptyIntent(''), ...fields, command, adjust };
  intent.summary = summarize(intent);
  return intent;
}
