// Pure planning rules against hand-built MediaInfo stubs (code-anchors.md §8.1): no I/O, no ffmpeg.
import { describe, expect, it } from 'vitest';
import { decodeTapFormat, encodeArgs, x264Threads } from '../../src/argv/encode-args.js';
import { videoFilterChain } from '../../src/argv/filters.js';
import { DEFAULT_ENGINE_CONFIG } from '../../src/config/engine.js';
import type { EncodePlan } from '../../src/domain/encode-plan.js';
import { AppError } from '../../src/domain/errors.js';
import { emptyIntent, type Intent } from '../../src/domain/intent.js';
import type { AudioStreamInfo, MediaInfo, VideoStreamInfo } from '../../src/domain/media-info.js';
import { chooseAudioRung, planAudio } from '../../src/planning/audio.js';
import { aspectCrop, fitShortSide } from '../../src/planning/geometry.js';
import { ladderCandidates } from '../../src/planning/ladder.js';
import { keyintFor } from '../../src/planning/gop.js';
import { applyRung, draftPlan } from '../../src/planning/plan-encode.js';
import { nextCrf, requiredDb, QUALITY_TARGETS, ssimToDb } from '../../src/planning/quality.js';
import { sampleWindows } from '../../src/planning/samples.js';
import { sizeAimFor, vbvFor, x264RateTolerance } from '../../src/planning/size-budget.js';

function video(over: Partial<VideoStreamInfo> = {}): VideoStreamInfo {
  return {
    index: 0,
    codec: 'hevc',
    profile: 'Main 10',
    width: 3840,
    height: 2160,
    rotationDeg: 0,
    displayWidth: 3840,
    displayHeight: 2160,
    fps: 60,
    declaredFps: 60,
    isVfr: false,
    bitDepth: 8,
    pixFmt: 'yuv420p',
    colorTransfer: null,
    colorPrimaries: null,
    colorSpace: null,
    hdr: null,
    bitrateBps: 50_000_000,
    frameCount: 15120,
    startTimeSec: 0,
    ...over,
  };
}

function media(over: Partial<MediaInfo> = {}, v: Partial<VideoStreamInfo> = {}): MediaInfo {
  return {
    path: '/in/clip.mov',
    formatName: 'mov,mp4,m4a,3gp,3g2,mj2',
    container: 'mp4',
    durationSec: 252,
    sizeBytes: 1_900_000_000,
    bitrateBps: 60_000_000,
    video: video(v),
    audio: [
      { index: 1, codec: 'aac', channels: 2, sampleRateHz: 48000, bitrateBps: 256_000, language: null },
    ],
    subtitles: [],
    ...over,
  };
}

/** 20 MB of 1080p30 H.264 + AAC in MP4: under a 25 MB cap, it is remuxed. */
function compliantMedia(): MediaInfo {
  const m = media(
    { sizeBytes: 20_000_000 },
    {
      codec: 'h264',
      width: 1920,
      height: 1080,
      displayWidth: 1920,
      displayHeight: 1080,
      fps: 30,
      declaredFps: 30,
    },
  );
  m.audio = [
    { index: 1, codec: 'aac', channels: 2, sampleRateHz: 48000, bitrateBps: 128_000, language: null },
  ];
  return m;
}

const cfg = DEFAULT_ENGINE_CONFIG;
const I = (f: Partial<Intent>): Intent => ({ ...emptyIntent(), ...f });

