// Bad input gets a clear error code, quickly, and opens nothing else (reliability-anchors.md §6 A1–A3, A7).
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { probe } from '../../src/media/ffprobe.js';
import { liveProcessGroups } from '../../src/media/run-process.js';
import { basicClip, FIXTURE_DIR, hostileFiles } from '../fixtures/generate.js';

async function probeError(path: string): Promise<AppError> {
  try {
    await probe(path);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error(`probe accepted ${path}`);
}

describe('hostile and broken inputs are refused at probe time', () => {
  const files = hostileFiles();

  it.each([
    ['hlsAsMp4', 'INPUT_UNSUPPORTED'],
    ['hls', 'INPUT_UNSUPPORTED'],
    ['concat', 'INPUT_UNSUPPORTED'],
    ['text', 'INPUT_UNSUPPORTED'],
    ['random', 'INPUT_UNSUPPORTED'],
    ['image', 'INPUT_UNSUPPORTED'],
    ['empty', 'INPUT_EMPTY'],
    ['truncated', 'INPUT_UNSUPPORTED'],
  ] as const)('%s → %s, exit code 3, within 5 s', async (name, code) => {
    const t0 = performance.now();
    const err = await probeError(files[name] ?? '');
    expect(err.code).toBe(code);
    expect(err.exitCode).toBe(3);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(liveProcessGroups()).toBe(0);
  });

  it('a truncated MP4 whose index survived is refused as incomplete', async () => {
    const fast = join(FIXTURE_DIR, 'faststart.mp4');
    spawnSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-i',
      basicClip(),
      '-c',
      'copy',
      '-movflags',
      '+faststart',
      fast,
    ]);
    const cut = join(FIXTURE_DIR, 'faststart-cut.mp4');
    const bytes = readFileSync(fast);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.5)));
    const err = await probeError(cut);
    expect(err.code).toBe('INPUT_CORRUPT');
  });

  it('a playlist pointing at a canary server never connects to it', async () => {
    let hits = 0;
    const server = createServer((s) => {
      hits++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const p = join(FIXTURE_DIR, 'canary.mp4');
    writeFileSync(p, `#EXTM3U\n#EXTINF:2.0,\nhttp://127.0.0.1:${port}/seg.ts\n#EXT-X-ENDLIST\n`);
    const err = await probeError(p);
    server.close();
    expect(err.code).toBe('INPUT_UNSUPPORTED');
    expect(hits).toBe(0);
  });

  it('a missing file is INPUT_NOT_FOUND', async () => {
    expect((await probeError('/nonexistent/clip.mp4')).code).toBe('INPUT_NOT_FOUND');
  });
});
