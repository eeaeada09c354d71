// Real ffmpeg on generated clips: the engine's promises, end to end through runJob().
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { probe } from '../../src/media/ffprobe.js';
import { containerOverheadBytes } from '../../src/planning/size-budget.js';
import { liveProcessGroups } from '../../src/media/run-process.js';
import {
  basicClip,
  compliantClip,
  fps120Clip,
  hdrClip,
  noisyClip,
  rotatedClip,
  vfrClip,
} from '../fixtures/generate.js';
import { collect, intent, outDir } from './helpers.js';

describe('size cap', () => {
  it('lands in [97 %, 100 %] of the cap, verified, with progress and a plan first', async () => {
    const input = basicClip();
    const cap = 400_000;
    const output = join(outDir(), 'out.mp4');
    const { events, result, error } = await collect({ input, intent: intent({ maxBytes: cap }), output });
    expect(error).toBeNull();
    expect(result).not.toBeNull();
    const size = statSync(output).size;
    expect(size).toBeLessThanOrEqual(cap);
    expect(size).toBeGreaterThanOrEqual(cap * 0.97);
    expect(result?.sizeBytes).toBe(size);
    const types = events.map((e) => e.type);
    expect(types.indexOf('plan')).toBeLessThan(types.indexOf('progress'));
    expect(types).toContain('attempt');
    const info = await probe(output);
    expect(info.video?.codec).toBe('h264');
    expect(info.audio[0]?.codec).toBe('aac');
    expect(Math.abs(info.durationSec - 4)).toBeLessThan(0.2);
    // The budget's container overhead model covers the real MP4 index, without wasting much of the cap on it.
    const packets = [
      ...spawnSync(
        'ffprobe',
        ['-v', 'error', '-show_entries', 'packet=size,codec_type', '-of', 'csv=p=0', output],
        { encoding: 'utf8' },
      ).stdout.matchAll(/^(video|audio),(\d+)/gm),
    ].map((m) => [m[1], m[2]]);
    const payload = packets.reduce((s, [, bytes]) => s + Number(bytes), 0);
    const count = (t: string): number => packets.filter(([type]) => type === t).length;
    const modelled = containerOverheadBytes(count('video'), count('audio'));
    expect(size - payload).toBeLessThanOrEqual(modelled);
    expect(size - payload).toBeGreaterThan(modelled * 0.6);
    // No temp file left beside the output.
    expect(readdirSync(join(output, '..'))).toEqual(['out.mp4']);
  });

  it('puts one keyframe in a 10 s 30 fps clip, where x264 on its own would start a second GOP at frame 250', async () => {
    const input = noisyClip('gop-10s.mp4', 320, 180, 10);
    const output = join(outDir(), 'gop.mp4');
    const { result, error } = await collect({ input, intent: intent({ maxBytes: 500_000 }), output });
    expect(error).toBeNull();
    expect(result?.plan.video.mode === 'encode' && result.plan.video.keyintFrames).toBe(300);
    const packets = spawnSync(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0', output],
      { encoding: 'utf8' },
    )
      .stdout.trim()
      .split('\n');
    expect(packets).toHaveLength(300);
    expect(packets.filter((f) => f.startsWith('K'))).toHaveLength(1);
    // At this cap x264's constant-quality first pass at CRF 22 runs near the target (measured 1.27×): kept.
    expect(result?.firstPass?.crf).toBe(22);
    expect(result?.firstPass?.retriedFrom).toBeNull();
    expect(result?.firstPass?.rateRatio).toBeGreaterThan(0.4);
    expect(result?.firstPass?.rateRatio).toBeLessThan(2.6);
  });

  it.each([
    // CRF 22 spends ~4× a 200 kB budget on this noise (measured 4.2×), and ~0.2× a 3 MB one.
    { capBytes: 200_000, direction: 'up' },
    { capBytes: 3_000_000, direction: 'down' },
  ])(
    'retries the first pass once at a corrected CRF when CRF 22 runs far from the target ($direction)',
    async ({ capBytes, direction }) => {
      const input = noisyClip('gop-10s.mp4', 320, 180, 10);
      const output = join(outDir(), `first-pass-${direction}.mp4`);
      const { result, error } = await collect({ input, intent: intent({ maxBytes: capBytes }), output });
      expect(error).toBeNull();
      const fp = result?.firstPass;
      expect(fp?.retriedFrom).toBe(22);
      if (direction === 'up') {
        expect(fp?.rateRatio).toBeGreaterThan(2.6);
        expect(fp?.crf).toBeGreaterThan(22);
      } else {
        expect(fp?.rateRatio).toBeLessThan(0.4);
        expect(fp?.crf).toBeLessThan(22);
      }
      const size = statSync(output).size;
      expect(size).toBeLessThanOrEqual(capBytes);
      expect(size).toBeGreaterThanOrEqual(capBytes * 0.97);
      // The abandoned first try leaves nothing behind beside the output.
      expect(readdirSync(join(output, '..')).filter((f) => /\.part$|x264|\.log/u.test(f))).toEqual([]);
    },
  );

  it('refuses an impossible cap with the smallest feasible size', async () => {
    const { error } = await collect({
      input: basicClip(),
      intent: intent({ maxBytes: 5_000 }),
      output: join(outDir(), 'x.mp4'),
    });
    expect(error?.code).toBe('CAP_INFEASIBLE');
    expect(error?.exitCode).toBe(2);
    expect(error?.details.minBytes).toBeGreaterThan(5_000);
  });
});

