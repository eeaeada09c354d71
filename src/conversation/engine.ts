// The conversation engine (issue #4): platform-neutral messages in, ChatPort calls out. It keeps one session per chat
// and user in SQLite, answers with a plan within a second, runs jobs through the persistent queue and one backend,
// edits one progress message per job, and delivers the file or a link. No platform SDK is imported here.
import { stat } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Backend } from '../backends/backend.js';
import type { EncodePlan } from '../domain/encode-plan.js';
import { AppError, toAppError } from '../domain/errors.js';
import type { JobResult } from '../domain/events.js';
import { emptyIntent, type Intent } from '../domain/intent.js';
import { formatBytes, formatDuration } from '../domain/units.js';
import { parseInstruction } from '../instruction/parse-instruction.js';
import type { JobQueue, QueueItem } from '../jobs/queue.js';
import {
  newId,
  type FileRow,
  type JobRow,
  type Repo,
  type SessionRow,
  type StoredResult,
} from '../storage/repo.js';
import { ProgressMessage } from './progress-message.js';
import { hasFields, refineIntent } from './refine.js';
import {
  failureText,
  foldProgress,
  HINT,
  helpText,
  initialView,
  planReply,
  progressText,
  resultCaption,
  type ProgressView,
} from './render.js';
import type { Button, ChatPort, ChatRef, InboundAttachment, InboundMessage, MessageRef } from './types.js';

export interface QueuePayload {
  jobId: string;
}

/** Where files live on disk (random ids; src/storage/file-store.ts). */
export interface FileStorePort {
  pathFor(id: string, ext: string): Promise<string>;
  remove(path: string): Promise<void>;
}

/** Signed, expiring links (src/links). */
export interface LinkPort {
  download(file: FileRow): { url: string; expiresAtMs: number };
  upload(session: SessionRow, maxBytes: number): { url: string; expiresAtMs: number };
}

/** SSRF-safe fetch of a pasted URL (src/net/safe-download.ts). */
export type UrlFetcher = (args: {
  url: string;
  destPath: string;
  maxBytes: number;
  signal: AbortSignal;
}) => Promise<{ bytes: number; fileNameHint: string | null }>;

export interface EngineLimits {
  maxInputBytes: number;
  retentionMs: number;
  quotaBytesPerDay: number;
  /** Shared by everyone in one chat (a busy group cannot take the whole machine). */
  quotaChatBytesPerDay: number;
  quotaEncodeSecPerDay: number;
  ratePerMinute: number;
  /** A download of an inbound file may take this long before it is abandoned. */
  downloadTimeoutMs: number;
}

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface EngineDeps {
  repo: Repo;
  queue: JobQueue<QueuePayload>;
  backend: Backend;
  /**
   * The local engine, when `backend` is the cloud: a job the cloud cannot take (out of credits, unreachable) is
   * offered here instead (issue #6, "Hybrid").
   */
  local?: Backend;
  files: FileStorePort;
  links: LinkPort;
  fetchUrl: UrlFetcher;
  limits: EngineLimits;
  log: Logger;
  now?: () => number;
  /** Writes a small JPEG preview of a result for platforms that show one (Telegram sendVideo). */
  thumbnail?: (videoPath: string, outPath: string) => Promise<void>;
}

/** Cloud failures the local engine can step in for (issue #6, "Hybrid"). */
const OFFER_LOCAL = new Set<string>([
  'NEMO_NO_CREDITS',
  'NEMO_PLAN_BLOCKED',
  'NEMO_UNREACHABLE',
  'NEMO_RATE_LIMITED',
  'NEMO_RENDER_FAILED',
  'NEMO_RENDER_TIMEOUT',
  'NEMO_AUTH_FAILED',
  'NEMO_TOKEN_INVALID',
  'NEMO_BAD_RESPONSE',
]);
const OFFER_LOCAL_TEXT = 'I can compress it on this server instead — tap “Compress here instead”.';

