// The NemoVideo cloud backend (issue #6): one cloud session per chat, the person's words sent to the cloud agent,
// its replies passed on (GUI talk translated, seed "Backend Response Translation"), heartbeats kept as "⏳ Still
// working...", a timeline summary when a turn ends without text, the export polled to completion and downloaded.
// "Hybrid, because the promise is ours": the cloud's file is probed, decoded and measured against the chat's cap like
// a local one; over the cap, the local engine re-encodes it to the cap and the reply says so.
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { decodeCheckArgs } from '../argv/sample-args.js';
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from '../config/engine.js';
import type { EncodePlan } from '../domain/encode-plan.js';
import { AppError, isAppError, toAppError } from '../domain/errors.js';
import { outputFacts, progressEvent, type JobResult, type PipelineEvent } from '../domain/events.js';
import { emptyIntent, type Intent } from '../domain/intent.js';
import { containerFactsOf, type MediaInfo } from '../domain/media-info.js';
import { formatBytes, formatDuration } from '../domain/units.js';
import { probe } from '../media/ffprobe.js';
import { runProcess } from '../media/run-process.js';
import { tools } from '../media/tools.js';
import { Channel } from '../pipeline/channel.js';
import { draftPlan } from '../planning/plan-encode.js';
import type { Backend, BackendSession, JobStateStore } from './backend.js';
import type { NemoClient } from './nemo/client.js';
import { changeSummary, isExportable, timelineSummary } from './nemo/timeline.js';
import { translateGuiTalk } from './nemo/translate.js';
import type { Draft, RenderStatus } from './nemo/types.js';

/** Where the cloud session of each conversation session lives (the sessions table's backend columns). */
export interface CloudSessionStore {
  get(sessionId: string): { taskId: string; sessionId: string } | null;
  set(sessionId: string, cloud: { taskId: string; sessionId: string } | null): void;
}

export interface NemoBackendOptions {
  client: NemoClient;
  sessions: CloudSessionStore;
  /** The local engine: re-encodes a cloud result that breaks the cap. null: such a result fails with CAP_NOT_MET. */
  local: Backend | null;
  /** Largest cloud output accepted (NEMO_MAX_OUTPUT_MB). */
  maxOutputBytes: number;
  engineConfig?: Partial<EngineConfig>;
  /** After a disconnect: state polls (and their spacing) before giving up on seeing the edit (§4.4: 5 polls). */
  recoveryPolls?: number;
  recoveryPollMs?: number;
  now?: () => number;
}

/** What a job remembers across a restart: which cloud session it used and, once started, the render id. */
interface SavedState {
  cloudSessionId: string;
  phase: 'edit' | 'render';
  renderId: string | null;
  before: Draft | null;
}

/** The duration a result may differ from the plan: the engine's own rule (1 %, or 0.2 s), plus one frame of slack. */
/** Refusals of a link upload after which sending the file itself can still work. */
const URL_UPLOAD_FALLBACK = new Set([
  'NEMO_REJECTED',
  'NEMO_UNSUPPORTED',
  'NEMO_BAD_RESPONSE',
  'NEMO_DOWNLOAD_FAILED',
]);

function durationTolerance(sec: number): number {
  return Math.max(0.25, sec * 0.01);
}

export function nemoBackend(o: NemoBackendOptions): Backend {
  const cfg = { ...DEFAULT_ENGINE_CONFIG, ...o.engineConfig };
  const now = o.now ?? Date.now;
  return {
    name: 'nemo',
    async preview(inputPath, intent, signal) {
      // The plan reply must come within a second: it is the local plan (what we will hold the cloud's file to).
      const info = await probe(inputPath, { signal });
      return { info, plan: draftPlan(intent, info, cfg).plan };
    },
    run(args) {
      const ch = new Channel<PipelineEvent>();
      new CloudJob(o, cfg, now, args, (e) => ch.push(e))
        .run()
        .catch((e: unknown) => ch.push({ type: 'error', error: toAppError(e).toJSON() }))
        .finally(() => ch.close());
      return ch.drain();
    },
    async credits(_session: BackendSession, signal: AbortSignal): Promise<string> {
      const c = await o.client.credits(signal);
      const frozen = c.frozen > 0 ? ` (${c.frozen} held for edits in progress)` : '';
      const kind = o.client.anonymous
        ? ' on the free anonymous account (100 credits, token valid 7 days)'
        : '';
      return `NemoVideo cloud credits: ${c.available} available of ${c.total}${frozen}${kind}. Exports are free; an edit costs about 50.`;
    },
  };
}

class CloudJob {
  private readonly t0: number;