describe('quality first', () => {
  it('finds a CRF on samples, reports the measured quality, and is smaller than the input', async () => {
    const input = basicClip();
    const output = join(outDir(), 'q.mp4');
    const { events, result, error } = await collect({ input, intent: intent({ quality: 'high' }), output });
    expect(error).toBeNull();
    const plan = events.find((e) => e.type === 'plan');
    expect(plan?.type === 'plan' && plan.plan.video.mode === 'encode' && plan.plan.video.rate.kind).toBe(
      'crf',
    );
    expect(result?.quality.ssim).toBeGreaterThan(0.9);
    expect(result?.sizeBytes).toBeLessThan(statSync(input).size);
  });
});

describe('other codecs', () => {
  const keyframes = (file: string): number =>
    spawnSync(
      'ffprobe',
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=flags', '-of', 'csv=p=0', file],
      { encoding: 'utf8' },
    )
      .stdout.split('\n')
      .filter((f) => f.startsWith('K')).length;

  // libvpx-vp9 alone puts a keyframe every 128 frames and SVT-AV1 every ~5 s: 3 and 2 in this 10 s clip.
  it.each([
    { videoCodec: 'vp9', container: 'webm', audio: 'opus', muxer: 'matroska,webm' },
    { videoCodec: 'av1', container: 'mp4', audio: 'aac', muxer: 'mov,mp4,m4a,3gp,3g2,mj2' },
  ] as const)(
    '$videoCodec in $container under a cap: within it, decodes, one keyframe in 10 s',
    async ({ videoCodec, container, audio, muxer }) => {
      const input = noisyClip('gop-10s.mp4', 320, 180, 10);
      const output = join(outDir(), `c.${container}`);
      const cap = 300_000;
      const { result, error } = await collect({
        input,
        intent: intent({ maxBytes: cap, videoCodec, container }),
        output,
      });
      expect(error).toBeNull();
      const size = statSync(output).size;
      expect(size).toBeLessThanOrEqual(cap);
      expect(size).toBeGreaterThanOrEqual(cap * 0.97);
      expect(result?.checks?.decode).toBeDefined();
      const info = await probe(output);
      expect(info.formatName).toBe(muxer);
      expect(info.video?.codec).toBe(videoCodec);
      expect(info.audio[0]?.codec).toBe(audio);
      expect(keyframes(output)).toBe(1);
    },
  );
});

