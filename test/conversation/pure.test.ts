// The conversation engine's pure parts: texts, refinement, the progress-edit throttle.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressMessage } from '../../src/conversation/progress-message.js';
import { refineIntent, SMALLER_FACTOR } from '../../src/conversation/refine.js';
import {
  bar,
  foldProgress,
  initialView,
  progressText,
  resultCaption,
  shapeLabel,
} from '../../src/conversation/render.js';
import { emptyIntent } from '../../src/domain/intent.js';
import { parseInstruction } from '../../src/instruction/parse-instruction.js';
import { RecordingPort } from './helpers.js';

describe('texts', () => {
  it('labels shapes the way creators say them', () => {
    expect(shapeLabel(3840, 2160, 60)).toBe('4K60');
    expect(shapeLabel(1080, 1920, 30)).toBe('1080p30 vertical');
    expect(shapeLabel(1280, 720, null)).toBe('720p');
  });

  it('progress shows a bar, percent, ETA and size while encoding, and "Still working" without a percentage', () => {
    let v = initialView('Got it');
    v = foldProgress(v, { type: 'stage', stage: 'encode', message: 'Encoding' });
    v = foldProgress(v, {
      type: 'progress',
      stage: 'encode',
      ratio: 0.42,
      etaSec: 31,
      outTimeSec: 4,
      sizeBytes: 3_100_000,
      speed: 1.2,
      pass: 2,
      attempt: 1,
    });
    expect(progressText(v)).toBe(`Got it\n\nCompressing\n${bar(0.42)} 42% · ETA 0:31 · 3.1 MB`);
    let s = foldProgress(initialView('Got it'), { type: 'stage', stage: 'sample', message: 'x' });
    s = foldProgress(s, { type: 'heartbeat', stage: 'sample', elapsedSec: 20 });
    expect(progressText(s)).toMatch(/⏳ Still working\.\.\./u);
  });

  it('captions say before → after with the saving, shape, duration and verdict', () => {
    const text = resultCaption({
      sizeBytes: 9_870_000,
      inputBytes: 187_000_000,
      width: 1920,
      height: 1080,
      fps: 30,
      durationSec: 252,
      videoCodec: 'h264',
      audioCodec: 'aac',
      verdict: 'looks the same',
      ssim: 0.9812,
      capBytes: 10_000_000,
      attempts: 1,
      elapsedSec: 120,
    });
    expect(text).toContain('187 MB → 9.87 MB (−95%)');
    expect(text).toContain('1920×1080 · 30 fps · 4:12');
    expect(text).toContain('Quality: looks the same (SSIM 0.981)');
    expect(text).toContain('Under your 10 MB limit.');
  });
});

describe('refinement', () => {
  const prev = { ...parseInstruction('under 50MB, 1080p'), command: 'compress' as const };

  it('"smaller" asks for 70 % of the last result and keeps the other fields', () => {
    const next = refineIntent(prev, parseInstruction('smaller'), 40_000_000);
    expect(next.maxBytes).toBe(Math.floor(40_000_000 * SMALLER_FACTOR));
    expect(next.maxShortSide).toBe(1080);
    expect(next.command).toBe('compress');
  });

  it('"now 720p" changes only the resolution', () => {
    const next = refineIntent(prev, parseInstruction('now 720p'), 40_000_000);
    expect(next.maxShortSide).toBe(720);
    expect(next.maxBytes).toBe(50_000_000);
  });

  it('a platform replaces an earlier byte cap, and "better" drops derived caps but keeps a platform', () => {
    const discord = refineIntent(prev, parseInstruction('for discord'), null);
    expect(discord.platform).toBe('discord');
    expect(discord.maxBytes).toBe(parseInstruction('for discord').maxBytes);
    const better = refineIntent(discord, parseInstruction('better quality'), 9_000_000);
    expect(better.quality).toBe('high');
    expect(better.platform).toBe('discord');
    expect(better.maxBytes).toBe(discord.maxBytes);
    const free = refineIntent(
      { ...emptyIntent(), maxBytes: 5_000_000 },
      parseInstruction('better quality'),
      5e6,
    );
    expect(free.maxBytes).toBeNull();
  });
});

describe('progress message throttle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps only the latest update inside the interval and never re-sends identical text', async () => {
    const port = new RecordingPort('test', {
      maxInboundBytes: 1,
      maxOutboundBytes: 1,
      minEditIntervalMs: 1000,
    });
    const ref = { chat: { platform: 'test', chatId: 'c' }, messageId: 'm1' };
    const pm = new ProgressMessage(port, ref, 'start', 1000, () => Date.now());
    pm.update('start');
    for (let i = 1; i <= 20; i++) pm.update(`step ${i}`);
    await vi.advanceTimersByTimeAsync(999);
    expect(port.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(port.calls.map((c) => (c.kind === 'edit' ? c.text : ''))).toEqual(['step 20']);
    pm.update('step 20');
    await vi.advanceTimersByTimeAsync(5000);
    expect(port.calls).toHaveLength(1);
    pm.update('step 21');
    await pm.finish('done');
    await vi.advanceTimersByTimeAsync(5000);
    expect(port.calls.map((c) => (c.kind === 'edit' ? c.text : ''))).toEqual(['step 20', 'done']);
  });

  it('a failing edit (429, "message is not modified") is dropped, not retried in a loop', async () => {
    const port = new RecordingPort();
    port.editText = () => Promise.reject(new Error('429 Too Many Requests'));
    const errors: unknown[] = [];
    const ref = { chat: { platform: 'test', chatId: 'c' }, messageId: 'm1' };
    const pm = new ProgressMessage(
      port,
      ref,
      'a',
      100,
      () => Date.now(),
      (e) => errors.push(e),
    );
    pm.update('b');
    await vi.advanceTimersByTimeAsync(200);
    await vi.advanceTimersByTimeAsync(2000);
    expect(errors).toHaveLength(1);
  });
});
