// The backend port (issue #4/#6): the conversation engine runs every job through one of these, the local ffmpeg
// engine by default or the NemoVideo cloud. Both speak the engine's PipelineEvent stream.
import type { EncodePlan } from '../domain/encode-plan.js';
import type { PipelineEvent } from '../domain/events.js';
import type { Intent } from '../domain/intent.js';
import type { MediaInfo } from '../domain/media-info.js';

export interface BackendSession {
  /** The conversation session (one per chat and user). */
  id: string;
  language: string | null;
}

/** Per-job backend memory that survives a restart (stored with the job): the cloud's render id, for one. */
export interface JobStateStore {
  get(): unknown;
  set(value: unknown): void;
}

export interface Backend {
  readonly name: 'local' | 'nemo';
  /** Probe and plan without encoding: the "Got it — …" reply that must come within a second. */
  preview(
    inputPath: string,
    intent: Intent,
    signal: AbortSignal,
  ): Promise<{ info: MediaInfo; plan: EncodePlan }>;
  run(args: {
    inputPath: string;
    intent: Intent;
    outputPath: string;
    signal: AbortSignal;
    session: BackendSession;
    /** The job's id (stable across restarts) and the person's own words, for a backend that takes text. */
    jobId?: string;
    instruction?: string;
    /** The name the person's file had (inputs are stored under random ids). */
    inputName?: string;
    /** The public link the file was fetched from, when it came from one. */
    sourceUrl?: string;
    state?: JobStateStore;
  }): AsyncGenerator<PipelineEvent, void>;
  /** The `credits` command's answer for this backend (the cloud's balance); omitted: the local allowance only. */
  credits?(session: BackendSession, signal: AbortSignal): Promise<string>;
}
