// The SQLite schema (drizzle-orm). Changes go through `npx drizzle-kit generate` into migrations/ (issue #4); set-up
// applies them. Times are epoch milliseconds; JSON columns hold engine types (ChatRef, Intent, JobResult …).
import { sql } from 'drizzle-orm';
import { index, integer, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** One conversation per (platform, chat, user): groups keep each member's videos, jobs and quota apart (issue #4). */
export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    platform: text('platform').notNull(),
    chatId: text('chat_id').notNull(),
    userId: text('user_id').notNull(),
    chatKind: text('chat_kind', { enum: ['private', 'group'] }).notNull(),
    language: text('language'),
    backend: text('backend', { enum: ['local', 'nemo'] })
      .notNull()
      .default('local'),
    /** NemoVideo session/task ids (issue #6); null for the local engine. */
    backendSessionId: text('backend_session_id'),
    backendTaskId: text('backend_task_id'),
    lastVideoId: text('last_video_id'),
    lastJobId: text('last_job_id'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('sessions_chat_user').on(t.platform, t.chatId, t.userId)],
);

/** Inputs and outputs on disk under random ids; `path` is relative to the data directory. */
export const files = sqliteTable(
  'files',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id),
    role: text('role', { enum: ['input', 'output'] }).notNull(),
    originalName: text('original_name').notNull(),
    path: text('path').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    durationSec: real('duration_sec'),
    /** The public link an input was fetched from (a cloud backend may fetch it itself: issue #6, upload by URL). */
    sourceUrl: text('source_url'),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    deletedAt: integer('deleted_at'),
  },
  (t) => [index('files_session').on(t.sessionId), index('files_expiry').on(t.deletedAt, t.expiresAt)],
);

export const JOB_STATUSES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** A compression job as the chat sees it: who asked, what, where its progress message is, what came out. */
export const jobs = sqliteTable(
  'jobs',
  {
    id: text('id').primaryKey(),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id),
    /** ChatRef JSON: where replies go (thread/topic included). */
    chat: text('chat', { mode: 'json' }).notNull(),
    requesterId: text('requester_id').notNull(),
    inputFileId: text('input_file_id')
      .notNull()
      .references(() => files.id),
    instruction: text('instruction').notNull(),
    /** Intent JSON after refinement (what the job actually runs). */
    intent: text('intent', { mode: 'json' }).notNull(),
    parentJobId: text('parent_job_id'),
    status: text('status', { enum: JOB_STATUSES }).notNull(),
    asDocument: integer('as_document', { mode: 'boolean' }).notNull().default(false),
    replyTo: text('reply_to'),
    /** MessageRef JSON of the progress message, so a restarted engine edits the same message. */
    progressRef: text('progress_ref', { mode: 'json' }),
    outputFileId: text('output_file_id'),
    result: text('result', { mode: 'json' }),
    error: text('error', { mode: 'json' }),
    inputBytes: integer('input_bytes').notNull(),
    encodeSec: real('encode_sec'),
    /** null: the service's configured backend; 'local': the person chose the local engine after a cloud failure. */
    backend: text('backend', { enum: ['local', 'nemo'] }),
    /** Backend JSON a restarted job resumes from (the NemoVideo render id, issue #6). */
    backendState: text('backend_state', { mode: 'json' }),
    createdAt: integer('created_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
  },
  (t) => [
    index('jobs_session').on(t.sessionId, t.createdAt),
    index('jobs_status').on(t.status),
    index('jobs_requester').on(t.requesterId, t.createdAt),
  ],
);

/** The embedded persistent queue (src/jobs/sqlite-queue.ts): at-least-once, leases survive a crash. */
export const queueItems = sqliteTable(
  'queue_items',
  {
    id: text('id').primaryKey(),
    queue: text('queue').notNull(),
    payload: text('payload', { mode: 'json' }).notNull(),
    status: text('status', { enum: ['queued', 'running', 'done', 'failed', 'cancelled'] }).notNull(),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull().default(3),
    leaseOwner: text('lease_owner'),
    leaseUntil: integer('lease_until'),
    notBefore: integer('not_before').notNull().default(0),
    lastError: text('last_error'),
    seq: integer('seq')
      .notNull()
      .default(sql`0`),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('queue_pick').on(t.queue, t.status, t.notBefore, t.seq)],
);

/** Every instruction a session gave, so "smaller" or "now 720p" refines the last job. */
export const instructions = sqliteTable(
  'instructions',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    sessionId: text('session_id')
      .notNull()
      .references(() => sessions.id),
    jobId: text('job_id'),
    text: text('text').notNull(),
    intent: text('intent', { mode: 'json' }),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('instructions_session').on(t.sessionId, t.id)],
);

/** Small settings the service keeps (NemoVideo client id and token, issue #6). */
export const kv = sqliteTable('kv', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
  updatedAt: integer('updated_at').notNull(),
});
