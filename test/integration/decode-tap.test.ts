// The final encode is decoded while it runs (tee tap) and scored by x264 itself (issue #2's verify, made cheaper):
// real ffmpeg on generated clips.
import { copyFileSync, openSync, closeSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckArgs } from '../../src/argv/sample-args.js';
import { runFfmpegWithDecodeTap, runMetric } from '../../src/media/ffmpeg.js';
import { liveProcessGroups, runProcess } from '../../src/media/run-process.js';
import { tools } from '../../src/media/tools.js';
import { probe } from '../../src/media/ffprobe.js';
import { parseInstruction } from '../../src/instruction/parse-instruction.js';
import { basicClip, noisyClip } from '../fixtures/generate.js';
import { collect, intent, outDir } from './helpers.js';

/** SSIM-Y of `out` against `ref` over every frame, by ffmpeg's ssim filter (the bench's method). */
async function fullSsim(out: string, ref: string): Promise<number> {
  const graph = '[1:v]format=yuv420p[r];[0:v][r]ssim';
  const argv = ['-hide_banner', '-nostdin', '-i', out, '-i', ref, '-lavfi', graph, '-f', 'null', '-'];
  return (await runMetric(argv, { timeoutMs: 60_000, stallMs: 30_000 })).ssim;
}

/**
 * A lavfi source encoded by x264 through tee: the file, and `tap` (a tee slave spec) on pipe:3; with `audio`, that
 * file's sound copied in beside it, as the pipeline copies the job's audio file.
 */
function teeEncode(opts: {
  source: string;
  x264: string[];
  out: string;
  tap: string;
  realtime?: boolean;
  audio?: string;
}): string[] {
  return [
    '-hide_banner',
    '-nostdin',
    '-y',
    ...(opts.realtime === true ? ['-re'] : []),
    '-f',
    'lavfi',
    '-i',
    opts.source,
    ...(opts.audio === undefined ? [] : ['-i', opts.audio, '-map', '1:a', '-c:a', 'copy']),
    '-c:v',
    'libx264',
    ...opts.x264,
    '-flags',
    '+global_header',
    '-progress',
    'pipe:1',
    '-nostats',
    '-f',
    'tee',
    '-map',
    '0:v',
    `[f=mp4]file:${opts.out}|${opts.tap}`,
  ];
}

/** Overwrites 64-byte runs at 20 %, 25 % … 80 % of a file with fixed pseudo-random bytes (the media data, not the index). */
function damage(path: string): void {
  const size = statSync(path).size;
  const fd = openSync(path, 'r+');
  let x = 12345;
  try {
    for (let at = 0.2; at <= 0.8; at += 0.05) {
      const junk = Buffer.alloc(64, 0);
      for (let i = 0; i < junk.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        junk[i] = x >>> 24;
      }
      writeSync(fd, junk, 0, junk.length, Math.floor(size * at));
    }
  } finally {
    closeSync(fd);
  }
}

describe('the decode check', () => {
  it('passes a clean file and stops at a damaged one (the deblocking it skips cannot hide an error)', async () => {
    const clean = join(outDir(), 'decode-clean.mp4');
    const damaged = join(outDir(), 'decode-damaged.mp4');
    copyFileSync(noisyClip('noisy-640x360-2s.mp4', 640, 360, 2), clean);
    copyFileSync(clean, damaged);
    damage(damaged);
    const run = { timeoutMs: 60_000, stallMs: 20_000 };
    expect(decodeCheckArgs(clean)).toEqual(expect.arrayContaining(['-xerror', '-skip_loop_filter', 'all']));
    expect((await runProcess(tools().ffmpeg, decodeCheckArgs(clean), run)).exitCode).toBe(0);
    const bad = await runProcess(tools().ffmpeg, decodeCheckArgs(damaged), run);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderrTail).toMatch(/error while decoding MB|corrupt decoded frame/);
  });
});

