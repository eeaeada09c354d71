// One typed event stream (code-anchors.md §8.2): the CLI bar, the --json output, chat progress edits and the queue
// all consume the same PipelineEvent union. Consumers ignore unknown keys (ab-av1's NDJSON rule).
import type { EncodePlan, QualityEstimate } from './encode-plan.js';
import type { ErrorCode } from './errors.js';
import type { ContainerFacts, MediaInfo } from './media-info.js';

/** The cloud backend (issue #6) adds its own stages: sending the file, the agent's edit, the render, fetching it. */
export type Stage =
  'probe' | 'plan' | 'sample' | 'encode' | 'verify' | 'deliver' | 'upload' | 'edit' | 'render' | 'download';

export interface JobResult {
  inputPath: string;
  outputPath: string;
  inputBytes: number;
  sizeBytes: number;
  capBytes: number | null;
  width: number;
  height: number;
  fps: number;
  videoCodec: string;
  audioCodec: string | null;
  durationSec: number;
  container: string;
  /** Measured on the final output against the source (null when the output is a stream copy). */
  quality: QualityEstimate;
  attempts: number;
  /**
   * How the output was checked (PRODUCT.md promise 6): its video decoded while it was encoded (the tap) or afterwards
   * from the file, and whether the quality is x264's score of every frame, 1-s windows measured afterwards, or (for a
   * stream copy or a cloud file) not measured here.
   */
  checks?: { decode: 'during-encode' | 'after-encode'; quality: 'encoder' | 'windows' | 'none' };
  /**
   * x264 two-pass jobs: the CRF the first pass ran at, the rate of its first try as a fraction of the target (read
   * over 10–30 % of the clip, src/planning/first-pass.ts; null if it could not be read), and the CRF of that first
   * try when it was abandoned for a corrected one.
   */
  firstPass?: { crf: number; rateRatio: number | null; retriedFrom: number | null };
  elapsedSec: number;
  /** Wall time per stage, seconds (where the time went). */
  stageSec: Partial<Record<Stage, number>>;
  plan: EncodePlan;
}

export type PipelineEvent =
  | { type: 'stage'; stage: Stage; message: string }
  | { type: 'probe'; info: MediaInfo }
  | { type: 'plan'; plan: EncodePlan }
  | {
      type: 'progress';
      stage: Stage;
      /** 0..1 over the whole stage (both passes of a two-pass encode). */
      ratio: number;
      etaSec: number | null;
      /** Position in the output timeline of the current pass. */
      outTimeSec: number;
      /** Bytes written so far by the current pass. */
      sizeBytes: number;
      /** Encode speed relative to real time (2.0 = twice real time). */
      speed: number | null;
      pass: number | null;
      attempt: number;
    }
  /** Words for the person, from the backend: the cloud agent's reply, a timeline summary, why a result was redone. */
  | { type: 'note'; text: string }
  /** Keeps chats alive during stages without a percentage ("⏳ Still working…"). */
  | { type: 'heartbeat'; stage: Stage; elapsedSec: number }
  | {
      type: 'attempt';
      n: number;
      sizeBytes: number;
      capBytes: number | null;
      withinCap: boolean;
      action: 'accept' | 'retry-lower' | 'retry-higher' | 'keep-previous';
      reason: string;
    }
  | { type: 'done'; result: JobResult }
  | {
      type: 'error';
      error: {
        code: ErrorCode;
        message: string;
        exitCode: number;
        retryable: boolean;
        details: Record<string, unknown>;
      };
    };

/** What a result says about the delivered file, read from its probe (shared by every backend). */
export function outputFacts(
  input: MediaInfo,
  out: ContainerFacts,
): Pick<
  JobResult,
  | 'inputPath'
  | 'inputBytes'
  | 'sizeBytes'
  | 'width'
  | 'height'
  | 'fps'
  | 'videoCodec'
  | 'audioCodec'
  | 'durationSec'
> {
  const v = out.video;
  return {
    inputPath: input.path,
    inputBytes: input.sizeBytes,
    sizeBytes: out.sizeBytes,
    width: v?.displayWidth ?? 0,
    height: v?.displayHeight ?? 0,
    fps: Math.round((v?.fps ?? 0) * 100) / 100,
    videoCodec: v?.codec ?? 'none',
    audioCodec: out.audioCodecs[0] ?? null,
    durationSec: out.durationSec,
  };
}

/** A progress event with the fields a stage without an encoder leaves empty. */
export function progressEvent(
  stage: Stage,
  ratio: number,
  extra: Partial<Extract<PipelineEvent, { type: 'progress' }>> = {},
): Extract<PipelineEvent, { type: 'progress' }> {
  return {
    type: 'progress',
    stage,
    ratio: Math.min(1, Math.max(0, ratio)),
    etaSec: null,
    outTimeSec: 0,
    sizeBytes: 0,
    speed: null,
    pass: null,
    attempt: 1,
    ...extra,
  };
}
