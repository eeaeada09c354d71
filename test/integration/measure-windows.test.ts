// Where the delivered file is scored (issue #2 "Verify every output"; BENCHMARKS.md "Verify cost"): windows start on
// source keyframes, and a window with no keyframe of its own nearby is folded into the one before it instead of
// decoding everything since the last keyframe.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sampleWindows } from '../../src/planning/samples.js';
import { keyframeWindows } from '../../src/pipeline/run-job.js';
import { outDir } from './helpers.js';

function clip(name: string, gop: number): string {
  const path = join(outDir(), name);
  const r = spawnSync('ffmpeg', [
    ...['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30:duration=8'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(gop), '-keyint_min', String(gop)],
    ...['-sc_threshold', '0', path],
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  return path;
}

describe('measurement windows', () => {
  it('one keyframe in the clip: one window at it, as long as the planned windows together', async () => {
    const planned = sampleWindows(8, 0, 1);
    expect(planned).toHaveLength(2);
    const w = await keyframeWindows(clip('sparse.mp4', 600), 0, planned, 0, undefined, 8);
    expect(w).toHaveLength(1);
    expect(w[0]?.startSec).toBeCloseTo(0, 1);
    expect(w[0]?.durationSec).toBeCloseTo(2, 5);
  });

  it('a keyframe every second: each window moves back to its own keyframe and keeps its length', async () => {
    const planned = sampleWindows(8, 0, 1);
    const w = await keyframeWindows(clip('dense.mp4', 30), 0, planned, 0, undefined, 8);
    expect(w).toHaveLength(2);
    for (const [i, x] of w.entries()) {
      const p = planned[i];
      if (!p) throw new Error('missing planned window');
      expect(x.durationSec).toBe(p.durationSec);
      expect(x.startSec).toBeLessThanOrEqual(p.startSec);
      expect(p.startSec - x.startSec).toBeLessThan(1.01);
      expect(Math.abs(x.startSec - Math.round(x.startSec))).toBeLessThan(0.05);
    }
  });
});