describe('decode while encoding', () => {
  it('delivers to a name the tee muxer would misread, with x264’s whole-clip score matching ffmpeg’s', async () => {
    const input = basicClip();
    const dir = outDir();
    // `|` separates tee outputs, `'` and `\` are av_get_token quoting, `[` opens slave options.
    const output = join(dir, "it's a [test] | clip \\ 1.mp4");
    const cap = 400_000;
    const { result, error } = await collect({ input, intent: intent({ maxBytes: cap }), output });
    expect(error).toBeNull();
    expect(readdirSync(dir)).toEqual(["it's a [test] | clip \\ 1.mp4"]);
    expect(statSync(output).size).toBe(result?.sizeBytes);
    expect(result?.sizeBytes).toBeLessThanOrEqual(cap);
    const info = await probe(output);
    expect(info.video?.frameCount).toBe(120);
    expect(info.audio[0]?.codec).toBe('aac');
    expect(result?.checks).toEqual({ decode: 'during-encode', quality: 'encoder' });
    const measured = await fullSsim(output, input);
    const reported = result?.quality.ssim ?? 0;
    expect(Math.abs(reported - measured)).toBeLessThan(0.002);
  });

  it('the quality-first encode is tapped and scored the same way', async () => {
    const input = noisyClip('tap-q.mp4', 320, 240, 2);
    const output = join(outDir(), 'q.mp4');
    const { result, error } = await collect({ input, intent: intent({ quality: 'high' }), output });
    expect(error).toBeNull();
    expect(result?.plan.video.mode === 'encode' && result.plan.video.rate.kind).toBe('crf');
    expect(result?.checks).toEqual({ decode: 'during-encode', quality: 'encoder' });
    expect(Math.abs((result?.quality.ssim ?? 0) - (await fullSsim(output, input)))).toBeLessThan(0.002);
  });

  it('a decoder that gives up never holds the encoder up', async () => {
    // The tap carries raw H.264 where the decoder expects NUT: it fails at once, and the encoder writes far more than
    // a pipe buffer (64 KiB) after that.
    const out = join(outDir(), 'raw-tap.mp4');
    const argv = teeEncode({
      source: 'testsrc2=s=640x360:r=30:d=3,noise=alls=20:allf=t',
      x264: ['-preset', 'ultrafast', '-qp', '10'],
      out,
      tap: '[f=h264:bsfs/v=dump_extra:onfail=ignore]pipe:3',
    });
    const res = await runFfmpegWithDecodeTap(argv, {
      timeoutMs: 60_000,
      stallMs: 20_000,
      output: { path: out, maxBytes: 100_000_000 },
      tapFormat: 'nut',
    });
    expect(res.oversized).toBe(false);
    expect(res.encode?.exitCode).toBe(0);
    expect(res.tap.ok).toBe(false);
    expect(statSync(out).size).toBeGreaterThan(1_000_000);
    expect((await probe(out)).video?.frameCount).toBe(90);
  });

  it('stops a runaway encode once its file passes the guard, like -fs, and reports the size as it grows', async () => {
    const out = join(outDir(), 'runaway.mp4');
    const sizes: number[] = [];
    const argv = teeEncode({
      source: 'testsrc2=s=640x360:r=30:d=20,noise=alls=40:allf=t',
      x264: ['-preset', 'ultrafast', '-qp', '0'],
      out,
      tap: '[f=nut:select=v:onfail=ignore]pipe:3',
      realtime: true,
    });
    const t0 = performance.now();
    const res = await runFfmpegWithDecodeTap(argv, {
      timeoutMs: 60_000,
      stallMs: 20_000,
      output: { path: out, maxBytes: 2_000_000 },
      onProgress: (p) => sizes.push(p.totalSizeBytes ?? 0),
      tapFormat: 'nut',
    });
    expect(res.oversized).toBe(true);
    // -re paces the 20-s source in real time: stopping early means the guard acted, not the end of the input.
    expect(performance.now() - t0).toBeLessThan(15_000);
    expect(Math.max(...sizes)).toBeGreaterThan(2_000_000);
    expect(liveProcessGroups()).toBe(0);
  });

  it('the MPEG-TS tap decodes the sound too: a damaged audio track fails it, a clean one passes', async () => {
    const dir = outDir();
    const clean = join(dir, 'tone.m4a');
    const gen = ['-hide_banner', '-nostdin', '-y', '-f', 'lavfi', '-i', 'sine=f=440:d=4', '-c:a', 'aac'];
    const made = await runProcess(tools().ffmpeg, [...gen, '-b:a', '96k', clean], { timeoutMs: 60_000 });
    expect(made.exitCode).toBe(0);
    const damaged = join(dir, 'tone-damaged.m4a');
    copyFileSync(clean, damaged);
    damage(damaged);
    const taps: { ok: boolean; frames: number | null }[] = [];
    for (const audio of [clean, damaged]) {
      const out = join(dir, 'with-sound.mp4');
      const argv = teeEncode({
        source: 'testsrc2=s=320x240:r=30:d=4',
        x264: ['-preset', 'ultrafast'],
        out,
        tap: '[f=mpegts:onfail=ignore]pipe:3',
        audio,
      });
      const res = await runFfmpegWithDecodeTap(argv, {
        timeoutMs: 60_000,
        stallMs: 20_000,
        output: { path: out, maxBytes: 1e9 },
        tapFormat: 'mpegts',
      });
      // The encoder copies the damaged packets without decoding them: only the tap can notice.
      expect(res.encode?.exitCode).toBe(0);
      taps.push(res.tap);
    }
    expect(taps[0]).toMatchObject({ ok: true, frames: 120 });
    expect(taps[1]?.ok).toBe(false);
  });

  it('HEVC is tapped like H.264; a Matroska output is decoded after the encode instead', async () => {
    const input = basicClip();
    // Matroska refuses the AAC file's MP4 tag that tee passes on; MPEG-TS takes x265's hvc1 stream and the AAC.
    for (const [request, ext, codec, decode] of [
      ['under 300KB as mkv', 'mkv', 'h264', 'after-encode'],
      ['under 300KB in h265', 'mp4', 'hevc', 'during-encode'],
    ] as const) {
      const output = join(outDir(), `o.${ext}`);
      const { result, error } = await collect({ input, intent: parseInstruction(request), output });
      expect(error).toBeNull();
      expect(result?.checks?.decode).toBe(decode);
      const info = await probe(output);
      expect(info.video?.codec).toBe(codec);
      expect(info.audio[0]?.codec).toBe('aac');
      expect(statSync(output).size).toBeLessThanOrEqual(300_000);
    }
  });

  it('an encode whose file cannot be written fails, although the tap kept ffmpeg going', async () => {
    const out = join(outDir(), 'missing-dir', 'x.mp4');
    const argv = teeEncode({
      source: 'testsrc2=s=320x240:r=30:d=1',
      x264: [],
      out,
      tap: '[f=nut:select=v:onfail=ignore]pipe:3',
    });
    await expect(
      runFfmpegWithDecodeTap(argv, {
        timeoutMs: 60_000,
        stallMs: 20_000,
        output: { path: out, maxBytes: 1e9 },
        tapFormat: 'nut',
      }),
    ).rejects.toMatchObject({ code: 'FFMPEG_FAILED' });
    expect(liveProcessGroups()).toBe(0);
  });
});