describe('phone footage', () => {
  it('honours rotation: a portrait clip comes out portrait, upright, without a rotation flag', async () => {
    const output = join(outDir(), 'r.mp4');
    const { result, error } = await collect({
      input: rotatedClip(),
      intent: intent({ maxBytes: 300_000 }),
      output,
    });
    expect(error).toBeNull();
    const info = await probe(output);
    expect(info.video?.rotationDeg).toBe(0);
    expect(info.video?.width).toBe(360);
    expect(info.video?.height).toBe(640);
    expect(result?.width).toBe(360);
  });

  it('tonemaps HDR HLG to 8-bit BT.709', async () => {
    const output = join(outDir(), 'h.mp4');
    const { error, result } = await collect({
      input: hdrClip(),
      intent: intent({ maxBytes: 200_000 }),
      output,
    });
    expect(error).toBeNull();
    // Both passes ran from the once-tonemapped raw frames and still land in the cap; the score is measured against
    // the same tonemapped frames (BENCHMARKS.md, "HDR").
    expect(result?.sizeBytes).toBeLessThanOrEqual(200_000);
    expect(result?.sizeBytes).toBeGreaterThanOrEqual(200_000 * 0.97);
    expect(result?.quality.ssim).toBeGreaterThan(0.9);
    const info = await probe(output);
    expect(info.video?.pixFmt).toBe('yuv420p');
    expect(info.video?.hdr).toBeNull();
    expect(info.video?.colorTransfer).toBe('bt709');
  });

  it('keeps variable frame rate without duplicating frames', async () => {
    const input = vfrClip();
    const output = join(outDir(), 'v.mp4');
    const { error } = await collect({ input, intent: intent({ maxBytes: 200_000 }), output });
    expect(error).toBeNull();
    const count = (p: string): number =>
      Number(
        spawnSync(
          'ffprobe',
          [
            '-v',
            'error',
            '-count_packets',
            '-select_streams',
            'v',
            '-show_entries',
            'stream=nb_read_packets',
            '-of',
            'csv=p=0',
            p,
          ],
          { encoding: 'utf8' },
        ).stdout.trim(),
      );
    expect(count(output)).toBe(count(input));
  });

  it('caps 120 fps at 60 and trims and mutes as asked', async () => {
    const output = join(outDir(), 'f.mp4');
    const { error, result } = await collect({
      input: fps120Clip(),
      intent: intent({ maxBytes: 150_000, audio: 'remove', trim: { startSec: 0.5, endSec: 1.5 } }),
      output,
    });
    expect(error).toBeNull();
    // Half the frames: x264's own score would not count the judder, so the source is read again and compared.
    expect(result?.checks).toEqual({ decode: 'during-encode', quality: 'windows' });
    const info = await probe(output);
    expect(info.video?.fps).toBeCloseTo(60, 0);
    expect(info.audio).toHaveLength(0);
    expect(Math.abs(info.durationSec - 1)).toBeLessThan(0.2);
  });
});

describe('never worse than the input', () => {
  it('copies streams when the input already fits the cap', async () => {
    const input = compliantClip();
    const output = join(outDir(), 'c.mp4');
    const { result, events } = await collect({ input, intent: intent({ maxBytes: 10_000_000 }), output });
    const plan = events.find((e) => e.type === 'plan');
    expect(plan?.type === 'plan' && plan.plan.goal).toBe('remux');
    expect(result?.checks).toEqual({ decode: 'after-encode', quality: 'none' });
    expect(result?.sizeBytes).toBeLessThanOrEqual(statSync(input).size + 2048);
  });
});

describe('cancellation', () => {
  it('kills the ffmpeg process group and leaves no output', async () => {
    const ac = new AbortController();
    const dir = outDir();
    const output = join(dir, 'cancel.mp4');
    const events: string[] = [];
    const { runJob } = await import('../../src/pipeline/run-job.js');
    for await (const e of runJob({
      input: basicClip(),
      intent: intent({ maxBytes: 400_000 }),
      output,
      signal: ac.signal,
    })) {
      events.push(e.type);
      if (e.type === 'progress' && e.stage === 'encode') ac.abort();
      if (e.type === 'error') expect(e.error.code).toBe('CANCELLED');
    }
    expect(events).toContain('error');
    // The error comes only after every process of the job is gone, including the audio step beside pass 1.
    expect(liveProcessGroups()).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });
});
