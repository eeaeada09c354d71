import { describe, expect, it } from 'vitest';
import { parseMetrics } from '../../src/media/ffmpeg.js';
import { DEFAULT_PROBE_LIMITS, normalizeProbe, type FfprobeJson } from '../../src/media/ffprobe.js';
import { ProgressParser } from '../../src/media/progress.js';
import { formatBytes, formatDuration, parseSize, parseTime } from '../../src/domain/units.js';

describe('progress parser', () => {
  it('reads key=value blocks, N/A values and the end marker', () => {
    const p = new ProgressParser();
    const lines = [
      'frame=120',
      'fps=30.1',
      'total_size=524288',
      'out_time_us=4000000',
      'speed=1.5x',
      'progress=continue',
      'frame=0',
      'total_size=N/A',
      'out_time_us=N/A',
      'speed=N/A',
      'progress=end',
    ];
    const samples = lines.map((l) => p.push(l)).filter((s) => s !== null);
    expect(samples).toEqual([
      { frame: 120, outTimeSec: 4, totalSizeBytes: 524288, speed: 1.5, end: false },
      { frame: 0, outTimeSec: null, totalSizeBytes: null, speed: null, end: true },
    ]);
  });
});

describe('metric summary parser', () => {
  it('reads SSIM and PSNR summary lines', () => {
    const err =
      '[Parsed_ssim_4 @ 0x1] SSIM Y:0.974597 (15.951099) U:0.98 (17.2) V:0.97 (16.9) All:0.976541 (16.296838)\n[Parsed_psnr_5 @ 0x2] PSNR y:39.271951 u:44.2 v:45.3 average:40.45 min:38.9 max:41.6';
    expect(parseMetrics(err)).toEqual({ ssim: 0.974597, psnrDb: 39.271951, frames: 0 });
    expect(parseMetrics('PSNR y:inf')).toBeNull();
  });
});

describe('normalizeProbe', () => {
  const json = (over: Record<string, unknown> = {}): FfprobeJson => ({
    format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '10.0', size: '1000', bit_rate: '800' },
    streams: [
      {
        index: 0,
        codec_type: 'video',
        codec_name: 'hevc',
        width: 1920,
        height: 1080,
        pix_fmt: 'yuv420p10le',
        r_frame_rate: '30/1',
        avg_frame_rate: '29400/1000',
        color_transfer: 'arib-std-b67',
        side_data_list: [{ rotation: -90 }],
        ...over,
      },
      {
        index: 1,
        codec_type: 'audio',
        codec_name: 'aac',
        channels: 2,
        sample_rate: '44100',
        bit_rate: '256000',
      },
      {
        index: 2,
        codec_type: 'video',
        codec_name: 'mjpeg',
        width: 300,
        height: 300,
        disposition: { attached_pic: 1 },
      },
    ],
  });

  it('phone HEVC: rotation, VFR, 10-bit, HLG, cover art skipped', () => {
    const info = normalizeProbe(json(), '/x.mov', 1_000_000_000, DEFAULT_PROBE_LIMITS);
    expect(info.video).toMatchObject({
      rotationDeg: 90,
      displayWidth: 1080,
      displayHeight: 1920,
      isVfr: true,
      bitDepth: 10,
      hdr: 'hlg',
      index: 0,
    });
    expect(info.audio[0]).toMatchObject({ codec: 'aac', sampleRateHz: 44100, bitrateBps: 256000 });
  });

  it('refuses oversize pictures, non-allowlisted formats and missing durations', () => {
    expect(() => normalizeProbe(json({ width: 100000 }), '/x', 1e9, DEFAULT_PROBE_LIMITS)).toThrow(/beyond/);
    const hls = json();
    hls.format.format_name = 'hls';
    expect(() => normalizeProbe(hls, '/x', 1e9, DEFAULT_PROBE_LIMITS)).toThrow(/isn't a video/);
    const nodur = json();
    delete nodur.format.duration;
    expect(() => normalizeProbe(nodur, '/x', 1e9, DEFAULT_PROBE_LIMITS)).toThrow(/damaged/);
  });
});

describe('units', () => {
  it('MB is 10^6, MiB is 2^20', () => {
    expect(parseSize('200MB')).toBe(200_000_000);
    expect(parseSize('700 MiB')).toBe(734_003_200);
    expect(parseSize('1,5 Go')).toBe(1_500_000_000);
    expect(formatBytes(199_600_000)).toBe('200 MB');
    expect(formatBytes(9_870_000)).toBe('9.87 MB');
  });
  it('times', () => {
    expect(parseTime('3:15')).toBe(195);
    expect(parseTime('00:02:10')).toBe(130);
    expect(parseTime('2m15s')).toBe(135);
    expect(formatDuration(252)).toBe('4:12');
    expect(formatDuration(3725)).toBe('1:02:05');
  });
});