  constructor(
    private readonly o: NemoBackendOptions,
    private readonly cfg: EngineConfig,
    private readonly now: () => number,
    private readonly a: Parameters<Backend['run']>[0],
    private readonly emit: (e: PipelineEvent) => void,
  ) {
    this.t0 = now();
  }

  private get signal(): AbortSignal {
    return this.a.signal;
  }

  async run(): Promise<void> {
    const { inputPath, intent } = this.a;
    this.emit({ type: 'stage', stage: 'probe', message: 'Reading the video' });
    const info = await probe(inputPath, { signal: this.signal });
    this.emit({ type: 'probe', info });
    const plan = draftPlan(intent, info, this.cfg).plan;
    this.emit({ type: 'plan', plan });

    const saved = readState(this.a.state);
    let renderId = saved?.phase === 'render' ? saved.renderId : null;
    if (renderId === null) {
      const { sid, draft } = await this.uploadAndEdit(inputPath, saved, info, plan);
      this.emit({ type: 'stage', stage: 'render', message: 'Rendering in the cloud' });
      renderId = await this.o.client.startRender(sid, draft, this.signal);
      this.save({ cloudSessionId: sid, phase: 'render', renderId, before: null });
    } else {
      this.emit({ type: 'stage', stage: 'render', message: 'Rendering in the cloud' });
    }
    const done = await this.waitRender(renderId);

    this.emit({ type: 'stage', stage: 'download', message: 'Fetching the result' });
    const out = this.a.outputPath;
    const cloudFile = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.cloud.mp4`);
    try {
      await this.o.client.download({ ...done, id: renderId }, cloudFile, this.o.maxOutputBytes, this.signal);
      const result = await this.check(cloudFile, info, plan);
      this.emit({ type: 'done', result });
    } finally {
      await rm(cloudFile, { force: true });
    }
  }

  /**
   * A session that vanishes (1002) between the upload and the turn is replaced once and the turn sent there: the
   * refusal came before anything streamed, so the agent never saw the words (no double charge, §4.4).
   */
  private async uploadAndEdit(
    inputPath: string,
    saved: SavedState | null,
    info: MediaInfo,
    plan: EncodePlan,
  ): Promise<{ sid: string; draft: Draft }> {
    if (saved)
      return { sid: saved.cloudSessionId, draft: await this.edit(saved.cloudSessionId, saved, info, plan) };
    for (let attempt = 1; ; attempt++) {
      const sid = await this.upload(inputPath, attempt > 1);
      try {
        return { sid, draft: await this.edit(sid, null, info, plan) };
      } catch (e) {
        if (attempt === 1 && isAppError(e) && e.code === 'NEMO_SESSION_GONE') continue;
        throw e;
      }
    }
  }

  private save(s: SavedState): void {
    this.a.state?.set(s);
  }

  /** Makes sure this chat has a cloud session and the video is in it; a vanished session (1002) is replaced once. */
  private async upload(inputPath: string, fresh: boolean): Promise<string> {
    this.emit({ type: 'stage', stage: 'upload', message: 'Sending the video to the cloud' });
    for (let attempt = 1; ; attempt++) {
      const sid = await this.cloudSession(fresh || attempt > 1);
      try {
        await this.send(sid, inputPath);
        return sid;
      } catch (e) {
        if (attempt === 1 && isAppError(e) && e.code === 'NEMO_SESSION_GONE') continue;
        throw e;
      }
    }
  }

  /**
   * A video that came from a public link is handed to the cloud as that link (`{"urls":[…],"source_type":"url"}`,
   * seed "Upload"), which spares re-sending the bytes; if the cloud cannot fetch it, the file we already have is sent.
   */
  private async send(sid: string, inputPath: string): Promise<void> {
    const { client } = this.o;
    const url = this.a.sourceUrl;
    if (url) {
      try {
        await client.uploadUrl(sid, url, this.signal);
        return;
      } catch (e) {
        if (this.signal.aborted || !isAppError(e) || !URL_UPLOAD_FALLBACK.has(e.code)) throw e;
      }
    }
    await client.uploadFile(sid, inputPath, this.signal, cloudFileName(this.a.inputName, inputPath));
  }

  private async cloudSession(fresh: boolean): Promise<string> {
    const { session } = this.a;
    const known = fresh ? null : this.o.sessions.get(session.id);
    if (known) return known.sessionId;
    const created = await this.o.client.createSession(session.language, this.signal);
    this.o.sessions.set(session.id, created);
    return created.sessionId;
  }

  /**
   * One agent turn: the person's words (plus the numbers we hold the result to), replies passed on, heartbeats kept,
   * and when the turn ends without text (about 30 % of edits, seed) a summary of what changed. Never resent: after a
   * disconnect or a restart the state is read instead (§4.4 "never re-send (duplicates + double charge)").
   */
  private async edit(
    sid: string,
    saved: SavedState | null,
    info: MediaInfo,
    plan: EncodePlan,
  ): Promise<Draft> {
    this.emit({ type: 'stage', stage: 'edit', message: 'The cloud editor is working' });
    const { client } = this.o;
    let before = saved?.before ?? null;
    let spoke = false;
    let wantsState = false;
    let ended: 'closed' | 'disconnected' | 'timeout' | 'idle' | 'resumed' = 'resumed';
    if (saved === null) {
      before = (await client.state(sid, this.signal)).draft;
      this.save({ cloudSessionId: sid, phase: 'edit', renderId: null, before });
      const message = cloudMessage(this.a.instruction ?? '', this.a.intent, info, plan);
      const turn = client.run(sid, message, this.signal);
      for (;;) {
        const r = await turn.next();
        if (r.done) {
          ended = r.value.reason;
          break;
        }
        const e = r.value;
        if (e.kind === 'heartbeat') {
          this.emit({ type: 'heartbeat', stage: 'edit', elapsedSec: (this.now() - this.t0) / 1000 });
        } else if (e.kind === 'text') {
          const t = translateGuiTalk(e.text);
          if (t.actions.some((x) => x.kind === 'state')) wantsState = true;
          if (t.text.trim() !== '') {
            spoke = true;
            this.emit({ type: 'note', text: t.text.trim() });
          }
        } else if (e.kind === 'error') {
          throw new AppError('NEMO_REJECTED', { reason: e.message });
        }
      }
      if (ended === 'timeout' || ended === 'idle') {
        throw new AppError('NEMO_RENDER_TIMEOUT', {
          minutes: Math.max(1, Math.round((this.now() - this.t0) / 60_000)),
        });
      }
    }
    const draft = await this.settledDraft(sid, before, ended !== 'closed');
    if (!spoke)
      this.emit({ type: 'note', text: `${changeSummary(before, draft)}\n${timelineSummary(draft)}` });
    else if (wantsState) this.emit({ type: 'note', text: timelineSummary(draft) });
    if (!isExportable(draft)) {
      throw new AppError('NEMO_REJECTED', {
        reason: 'the cloud editor left nothing on the timeline to export',
      });
    }
    return draft;
  }

  /** The draft after the turn; after a disconnect or restart, polled until it shows the edit (§4.4 recovery). */
  private async settledDraft(sid: string, before: Draft | null, recovering: boolean): Promise<Draft> {
    const polls = recovering ? (this.o.recoveryPolls ?? 5) : 1;
    let draft: Draft | null = null;
    for (let i = 0; i < polls; i++) {
      if (i > 0) await sleep(this.o.recoveryPollMs ?? 30_000, this.signal);
      draft = (await this.o.client.state(sid, this.signal)).draft;
      if (!recovering || JSON.stringify(draft) !== JSON.stringify(before)) break;
    }
    return draft ?? {};
  }

  /** Render polls become progress; the 30-s cadence between them is the client's. */
  private async waitRender(id: string): Promise<RenderStatus> {
    const started = this.now();
    return this.o.client.waitRender(
      id,
      (s) => {
        if (s.progress === null) {
          this.emit({ type: 'heartbeat', stage: 'render', elapsedSec: (this.now() - started) / 1000 });
          return;
        }
        this.emit(progressEvent('render', s.progress / 100));
      },
      this.signal,
    );
  }

  /** Promise 6 for a file we did not make: it decodes, the duration is the plan's, the size is within the cap. */
  private async check(cloudFile: string, info: MediaInfo, plan: EncodePlan): Promise<JobResult> {
    this.emit({ type: 'stage', stage: 'verify', message: 'Checking the result' });
    const out = await probe(cloudFile, { signal: this.signal }).catch((e: unknown) => {
      throw new AppError('NEMO_RENDER_FAILED', { reason: `its file does not open (${toAppError(e).code})` });
    });
    const decoded = await runProcess(tools().ffmpeg, decodeCheckArgs(cloudFile), {
      signal: this.signal,
      timeoutMs: this.cfg.minTimeoutMs,
      stallMs: this.cfg.stallTimeoutMs,
      nice: 10,
    });
    if (decoded.exitCode !== 0)
      throw new AppError('NEMO_RENDER_FAILED', { reason: 'its file does not decode' });
    const want = plan.outputDurationSec;
    if (Math.abs(out.durationSec - want) > durationTolerance(want)) {
      throw new AppError('NEMO_RENDER_FAILED', {
        reason: `it is ${out.durationSec.toFixed(1)} s long, ${want.toFixed(1)} s was asked for`,
      });
    }
    const cap = plan.capBytes;
    if (cap !== null && out.sizeBytes > cap) return this.fitLocally(cloudFile, out, info, cap);
    await rename(cloudFile, this.a.outputPath);
    return this.result(out, info, plan, 1);
  }

  /** Over the cap: the local engine re-encodes the cloud's file to the cap, and the reply says so. */
  private async fitLocally(
    cloudFile: string,
    out: MediaInfo,
    info: MediaInfo,
    cap: number,
  ): Promise<JobResult> {
    if (!this.o.local) {
      throw new AppError('CAP_NOT_MET', {
        capText: formatBytes(cap),
        attempts: 1,
        bestText: formatBytes(out.sizeBytes),
      });
    }
    this.emit({
      type: 'note',
      text: `The cloud's file is ${formatBytes(out.sizeBytes)}, over your ${formatBytes(cap)} limit — re-encoding it here to fit.`,
    });
    const intent: Intent = { ...emptyIntent(), maxBytes: cap, summary: `Fit under ${formatBytes(cap)}` };
    let result: JobResult | null = null;
    for await (const e of this.o.local.run({
      inputPath: cloudFile,
      intent,
      outputPath: this.a.outputPath,
      signal: this.signal,
      session: this.a.session,
    })) {
      if (e.type === 'done') result = e.result;
      else if (e.type === 'error') throw new AppError(e.error.code, e.error.details);
      else if (e.type !== 'probe' && e.type !== 'plan') this.emit(e);
    }
    if (!result)
      throw new AppError('INTERNAL', {}, { internal: { reason: 'local re-encode ended without a result' } });
    return {
      ...result,
      inputPath: info.path,
      inputBytes: info.sizeBytes,
      attempts: result.attempts + 1,
      elapsedSec: (this.now() - this.t0) / 1000,
    };
  }

  private result(out: MediaInfo, info: MediaInfo, plan: EncodePlan, attempts: number): JobResult {
    return {
      ...outputFacts(info, containerFactsOf(out)),
      outputPath: this.a.outputPath,
      capBytes: plan.capBytes,
      container: 'mp4',
      // The cloud's encode is not compared frame by frame with the source here; the caption says so.
      quality: { ssim: null, psnrDb: null, verdict: 'not measured' },
      attempts,
      elapsedSec: (this.now() - this.t0) / 1000,
      stageSec: {},
      plan,
    };
  }
}