describe('draftPlan', () => {
  it('4K60 HEVC under 200 MB: two-pass H.264 at ≤ 1080p, budget inside the cap, audio scaled', () => {
    const { plan, work } = draftPlan(I({ maxBytes: 200_000_000 }), media(), cfg);
    expect(plan.goal).toBe('size');
    if (plan.video.mode !== 'encode' || plan.video.rate.kind !== 'abr2pass')
      throw new Error('expected two-pass');
    expect(Math.min(plan.video.width, plan.video.height)).toBeLessThanOrEqual(1080);
    const videoBytes = (plan.video.rate.videoKbps * 1000 * 252) / 8;
    const audioBytes = plan.audio.mode === 'encode' ? (plan.audio.kbps * 1000 * 252) / 8 : 0;
    // Inside the aim for a 252 s clip (99.8 %), which leaves room for the container's index.
    expect(videoBytes + audioBytes).toBeLessThan(200_000_000 * sizeAimFor(252));
    expect(videoBytes + audioBytes).toBeGreaterThan(200_000_000 * 0.95);
    expect(plan.video.rate.maxrateKbps).toBe(plan.video.rate.videoKbps * 2);
    expect(['none', 'ladder']).toContain(work.kind);
  });

  it('a thin budget proposes lower rungs to measure, the source rung included', () => {
    const { work } = draftPlan(
      I({ maxBytes: 6_000_000 }),
      media({ durationSec: 60 }, { width: 1920, height: 1080, displayWidth: 1920, displayHeight: 1080 }),
      cfg,
    );
    expect(work.kind).toBe('ladder');
    if (work.kind !== 'ladder') return;
    expect(work.rungs.length).toBeGreaterThan(1);
    expect(work.rungs.some((r) => r.width === 1920 && r.height === 1080)).toBe(true);
    expect(work.rungs.some((r) => Math.min(r.width, r.height) < 1080 || r.fps === 30)).toBe(true);
  });

  it('an impossible cap fails with CAP_INFEASIBLE and the smallest feasible size', () => {
    try {
      draftPlan(I({ maxBytes: 1_000_000 }), media(), cfg);
      throw new Error('expected failure');
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      const err = e as AppError;
      expect(err.code).toBe('CAP_INFEASIBLE');
      expect(Number(err.details.minBytes)).toBeGreaterThan(1_000_000);
      expect(err.exitCode).toBe(2);
    }
  });

  it('no cap → quality first with a CRF search', () => {
    const { plan, work } = draftPlan(I({}), media(), cfg);
    expect(plan.goal).toBe('quality');
    expect(work.kind).toBe('crf-search');
  });

  it('portrait phone video: "1080p" is the short side, rotation honoured', () => {
    const { plan } = draftPlan(
      I({ maxBytes: 100_000_000 }),
      media({}, { rotationDeg: 90, displayWidth: 2160, displayHeight: 3840 }),
      cfg,
    );
    if (plan.video.mode !== 'encode') throw new Error();
    expect([plan.video.width, plan.video.height]).toEqual([1080, 1920]);
    expect(plan.reasons.join(' ')).toMatch(/Rotation/);
  });

  it('never upscales, even when asked', () => {
    const { plan } = draftPlan(
      I({ maxShortSide: 1080, maxBytes: 50_000_000 }),
      media({}, { width: 1280, height: 720, displayWidth: 1280, displayHeight: 720 }),
      cfg,
    );
    if (plan.video.mode !== 'encode') throw new Error();
    expect(plan.video.height).toBe(720);
  });

  it('HDR is tonemapped and >60 fps capped', () => {
    const { plan } = draftPlan(
      I({ maxBytes: 100_000_000 }),
      media({}, { hdr: 'hlg', fps: 120, declaredFps: 120, pixFmt: 'yuv420p10le' }),
      cfg,
    );
    if (plan.video.mode !== 'encode') throw new Error();
    expect(plan.video.tonemap).toBe('hlg');
    expect(plan.video.fps).toBe(60);
  });

  it('an input already under the cap and compliant is remuxed', () => {
    expect(draftPlan(I({ maxBytes: 25_000_000 }), compliantMedia(), cfg).plan.goal).toBe('remux');
  });

  it('trim outside the video and codec/container mismatch are refused (exit 2)', () => {
    expect(() => draftPlan(I({ trim: { startSec: 300, endSec: null } }), media(), cfg)).toThrow(/outside/);
    expect(() => draftPlan(I({ container: 'webm', videoCodec: 'h264' }), media(), cfg)).toThrow(AppError);
  });

  it('GOP: 10 s of frames, never more keyframes than x264 default; follows a ladder rung that changes the rate', () => {
    const at = (fps: number, videoCodec: Intent['videoCodec'] = null) => {
      const { plan } = draftPlan(
        I({ maxBytes: 200_000_000, videoCodec }),
        media({}, { fps, declaredFps: fps }),
        cfg,
      );
      if (plan.video.mode !== 'encode') throw new Error('expected an encode');
      return plan.video;
    };
    expect(at(60).keyintFrames).toBe(600);
    expect(at(29.97).keyintFrames).toBe(300);
    // 10 fps CCTV: x264's 250 frames is already 25 s, so it stays.
    expect(at(10).keyintFrames).toBe(250);
    expect(at(60, 'h265').keyintFrames).toBe(600);
    expect(at(60, 'av1').keyintFrames).toBe(600);
    expect(at(60, 'vp9').keyintFrames).toBe(600);
    const { plan } = draftPlan(I({ maxBytes: 200_000_000 }), media(), cfg);
    applyRung(plan, { width: 1280, height: 720, fps: 30, label: '720p30' }, 2000);
    if (plan.video.mode !== 'encode') throw new Error('expected an encode');
    expect(plan.video.keyintFrames).toBe(300);
    expect(keyintFor(Number.NaN)).toBeNull();
  });

  it('a relative cap is a fraction of the input size', () => {
    const { plan } = draftPlan(I({ maxBytesRatio: 0.25 }), media(), cfg);
    expect(plan.capBytes).toBe(475_000_000);
  });
});

