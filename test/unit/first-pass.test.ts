import { describe, expect, it } from 'vitest';
import {
  FIRST_PASS_CRF,
  FirstPassRate,
  RATE_WINDOW,
  rateWindowSec,
  retryFirstPassCrf,
} from '../../src/planning/first-pass.js';

describe('first pass at constant quality (BENCHMARKS.md, sixth session)', () => {
  it('keeps the first CRF when its rate is within [0.4, 2.6] of the target', () => {
    for (const r of [0.4, 0.57, 0.85, 1, 1.34, 1.97, 2.45, 2.6])
      expect(retryFirstPassCrf(FIRST_PASS_CRF, r)).toBeNull();
  });

  it('retries above the target at 5 CRF per halving (clean content) and below at 3 (noisy footage)', () => {
    // vtest's 15-s cut ran at 2.83× the target at CRF 22: 22 + 5·log2(2.83) = 29.5 (measured there: 0.96× at 28).
    expect(retryFirstPassCrf(22, 2.83)).toBe(29.5);
    expect(retryFirstPassCrf(22, 4)).toBe(32);
    // A quarter of the target: 22 − 3·2 = 16.
    expect(retryFirstPassCrf(22, 0.25)).toBe(16);
    expect(retryFirstPassCrf(22, 0.35)).toBe(17.5);
  });

  it('clamps to x264 CRF 12–40 and ignores a rate that is not a number', () => {
    expect(retryFirstPassCrf(22, 1000)).toBe(40);
    expect(retryFirstPassCrf(22, 0.0001)).toBe(12);
    for (const r of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(retryFirstPassCrf(22, r)).toBeNull();
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

  it('reads short clips over 10–30 % of their length and long videos over 20–60 s', () => {
    expect(rateWindowSec(10)).toEqual({ from: 1, to: 3, minSpan: 1 });
    expect(rateWindowSec(200).from).toBeCloseTo(20, 9);
    expect(rateWindowSec(200).to).toBeCloseTo(60, 9);
    expect(rateWindowSec(600)).toEqual({ from: 20, to: 60, minSpan: 20 });
    const meter = new FirstPassRate(600, 1000);
    // 125 kB a second (the target) after a 1 MB start.
    const bytesAt = (t: number): number => 1_000_000 + 125_000 * t;
    expect(meter.push(25, bytesAt(25))).toBeNull();
    expect(meter.push(61, bytesAt(61))).toBeCloseTo(1, 6);
  });

  it('judges a pass that ended before its window was read by the whole pass, keyframe included', () => {
    const meter = new FirstPassRate(4, 1000);
    expect(meter.push(0.5, 40_000)).toBeNull();
    // 4 s of output in 1.5 MB: 3000 kb/s, three times the target.
    expect(meter.finish(4, 1_500_000)).toBeCloseTo(3, 6);
    expect(retryFirstPassCrf(FIRST_PASS_CRF, 3)).toBe(30);
    // Nothing to judge without an output time or bytes.
    expect(new FirstPassRate(4, 1000).finish(null, 1_500_000)).toBeNull();
    expect(new FirstPassRate(4, 1000).finish(4, 0)).toBeNull();
  });
});
