// Small clips for the Discord end-to-end tests (CI has 2 cores): lavfi test pattern + noise + tone, cached next to
// the shared fixtures in .cache/fixtures.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR } from '../fixtures/generate.js';

function make(name: string, w: number, h: number, seconds: number): string {
  mkdirSync(FIXTURE_DIR, { recursive: true });
  const out = join(FIXTURE_DIR, name);
  if (existsSync(out)) return out;
  const tmp = join(FIXTURE_DIR, `.${process.pid}.${name}`);
  const r = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-v',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=s=${w}x${h}:r=30:d=${seconds},noise=alls=12:allf=t+u,format=yuv420p`,
      '-f',
      'lavfi',
      '-i',
      `sine=f=440:d=${seconds}:sample_rate=48000`,
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-crf',
      '16',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-shortest',
      '-f',
      'mp4',
      tmp,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`clip ffmpeg failed: ${r.stderr}`);
  renameSync(tmp, out);
  return out;
}

/** 480×270, 3 s: a phone clip shrunk to what a 2-core CI encodes in seconds. */
export function smallClip(): string {
  return make('discord-small.mp4', 480, 270, 3);
}

/** 480×270, 12 s: long enough to still be running when a test restarts the service or presses cancel. */
export function longClip(): string {
  return make('discord-long.mp4', 480, 270, 12);
}
