// The contract between platform adapters and the conversation engine (issue #4). Adapters translate their platform
// into InboundMessage and render OutboundAction-shaped calls on a ChatPort; they hold no business logic. Nothing in
// src/conversation imports a platform SDK.

export type ChatKind = 'private' | 'group';

/** Stable identity of a chat on one platform ("telegram", "discord", "web"). */
export interface ChatRef {
  platform: string;
  chatId: string;
  /** Telegram forum topic / Discord thread the ask came from; results go back there. */
  threadId?: string | undefined;
}

export interface Sender {
  id: string;
  displayName: string;
  /** Chat admins may cancel other members' jobs in groups. */
  isAdmin?: boolean | undefined;
  /** IETF tag from the platform (Telegram language_code, Discord locale), when known. */
  language?: string | undefined;
}

/**
 * A file the user sent. The engine decides whether to fetch it (size limits, quota) and where to; the adapter knows
 * how (Bot API getFile, Discord CDN URL, a finished tus upload already on disk).
 */
export interface InboundAttachment {
  fileName: string;
  /** As the platform reports it; null when unknown until downloaded. */
  sizeBytes: number | null;
  mimeType?: string | undefined;
  /** "video" when the platform says it is one; "document" for files of any type. */
  kind: 'video' | 'document' | 'animation' | 'video_note';
  /**
   * Writes the file to `destPath`, failing with AppError('INPUT_TOO_LARGE') once more than `maxBytes` arrive (count
   * the bytes, never trust the declared size) and honouring `signal`.
   */
  download(destPath: string, maxBytes: number, signal: AbortSignal): Promise<void>;
  /** A pasted public link this file comes from (already checked by the SSRF-safe downloader). */
  sourceUrl?: string | undefined;
}

export interface InboundMessage {
  chat: ChatRef;
  chatKind: ChatKind;
  sender: Sender;
  /** Platform message id of this message (replies point at it). */
  messageId: string;
  text: string;
  /** The message this one replies to, when the platform says so (its attachments included). */
  replyTo?: { messageId: string; fromBot: boolean; attachments: InboundAttachment[] } | undefined;
  /** In groups the bot acts only when addressed: a command, a mention or a reply to the bot. */
  addressed: boolean;
  attachments: InboundAttachment[];
  /** Set by a button press instead of typed text: which button, on which job. */
  button?: { action: ButtonAction; jobId: string } | undefined;
}

/** 'local': run a job the cloud could not take (no credits, unreachable) on the local engine instead (issue #6). */
export const BUTTON_ACTIONS = ['cancel', 'smaller', 'better', 'as-file', 'local'] as const;
export type ButtonAction = (typeof BUTTON_ACTIONS)[number];

export interface Button {
  action: ButtonAction;
  label: string;
  /** The job the button acts on. */
  jobId: string;
}

/** Adapter-owned handle of a sent message, opaque to the engine but JSON-safe (it is stored to re-attach after a restart). */
export interface MessageRef {
  chat: ChatRef;
  messageId: string;
}

export interface SendFileOptions {
  caption: string;
  fileName: string;
  /** "send as file": a document keeps the file untouched instead of a playable inline video. */
  asDocument: boolean;
  width: number;
  height: number;
  durationSec: number;
  replyTo?: string | undefined;
  buttons?: Button[] | undefined;
  /** A JPEG poster frame (≤ 320 px, < 200 kB: src/media/thumbnail.ts) for platforms that show one (Telegram). */
  thumbnailPath?: string | undefined;
}

export interface AdapterLimits {
  /** Largest file the bot itself may download from the platform (Telegram cloud Bot API: 20 MB). */
  maxInboundBytes: number;
  /** Largest file the bot may upload into this chat (Telegram 50 MB; Discord: the interaction's limit). */
  maxOutboundBytes: number;
  /** Least time between two edits of one message (platform flood limits). */
  minEditIntervalMs: number;
}

/** What an adapter renders. Every method may throw; the engine treats a failed edit as skippable. */
export interface ChatPort {
  readonly platform: string;
  limits(chat: ChatRef): AdapterLimits;
  /**
   * What "for <platform>" means in this chat, in bytes, when the platform says so itself (a Discord interaction's
   * attachment_size_limit; 2000 MB on a local Telegram Bot API server). Omitted: the documented defaults apply.
   */
  platformLimits?(chat: ChatRef): Readonly<Partial<Record<string, number>>>;
  sendText(chat: ChatRef, text: string, opts?: { replyTo?: string; buttons?: Button[] }): Promise<MessageRef>;
  /** Latest wins: an adapter may drop an edit it cannot send now (429), never queue it. */
  editText(ref: MessageRef, text: string, buttons?: Button[]): Promise<void>;
  sendFile(chat: ChatRef, path: string, opts: SendFileOptions): Promise<MessageRef>;
  /** A result too big for the platform (or a web chat): a signed, expiring download link. */
  sendLink(
    chat: ChatRef,
    link: ResultLink,
    opts: { caption: string; replyTo?: string; buttons?: Button[] },
  ): Promise<MessageRef>;
}

export interface ResultLink {
  url: string;
  fileName: string;
  sizeBytes: number;
  expiresAtMs: number;
  /** The original, for a before/after comparison where the adapter can show one (the web chat). */
  beforeUrl?: string | undefined;
}