describe('argv builders', () => {
  const base = (): EncodePlan => draftPlan(I({ maxBytes: 200_000_000 }), media(), cfg).plan;

  it('short clips get a tight x264 rate tolerance on pass 2 only (overshoot costs a whole extra pass)', () => {
    expect(x264RateTolerance(10)).toBe(0.1);
    expect(x264RateTolerance(60)).toBe(0.5);
    expect(x264RateTolerance(600)).toBe(1);
    const plan = draftPlan(I({ maxBytes: 8_000_000 }), media({ durationSec: 10 }), cfg).plan;
    const step = { passLogPrefix: '/w/x264', audioPath: null, outputPath: '/o/o.mp4', maxOutputBytes: 9e6 };
    const p2 = encodeArgs(plan, { kind: 'pass2', ...step });
    // Pass 2 reads frame types and MB-tree from pass 1's files: a short lookahead only feeds the VBV.
    expect(p2[p2.indexOf('-x264-params') + 1]).toBe('ratetol=0.1:rc-lookahead=10');
    expect(encodeArgs(plan, { kind: 'pass1', ...step })).not.toContain('-x264-params');
  });

  it('aims at 99.3 % of the cap up to 40 s and 99.8 % from 80 s on (x264 lands closer on long clips)', () => {
    expect(sizeAimFor(5)).toBeCloseTo(0.993, 9);
    expect(sizeAimFor(40)).toBeCloseTo(0.993, 9);
    expect(sizeAimFor(60)).toBeCloseTo(0.9955, 9);
    expect(sizeAimFor(80)).toBeCloseTo(0.998, 9);
    expect(sizeAimFor(3600)).toBeCloseTo(0.998, 9);
    const aimOf = (durationSec: number): number => {
      const plan = draftPlan(I({ maxBytes: 20_000_000 }), media({ durationSec }), cfg).plan;
      return (plan.targetBytes ?? 0) / 20_000_000;
    };
    expect(aimOf(10)).toBeCloseTo(0.993, 6);
    expect(aimOf(120)).toBeCloseTo(0.998, 6);
  });

  it('VBV: peaks at 2× the average; the buffer is 4 s up to 40 s clips, grows with the clip, 8 s from 80 s on', () => {
    expect(vbvFor(300, 10)).toEqual({ maxrateKbps: 600, bufsizeKbps: 1200 });
    expect(vbvFor(300, 40)).toEqual({ maxrateKbps: 600, bufsizeKbps: 1200 });
    expect(vbvFor(300, 60)).toEqual({ maxrateKbps: 600, bufsizeKbps: 1800 });
    expect(vbvFor(298, 79.5)).toEqual({ maxrateKbps: 596, bufsizeKbps: 2369 });
    expect(vbvFor(300, 3600)).toEqual({ maxrateKbps: 600, bufsizeKbps: 2400 });
    // A player fed at the peak rate never waits more than 5 % of the clip for the buffer to fill.
    for (const d of [10, 45, 80, 600]) {
      const { maxrateKbps, bufsizeKbps } = vbvFor(1000, d);
      expect(bufsizeKbps / maxrateKbps).toBeLessThanOrEqual(Math.max(2, 0.05 * d));
    }
  });

  it('x264 first pass at constant quality: no bitrate or VBV, raw H.264 flushed per packet so progress counts bytes', () => {
    const plan = draftPlan(I({ maxBytes: 8_000_000 }), media({ durationSec: 10 }), cfg).plan;
    const step = { passLogPrefix: '/w/x264', audioPath: null, outputPath: '/dev/null', maxOutputBytes: 9e6 };
    const p1 = encodeArgs(plan, { kind: 'pass1', ...step, firstPassCrf: 22 });
    expect(p1.slice(p1.indexOf('-crf'), p1.indexOf('-crf') + 6)).toEqual([
      '-crf',
      '22',
      '-pass',
      '1',
      '-passlogfile',
      '/w/x264',
    ]);
    for (const flag of ['-b:v', '-maxrate', '-bufsize']) expect(p1).not.toContain(flag);
    expect(p1.slice(-10)).toEqual([
      '-f',
      'h264',
      '-flush_packets',
      '1',
      '-stats_period',
      '0.1',
      '-progress',
      'pipe:1',
      '-nostats',
      '/dev/null',
    ]);
    // Without the option (other encoders, or x264 before measuring) pass 1 is one-pass ABR into the null muxer.
    const abr = encodeArgs(plan, { kind: 'pass1', ...step });
    expect(abr).toEqual(expect.arrayContaining(['-b:v', '-maxrate', '-bufsize', 'null']));
    expect(abr).not.toContain('-crf');
    // Pass 2 never takes it.
    expect(encodeArgs(plan, { kind: 'pass2', ...step, firstPassCrf: 22 })).not.toContain('-crf');
    const hdr = draftPlan(I({ maxBytes: 8_000_000 }), media({ durationSec: 10 }), cfg).plan;
    if (hdr.video.mode !== 'encode') throw new Error();
    hdr.video.tonemap = 'hlg';
    const split = encodeArgs(hdr, {
      kind: 'pass1',
      ...step,
      firstPassCrf: 22,
      intermediate: { write: '/w/frames.nut' },
    });
    // The encoded stream is output #0 (the one ffmpeg's progress sizes); the raw frames follow.
    expect(split.indexOf('h264')).toBeLessThan(split.indexOf('/w/frames.nut'));
    expect(split.indexOf('/dev/null')).toBeLessThan(split.indexOf('[raw]'));
  });

  it('HDR intermediate: pass 1 splits the filtered frames into a raw NUT file, pass 2 reads only that', () => {
    const plan = draftPlan(I({ maxBytes: 8_000_000 }), media({ durationSec: 10 }), cfg).plan;
    if (plan.video.mode !== 'encode') throw new Error();
    plan.video.tonemap = 'hlg';
    const step = {
      passLogPrefix: '/w/x264',
      audioPath: '/w/a.m4a',
      outputPath: '/o/o.mp4',
      maxOutputBytes: 9e6,
    };
    const p1 = encodeArgs(plan, { kind: 'pass1', ...step, intermediate: { write: '/w/frames.nut' } });
    const graph = p1[p1.indexOf('-filter_complex') + 1] ?? '';
    expect(graph).toMatch(/tonemap=tonemap=hable.*,split=2\[enc\]\[raw\]$/u);
    expect(p1).not.toContain('-vf');
    expect(p1.slice(p1.indexOf('[raw]'))).toEqual(
      expect.arrayContaining(['-c:v', 'rawvideo', '-f', 'nut', '/w/frames.nut']),
    );
    const p2 = encodeArgs(plan, {
      kind: 'pass2',
      ...step,
      intermediate: { read: '/w/frames.nut' },
      threads: 4,
    });
    expect(p2.slice(0, p2.indexOf('-i') + 2)).toEqual(
      expect.arrayContaining([
        '-format_whitelist',
        'nut',
        '-codec_whitelist',
        'rawvideo',
        'file:/w/frames.nut',
      ]),
    );
    expect(p2).not.toContain('-vf');
    expect(p2).not.toContain('-ss');
    expect(p2.join(' ')).toContain('-colorspace bt709');
    expect(p2[p2.indexOf('-threads') + 1]).toBe('4');
    expect(x264Threads(2)).toBe(4);
    expect(x264Threads(16)).toBeUndefined();
  });

  it('pass 2 golden: allowlists, file: input, VFR passthrough, VBV ceiling, faststart, -fs guard', () => {
    const plan = base();
    if (plan.video.mode !== 'encode' || plan.video.rate.kind !== 'abr2pass') throw new Error();
    const k = plan.video.rate.videoKbps;
    const argv = encodeArgs(plan, {
      kind: 'pass2',
      passLogPrefix: '/w/x264',
      audioPath: '/w/audio.m4a',
      outputPath: '/o/out.mp4',
      maxOutputBytes: 300_000_000,
    });
    expect(argv).toEqual([
      '-hide_banner',
      '-nostdin',
      '-y',
      '-protocol_whitelist',
      'file',
      '-format_whitelist',
      'mov,matroska,avi,mpegts,mpeg,ogg,flv',
      '-codec_whitelist',
      expect.stringContaining('h264,hevc') as unknown as string,
      '-i',
      'file:/in/clip.mov',
      '-i',
      'file:/w/audio.m4a',
      '-map',
      '0:0',
      '-map',
      '1:a:0',
      '-c:a',
      'copy',
      '-sn',
      '-dn',
      '-t',
      '252',
      '-vf',
      videoFilterChain(plan.video),
      '-fps_mode',
      'passthrough',
      '-c:v',
      'libx264',
      '-preset',
      'medium',
      '-profile:v',
      'high',
      '-pix_fmt',
      'yuv420p',
      // A keyframe every 10 s of 60 fps frames, not x264's 250 (src/planning/gop.ts).
      '-g',
      '600',
      '-b:v',
      `${k}k`,
      '-maxrate',
      `${2 * k}k`,
      // 252 s: the VBV buffer holds 8 s at the average rate (src/planning/size-budget.ts vbvFor).
      '-bufsize',
      `${8 * k}k`,
      '-pass',
      '2',
      '-passlogfile',
      '/w/x264',
      '-x264-params',
      'ratetol=1:rc-lookahead=10',
      '-map_metadata',
      '-1',
      '-map_chapters',
      '-1',
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      '-fs',
      '300000000',
      '-progress',
      'pipe:1',
      '-nostats',
      '/o/out.mp4',
    ]);
  });

  it('the decode tap is MPEG-TS with the sound for H.264/HEVC, NUT video for VP9/AV1, none for Matroska or a remux', () => {
    const tapOf = (over: Partial<Intent>): ReturnType<typeof decodeTapFormat> =>
      decodeTapFormat(draftPlan(I({ maxBytes: 20_000_000, ...over }), media(), cfg).plan);
    expect(tapOf({})).toBe('mpegts');
    expect(tapOf({ videoCodec: 'h265' })).toBe('mpegts');
    expect(tapOf({ videoCodec: 'vp9', container: 'webm' })).toBe('nut');
    expect(tapOf({ videoCodec: 'av1' })).toBe('nut');
    expect(tapOf({ container: 'mkv' })).toBeNull();
    const remux = draftPlan(I({ maxBytes: 25_000_000 }), compliantMedia(), cfg).plan;
    expect(remux.goal).toBe('remux');
    expect(decodeTapFormat(remux)).toBeNull();
  });

  it('a tapped final encode writes through tee: the file (escaped, faststart) and the tap on pipe:3, no -fs', () => {
    const plan = base();
    const argv = encodeArgs(plan, {
      kind: 'pass2',
      passLogPrefix: '/w/x264',
      audioPath: '/w/audio.m4a',
      outputPath: "/o/it's | a\\b.mp4",
      maxOutputBytes: 300_000_000,
      decodeTap: { url: 'pipe:3', format: 'mpegts' },
      encoderMetrics: true,
    });
    expect(argv).not.toContain('-fs');
    expect(argv).not.toContain('-movflags');
    expect(argv[argv.indexOf('-x264-params') + 1]).toBe('ratetol=1:rc-lookahead=10:ssim=1:psnr=1');
    expect(argv.slice(argv.indexOf('-map_metadata'))).toEqual([
      '-map_metadata',
      '-1',
      '-map_chapters',
      '-1',
      '-flags',
      '+global_header',
      '-f',
      'tee',
      '-progress',
      'pipe:1',
      '-nostats',
      "[f=mp4:movflags=+faststart]file:/o/it\\'s \\| a\\\\b.mp4|[f=mpegts:onfail=ignore]pipe:3",
    ]);
    const single = encodeArgs(draftPlan(I({ quality: 'high' }), media(), cfg).plan, {
      kind: 'single',
      passLogPrefix: '/w/x',
      audioPath: null,
      outputPath: '/o/q.webm',
      maxOutputBytes: 1,
      decodeTap: { url: 'pipe:3', format: 'nut' },
      encoderMetrics: true,
    });
    expect(single[single.indexOf('-x264-params') + 1]).toBe('ssim=1:psnr=1');
    expect(single.at(-1)).toBe(
      '[f=mp4:movflags=+faststart]file:/o/q.webm|[f=nut:select=v:onfail=ignore]pipe:3',
    );
    expect(
      encodeArgs(plan, {
        kind: 'pass1',
        passLogPrefix: '/w/x',
        audioPath: null,
        outputPath: '/dev/null',
        maxOutputBytes: 1,
        encoderMetrics: true,
      }),
    ).not.toContain('ssim=1');
  });

  it('filter chain: crop before fps before scale before tonemap', () => {
    const { plan } = draftPlan(
      I({ maxBytes: 100_000_000, aspect: '9:16' }),
      media({}, { hdr: 'pq', fps: 120 }),
      cfg,
    );
    if (plan.video.mode !== 'encode') throw new Error();
    const chain = videoFilterChain(plan.video);
    const order = ['crop=', 'fps=60', 'scale=', 'zscale=tin=smpte2084', 'format=yuv420p'].map((s) =>
      chain.indexOf(s),
    );
    expect(order.every((x) => x >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('trim seeks on the input and bounds the output length', () => {
    const { plan } = draftPlan(
      I({ maxBytes: 100_000_000, trim: { startSec: 10, endSec: 40 } }),
      media(),
      cfg,
    );
    const argv = encodeArgs(plan, {
      kind: 'single',
      passLogPrefix: '/w/x',
      audioPath: null,
      outputPath: '/o.mp4',
      maxOutputBytes: 1,
    });
    expect(argv.slice(argv.indexOf('-ss'), argv.indexOf('-ss') + 2)).toEqual(['-ss', '10']);
    expect(argv.indexOf('-ss')).toBeLessThan(argv.indexOf('-i'));
    expect(argv[argv.indexOf('-t') + 1]).toBe('30');
    expect(argv).toContain('-an');
  });
});

describe('pure helpers', () => {
  it('geometry: short side cap, even sizes, centred aspect crop', () => {
    expect(fitShortSide(3840, 2160, 1080)).toEqual({ width: 1920, height: 1080 });
    expect(fitShortSide(1081, 1921, 720)).toEqual({ width: 720, height: 1278 });
    expect(aspectCrop(1920, 1080, '9:16')).toEqual({ width: 606, height: 1080, x: 656, y: 0 });
    expect(aspectCrop(1080, 1080, '1:1')).toBeNull();
  });

  it('audio steps down with the budget: 160k → 128k → 96k → 64k mono', () => {
    expect(chooseAudioRung(5000, null).kbps).toBe(160);
    expect(chooseAudioRung(1100, null).kbps).toBe(128);
    expect(chooseAudioRung(850, null).kbps).toBe(96);
    expect(chooseAudioRung(540, null)).toEqual({ kbps: 64, channels: 1 });
    expect(chooseAudioRung(5000, 96).kbps).toBe(96);
  });

  it('a mono source gets half the stereo rate: copied only when it is already that small', () => {
    const mono = (bitrateBps: number): AudioStreamInfo => ({
      index: 1,
      codec: 'aac',
      channels: 1,
      sampleRateHz: 44100,
      bitrateBps,
      language: null,
    });
    // A phone's 135k mono AAC at a 4 MB / 8 s budget: re-encoded at 64k, not copied at 135k.
    expect(planAudio(mono(135_000), false, 'mp4', 4000).spec).toMatchObject({
      mode: 'encode',
      kbps: 64,
      channels: 1,
    });
    expect(planAudio(mono(70_000), false, 'mp4', 4000).spec).toEqual({ mode: 'copy', streamIndex: 1 });
    // Full budget: 80k mono beside 160k stereo; the stereo ladder itself is unchanged.
    expect(planAudio(mono(256_000), false, 'mp4', null).spec).toMatchObject({ kbps: 80, channels: 1 });
    expect(planAudio({ ...mono(256_000), channels: 2 }, false, 'mp4', null).spec).toMatchObject({
      kbps: 160,
      channels: 2,
    });
    // The budget's own mono rungs stay as they are.
    expect(planAudio(mono(135_000), false, 'mp4', 450).spec).toMatchObject({ kbps: 48, channels: 1 });
  });

  it('ladder: comfortable budgets are not sampled', () => {
    expect(
      ladderCandidates({
        baseWidth: 1920,
        baseHeight: 1080,
        baseFps: 30,
        baseFpsIsSource: true,
        videoKbps: 8000,
        fixedSize: false,
        fixedFps: false,
        maxCandidates: 3,
      }),
    ).toEqual([]);
  });

  it('quality target reproduces the calibration points', () => {
    const t = QUALITY_TARGETS.high;
    expect(requiredDb(t, 30.4)).toBeCloseTo(25.4, 1); // screen recording: relative bound
    expect(requiredDb(t, 21.9)).toBeCloseTo(16.9, 1); // CCTV: relative bound
    expect(requiredDb(t, 17.5)).toBeCloseTo(15.4, 1); // noisy pan: absolute floor
    expect(ssimToDb(0.99)).toBeCloseTo(20, 5);
  });

  it('CRF search interpolates between bracketing probes and stops inside the tolerance', () => {
    const req = 16;
    const first = nextCrf([{ crf: 25.5, ssimDb: 17.2, bytes: 100 }], req, 5);
    expect(first.next).toBeGreaterThan(25.5);
    const second = nextCrf(
      [
        { crf: 25.5, ssimDb: 17.2, bytes: 100 },
        { crf: 28, ssimDb: 15.4, bytes: 60 },
      ],
      req,
      5,
    );
    expect(second.next).toBeGreaterThan(25.5);
    expect(second.next).toBeLessThan(28);
    const done = nextCrf([{ crf: 27, ssimDb: 16.2, bytes: 70 }], req, 5);
    expect(done.next).toBeNull();
    expect(done.best?.crf).toBe(27);
  });

  it('samples are spread through the video, excluding the edges; short clips are taken whole', () => {
    expect(sampleWindows(5)).toEqual([{ startSec: 0, durationSec: 5 }]);
    const w = sampleWindows(120);
    expect(w).toHaveLength(8);
    expect(w[0]?.startSec).toBeGreaterThan(0);
    const last = w[w.length - 1];
    expect((last?.startSec ?? 0) + (last?.durationSec ?? 0)).toBeLessThan(120);
  });
});