/**
 * The person's file name for the cloud (its agent names the file in replies), keeping the stored file's extension
 * when theirs has none the cloud accepts: it refuses unknown types by extension (4001, seed "Supported formats").
 */
function cloudFileName(inputName: string | undefined, inputPath: string): string {
  const stored = extname(inputPath).toLowerCase();
  if (!inputName) return basename(inputPath);
  const own = extname(inputName).toLowerCase();
  return ['.mp4', '.mov', '.avi', '.webm', '.mkv'].includes(own) ? inputName : `${inputName}${stored}`;
}

function readState(store: JobStateStore | undefined): SavedState | null {
  const v = store?.get();
  if (typeof v !== 'object' || v === null) return null;
  const s = v as Partial<SavedState>;
  if (typeof s.cloudSessionId !== 'string' || (s.phase !== 'edit' && s.phase !== 'render')) return null;
  return {
    cloudSessionId: s.cloudSessionId,
    phase: s.phase,
    renderId: typeof s.renderId === 'string' ? s.renderId : null,
    before: typeof s.before === 'object' && s.before !== null ? s.before : null,
  };
}

/**
 * The person's words first (the agent understands plain language), then the numbers the result is checked against,
 * so the agent aims where the check will look instead of learning it from a re-encode.
 */
export function cloudMessage(instruction: string, intent: Intent, info: MediaInfo, plan: EncodePlan): string {
  const asked = instruction.trim() || 'Compress this video so it looks the same but is smaller.';
  const wants: string[] = ['an H.264 MP4'];
  if (plan.capBytes !== null) wants.push(`at most ${formatBytes(plan.capBytes)}`);
  if (plan.video.mode === 'encode' && info.video) {
    const { width, height } = plan.video;
    if (width !== info.video.displayWidth || height !== info.video.displayHeight)
      wants.push(`${width}×${height}`);
  }
  if (intent.trim) {
    const end = intent.trim.endSec === null ? 'the end' : formatDuration(intent.trim.endSec);
    wants.push(`only ${formatDuration(intent.trim.startSec)} to ${end}`);
  }
  if (intent.audio === 'remove') wants.push('without sound');
  if (intent.fps !== null) wants.push(`${intent.fps} fps`);
  return `${asked}\n\nPlease export ${wants.join(', ')}.`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AppError('CANCELLED'));
      return;
    }
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new AppError('CANCELLED'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
