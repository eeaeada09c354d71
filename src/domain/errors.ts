// One error catalog (code-anchors.md §8.4): every failure has a stable code, a user-facing message that says what
// to do next, an HTTP status, a CLI exit code (0 done, 2 request cannot be met, 3 bad input, 1 other) and a retry flag.

export interface ErrorSpec {
  exitCode: 1 | 2 | 3;
  httpStatus: number;
  retryable: boolean;
  /** Plain words for a creator in a chat; `details` fill in the specifics. */
  message: (d: Record<string, unknown>) => string;
}

const s = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

export const ERRORS = {
  INPUT_NOT_FOUND: {
    exitCode: 3,
    httpStatus: 404,
    retryable: false,
    message: (d) => `I can't find the file ${s(d.path)}. Check the path and try again.`,
  },
  INPUT_EMPTY: {
    exitCode: 3,
    httpStatus: 422,
    retryable: false,
    message: () => 'That file is empty (0 bytes). Send the video again — the upload may have failed.',
  },
  INPUT_UNSUPPORTED: {
    exitCode: 3,
    httpStatus: 415,
    retryable: false,
    message: (d) =>
      `That file isn't a video I can open (${s(d.reason ?? 'unknown format')}). Send an MP4, MOV, MKV, WebM, AVI, MPEG-TS, OGG, FLV or 3GP video.`,
  },
  INPUT_CORRUPT: {
    exitCode: 3,
    httpStatus: 422,
    retryable: false,
    message: (d) =>
      `That video looks damaged or incomplete (${s(d.reason ?? 'it could not be read')}). Try exporting it again from your phone or editor.`,
  },
  INPUT_NO_VIDEO: {
    exitCode: 3,
    httpStatus: 422,
    retryable: false,
    message: () => 'That file has no video track. I compress videos; send one that has a picture.',
  },
  INPUT_LIMITS: {
    exitCode: 3,
    httpStatus: 413,
    retryable: false,
    message: (d) => `That video is beyond what I handle here: ${s(d.reason)}.`,
  },
  INSTRUCTION_INVALID: {
    exitCode: 2,
    httpStatus: 422,
    retryable: false,
    message: (d) => `I can't do that as asked: ${s(d.reason)}.`,
  },
  CAP_INFEASIBLE: {
    exitCode: 2,
    httpStatus: 422,
    retryable: false,
    message: (d) =>
      `${s(d.capText)} is too small for ${s(d.durationText)} of video: the smallest watchable file is about ${s(d.minText)}. Ask for at least ${s(d.minText)}, or trim it (e.g. "first 30 seconds").`,
  },
  TRIM_OUT_OF_RANGE: {
    exitCode: 2,
    httpStatus: 422,
    retryable: false,
    message: (d) => `The trim ${s(d.trimText)} is outside the video, which is ${s(d.durationText)} long.`,
  },
  FORMAT_MISMATCH: {
    exitCode: 2,
    httpStatus: 422,
    retryable: false,
    message: (d) => `${s(d.reason)}. Pick another container or codec (MP4 with H.264 plays everywhere).`,
  },
  USAGE: {
    exitCode: 2,
    httpStatus: 400,
    retryable: false,
    message: (d) => s(d.reason),
  },
  CAP_NOT_MET: {
    exitCode: 1,
    httpStatus: 500,
    retryable: false,
    message: (d) =>
      `I couldn't get the file under ${s(d.capText)} after ${s(d.attempts)} tries (best: ${s(d.bestText)}). Ask for a slightly larger size or a lower resolution.`,
  },
  VERIFY_FAILED: {
    exitCode: 1,
    httpStatus: 500,
    retryable: true,
    message: (d) =>
      `The compressed file didn't pass my checks (${s(d.reason)}), so I didn't send it. Try again.`,
  },
  FFMPEG_FAILED: {
    exitCode: 1,
    httpStatus: 500,
    retryable: false,
    message: () => "The encoder failed on this video. The file may use a feature I can't handle yet.",
  },
  FFMPEG_TIMEOUT: {
    exitCode: 1,
    httpStatus: 504,
    retryable: true,
    message: () =>
      'The encode took far longer than expected and was stopped. Try again later or ask for a shorter clip.',
  },
  TOOL_MISSING: {
    exitCode: 1,
    httpStatus: 503,
    retryable: false,
    message: (d) => `${s(d.tool)} is not installed here. Run: sudo apt-get install -y ffmpeg`,
  },
  DISK_FULL: {
    exitCode: 1,
    httpStatus: 507,
    retryable: true,
    message: () => 'The server is out of disk space. Try again in a while.',
  },
  CANCELLED: {
    exitCode: 1,
    httpStatus: 499,
    retryable: false,
    message: () => 'Cancelled.',
  },
  INTERNAL: {
    exitCode: 1,
    httpStatus: 500,
    retryable: true,
    message: () => 'Something went wrong on my side. Try again; if it keeps happening, tell the operator.',
  },
  URL_NOT_ALLOWED: {
    exitCode: 2,
    httpStatus: 403,
    retryable: false,
    message: (d) =>
      `That link points to an address I can't fetch (${s(d.reason)}). Send a public http(s) link to the video, or upload the file instead.`,
  },
  URL_FETCH_FAILED: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) =>
      `I couldn't download that link (${s(d.reason)}). Check that it opens in a browser without logging in, or upload the file instead.`,
  },
  LINK_INVALID: {
    exitCode: 1,
    httpStatus: 404,
    retryable: false,
    message: () => 'Not found. Check that you copied the whole link.',
  },
  LINK_EXPIRED: {
    exitCode: 1,
    httpStatus: 410,
    retryable: false,
    message: () => 'This link has expired. Ask the bot in your chat for a new one.',
  },
  // NemoVideo cloud backend (issue #6; codes and advice from chatbot-anchors.md §4.7 and the seed's error table).
  NEMO_TOKEN_INVALID: {
    exitCode: 1,
    httpStatus: 502,
    retryable: false,
    message: () =>
      "The NemoVideo cloud rejected this bot's access token (NEMO_TOKEN is invalid, expired or revoked). The operator needs to create a new token in NemoVideo (Settings → API Tokens), or unset NEMO_TOKEN to use a free anonymous one.",
  },
  NEMO_AUTH_FAILED: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) => `I couldn't sign in to the NemoVideo cloud (${s(d.reason)}). Try again in a few minutes.`,
  },
  NEMO_SESSION_GONE: {
    exitCode: 1,
    httpStatus: 410,
    retryable: true,
    message: () => 'The cloud editing session has ended. Send the video again to start a new one.',
  },
  NEMO_NO_CREDITS: {
    exitCode: 2,
    httpStatus: 402,
    retryable: false,
    message: (d) =>
      typeof d.registerUrl === 'string'
        ? `The free NemoVideo credits are used up. Register for free at ${d.registerUrl} to keep this project and get more credits, then try again.`
        : 'The NemoVideo account is out of credits. Top up the credits in the NemoVideo account, then try again.',
  },
  NEMO_PLAN_BLOCKED: {
    exitCode: 2,
    httpStatus: 402,
    retryable: false,
    message: () =>
      'The cloud export is blocked on the free NemoVideo plan. This is a subscription limit, not a lack of credits: upgrade the NemoVideo plan to export there.',
  },
  NEMO_RATE_LIMITED: {
    exitCode: 1,
    httpStatus: 429,
    retryable: true,
    message: () => 'The NemoVideo cloud is limiting requests right now. Wait a minute and try again.',
  },
  NEMO_UNREACHABLE: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) =>
      `I can't reach the NemoVideo cloud right now (${s(d.reason)}). Try again in a few minutes.`,
  },
  NEMO_BAD_RESPONSE: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) =>
      `The NemoVideo cloud sent an answer I don't understand (${s(d.reason)}). Try again; if it keeps happening, tell the operator.`,
  },
  NEMO_REJECTED: {
    exitCode: 1,
    httpStatus: 502,
    retryable: false,
    message: (d) =>
      `The NemoVideo cloud refused the request (${s(d.reason)}). Try rephrasing it, or send the video again.`,
  },
  NEMO_UNSUPPORTED: {
    exitCode: 3,
    httpStatus: 415,
    retryable: false,
    message: () =>
      "The cloud editor doesn't accept that file type. Send the video as MP4, MOV, AVI, MKV or WebM.",
  },
  NEMO_TOO_LARGE: {
    exitCode: 3,
    httpStatus: 413,
    retryable: false,
    message: () =>
      'That file is too big for the cloud editor (its limit is about 500 MB). Trim it or split it into shorter parts and send them one at a time.',
  },
  NEMO_RENDER_FAILED: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) => `The cloud export failed (${s(d.reason)}). Try again.`,
  },
  NEMO_RENDER_TIMEOUT: {
    exitCode: 1,
    httpStatus: 504,
    retryable: true,
    message: (d) => `The cloud export didn't finish within ${s(d.minutes)} minutes. Try again later.`,
  },
  NEMO_DOWNLOAD_FAILED: {
    exitCode: 1,
    httpStatus: 502,
    retryable: true,
    message: (d) =>
      `The video was exported, but I couldn't download it from the cloud (${s(d.reason)}). Try again.`,
  },
  NEMO_OUTPUT_TOO_LARGE: {
    exitCode: 2,
    httpStatus: 502,
    retryable: false,
    message: (d) =>
      `The cloud's result is larger than ${s(d.limitText)}, so I stopped downloading it. Ask for a smaller size or a shorter clip.`,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Every failure in vidshrink. `details` feed the message; `internal` (argv, stderr tail) is for logs only. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  readonly internal: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    details: Record<string, unknown> = {},
    options: { cause?: unknown; internal?: Record<string, unknown> } = {},
  ) {
    super(ERRORS[code].message(details), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    this.internal = options.internal ?? {};
  }

  get exitCode(): number {
    return ERRORS[this.code].exitCode;
  }

  get retryable(): boolean {
    return ERRORS[this.code].retryable;
  }

  get httpStatus(): number {
    return ERRORS[this.code].httpStatus;
  }

  /** What may leave the process: no paths beyond what the user gave, no stderr, no secrets. */
  toJSON(): {
    code: ErrorCode;
    message: string;
    exitCode: number;
    retryable: boolean;
    details: Record<string, unknown>;
  } {
    return {
      code: this.code,
      message: this.message,
      exitCode: this.exitCode,
      retryable: this.retryable,
      details: this.details,
    };
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Wraps anything thrown into an AppError so every consumer handles one shape. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (e instanceof Error && 'code' in e && e.code === 'ENOSPC')
    return new AppError('DISK_FULL', {}, { cause: e });
  return new AppError('INTERNAL', {}, { cause: e, internal: { error: String(e) } });
}