const URL_RE = /\bhttps?:\/\/[^\s<>"']+/giu;
const AS_FILE_RE = /\b(?:send\s+)?as\s+(?:a\s+)?(?:file|document)\b/iu;
const DAY_MS = 86_400_000;

export class ConversationEngine {
  private readonly ports = new Map<string, ChatPort>();
  private readonly live = new Map<string, { view: ProgressView; msg: ProgressMessage | null }>();
  private readonly rate = new Map<string, number[]>();
  private readonly now: () => number;
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly d: EngineDeps) {
    this.now = d.now ?? Date.now;
  }

  registerPort(port: ChatPort): void {
    this.ports.set(port.platform, port);
  }

  /** Starts the worker (resuming interrupted jobs) and the retention sweeper. */
  async start(): Promise<void> {
    await this.reconcile();
    this.d.queue.start((item, signal) => this.runQueued(item, signal));
    this.sweeper = setInterval(() => void this.sweep(), Math.min(this.d.limits.retentionMs, 10 * 60_000));
    this.sweeper.unref();
  }

  /**
   * Jobs the queue gave up on while no handler ran (a job that crashed the process too often) or never received
   * (a crash between the two writes) are settled here, so no chat waits on a job nothing will run.
   */
  private async reconcile(): Promise<void> {
    for (const job of this.d.repo.jobsWithStatus(['queued', 'running'])) {
      const st = await this.d.queue.status(job.id);
      if (st === 'queued' || st === 'running') continue;
      if (st === null) {
        await this.d.queue.enqueue(job.id, { jobId: job.id });
        continue;
      }
      const err = new AppError('INTERNAL', {}, { internal: { reason: `queue item ${st}` } });
      this.d.repo.updateJob(job.id, {
        status: st === 'cancelled' ? 'cancelled' : 'failed',
        finishedAt: this.now(),
        error: { code: err.code, message: err.message },
      });
      const port = this.ports.get(job.chat.platform);
      if (port && job.progressRef && st !== 'cancelled') {
        await port
          .editText(job.progressRef, `${progressHeader(job)}\n\n${failureText(err.message)}`, [])
          .catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.d.queue.stop({ graceful: false });
  }

  // ---------------------------------------------------------------- inbound

  async handle(msg: InboundMessage): Promise<void> {
    const port = this.port(msg.chat.platform);
    if (msg.chatKind === 'group' && !msg.addressed && !msg.button) return;
    const session = this.d.repo.session(msg.chat, msg.sender.id, msg.chatKind, msg.sender.language ?? null);
    if (!this.allow(`${msg.chat.platform}:${msg.sender.id}`)) {
      await port.sendText(msg.chat, '🐢 That is a lot of messages at once — give me a minute.', {
        replyTo: msg.messageId,
      });
      return;
    }
    try {
      if (msg.button) return await this.onButton(msg, session, port);
      await this.onMessage(msg, session, port);
    } catch (e) {
      const err = toAppError(e);
      if (err.code === 'INTERNAL') this.d.log.error({ err: e }, 'message handling failed');
      await port.sendText(msg.chat, failureText(err.message), { replyTo: msg.messageId });
    }
  }

  private async onMessage(msg: InboundMessage, session: SessionRow, port: ChatPort): Promise<void> {
    const urls = [...msg.text.matchAll(URL_RE)].map((m) => m[0]);
    const text = msg.text.replace(URL_RE, ' ').trim();
    const platforms = port.platformLimits?.(msg.chat);
    const intent = text ? parseInstruction(text, platforms ? { platforms } : {}) : emptyIntent();
    const attachments = [
      ...(msg.attachments.length > 0 ? msg.attachments : (msg.replyTo?.attachments ?? [])),
      ...urls.map((u) => this.urlAttachment(u)),
    ];
    if (text) this.d.repo.addInstruction(session.id, text, intent, null);

    switch (intent.command) {
      case 'help':
        await port.sendText(msg.chat, helpText(this.d.limits.maxInputBytes), { replyTo: msg.messageId });
        return;
      case 'status':
        await port.sendText(msg.chat, await this.statusText(session), { replyTo: msg.messageId });
        return;
      case 'cancel':
        await this.cancelLatest(msg, session, port);
        return;
      case 'credits':
        await port.sendText(msg.chat, await this.creditsReply(session), { replyTo: msg.messageId });
        return;
      case 'export':
        await this.exportLast(msg, session, port, false);
        return;
      case 'compress':
      case 'refine':
      case null:
        break;
    }
    if (attachments.length > 0) {
      // Several videos in a row are a batch: each its own job and reply.
      for (const att of attachments) await this.acceptVideo(msg, session, port, att, text, intent);
      return;
    }
    if (AS_FILE_RE.test(text) && !hasFields(intent)) {
      await this.exportLast(msg, session, port, true);
      return;
    }
    if (intent.command === 'refine' || intent.command === 'compress' || hasFields(intent)) {
      await this.refineLast(msg, session, port, text, intent);
      return;
    }
    await port.sendText(
      msg.chat,
      session.lastVideoId
        ? `I didn't catch an instruction there.\n${HINT}`
        : `Send me a video (or a link to one) to compress.\n${HINT}`,
      { replyTo: msg.messageId },
    );
  }

  private urlAttachment(url: string): InboundAttachment {
    const name = safeName(decodeURIComponent(basename(new URL(url).pathname)) || 'video');
    return {
      fileName: name,
      sizeBytes: null,
      kind: 'document',
      sourceUrl: url,
      download: async (destPath, maxBytes, signal) => {
        await this.d.fetchUrl({ url, destPath, maxBytes, signal });
      },
    };
  }

  /** Download, plan, reply within a second, enqueue. */
  private async acceptVideo(
    msg: InboundMessage,
    session: SessionRow,
    port: ChatPort,
    att: InboundAttachment,
    text: string,
    intent: Intent,
    alreadyLocal = false,
  ): Promise<void> {
    const platformLimits = port.limits(msg.chat);
    const limits = alreadyLocal
      ? { ...platformLimits, maxInboundBytes: Number.MAX_SAFE_INTEGER }
      : platformLimits;
    const max = this.d.limits.maxInputBytes;
    if (att.sizeBytes !== null && att.sizeBytes > max) {
      throw new AppError('INPUT_LIMITS', {
        reason: `${formatBytes(att.sizeBytes)} is over the ${formatBytes(max)} I accept`,
      });
    }
    if (att.sizeBytes !== null && att.sizeBytes > limits.maxInboundBytes) {
      // The platform will not let a bot fetch it (Telegram cloud Bot API: 20 MB): hand out an upload link instead.
      const link = this.d.links.upload(session, max);
      this.d.repo.addInstruction(session.id, text, intent, null);
      await port.sendText(
        msg.chat,
        `That file is ${formatBytes(att.sizeBytes)}, more than ${msg.chat.platform} lets me download (${formatBytes(limits.maxInboundBytes)}).\nUpload it here instead and I'll take it from there: ${link.url}\n(The link works until ${new Date(link.expiresAtMs).toISOString().slice(0, 16).replace('T', ' ')} UTC.)`,
        { replyTo: msg.messageId },
      );
      return;
    }
    const quota = this.quotaProblem(msg.chat, msg.sender.id, att.sizeBytes ?? 0);
    if (quota) {
      await port.sendText(msg.chat, quota, { replyTo: msg.messageId });
      return;
    }
    const fileId = newId();
    const ext =
      (extname(att.fileName)
        .toLowerCase()
        .match(/^\.[a-z0-9]{1,5}$/u)?.[0] ??
        '') ||
      '.bin';
    const path = await this.d.files.pathFor(fileId, ext);
    const cap = Math.min(max, limits.maxInboundBytes);
    try {
      await att.download(path, cap, AbortSignal.timeout(this.d.limits.downloadTimeoutMs));
    } catch (e) {
      await this.d.files.remove(path);
      throw e;
    }
    const sizeBytes = (await stat(path)).size;
    await this.startJob(msg, session, port, {
      inputPath: path,
      fileId,
      fileName: att.fileName,
      sizeBytes,
      text,
      intent: intent.command === 'refine' ? { ...intent, command: 'compress' } : intent,
      hint: !hasFields(intent),
      parentJobId: null,
      fresh: true,
      sourceUrl: att.sourceUrl,
    });
  }

  /** A video that finished uploading through a signed upload link joins its chat like an attachment. */
  async acceptUpload(sessionId: string, path: string, fileName: string): Promise<void> {
    const session = this.d.repo.sessionById(sessionId);
    if (!session) {
      await this.d.files.remove(path);
      return;
    }
    const chat: ChatRef = { platform: session.platform, chatId: session.chatId };
    const port = this.port(session.platform);
    const last = this.d.repo.instructionsOf(session.id, 1)[0];
    const text = last?.text ?? '';
    const platforms = port.platformLimits?.(chat);
    const intent = text ? parseInstruction(text, platforms ? { platforms } : {}) : emptyIntent();
    const msg: InboundMessage = {
      chat,
      chatKind: session.chatKind,
      sender: { id: session.userId, displayName: session.userId },
      messageId: '',
      text,
      addressed: true,
      attachments: [],
    };
    const attachment: InboundAttachment = {
      fileName,
      sizeBytes: (await stat(path)).size,
      kind: 'document',
      download: async (dest) => {
        const { rename } = await import('node:fs/promises');
        await rename(path, dest);
      },
    };
    // It is already on our disk: the platform's download limit does not apply.
    await this.acceptVideo(msg, session, port, attachment, text, intent, true);
  }

  private async startJob(
    msg: InboundMessage,
    session: SessionRow,
    port: ChatPort,
    j: {
      inputPath: string;
      fileId: string;
      fileName: string;
      sizeBytes: number;
      text: string;
      intent: Intent;
      hint: boolean;
      parentJobId: string | null;
      fresh: boolean;
      asDocument?: boolean;
      backend?: 'local';
      sourceUrl?: string | undefined;
    },
  ): Promise<void> {
    let preview: { plan: EncodePlan; info: Awaited<ReturnType<Backend['preview']>>['info'] };
    const backend = this.backendFor(j.backend ?? null);
    try {
      preview = await backend.preview(j.inputPath, j.intent, AbortSignal.timeout(30_000));
    } catch (e) {
      const err = toAppError(e);
      // A file that is not a video is not kept; an impossible ask keeps the video so a follow-up can fix the ask.
      if (j.fresh && err.exitCode === 3) await this.d.files.remove(j.inputPath);
      else if (j.fresh) this.rememberInput(session, j);
      throw err;
    }
    if (j.fresh) this.rememberInput(session, j);
    const job = this.d.repo.createJob({
      sessionId: session.id,
      chat: msg.chat,
      requesterId: msg.sender.id,
      inputFileId: j.fileId,
      inputBytes: j.sizeBytes,
      instruction: j.text,
      intent: j.intent,
      parentJobId: j.parentJobId,
      asDocument: j.asDocument ?? false,
      replyTo: msg.messageId || null,
      backend: j.backend ?? null,
    });
    const header = planReply(preview.info, preview.plan, j.fileName) + (j.hint ? `\n${HINT}` : '');
    const ref = await port.sendText(msg.chat, header, {
      ...(msg.messageId ? { replyTo: msg.messageId } : {}),
      buttons: [cancelButton(job.id)],
    });
    this.d.repo.updateJob(job.id, { progressRef: ref });
    const view = initialView(header);
    this.live.set(job.id, { view, msg: null });
    await this.d.queue.enqueue(job.id, { jobId: job.id });
    const pos = await this.d.queue.position(job.id);
    if (pos !== null && pos > 1 && this.d.repo.job(job.id)?.status === 'queued') {
      const entry = this.live.get(job.id);
      if (entry) {
        entry.view = { ...entry.view, queuePosition: pos };
        await port.editText(ref, progressText(entry.view), [cancelButton(job.id)]).catch(() => undefined);
      }
    }
  }

  private rememberInput(
    session: SessionRow,
    j: {
      fileId: string;
      inputPath: string;
      fileName: string;
      sizeBytes: number;
      sourceUrl?: string | undefined;
    },
  ): void {
    const rel = j.inputPath;
    this.d.repo.addFile({
      id: j.fileId,
      sessionId: session.id,
      role: 'input',
      originalName: j.fileName,
      path: rel,
      sizeBytes: j.sizeBytes,
      durationSec: null,
      sourceUrl: j.sourceUrl ?? null,
      expiresAt: this.now() + this.d.limits.retentionMs,
    });
    this.d.repo.updateSession(session.id, { lastVideoId: j.fileId });
  }

  /** "smaller", "now 720p", "under 8MB" with no video: redo the last video of this session. */
  private async refineLast(
    msg: InboundMessage,
    session: SessionRow,
    port: ChatPort,
    text: string,
    intent: Intent,
    parent?: JobRow,
  ): Promise<void> {
    const input = session.lastVideoId ? this.d.repo.file(session.lastVideoId, session.id) : null;
    if (!input) {
      await port.sendText(
        msg.chat,
        session.lastVideoId
          ? 'Your last video has expired here. Send it again and I will redo it.'
          : `Send me a video first, then tell me what you want.\n${HINT}`,
        { replyTo: msg.messageId },
      );
      return;
    }
    const last =
      parent ?? this.d.repo.jobsOf(session.id, ['done', 'failed', 'cancelled', 'running', 'queued'], 1)[0];
    const sameInput = last && last.inputFileId === input.id;
    let next: Intent;
    if (intent.adjust === 'undo' && sameInput && last.parentJobId) {
      next = this.d.repo.job(last.parentJobId)?.intent ?? emptyIntent();
    } else if (sameInput && (intent.command === 'refine' || intent.adjust !== null)) {
      next = refineIntent(last.intent, intent, last.result?.sizeBytes ?? null);
    } else if (sameInput && !hasFields(intent)) {
      next = last.intent;
    } else {
      next = { ...intent, command: 'compress', adjust: null };
    }
    if (intent.adjust === 'smaller' && !last?.result) {
      next = { ...next, maxBytes: Math.floor(input.sizeBytes * 0.5) };
    }
    await this.startJob(msg, session, port, {
      inputPath: input.path,
      fileId: input.id,
      fileName: input.originalName,
      sizeBytes: input.sizeBytes,
      text,
      intent: next,
      hint: false,
      parentJobId: sameInput ? last.id : null,
      fresh: false,
    });
  }

  private async onButton(msg: InboundMessage, session: SessionRow, port: ChatPort): Promise<void> {
    if (!msg.button) return;
    const b = msg.button.action;
    const job = this.d.repo.job(msg.button.jobId);
    // Buttons act on the presser's own jobs only (or any job of the chat for its admins).
    const mayAct =
      job !== null &&
      job.chat.platform === msg.chat.platform &&
      job.chat.chatId === msg.chat.chatId &&
      (job.requesterId === msg.sender.id || msg.sender.isAdmin === true);
    if (!job || !mayAct) {
      await port.sendText(msg.chat, 'That button belongs to someone else’s video.', {
        replyTo: msg.messageId,
      });
      return;
    }
    const owner = this.d.repo.sessionById(job.sessionId) ?? session;
    switch (b) {
      case 'cancel':
        await this.cancelJob(job, port);
        return;
      case 'smaller':
      case 'better': {
        const intent = { ...emptyIntent(), command: 'refine' as const, adjust: b };
        await this.refineLast(
          { ...msg, sender: { ...msg.sender, id: job.requesterId } },
          owner,
          port,
          b,
          intent,
          job,
        );
        return;
      }
      case 'as-file':
        await this.deliver(job, port, true);
        return;
      case 'local':
        await this.runLocally(msg, owner, port, job);
        return;
    }
  }

  /** A job's backend: the configured one, or the local engine when the person chose it after a cloud failure. */
  private backendFor(choice: 'local' | 'nemo' | null): Backend {
    return (choice === 'local' ? this.d.local : undefined) ?? this.d.backend;
  }

  /** "Compress here instead": the same video and request, on the local engine (offered after a cloud failure). */
  private async runLocally(
    msg: InboundMessage,
    session: SessionRow,
    port: ChatPort,
    job: JobRow,
  ): Promise<void> {
    const input = this.d.repo.file(job.inputFileId, job.sessionId);
    // The button stays on the failed message: a second tap must not start a second encode.
    const retried = this.d.repo
      .jobsOf(job.sessionId)
      .some((j) => j.parentJobId === job.id && j.backend === 'local');
    if (!this.d.local || job.status !== 'failed' || !input || retried) {
      await port.sendText(msg.chat, 'That video is no longer waiting for a retry.', {
        replyTo: msg.messageId,
      });
      return;
    }
    await this.startJob({ ...msg, sender: { ...msg.sender, id: job.requesterId } }, session, port, {
      inputPath: input.path,
      fileId: input.id,
      fileName: input.originalName,
      sizeBytes: input.sizeBytes,
      text: job.instruction,
      intent: job.intent,
      hint: false,
      parentJobId: job.id,
      fresh: false,
      asDocument: job.asDocument,
      backend: 'local',
    });
  }

  // ---------------------------------------------------------------- commands

  private async statusText(session: SessionRow): Promise<string> {
    const active = this.d.repo.jobsOf(session.id, ['queued', 'running'], 10);
    if (active.length === 0) {
      const last = this.d.repo.jobsOf(session.id, undefined, 1)[0];
      if (!last) return 'Nothing running. Send me a video to start.';
      return `Nothing running. Your last job ${last.status === 'done' ? 'finished' : last.status}${last.result ? `: ${formatBytes(last.result.sizeBytes)}` : ''}.`;
    }
    const lines: string[] = [];
    for (const j of active.reverse()) {
      const live = this.live.get(j.id)?.view;
      if (j.status === 'queued') {
        const pos = await this.d.queue.position(j.id);
        lines.push(`• ${j.instruction || 'compress'}: ${pos !== null ? `#${pos} in the queue` : 'queued'}`);
      } else {
        const pct =
          live?.ratio !== null && live?.ratio !== undefined ? ` ${Math.floor(live.ratio * 100)}%` : '';
        lines.push(`• ${j.instruction || 'compress'}: ${live?.stage ?? 'running'}${pct}`);
      }
    }
    return lines.join('\n');
  }

  private async creditsReply(session: SessionRow): Promise<string> {
    const local = this.creditsText(session);
    const backend = this.d.backend;
    if (!backend.credits) return local;
    try {
      const cloud = await backend.credits(
        { id: session.id, language: session.language },
        AbortSignal.timeout(15_000),
      );
      return `${cloud}
${local}`;
    } catch (e) {
      return `${toAppError(e).message}
${local}`;
    }
  }

  private creditsText(session: SessionRow): string {
    const u = this.d.repo.usageSince(session.platform, session.userId, startOfDay(this.now()));
    const l = this.d.limits;
    return [
      `Today you used ${formatBytes(u.bytes)} of ${formatBytes(l.quotaBytesPerDay)} and ${formatDuration(u.encodeSec)} of ${formatDuration(l.quotaEncodeSecPerDay)} encode time.`,
      'The allowance resets at 00:00 UTC.',
    ].join('\n');
  }

  private quotaProblem(chat: ChatRef, userId: string, addBytes: number): string | null {
    const since = startOfDay(this.now());
    const u = this.d.repo.usageSince(chat.platform, userId, since);
    const l = this.d.limits;
    const chatBytes = this.d.repo.chatUsageSince(chat.platform, chat.chatId, since);
    if (chatBytes + addBytes > l.quotaChatBytesPerDay)
      return `This chat has used today's shared allowance (${formatBytes(chatBytes)} of ${formatBytes(l.quotaChatBytesPerDay)}). It resets at 00:00 UTC.`;
    if (u.bytes + addBytes > l.quotaBytesPerDay)
      return `That would go over today's allowance (${formatBytes(u.bytes)} of ${formatBytes(l.quotaBytesPerDay)} used). It resets at 00:00 UTC.`;
    if (u.encodeSec >= l.quotaEncodeSecPerDay)
      return `You've used today's ${formatDuration(l.quotaEncodeSecPerDay)} of encode time. It resets at 00:00 UTC.`;
    return null;
  }

  private async cancelLatest(msg: InboundMessage, session: SessionRow, port: ChatPort): Promise<void> {
    const job = this.d.repo.jobsOf(session.id, ['running', 'queued'], 1)[0];
    if (!job) {
      await port.sendText(msg.chat, 'Nothing to cancel.', { replyTo: msg.messageId });
      return;
    }
    await this.cancelJob(job, port);
  }

  private async cancelJob(job: JobRow, port: ChatPort): Promise<void> {
    if (job.status !== 'queued' && job.status !== 'running') return;
    this.d.repo.updateJob(job.id, { status: 'cancelled', finishedAt: this.now() });
    await this.d.queue.cancel(job.id);
    const entry = this.live.get(job.id);
    const text = `${entry?.view.header ?? 'Job'}\n\n🛑 Cancelled.`;
    if (entry?.msg) await entry.msg.finish(text, []);
    else if (job.progressRef) await port.editText(job.progressRef, text, []).catch(() => undefined);
    this.live.delete(job.id);
  }

  private async exportLast(
    msg: InboundMessage,
    session: SessionRow,
    port: ChatPort,
    asDoc: boolean,
  ): Promise<void> {
    const job = this.d.repo.jobsOf(session.id, ['done'], 1)[0];
    if (!job) {
      await port.sendText(msg.chat, 'There is no finished result to send yet.', { replyTo: msg.messageId });
      return;
    }
    await this.deliver(job, port, asDoc);
  }

  // ---------------------------------------------------------------- jobs

  private async runQueued(item: QueueItem<QueuePayload>, signal: AbortSignal): Promise<void> {
    const job = this.d.repo.job(item.payload.jobId);
    if (!job || job.status === 'cancelled' || job.status === 'done') return;
    const port = this.ports.get(job.chat.platform);
    if (!port)
      throw new AppError('INTERNAL', {}, { internal: { reason: `no adapter for ${job.chat.platform}` } });
    const input = this.d.repo.file(job.inputFileId, job.sessionId);
    const session = this.d.repo.sessionById(job.sessionId);
    const entry = this.live.get(job.id) ?? { view: initialView(progressHeader(job)), msg: null };
    // The plan reply lived only in the chat; after a restart the message says what happened, on every later edit.
    if (item.resumed)
      entry.view = { ...entry.view, header: `${entry.view.header}\n↻ Resumed after a restart.` };
    this.live.set(job.id, entry);
    const buttons = [cancelButton(job.id)];
    const limits = port.limits(job.chat);
    if (job.progressRef) {
      entry.msg = new ProgressMessage(port, job.progressRef, '', limits.minEditIntervalMs, this.now, (e) =>
        this.d.log.warn({ err: String(e) }, 'progress edit dropped'),
      );
    } else {
      const ref = await port.sendText(job.chat, entry.view.header, { buttons });
      this.d.repo.updateJob(job.id, { progressRef: ref });
      entry.msg = new ProgressMessage(port, ref, entry.view.header, limits.minEditIntervalMs, this.now);
    }
    const pm = entry.msg;
    if (item.resumed) pm.update(progressText(entry.view), buttons);
    if (!input || !session) {
      await this.failJob(
        job,
        pm,
        entry.view,
        new AppError('INPUT_NOT_FOUND', { path: 'the original upload' }),
      );
      return;
    }
    this.d.repo.updateJob(job.id, { status: 'running', startedAt: this.now() });
    const outId = newId();
    const outPath = await this.d.files.pathFor(outId, `.${job.intent.container ?? 'mp4'}`);
    let result: JobResult | null = null;
    const backend = this.backendFor(job.backend);
    try {
      for await (const e of backend.run({
        inputPath: input.path,
        intent: job.intent,
        outputPath: outPath,
        signal,
        session: { id: session.id, language: session.language },
        jobId: job.id,
        instruction: job.instruction,
        inputName: input.originalName,
        ...(input.sourceUrl ? { sourceUrl: input.sourceUrl } : {}),
        state: {
          get: () => this.d.repo.job(job.id)?.backendState ?? null,
          set: (value) => this.d.repo.updateJob(job.id, { backendState: value }),
        },
      })) {
        entry.view = foldProgress(entry.view, e);
        if (e.type === 'done') result = e.result;
        else if (e.type === 'error') throw new AppError(e.error.code, e.error.details);
        else if (e.type === 'note') await this.note(port, job, e.text);
        else pm.update(progressText(entry.view), buttons);
      }
      if (!result)
        throw new AppError('INTERNAL', {}, { internal: { reason: 'backend ended without a result' } });
    } catch (e) {
      await this.d.files.remove(outPath);
      const err = toAppError(e);
      if (signal.aborted || err.code === 'CANCELLED') {
        this.live.delete(job.id);
        return;
      }
      // Interrupted by shutdown: leave the job to be resumed; everything else is reported and final.
      await this.failJob(job, pm, entry.view, err, backend === this.d.backend ? this.d.local : undefined);
      return;
    }
    const stored = toStored(result, input.sizeBytes);
    const outName = `${input.originalName.replace(/\.[^.]*$/u, '')}-vidshrink${extname(outPath)}`;
    const out = this.d.repo.addFile({
      id: outId,
      sessionId: job.sessionId,
      role: 'output',
      originalName: outName,
      path: outPath,
      sizeBytes: result.sizeBytes,
      durationSec: result.durationSec,
      expiresAt: this.now() + this.d.limits.retentionMs,
    });
    this.d.repo.updateJob(job.id, {
      status: 'done',
      finishedAt: this.now(),
      outputFileId: out.id,
      result: stored,
      encodeSec: result.elapsedSec,
    });
    await pm.finish(
      `${entry.view.header}\n\n✅ Done in ${formatDuration(Math.round(result.elapsedSec))}.`,
      [],
    );
    this.live.delete(job.id);
    const done = this.d.repo.job(job.id);
    if (done) await this.deliver(done, port, done.asDocument);
  }

  private async failJob(
    job: JobRow,
    pm: ProgressMessage,
    view: ProgressView,
    err: AppError,
    fallback?: Backend,
  ): Promise<void> {
    if (err.code === 'INTERNAL') this.d.log.error({ code: err.code, internal: err.internal }, 'job failed');
    this.d.repo.updateJob(job.id, {
      status: 'failed',
      finishedAt: this.now(),
      error: { code: err.code, message: err.message },
    });
    // Issue #6: "if the cloud is unreachable or out of credits and the local engine is available, offer it".
    const offer = fallback !== undefined && OFFER_LOCAL.has(err.code);
    const text = `${view.header}\n\n${failureText(err.message)}${offer ? `\n${OFFER_LOCAL_TEXT}` : ''}`;
    await pm.finish(text, offer ? [{ action: 'local', label: 'Compress here instead', jobId: job.id }] : []);
    this.live.delete(job.id);
  }

  /** The backend's words for the person (the cloud agent's reply, a timeline summary) as their own message. */
  private async note(port: ChatPort, job: JobRow, text: string): Promise<void> {
    try {
      await port.sendText(job.chat, text, job.replyTo ? { replyTo: job.replyTo } : {});
    } catch (e) {
      this.d.log.warn({ err: String(e), jobId: job.id }, 'note not sent');
    }
  }

  /** The result as a new message (edits do not notify): the file when it fits the platform, else a link. */
  private async deliver(job: JobRow, port: ChatPort, asDocument: boolean): Promise<MessageRef | null> {
    const r = job.result;
    const out = job.outputFileId ? this.d.repo.file(job.outputFileId, job.sessionId) : null;
    if (!r || !out) {
      await port.sendText(job.chat, 'That result has expired. Send the video again and I will redo it.');
      return null;
    }
    const caption = resultCaption(r);
    const buttons: Button[] = [
      { action: 'smaller', label: 'Smaller', jobId: job.id },
      { action: 'better', label: 'Better quality', jobId: job.id },
    ];
    const replyTo = job.replyTo ?? undefined;
    if (out.sizeBytes <= port.limits(job.chat).maxOutboundBytes) {
      if (!asDocument) buttons.push({ action: 'as-file', label: 'Send as file', jobId: job.id });
      const thumbnailPath = asDocument ? undefined : await this.thumbnailFor(out);
      const sent = await port
        .sendFile(job.chat, out.path, {
          thumbnailPath,
          caption,
          fileName: out.originalName,
          asDocument,
          width: r.width,
          height: r.height,
          durationSec: r.durationSec,
          replyTo,
          buttons,
        })
        .catch((e: unknown) => {
          // The platform refused the upload (a limit lower than it said: Telegram 413, Discord 40005): a link instead.
          this.d.log.warn({ err: String(e) }, 'file upload refused; sending a link');
          return null;
        });
      if (sent) return sent;
    }
    const link = this.d.links.download(out);
    const input = this.d.repo.file(job.inputFileId, job.sessionId);
    const before = input ? this.d.links.download(input).url : undefined;
    return port.sendLink(
      job.chat,
      {
        url: link.url,
        fileName: out.originalName,
        sizeBytes: out.sizeBytes,
        expiresAtMs: link.expiresAtMs,
        beforeUrl: before,
      },
      { caption, ...(replyTo ? { replyTo } : {}), buttons: buttons.filter((b) => b.action !== 'as-file') },
    );
  }

  /** A preview next to the result (same retention); none when it cannot be made — a thumbnail is a nicety. */
  private async thumbnailFor(out: FileRow): Promise<string | undefined> {
    if (!this.d.thumbnail) return undefined;
    const path = out.path.replace(/\.[a-z0-9]+$/u, '') + '.jpg';
    try {
      await this.d.thumbnail(out.path, path);
      return path;
    } catch (e) {
      this.d.log.warn({ err: String(e) }, 'thumbnail failed');
      return undefined;
    }
  }

  /** Deletes files past their retention (issue #4) and forgets them. */
  async sweep(): Promise<number> {
    let n = 0;
    for (const f of this.d.repo.expiredFiles()) {
      await this.d.files.remove(f.path);
      if (f.role === 'output') await this.d.files.remove(f.path.replace(/\.[a-z0-9]+$/u, '') + '.jpg');
      this.d.repo.markFileDeleted(f.id);
      n++;
    }
    return n;
  }

  private port(platform: string): ChatPort {
    const p = this.ports.get(platform);
    if (!p) throw new AppError('INTERNAL', {}, { internal: { reason: `no adapter for ${platform}` } });
    return p;
  }

  /** Sliding one-minute window per user. */
  private allow(key: string): boolean {
    const t = this.now();
    const recent = (this.rate.get(key) ?? []).filter((x) => t - x < 60_000);
    recent.push(t);
    this.rate.set(key, recent);
    return recent.length <= this.d.limits.ratePerMinute;
  }
}

function cancelButton(jobId: string): Button {
  return { action: 'cancel', label: 'Cancel', jobId };
}

function progressHeader(job: JobRow): string {
  return job.instruction ? `Working on: ${job.instruction}` : 'Working on your video';
}

function toStored(r: JobResult, inputBytes: number): StoredResult {
  return {
    sizeBytes: r.sizeBytes,
    inputBytes,
    width: r.width,
    height: r.height,
    fps: r.fps,
    durationSec: r.durationSec,
    videoCodec: r.videoCodec,
    audioCodec: r.audioCodec,
    verdict: r.quality.verdict === 'not measured' ? null : r.quality.verdict,
    ssim: r.quality.ssim,
    capBytes: r.capBytes,
    attempts: r.attempts,
    elapsedSec: r.elapsedSec,
  };
}

function startOfDay(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** A display-safe base name: no path, no control characters, bounded length. */
export function safeName(name: string): string {
  const base = basename(name.replace(/\\/gu, '/'))
    .replace(/[\p{Cc}\p{Cf}"<>|:*?]/gu, '')
    .trim()
    .slice(0, 120);
  return base || 'video';
}
