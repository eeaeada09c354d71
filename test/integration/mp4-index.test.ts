// The verify stage reads an MP4/MOV output's own index instead of running ffprobe on it: on real ffmpeg encodes it
// must say what ffprobe says, and step aside (null) for whatever it cannot vouch for.
import { spawnSync } from 'node:child_process';
import { copyFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containerFactsOf } from '../../src/domain/media-info.js';
import { probe } from '../../src/media/ffprobe.js';
import { ffprobeCodecName, readMp4Facts } from '../../src/media/mp4-index.js';
import { basicClip, rotatedClip } from '../fixtures/generate.js';
import { outDir } from './helpers.js';

const dir = outDir();

function encode(name: string, args: string[]): string {
  const out = join(dir, name);
  const r = spawnSync(
    'ffmpeg',
    ['-hide_banner', '-v', 'error', '-y', '-i', basicClip(), '-t', '2', ...args, out],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

describe('MP4/MOV index facts (MP4Box.js) agree with ffprobe', () => {
  const cases: [string, string[]][] = [
    ['h264-aac.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-movflags', '+faststart']],
    ['h264-no-audio.mp4', ['-an', '-c:v', 'libx264', '-preset', 'ultrafast']],
    [
      'hevc-hvc1.mp4',
      ['-an', '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1', '-x265-params', 'log-level=error'],
    ],
    ['h264-aac.mov', ['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-vf', 'scale=320:180']],
    [
      'vp9-opus.mp4',
      ['-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-c:a', 'libopus'],
    ],
    ['av1.mp4', ['-an', '-c:v', 'libsvtav1', '-preset', '12', '-crf', '45']],
  ];

  it.each(cases)('%s', async (name, args) => {
    const path = encode(name, args);
    const facts = await readMp4Facts(path);
    const probed = containerFactsOf(await probe(path));
    expect(facts).not.toBeNull();
    if (!facts || !facts.video || !probed.video) throw new Error('no video');
    expect(facts.sizeBytes).toBe(statSync(path).size);
    expect(facts.durationSec).toBeCloseTo(probed.durationSec, 2);
    expect(facts.video.codec).toBe(probed.video.codec);
    expect([facts.video.displayWidth, facts.video.displayHeight]).toEqual([
      probed.video.displayWidth,
      probed.video.displayHeight,
    ]);
    expect(facts.video.frameCount).toBe(probed.video.frameCount);
    expect(facts.video.fps).toBeCloseTo(probed.video.fps, 1);
    expect(facts.audioCodecs).toEqual(probed.audioCodecs);
  });

  it('steps aside for a rotated file, a fragmented file, a cut-off file, a Matroska file and random bytes', async () => {
    // A display matrix turns the picture: ffprobe knows how, so the index reader leaves it to ffprobe.
    expect(await readMp4Facts(rotatedClip())).toBeNull();
    const fragmented = encode('fragmented.mp4', [
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-c:a',
      'aac',
      '-movflags',
      'frag_keyframe+empty_moov',
    ]);
    expect(await readMp4Facts(fragmented)).toBeNull();
    // Without faststart the index is at the end: cutting the file off loses it.
    const whole = encode('index-last.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac']);
    const cut = join(dir, 'cut.mp4');
    copyFileSync(whole, cut);
    truncateSync(cut, Math.floor(statSync(whole).size / 2));
    expect(await readMp4Facts(cut)).toBeNull();
    const mkv = encode('h264.mkv', ['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac']);
    expect(await readMp4Facts(mkv)).toBeNull();
    const noise = join(dir, 'noise.mp4');
    writeFileSync(noise, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    expect(await readMp4Facts(noise)).toBeNull();
  });

  it('names codecs as ffprobe does, and knows none it was not taught', () => {
    expect(ffprobeCodecName('avc1.64001f')).toBe('h264');
    expect(ffprobeCodecName('hvc1.1.6.L93.90')).toBe('hevc');
    expect(ffprobeCodecName('av01.0.08M.08')).toBe('av1');
    expect(ffprobeCodecName('vp09.00.21.08')).toBe('vp9');
    expect(ffprobeCodecName('mp4a.40.2')).toBe('aac');
    expect(ffprobeCodecName('Opus')).toBe('opus');
    expect(ffprobeCodecName('mp4a.6b')).toBeNull();
    expect(ffprobeCodecName('tx3g')).toBeNull();
  });
});
