// Typed access to the service database for the conversation engine. Ownership is enforced here: a file or job is
// only ever looked up together with the session that owns it (issue #4: "one user's files never reachable from
// another's session").
import { randomBytes } from 'node:crypto';
import { and, asc, desc, eq, gte, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { ChatKind, ChatRef, MessageRef } from '../conversation/types.js';
import type { Intent } from '../domain/intent.js';
import type { Db } from './db.js';
import { files, instructions, jobs, kv, sessions, type JobStatus } from './schema.js';

export type SessionRow = typeof sessions.$inferSelect;
export type FileRow = typeof files.$inferSelect;
export type JobRow = Omit<
  typeof jobs.$inferSelect,
  'chat' | 'intent' | 'progressRef' | 'result' | 'error'
> & {
  chat: ChatRef;
  intent: Intent;
  progressRef: MessageRef | null;
  result: StoredResult | null;
  error: StoredError | null;
};

/** What the chat needs to caption and re-send a result. */
export interface StoredResult {
  sizeBytes: number;
  inputBytes: number;
  width: number;
  height: number;
  fps: number;
  durationSec: number;
  videoCodec: string;
  audioCodec: string | null;
  verdict: string | null;
  ssim: number | null;
  capBytes: number | null;
  attempts: number;
  elapsedSec: number;
}

export interface StoredError {
  code: string;
  message: string;
}

/** 128 bits from the OS RNG, base64url: ids of files, jobs and sessions are never guessable (reliability F1). */
export function newId(): string {
  return randomBytes(16).toString('base64url');
}

export class Repo {
  constructor(
    readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  session(chat: ChatRef, userId: string, kind: ChatKind, language: string | null): SessionRow {
    const t = this.now();
    const found = this.db
      .select()
      .from(sessions)
      .where(
        and(
          eq(sessions.platform, chat.platform),
          eq(sessions.chatId, chat.chatId),
          eq(sessions.userId, userId),
        ),
      )
      .get();
    if (found) {
      if (language && found.language !== language) {
        this.db.update(sessions).set({ language, updatedAt: t }).where(eq(sessions.id, found.id)).run();
        return { ...found, language };
      }
      return found;
    }
    const row: SessionRow = {
      id: newId(),
      platform: chat.platform,
      chatId: chat.chatId,
      userId,
      chatKind: kind,
      language,
      backend: 'local',
      backendSessionId: null,
      backendTaskId: null,
      lastVideoId: null,
      lastJobId: null,
      createdAt: t,
      updatedAt: t,
    };
    this.db.insert(sessions).values(row).onConflictDoNothing().run();
    return (
      this.db
        .select()
        .from(sessions)
        .where(
          and(
            eq(sessions.platform, chat.platform),
            eq(sessions.chatId, chat.chatId),
            eq(sessions.userId, userId),
          ),
        )
        .get() ?? row
    );
  }

  sessionById(id: string): SessionRow | null {
    return this.db.select().from(sessions).where(eq(sessions.id, id)).get() ?? null;
  }

  updateSession(id: string, patch: Partial<Omit<SessionRow, 'id'>>): void {
    this.db
      .update(sessions)
      .set({ ...patch, updatedAt: this.now() })
      .where(eq(sessions.id, id))
      .run();
  }

  addFile(
    f: Omit<FileRow, 'createdAt' | 'deletedAt' | 'sourceUrl'> & { sourceUrl?: string | null },
  ): FileRow {
    const row: FileRow = { ...f, sourceUrl: f.sourceUrl ?? null, createdAt: this.now(), deletedAt: null };
    this.db.insert(files).values(row).run();
    return row;
  }

  /** A live file of this session, or null: another session's id behaves exactly like an unknown one. */
  file(id: string, sessionId: string): FileRow | null {
    return (
      this.db
        .select()
        .from(files)
        .where(and(eq(files.id, id), eq(files.sessionId, sessionId), isNull(files.deletedAt)))
        .get() ?? null
    );
  }

  expiredFiles(limit = 100): FileRow[] {
    return this.db
      .select()
      .from(files)
      .where(and(isNull(files.deletedAt), lt(files.expiresAt, this.now())))
      .limit(limit)
      .all();
  }

  markFileDeleted(id: string): void {
    this.db.update(files).set({ deletedAt: this.now() }).where(eq(files.id, id)).run();
  }

  createJob(j: {
    sessionId: string;
    chat: ChatRef;
    requesterId: string;
    inputFileId: string;
    inputBytes: number;
    instruction: string;
    intent: Intent;
    parentJobId: string | null;
    asDocument: boolean;
    replyTo: string | null;
    backend?: 'local' | 'nemo' | null;
  }): JobRow {
    const row = {
      id: newId(),
      ...j,
      backend: j.backend ?? null,
      backendState: null,
      status: 'queued' as JobStatus,
      progressRef: null,
      outputFileId: null,
      result: null,
      error: null,
      encodeSec: null,
      createdAt: this.now(),
      startedAt: null,
      finishedAt: null,
    };
    this.db.insert(jobs).values(row).run();
    this.updateSession(j.sessionId, { lastJobId: row.id });
    return row;
  }

  job(id: string): JobRow | null {
    const r = this.db.select().from(jobs).where(eq(jobs.id, id)).get();
    return r ? (r as JobRow) : null;
  }

  updateJob(id: string, patch: Partial<Omit<JobRow, 'id'>>): void {
    this.db.update(jobs).set(patch).where(eq(jobs.id, id)).run();
  }

  /** Jobs of a session, newest first. */
  jobsOf(sessionId: string, statuses?: JobStatus[], limit = 20): JobRow[] {
    const where = statuses
      ? and(eq(jobs.sessionId, sessionId), inArray(jobs.status, statuses))
      : eq(jobs.sessionId, sessionId);
    return this.db
      .select()
      .from(jobs)
      .where(where)
      .orderBy(desc(jobs.createdAt), desc(sql`rowid`))
      .limit(limit)
      .all() as JobRow[];
  }

  jobsWithStatus(statuses: JobStatus[]): JobRow[] {
    return this.db
      .select()
      .from(jobs)
      .where(inArray(jobs.status, statuses))
      .orderBy(asc(jobs.createdAt))
      .all() as JobRow[];
  }

  /** Input bytes and encode seconds a user spent since `sinceMs` (the local backend's daily "credits"). */
  usageSince(platform: string, requesterId: string, sinceMs: number): { bytes: number; encodeSec: number } {
    return this.usage(platform, eq(jobs.requesterId, requesterId), sinceMs);
  }

  /** Input bytes all members of a chat sent since `sinceMs` (a group's shared allowance). */
  chatUsageSince(platform: string, chatId: string, sinceMs: number): number {
    return this.usage(platform, eq(sessions.chatId, chatId), sinceMs).bytes;
  }

  /** Jobs that count against an allowance: everything not failed or cancelled. */
  private usage(platform: string, who: SQL, sinceMs: number): { bytes: number; encodeSec: number } {
    const r = this.db
      .select({
        bytes: sql<number>`coalesce(sum(${jobs.inputBytes}), 0)`,
        encodeSec: sql<number>`coalesce(sum(${jobs.encodeSec}), 0)`,
      })
      .from(jobs)
      .innerJoin(sessions, eq(sessions.id, jobs.sessionId))
      .where(
        and(
          eq(sessions.platform, platform),
          who,
          gte(jobs.createdAt, sinceMs),
          inArray(jobs.status, ['queued', 'running', 'done']),
        ),
      )
      .get();
    return { bytes: Number(r?.bytes ?? 0), encodeSec: Number(r?.encodeSec ?? 0) };
  }

  addInstruction(sessionId: string, text: string, intent: Intent | null, jobId: string | null): void {
    this.db.insert(instructions).values({ sessionId, text, intent, jobId, createdAt: this.now() }).run();
  }

  instructionsOf(sessionId: string, limit = 20): { text: string; intent: Intent | null }[] {
    return this.db
      .select({ text: instructions.text, intent: instructions.intent })
      .from(instructions)
      .where(eq(instructions.sessionId, sessionId))
      .orderBy(desc(instructions.id))
      .limit(limit)
      .all() as { text: string; intent: Intent | null }[];
  }

  getKv(key: string): string | null {
    return this.db.select().from(kv).where(eq(kv.key, key)).get()?.value ?? null;
  }

  setKv(key: string, value: string): void {
    this.db
      .insert(kv)
      .values({ key, value, updatedAt: this.now() })
      .onConflictDoUpdate({ target: kv.key, set: { value, updatedAt: this.now() } })
      .run();
  }
}
