// The engine's job API (issue #2): probe → plan (with sample measurements) → encode → verify → deliver, as an async
// stream of typed PipelineEvents. The CLI, chat progress edits and the queue all consume this one stream.
import { rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import {
  audioArgs,
  decodeTapFormat,
  encodeArgs,
  remuxArgs,
  x264Threads,
  type EncodeStep,
} from '../argv/encode-args.js';
import { decodeCheckArgs, outputMetricArgs } from '../argv/sample-args.js';
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from '../config/engine.js';
import type { EncodePlan, QualityEstimate, VideoEncodeSpec } from '../domain/encode-plan.js';
import { AppError, toAppError } from '../domain/errors.js';
import {
  outputFacts,
  progressEvent,
  type JobResult,
  type PipelineEvent,
  type Stage,
} from '../domain/events.js';
import type { Intent } from '../domain/intent.js';
import { containerFactsOf, type ContainerFacts, type MediaInfo } from '../domain/media-info.js';
import { formatBytes } from '../domain/units.js';
import {
  parseEncoderMetrics,
  runFfmpeg,
  runFfmpegWithDecodeTap,
  runMetric,
  type DecodeTapResult,
} from '../media/ffmpeg.js';
import { keyframeAtOrBefore, probe } from '../media/ffprobe.js';
import { readMp4Facts } from '../media/mp4-index.js';
import type { ProgressSample } from '../media/progress.js';
import { runProcess } from '../media/run-process.js';
import { tools } from '../media/tools.js';
import {
  applyRung,
  applySizeBudget,
  draftPlan,
  estimateFor,
  type PlanWork,
} from '../planning/plan-encode.js';
import {
  nextCrf,
  requiredDb,
  ssimToDb,
  verdictFor,
  FIRST_CRF,
  CRF_MIN,
  type CrfProbe,
} from '../planning/quality.js';
import { FIRST_PASS_CRF, FirstPassRate, retryFirstPassCrf } from '../planning/first-pass.js';
import { correctedKbps, sizeAimFor, vbvFor } from '../planning/size-budget.js';
import { ladderWindowSec, sampleWindows, type SampleWindow } from '../planning/samples.js';
import { Channel } from './channel.js';
import { cutSamples, referenceSpec, scoreSamples, type SampleSet, type SamplerDeps } from './sampler.js';
import { createWorkspace, type Workspace } from './workspace.js';

export interface JobOptions {
  input: string;
  intent: Intent;
  /** Final output path; written atomically (temp name in the same folder, then rename). */
  output: string;
  signal?: AbortSignal;
  config?: Partial<EngineConfig>;
  /** Stop after the plan event (`vidshrink plan`). */
  planOnly?: boolean;
  /** Where per-job temp dirs go (default: the OS temp dir). */
  tempRoot?: string;
  /** Receives the full AppError (argv, stderr tail) of a failure, for logs; events carry only the public part. */
  onInternalError?: (e: AppError) => void;
}

/** Largest raw intermediate (yuv420p frames) kept for pass 2: about 2 minutes of 1080p30. */
const INTERMEDIATE_MAX_BYTES = 4 * 1024 ** 3;

/** Size jobs land in [97 %, 100 %] of the cap (PRODUCT.md promise 1). */
const MIN_FILL = 0.97;
const HEARTBEAT_MS = 5_000;

export function runJob(opts: JobOptions): AsyncGenerator<PipelineEvent, void> {
  const ch = new Channel<PipelineEvent>();
  const job = new Job(opts, (e) => ch.push(e));
  job
    .run()
    .catch((e: unknown) => {
      const err = toAppError(e);
      opts.onInternalError?.(err);
      ch.push({ type: 'error', error: err.toJSON() });
    })
    .finally(() => ch.close());
  return ch.drain();
}

class Job {
  private readonly cfg: EngineConfig;
  private readonly t0 = performance.now();
  private ws: Workspace | null = null;
  private refDb: number | null = null;

  constructor(
    private readonly opts: JobOptions,
    private readonly emit: (e: PipelineEvent) => void,
  ) {
    this.cfg = { ...DEFAULT_ENGINE_CONFIG, ...opts.config };
  }

  async run(): Promise<void> {
    const { signal } = this.opts;
    this.stage('probe', 'Reading the video');
    const info = await probe(this.opts.input, { signal });
    this.emit({ type: 'probe', info });
    this.stage('plan', 'Planning');
    const draft = draftPlan(this.opts.intent, info, this.cfg);
    this.ws = await createWorkspace(this.opts.tempRoot);
    try {
      const plan = await this.measure(draft.plan, draft.work, info);
      this.emit({ type: 'plan', plan });
      if (this.opts.planOnly) return;
      const result = await this.encodeVerifyDeliver(plan, info);
      this.emit({ type: 'done', result });
    } finally {
      // Work started beside the encode (the audio step, keyframe lookups) is cancelled by the same signal; a job
      // reports its end only once those processes are gone too, and never removes its temp dir under them.
      await Promise.allSettled(this.sideWork);
      await this.ws.dispose();
    }
  }

  private readonly sideWork: Promise<unknown>[] = [];

  private readonly stageSec: Partial<Record<Stage, number>> = {};
  private current: { stage: Stage; t: number } | null = null;

  private stage(stage: Stage, message: string): void {
    this.closeStage();
    this.current = { stage, t: performance.now() };
    this.stageStart = this.current.t;
    this.emit({ type: 'stage', stage, message });
  }

  private closeStage(): void {
    if (!this.current) return;
    const { stage, t } = this.current;
    this.stageSec[stage] = (this.stageSec[stage] ?? 0) + (performance.now() - t) / 1000;
    this.current = null;
  }

  private deps(): SamplerDeps {
    if (!this.ws) throw new Error('no workspace');
    return {
      info: this.infoOrThrow(),
      ws: this.ws,
      signal: this.opts.signal,
      stallMs: this.cfg.stallTimeoutMs,
    };
  }

  private info: MediaInfo | null = null;
  private infoOrThrow(): MediaInfo {
    if (!this.info) throw new Error('no info');
    return this.info;
  }

  /** Runs the sampling the draft asked for and folds the measurements into the final plan. */
  private async measure(plan: EncodePlan, work: PlanWork, info: MediaInfo): Promise<EncodePlan> {
    this.info = info;
    if (work.kind === 'none' || plan.video.mode !== 'encode') return plan;
    this.stage(
      'sample',
      work.kind === 'crf-search' ? 'Measuring quality on samples' : 'Comparing sizes on samples',
    );
    const hb = this.heartbeat('sample');
    try {
      const windowSec = work.kind === 'ladder' ? ladderWindowSec(plan.outputDurationSec) : undefined;
      const set = await cutSamples(this.deps(), plan.trim?.startSec ?? 0, plan.outputDurationSec, windowSec);
      if (work.kind === 'crf-search') await this.crfSearch(plan, plan.video, set, work.target);
      else await this.ladder(plan, plan.video, set, work.rungs);
      return plan;
    } finally {
      clearInterval(hb);
    }
  }

  private heartbeat(stage: Stage): NodeJS.Timeout {
    return setInterval(
      () => this.emit({ type: 'heartbeat', stage, elapsedSec: (performance.now() - this.t0) / 1000 }),
      HEARTBEAT_MS,
    );
  }

  private progress(
    stage: Stage,
    ratio: number,
    extra: Partial<Extract<PipelineEvent, { type: 'progress' }>> = {},
  ): void {
    this.emit(progressEvent(stage, ratio, extra));
  }

  private async crfSearch(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    set: SampleSet,
    target: Parameters<typeof requiredDb>[0],
  ): Promise<void> {
    const info = this.infoOrThrow();
    const d = this.deps();
    const ref = await scoreSamples(d, set, referenceSpec(video));
    this.refDb = ref.ssimDb;
    const required = requiredDb(target, ref.ssimDb);
    const probes: CrfProbe[] = [];
    const scores = new Map<number, { psnrDb: number; ssim: number; encodeSec: number }>();
    let next: number | null = FIRST_CRF;
    while (next !== null) {
      this.progress('sample', (probes.length + 1) / (this.cfg.maxCrfProbes + 1));
      const s = await scoreSamples(d, set, {
        ...video,
        rate: { kind: 'crf', crf: next, maxrateKbps: null, bufsizeKbps: null },
      });
      probes.push({ crf: next, ssimDb: s.ssimDb, bytes: s.bytes });
      scores.set(next, { psnrDb: s.psnrDb, ssim: s.ssim, encodeSec: s.encodeSec });
      next = nextCrf(probes, required, this.cfg.maxCrfProbes).next;
    }
    const best = nextCrf(probes, required, 0).best ??
      [...probes].sort((a, b) => a.crf - b.crf)[0] ?? { crf: CRF_MIN, ssimDb: 0, bytes: 0 };
    const sc = scores.get(best.crf);
    const scale = plan.outputDurationSec / set.durationSec;
    const videoBytes = best.bytes * scale;
    const audioBytes =
      plan.audio.mode === 'encode' ? (plan.audio.kbps * 1000 * plan.outputDurationSec) / 8 : 0;
    const predicted = Math.round(videoBytes + audioBytes + 4096 + plan.outputDurationSec * 60 * 16);
    const quality: QualityEstimate = {
      ssim: sc?.ssim ?? null,
      psnrDb: sc?.psnrDb ?? null,
      verdict: verdictFor(best.ssimDb, ref.ssimDb),
    };
    plan.estimate = { ...estimateFor(plan, info, this.cfg, predicted), quality };
    const sourceShare = Math.round((info.sizeBytes * plan.outputDurationSec) / info.durationSec);

    if (plan.capBytes !== null && predicted > plan.capBytes * MIN_FILL) {
      // The file that looks the same does not fit: size mode at the cap, and say what that costs (promise 2).
      const atCap = interpolateQuality(
        probes,
        (plan.capBytes * sizeAimFor(plan.outputDurationSec) - audioBytes) / scale,
      );
      plan.goal = 'size';
      const { videoKbps } = applySizeBudget(plan, info, plan.audio, null);
      const verdict = verdictFor(atCap, ref.ssimDb);
      plan.estimate = {
        ...estimateFor(plan, info, this.cfg, null),
        quality: { ssim: null, psnrDb: null, verdict },
      };
      plan.reasons.push(
        `The version that looks the same would be ~${formatBytes(predicted)}; using the ${formatBytes(plan.capBytes)} cap instead (${Math.round(videoKbps)} kb/s video).`,
      );
      if (verdict !== 'looks the same' && verdict !== 'identical') {
        plan.warnings.push(`${formatBytes(plan.capBytes)} forces some loss: est. quality "${verdict}".`);
      }
      return;
    }
    if (plan.capBytes === null && predicted >= sourceShare * 0.95) {
      // Promise 4: a "make it smaller" job never returns a bigger file. Cap at the source's own size.
      plan.capBytes = Math.floor(sourceShare * 0.95);
      plan.goal = 'size';
      applySizeBudget(plan, info, plan.audio, null);
      plan.estimate = { ...estimateFor(plan, info, this.cfg, null), quality };
      plan.reasons.push(
        `This video is already efficiently compressed; capped at 95 % of its size so it never grows.`,
      );
      return;
    }
    video.rate = { kind: 'crf', crf: best.crf, maxrateKbps: null, bufsizeKbps: null };
    plan.reasons.push(
      `CRF ${best.crf}: SSIM ${best.ssimDb.toFixed(1)} dB vs ${ref.ssimDb.toFixed(1)} dB for a near-lossless encode (needs ≥ ${required.toFixed(1)}).`,
    );
    if (plan.capBytes !== null)
      plan.reasons.push(`Fits: ~${formatBytes(predicted)}, under the ${formatBytes(plan.capBytes)} cap.`);
    if (sc) plan.estimate.encodeSec = sc.encodeSec * scale + 1;
  }

  private async ladder(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    set: SampleSet,
    rungs: Parameters<typeof applyRung>[1][],
  ): Promise<void> {
    const info = this.infoOrThrow();
    if (video.rate.kind !== 'abr2pass') throw new Error('ladder needs a bitrate');
    const kbps = video.rate.videoKbps;
    const d = this.deps();
    let best: { rung: (typeof rungs)[number]; ssimDb: number; ssim: number; psnrDb: number } | null = null;
    for (const [i, rung] of rungs.entries()) {
      this.progress('sample', (i + 1) / (rungs.length + 1));
      // One-pass ABR at veryfast: ranks rungs like the real two-pass medium encode at a fraction of the time.
      const spec: VideoEncodeSpec = {
        ...video,
        width: rung.width,
        height: rung.height,
        fps: rung.fps,
        preset: video.encoder === 'libx264' ? 'veryfast' : video.preset,
        rate: { kind: 'crf', crf: 0, maxrateKbps: null, bufsizeKbps: null },
      };
      const s = await scoreSamples(d, set, {
        ...spec,
        rate: { kind: 'abr2pass', videoKbps: kbps, ...vbvFor(kbps, plan.outputDurationSec) },
      });
      // Prefer the larger picture unless a smaller one measures clearly better: 0.3 dB, about half a CRF step, more
      // than the noise between sample runs.
      if (!best || s.ssimDb > best.ssimDb + 0.3)
        best = { rung, ssimDb: s.ssimDb, ssim: s.ssim, psnrDb: s.psnrDb };
    }
    if (best) {
      applyRung(plan, best.rung, kbps);
      plan.estimate = {
        ...estimateFor(plan, info, this.cfg, null),
        quality: { ssim: best.ssim, psnrDb: best.psnrDb, verdict: verdictFor(best.ssimDb, null) },
      };
    }
  }

  private async encodeVerifyDeliver(plan: EncodePlan, info: MediaInfo): Promise<JobResult> {
    const ws = this.ws;
    if (!ws) throw new Error('no workspace');
    const out = resolve(this.opts.output);
    const tmpOut = join(dirname(out), `.${basename(out)}.${randomBytes(6).toString('hex')}.part`);
    const { signal } = this.opts;
    const timeoutMs = Math.max(
      this.cfg.minTimeoutMs,
      plan.estimate.encodeSec * 1000 * this.cfg.timeoutFactor,
    );
    const run = { signal, timeoutMs, stallMs: this.cfg.stallTimeoutMs };
    let attempts: number;
    try {
      this.stage('encode', plan.goal === 'remux' ? 'Copying streams' : 'Encoding');
      if (plan.video.mode === 'copy') {
        attempts = 1;
        await runFfmpeg(remuxArgs(plan, tmpOut), {
          ...run,
          onProgress: (p) => this.encodeProgress(plan, p, 0, 1, 1),
        });
      } else {
        // Where the measurement windows start depends only on the source: found while the encoder runs, when the
        // encoder's own scores will not do.
        if (!encoderScoresReference(plan.video, info)) {
          this.windows = this.measureWindows(plan, info);
          this.windows.catch(() => undefined);
          this.sideWork.push(this.windows);
        }
        attempts = await this.encode(plan, plan.video, info, ws, tmpOut, run);
      }
      this.stage('verify', 'Checking the result');
      // The decode check and the quality measurement are independent, mostly single-threaded reads of the same
      // file: run them side by side on the 2 cores. After an encode both were usually done during it (the tap).
      // Files this engine encoded into MP4/MOV are checked against their own index; everything else by ffprobe.
      const indexed =
        plan.video.mode === 'encode' && (plan.container === 'mp4' || plan.container === 'mov')
          ? await readMp4Facts(tmpOut)
          : null;
      const outFacts = indexed ?? containerFactsOf(await probe(tmpOut, { signal }));
      const check = plan.video.mode === 'encode' ? this.finalCheck : null;
      const [decode, measured] = await Promise.all([
        this.verify(plan, tmpOut, outFacts, check),
        plan.video.mode === 'encode'
          ? this.measureOutput(plan, plan.video, info, tmpOut)
          : Promise.resolve({ quality: plan.estimate.quality, by: 'none' as const }),
      ]);
      const quality = measured.quality;
      this.stage('deliver', 'Saving');
      await rename(tmpOut, out);
      return {
        ...outputFacts(info, outFacts),
        outputPath: out,
        capBytes: plan.capBytes,
        container: plan.container,
        quality,
        attempts,
        checks: { decode, quality: measured.by },
        ...(this.firstPassReport ? { firstPass: this.firstPassReport } : {}),
        elapsedSec: (performance.now() - this.t0) / 1000,
        stageSec: (this.closeStage(), this.stageSec),
        plan,
      };
    } finally {
      await rm(tmpOut, { force: true });
    }
  }

  private encodeProgress(
    plan: EncodePlan,
    p: { outTimeSec: number | null; totalSizeBytes: number | null; speed: number | null },
    offset: number,
    weight: number,
    attempt: number,
    pass: number | null = null,
  ): void {
    const within = p.outTimeSec === null ? 0 : Math.min(1, p.outTimeSec / plan.outputDurationSec);
    const ratio = offset + weight * within;
    const elapsed = (performance.now() - this.stageStart) / 1000;
    const etaSec = ratio > 0.02 ? (elapsed * (1 - ratio)) / ratio : null;
    this.progress('encode', ratio, {
      etaSec,
      outTimeSec: p.outTimeSec ?? 0,
      sizeBytes: p.totalSizeBytes ?? 0,
      speed: p.speed,
      pass,
      attempt,
    });
  }

  private stageStart = performance.now();

  /** Encodes with bounded corrections; returns the number of attempts. The file at `tmpOut` meets the cap. */
  private async encode(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    info: MediaInfo,
    ws: Workspace,
    tmpOut: string,
    run: { signal?: AbortSignal | undefined; timeoutMs: number; stallMs: number },
  ): Promise<number> {
    // Audio is encoded (or copied) on its own so its exact size sets pass 2's bitrate. Pass 1 never reads audio, so
    // the two run side by side: on short clips the audio step was a visible share of the wall time.
    const audio = this.encodeAudio(plan, info, ws, run);
    audio.catch(() => undefined);
    this.sideWork.push(audio);
    const passLog = ws.file('x264');
    const guard = (cap: number | null): number => Math.ceil((cap ?? info.sizeBytes * 4) * 1.5) + 1_000_000;
    const ctx = (a: Promise<EncodedAudio | null>): EncodeContext => ({
      audio: a,
      info,
      passLog,
      tmpOut,
      run,
      guard,
    });

    if (video.rate.kind === 'crf') {
      const a = await audio;
      const size = await this.finalEncode(
        plan,
        (tap) =>
          encodeArgs(plan, {
            kind: 'single',
            passLogPrefix: passLog,
            audioPath: a?.path ?? null,
            outputPath: tmpOut,
            maxOutputBytes: guard(plan.capBytes),
            ...this.threads(video),
            ...tap,
          }),
        tmpOut,
        guard(plan.capBytes),
        run,
        (p) => this.encodeProgress(plan, p, 0, 1, 1),
      );
      const within = plan.capBytes === null || size <= plan.capBytes;
      this.attempt(
        1,
        size,
        plan.capBytes,
        within ? 'accept' : 'retry-lower',
        within ? 'quality target met' : 'over the cap: switching to two-pass at the cap',
      );
      if (within) return 1;
      plan.goal = 'size';
      applySizeBudget(plan, info, plan.audio, a?.bytes ?? null);
      return 1 + (await this.twoPass(plan, video, ctx(audio), 1));
    }
    return this.twoPass(plan, video, ctx(audio), 0);
  }

  /** What the decode tap and the encoder said about the file now at the output's temp path. */
  private finalCheck: FinalCheck | null = null;

  /**
   * The encode that writes the deliverable (pass 2, a correction, or the CRF encode): decoded while it runs through
   * the tee tap, scored by x264 itself, its size watched against the runaway guard (`-fs` does not reach a tee's
   * files). Returns the file's size; a tripped guard stops the encode like `-fs` did, leaving a file over the cap.
   */
  private async finalEncode(
    plan: EncodePlan,
    argvFor: (extras: FinalStepExtras) => string[],
    path: string,
    guardBytes: number,
    run: { signal?: AbortSignal | undefined; timeoutMs: number; stallMs: number },
    onProgress: (p: ProgressSample) => void,
  ): Promise<number> {
    this.finalCheck = null;
    const tapFormat = decodeTapFormat(plan);
    if (tapFormat === null) {
      const res = await runFfmpeg(argvFor({ encoderMetrics: true }), { ...run, onProgress });
      this.finalCheck = { tap: null, metrics: parseEncoderMetrics(res.stderrTail) };
      return (await stat(path)).size;
    }
    const decodeTap = { url: 'pipe:3', format: tapFormat };
    const res = await runFfmpegWithDecodeTap(argvFor({ decodeTap, encoderMetrics: true }), {
      ...run,
      tapFormat,
      onProgress,
      output: { path, maxBytes: guardBytes },
    });
    if (!res.oversized)
      this.finalCheck = { tap: res.tap, metrics: parseEncoderMetrics(res.encode.stderrTail) };
    return (await stat(path)).size;
  }

  private async encodeAudio(
    plan: EncodePlan,
    info: MediaInfo,
    ws: Workspace,
    run: { signal?: AbortSignal | undefined; timeoutMs: number; stallMs: number },
  ): Promise<EncodedAudio | null> {
    const spec = plan.audio;
    if (spec.mode === 'none') return null;
    // Pass 1 is spawned first: it is the job's critical path, and each spawn forks this process (~10 ms).
    // A job cancelled meanwhile is refused by runProcess before it spawns anything.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const codec =
      spec.mode === 'encode' ? spec.codec : info.audio.find((a) => a.index === spec.streamIndex)?.codec;
    const isAac = codec === 'aac';
    const path = ws.file(isAac ? 'audio.m4a' : 'audio.mka');
    await runFfmpeg(audioArgs(plan, spec, path, isAac ? 'mp4' : 'matroska'), run);
    // The output's audio packets are this file's. An MPEG-TS tap decodes them with the video, and an output without a
    // tap is decoded whole after the encode; past a NUT tap (video only) they are decoded here, beside pass 1.
    if (decodeTapFormat(plan) === 'nut') {
      const res = await runProcess(tools().ffmpeg, decodeCheckArgs(path), { ...run, nice: 10 });
      if (res.exitCode !== 0) {
        throw new AppError(
          'VERIFY_FAILED',
          { reason: 'its sound does not decode cleanly' },
          { internal: { stderrTail: res.stderrTail.slice(-2000) } },
        );
      }
    }
    return { path, bytes: (await stat(path)).size };
  }

  private attempt(
    n: number,
    sizeBytes: number,
    capBytes: number | null,
    action: Extract<PipelineEvent, { type: 'attempt' }>['action'],
    reason: string,
  ): void {
    const withinCap = capBytes === null || sizeBytes <= capBytes;
    this.emit({ type: 'attempt', n, sizeBytes, capBytes, withinCap, action, reason });
  }

  /**
   * Tonemapping runs in float on every pixel (zscale → gbrpf32le → tonemap → zscale): 5.5 s of a 6-s 1080p30 HLG
   * clip's pass against 2.2 s to decode it alone (BENCHMARKS.md, "HDR"). Run once, its frames are kept raw for
   * pass 2 (0.09 s to read back), when they fit in a few GB of temp space.
   */
  /** The raw intermediate of this job's two-pass encode, if it wrote one (see intermediateFits). */
  private intermediate: string | null = null;

  private async intermediateFits(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    info: MediaInfo,
  ): Promise<boolean> {
    if (!video.tonemap || video.pixFmt !== 'yuv420p' || !this.ws) return false;
    const fps = video.fps ?? info.video?.fps ?? 0;
    const bytes = video.width * video.height * 1.5 * fps * plan.outputDurationSec;
    if (!(bytes > 0) || bytes > INTERMEDIATE_MAX_BYTES) return false;
    try {
      const fs = await statfs(this.ws.dir);
      return bytes * 2 < fs.bavail * fs.bsize;
    } catch {
      return false;
    }
  }

  private async twoPass(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    ctx: EncodeContext,
    priorAttempts: number,
  ): Promise<number> {
    const { passLog, tmpOut, run, guard } = ctx;
    if (video.rate.kind !== 'abr2pass' || plan.capBytes === null) throw new Error('two-pass needs a cap');
    const cap = plan.capBytes;
    let audioPath: string | null = null;
    const raw = (await this.intermediateFits(plan, video, ctx.info))
      ? this.ws?.file('frames.nut')
      : undefined;
    this.intermediate = raw ?? null;
    const step = (
      kind: 'pass1' | 'pass2',
      outputPath: string,
      tap: FinalStepExtras = {},
      firstPassCrf?: number,
    ): string[] =>
      encodeArgs(plan, {
        kind,
        passLogPrefix: passLog,
        audioPath,
        outputPath,
        maxOutputBytes: guard(cap),
        ...(raw ? { intermediate: kind === 'pass1' ? { write: raw } : { read: raw } } : {}),
        ...(kind === 'pass2' ? this.threads(video) : {}),
        ...(firstPassCrf !== undefined ? { firstPassCrf } : {}),
        ...tap,
      });
    const attemptsLeft = this.cfg.maxAttempts;
    // Pass-1 statistics barely depend on the bitrate, so corrections only redo pass 2.
    await this.firstPass(plan, video, (crf) => step('pass1', '/dev/null', {}, crf), run, priorAttempts);
    const audio = await ctx.audio;
    audioPath = audio?.path ?? null;
    const audioBytes = audio?.bytes ?? null;
    applySizeBudget(plan, ctx.info, plan.audio, audioBytes);
    if (video.rate.kind !== 'abr2pass') throw new Error('two-pass needs a bitrate');
    const keep = tmpOut + '.best';
    let bestSize = 0;
    let keptCheck: FinalCheck | null = null;
    let raised = false;
    let n: number;
    try {
      for (n = 1; n <= attemptsLeft; n++) {
        const attempt = priorAttempts + n;
        const weight = n === 1 ? 0.7 : 0.7 / n;
        const size = await this.finalEncode(
          plan,
          (tap) => step('pass2', tmpOut, tap),
          tmpOut,
          guard(cap),
          run,
          (p) => this.encodeProgress(plan, p, 0.3, weight, attempt, 2),
        );
        const videoBytes = Math.max(1, size - (audioBytes ?? 0));
        const wantVideo = (plan.targetBytes ?? cap * sizeAimFor(plan.outputDurationSec)) - (audioBytes ?? 0);
        if (size > cap) {
          if (bestSize > 0) {
            // The raised attempt overshot: the previous file met the cap; keep it.
            await rename(keep, tmpOut);
            this.finalCheck = keptCheck;
            this.attempt(attempt, size, cap, 'keep-previous', 'raising overshot; keeping the previous file');
            return n;
          }
          this.attempt(attempt, size, cap, 'retry-lower', `${formatBytes(size)} is over ${formatBytes(cap)}`);
          video.rate = withKbps(
            correctedKbps(video.rate.videoKbps, videoBytes, wantVideo),
            plan.outputDurationSec,
          );
          continue;
        }
        if (size < cap * MIN_FILL && !raised && n < attemptsLeft) {
          // Far under the cap: raise once if that buys quality (issue #2), keeping this file as the fallback.
          raised = true;
          bestSize = size;
          keptCheck = this.finalCheck;
          await rename(tmpOut, keep);
          this.attempt(
            attempt,
            size,
            cap,
            'retry-higher',
            `${formatBytes(size)} uses only ${Math.round((100 * size) / cap)} % of the cap`,
          );
          video.rate = withKbps(
            correctedKbps(video.rate.videoKbps, videoBytes, wantVideo),
            plan.outputDurationSec,
          );
          continue;
        }
        this.attempt(attempt, size, cap, 'accept', `${Math.round((1000 * size) / cap) / 10} % of the cap`);
        return n;
      }
      if (bestSize > 0) {
        await rename(keep, tmpOut);
        this.finalCheck = keptCheck;
        return n;
      }
      throw new AppError('CAP_NOT_MET', {
        capText: formatBytes(cap),
        attempts: priorAttempts + attemptsLeft,
        bestText: 'over the cap',
      });
    } finally {
      await rm(keep, { force: true });
    }
  }

  /** How the first pass ran (x264 size jobs), for the result. */
  private firstPassReport: FirstPassReport | null = null;

  /**
   * Pass 1 of a two-pass encode. libx264 runs it at constant quality (src/planning/first-pass.ts): CRF 22 first, its
   * rate read over 10–30 % of the clip (20–60 s of a long video), and one restart at a corrected CRF when that rate
   * is far from the target. Other encoders keep their one-pass ABR first pass.
   */
  private async firstPass(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    args: (crf: number | undefined) => string[],
    run: EncodeContext['run'],
    priorAttempts: number,
  ): Promise<void> {
    const attempt = priorAttempts + 1;
    // Pass 1 writes no file the user gets: its bytes are not the output's size.
    const report = (p: ProgressSample, offset: number): void =>
      this.encodeProgress(plan, { ...p, totalSizeBytes: null }, offset, 0.3 - offset, attempt, 1);
    if (video.encoder !== 'libx264' || video.rate.kind !== 'abr2pass') {
      await runFfmpeg(args(undefined), { ...run, onProgress: (p) => report(p, 0) });
      return;
    }
    const meter = new FirstPassRate(plan.outputDurationSec, video.rate.videoKbps);
    const stop = new AbortController();
    const first = FIRST_PASS_CRF;
    let ratio: number | null = null;
    let retry: number | null = null;
    let reached = 0;
    let last: ProgressSample | null = null;
    try {
      await runFfmpeg(args(first), {
        ...run,
        signal: run.signal ? AbortSignal.any([run.signal, stop.signal]) : stop.signal,
        onProgress: (p) => {
          report(p, 0);
          last = p;
          reached = p.outTimeSec === null ? reached : Math.min(1, p.outTimeSec / plan.outputDurationSec);
          if (ratio !== null) return;
          ratio = meter.push(p.outTimeSec, p.totalSizeBytes);
          retry = ratio === null ? null : retryFirstPassCrf(first, ratio, plan.outputDurationSec);
          if (retry !== null) stop.abort();
        },
      });
      if (ratio === null && last !== null) {
        const end: ProgressSample = last;
        ratio = meter.finish(end.outTimeSec, end.totalSizeBytes);
        retry = ratio === null ? null : retryFirstPassCrf(first, ratio, plan.outputDurationSec);
      }
    } catch (e) {
      if (!stop.signal.aborted || run.signal?.aborted) throw e;
    }
    this.firstPassReport = {
      crf: retry ?? first,
      rateRatio: ratio,
      retriedFrom: retry === null ? null : first,
    };
    if (retry === null) return;
    // The retry's progress continues from where the first try stopped, so the bar never goes back.
    const offset = 0.3 * reached;
    await runFfmpeg(args(retry), { ...run, onProgress: (p) => report(p, offset) });
  }

  /** Promise 6: it decodes fully, the duration matches, the streams are as planned, the size is under the cap. */
  private async verify(
    plan: EncodePlan,
    path: string,
    out: ContainerFacts,
    check: FinalCheck | null,
  ): Promise<'during-encode' | 'after-encode'> {
    const run = {
      signal: this.opts.signal,
      timeoutMs: this.cfg.minTimeoutMs,
      stallMs: this.cfg.stallTimeoutMs,
    };
    // The tap decoded every video packet the encoder wrote; the file must hold exactly those (MP4/MOV count their
    // frames in the index). The audio is copied in from the job's own file: an MPEG-TS tap decoded it too, past a NUT
    // tap it was decoded when it was made (decodeTapFormat).
    const counted = plan.container === 'mp4' || plan.container === 'mov';
    const tapCovers =
      check !== null &&
      check.tap !== null &&
      check.tap.ok &&
      check.tap.frames !== null &&
      check.tap.frames > 0 &&
      (!counted || out.video?.frameCount === check.tap.frames);
    const res = tapCovers
      ? { exitCode: 0, stderrTail: '' }
      : await runProcess(tools().ffmpeg, decodeCheckArgs(path), { ...run, nice: 10 });
    if (res.exitCode !== 0)
      throw new AppError(
        'VERIFY_FAILED',
        { reason: 'it does not decode cleanly' },
        { internal: { stderrTail: res.stderrTail.slice(-2000) } },
      );
    const want = plan.outputDurationSec;
    const tol = Math.max(0.2, want * 0.01);
    if (Math.abs(out.durationSec - want) > tol) {
      // A shorter output from a source that claims more is a truncated source, not an encoder fault.
      if (out.durationSec < want) {
        throw new AppError('INPUT_CORRUPT', {
          reason: `the video stops at ${out.durationSec.toFixed(1)} s although it says ${want.toFixed(1)} s`,
        });
      }
      throw new AppError('VERIFY_FAILED', {
        reason: `duration ${out.durationSec.toFixed(2)} s, planned ${want.toFixed(2)} s`,
      });
    }
    if (!out.video) throw new AppError('VERIFY_FAILED', { reason: 'no video stream' });
    const wantAudio = plan.audio.mode !== 'none';
    if (wantAudio !== out.audioCodecs.length > 0)
      throw new AppError('VERIFY_FAILED', { reason: wantAudio ? 'audio missing' : 'unexpected audio' });
    if (plan.video.mode === 'encode') {
      const codecName = { h264: 'h264', h265: 'hevc', av1: 'av1', vp9: 'vp9' }[plan.video.codec];
      if (out.video.codec !== codecName)
        throw new AppError('VERIFY_FAILED', { reason: `codec ${out.video.codec}` });
      if (out.video.displayWidth !== plan.video.width || out.video.displayHeight !== plan.video.height) {
        throw new AppError('VERIFY_FAILED', {
          reason: `size ${out.video.displayWidth}×${out.video.displayHeight}`,
        });
      }
    }
    if (plan.capBytes !== null && out.sizeBytes > plan.capBytes) {
      throw new AppError('CAP_NOT_MET', {
        capText: formatBytes(plan.capBytes),
        attempts: 1,
        bestText: formatBytes(out.sizeBytes),
      });
    }
    return tapCovers ? 'during-encode' : 'after-encode';
  }

  private windows: Promise<SampleWindow[]> | null = null;

  private threads(video: VideoEncodeSpec): { threads?: number } {
    const t = video.encoder === 'libx264' ? x264Threads(availableParallelism()) : undefined;
    return t === undefined ? {} : { threads: t };
  }

  /** The 1-s windows the delivered file is scored on, moved back to source keyframes where seeking is exact. */
  private async measureWindows(plan: EncodePlan, info: MediaInfo): Promise<SampleWindow[]> {
    const trimStart = plan.trim?.startSec ?? 0;
    const planned = sampleWindows(plan.outputDurationSec, trimStart, 1);
    if (!info.video || !seekable(info)) return planned;
    return keyframeWindows(
      info.path,
      info.video.index,
      planned,
      trimStart,
      this.opts.signal,
      trimStart + plan.outputDurationSec,
    );
  }

  private async measureOutput(
    plan: EncodePlan,
    video: VideoEncodeSpec,
    info: MediaInfo,
    path: string,
  ): Promise<{ quality: QualityEstimate; by: 'encoder' | 'windows' | 'none' }> {
    const v = info.video;
    if (!v) return { quality: plan.estimate.quality, by: 'none' };
    const trimStart = plan.trim?.startSec ?? 0;
    // 1 s windows: the delivered file's score is a report, not a decision, and this runs on every job.
    const run = {
      signal: this.opts.signal,
      timeoutMs: this.cfg.minTimeoutMs,
      stallMs: this.cfg.stallTimeoutMs,
    };
    const own = this.finalCheck?.metrics;
    if (own && encoderScoresReference(video, info)) {
      const verdict = verdictFor(ssimToDb(own.ssim), this.refDb);
      return { quality: { ssim: own.ssim, psnrDb: own.psnrDb, verdict }, by: 'encoder' };
    }
    const seek = seekable(info);
    const windows = await (this.windows ?? this.measureWindows(plan, info));
    const base = {
      seek,
      output: path,
      source: info.path,
      trimStartSec: trimStart,
      video,
      sourceFps: v.fps,
      refWidth: video.crop?.width ?? v.displayWidth,
      refHeight: video.crop?.height ?? v.displayHeight,
    };
    // Seek points snapped to mid-frame land on the same frame in source and output for timestamped containers (MP4,
    // MKV, TS): checked against frame-exact full decodes (BENCHMARKS.md, "Measurement").
    // Same geometry and frame rate as the reference: the intermediate's frames are the tonemapped reference.
    const pre =
      this.intermediate !== null &&
      video.fps === null &&
      video.width === base.refWidth &&
      video.height === base.refHeight
        ? { prefilteredReference: this.intermediate }
        : {};
    const m = await runMetric(outputMetricArgs({ ...base, ...pre, windows, outputOffsetSec: 0 }), run);
    const verdict = verdictFor(ssimToDb(m.ssim), this.refDb);
    return { quality: { ssim: m.ssim, psnrDb: m.psnrDb, verdict }, by: 'windows' };
  }
}

/**
 * x264's input is the reference itself when the plan keeps the source's geometry and frame rate (the chain then only
 * rotates, crops as asked, tonemaps and converts to 4:2:0, exactly what the reference gets): its `ssim=1` score covers
 * every frame, where the windowed measurement read 1-s samples of both files again after the encode.
 */
function encoderScoresReference(video: EncodePlan['video'], info: MediaInfo): boolean {
  const v = info.video;
  if (video.mode !== 'encode' || !v || video.encoder !== 'libx264' || video.fps !== null) return false;
  return (
    video.width === (video.crop?.width ?? v.displayWidth) &&
    video.height === (video.crop?.height ?? v.displayHeight)
  );
}

/** AVI and MPEG-PS often carry no per-packet timestamps, so seeking in them is not frame-exact. */
function seekable(info: MediaInfo): boolean {
  return info.container !== 'avi' && info.container !== 'mpegps';
}

/**
 * Moves each window back to the source keyframe at or before it, so the measurement decodes only the window (seeking
 * decodes from that keyframe anyway). A window whose keyframe an earlier window already starts on is folded into the
 * window before it, so as many frames are compared without decoding the stretch between them. Phone clips and screen
 * recordings carry one keyframe in 8 s: the vertical clip's second window decoded 5 s of 16 Mb/s H.264 to compare
 * 1 s, and the measurement took 3.1 s of the job (BENCHMARKS.md, "Verify cost").
 */
export async function keyframeWindows(
  source: string,
  videoIndex: number,
  windows: SampleWindow[],
  trimStart: number,
  signal: AbortSignal | undefined,
  clipEndSec = Number.POSITIVE_INFINITY,
): Promise<SampleWindow[]> {
  const out: SampleWindow[] = [];
  for (const w of windows) {
    const kf = await keyframeAtOrBefore(source, videoIndex, w.startSec, signal);
    const usable = kf !== null && kf >= trimStart && !out.some((o) => o.startSec === kf);
    const last = out[out.length - 1];
    if (usable) out.push({ ...w, startSec: kf });
    else if (last) last.durationSec = Math.min(last.durationSec + w.durationSec, clipEndSec - last.startSec);
    else out.push(w);
  }
  return out;
}

/** The decode tap's verdict and libx264's own scores for the file an encode just wrote. */
interface FinalCheck {
  /** Null when the encode ran without a tap (decodeTapWorks). */
  tap: DecodeTapResult | null;
  metrics: { ssim: number; psnrDb: number } | null;
}

type FinalStepExtras = Pick<EncodeStep, 'decodeTap' | 'encoderMetrics'>;

interface EncodedAudio {
  path: string;
  /** Exact bytes of the audio stream as it will be muxed (copied into the output). */
  bytes: number;
}

interface FirstPassReport {
  crf: number;
  rateRatio: number | null;
  retriedFrom: number | null;
}

interface EncodeContext {
  /** The audio encode, running beside pass 1. */
  audio: Promise<EncodedAudio | null>;
  info: MediaInfo;
  passLog: string;
  tmpOut: string;
  run: { signal?: AbortSignal | undefined; timeoutMs: number; stallMs: number };
  /** -fs value for a cap: a runaway encode stops at 1.5× the cap instead of filling the disk. */
  guard: (cap: number | null) => number;
}

function withKbps(
  kbps: number,
  durationSec: number,
): {
  kind: 'abr2pass';
  videoKbps: number;
  maxrateKbps: number;
  bufsizeKbps: number;
} {
  return { kind: 'abr2pass', videoKbps: kbps, ...vbvFor(kbps, durationSec) };
}

/** SSIM dB expected at a given sample byte count, by linear interpolation over the CRF probes. */
function interpolateQuality(probes: readonly CrfProbe[], sampleBytes: number): number {
  const pts = [...probes].sort((a, b) => a.bytes - b.bytes);
  const first = pts[0];
  const last = pts[pts.length - 1];
  if (!first || !last) return 0;
  if (sampleBytes <= first.bytes)
    return first.ssimDb - 0.6 * Math.log2(first.bytes / Math.max(1, sampleBytes)) * 2.5;
  if (sampleBytes >= last.bytes) return last.ssimDb;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1];
    const b = pts[i];
    if (a && b && sampleBytes <= b.bytes) {
      const t = Math.log(sampleBytes / a.bytes) / Math.log(b.bytes / a.bytes);
      return a.ssimDb + t * (b.ssimDb - a.ssimDb);
    }
  }
  return last.ssimDb;
}
