import { describe, expect, it } from 'vitest';
import {
  FIRST_PASS_CRF,
  FirstPassRate,
  RATE_WINDOW,
  keepHigh,
  rateWindowSec,
  retryFirstPassCrf,
} from '../../src/planning/first-pass.js';

function expectWindow(durationSec: number, [from, to, minSpan]: [number, number, number]): void {
  const w = rateWindowSec(durationSec);
  expect(w.from).toBeCloseTo(from, 9);
  expect(w.to).toBeCloseTo(to, 9);
  expect(w.minSpan).toBeCloseTo(minSpan, 9);
}

describe('first pass at constant quality (BENCHMARKS.md, sixth session)', () => {
  it('keeps the first CRF of a clip up to 40 s when its rate is within [0.4, 2.6] of the target', () => {
    for (const r of [0.4, 0.57, 0.85, 1, 1.34, 1.97, 2.45, 2.6])
      expect(retryFirstPassCrf(FIRST_PASS_CRF, r, 12)).toBeNull();
  });

  it('retries long clips from 2.0× on, where the window ends at a fifth of the clip or sooner', () => {
    expect(keepHigh(10)).toBeCloseTo(2.6, 9);
    expect(keepHigh(40)).toBeCloseTo(2.6, 9);
    // 50 s: the window ends at 12 s, 24 % of the clip.
    expect(keepHigh(50)).toBeCloseTo(2.24, 9);
    for (const d of [60, 79.5, 600]) expect(keepHigh(d)).toBeCloseTo(2.0, 9);
    // vtest (79.5 s) read 2.12× over 4–12 s: retried at 22 + 5·log2(2.12) ≈ 27.5; a 12 s clip at that rate is kept.
    expect(retryFirstPassCrf(22, 2.12, 79.5)).toBe(27.5);
    expect(retryFirstPassCrf(22, 2.12, 12)).toBeNull();
    expect(retryFirstPassCrf(22, 1.97, 79.5)).toBeNull();
  });

  it('retries above the target at 5 CRF per halving (clean content) and below at 3 (noisy footage)', () => {
    // vtest's 15-s cut ran at 2.83× the target at CRF 22: 22 + 5·log2(2.83) = 29.5 (measured there: 0.96× at 28).
    expect(retryFirstPassCrf(22, 2.83, 15)).toBe(29.5);
    expect(retryFirstPassCrf(22, 4, 10)).toBe(32);
    // A quarter of the target: 22 − 3·2 = 16.
    expect(retryFirstPassCrf(22, 0.25, 10)).toBe(16);
    expect(retryFirstPassCrf(22, 0.35, 10)).toBe(17.5);
  });

  it('clamps to x264 CRF 12–40 and ignores a rate that is not a number', () => {
    expect(retryFirstPassCrf(22, 1000, 10)).toBe(40);
    expect(retryFirstPassCrf(22, 0.0001, 10)).toBe(12);
    for (const r of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(retryFirstPassCrf(22, r, 10)).toBeNull();
  });

  it('reads the rate between 10 % and 30 % of the clip, leaving the first keyframe out', () => {
    const meter = new FirstPassRate(10, 1000);
    // A 100 kB keyframe, then 250 kB a second (2000 kb/s, twice the target).
    const bytesAt = (t: number): number => 100_000 + 250_000 * t;
    expect(meter.push(0.4, bytesAt(0.4))).toBeNull();
    expect(meter.push(1.2, bytesAt(1.2))).toBeNull();
    expect(meter.push(2.1, bytesAt(2.1))).toBeNull();
    expect(meter.push(3.1, bytesAt(3.1))).toBeCloseTo(2, 6);
    // Once known it stays, whatever comes next.
    expect(meter.push(9, 1)).toBeCloseTo(2, 6);
  });

  it('waits for a span of a tenth of the clip, and for real byte counts', () => {
    const meter = new FirstPassRate(10, 1000);
    expect(meter.push(1, 0)).toBeNull();
    expect(meter.push(null, 5000)).toBeNull();
    expect(meter.push(2.95, 100_000)).toBeNull();
    // The first sample past the window's end came only 0.5 s after its start: not yet.
    expect(meter.push(3.45, 162_500)).toBeNull();
    expect(meter.push(4, 231_250)).toBeCloseTo(1, 6);
    expect(RATE_WINDOW[0]).toBeLessThan(RATE_WINDOW[1]);
  });

  it('reads clips up to 40 s over 10–30 % of their length, longer ones from 4 s over a tenth (8–40 s)', () => {
    expectWindow(10, [1, 3, 1]);
    expectWindow(40, [4, 12, 4]);
    expectWindow(79.5, [4, 12, 4]);
    expectWindow(200, [4, 24, 10]);
    expectWindow(600, [4, 44, 20]);
    const meter = new FirstPassRate(600, 1000);
    // 125 kB a second (the target) after a 1 MB start.
    const bytesAt = (t: number): number => 1_000_000 + 125_000 * t;
    expect(meter.push(5, bytesAt(5))).toBeNull();
    expect(meter.push(45, bytesAt(45))).toBeCloseTo(1, 6);
  });

  it('judges a pass that ended before its window was read by the whole pass, keyframe included', () => {
    const meter = new FirstPassRate(4, 1000);
    expect(meter.push(0.5, 40_000)).toBeNull();
    // 4 s of output in 1.5 MB: 3000 kb/s, three times the target.
    expect(meter.finish(4, 1_500_000)).toBeCloseTo(3, 6);
    expect(retryFirstPassCrf(FIRST_PASS_CRF, 3, 4)).toBe(30);
    // Nothing to judge without an output time or bytes.
    expect(new FirstPassRate(4, 1000).finish(null, 1_500_000)).toBeNull();
    expect(new FirstPassRate(4, 1000).finish(4, 0)).toBeNull();
  });
});
