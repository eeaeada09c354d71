// The instruction contract (PRODUCT.md; issue #3): the phrasing table, the invalid requests (exit status 2),
// the platform table and the human form.
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/domain/errors.js';
import { emptyIntent, intentSchema, type Intent } from '../../src/domain/intent.js';
import { formatIntentHuman, parseInstruction } from '../../src/instruction/parse-instruction.js';
import { findPlatform, PLATFORMS, platformLimit } from '../../src/instruction/platforms.js';
import { PHRASINGS, type Expect } from './phrasings.js';

function fields(i: Intent): Omit<Intent, 'summary'> {
  const rest: Partial<Intent> = { ...i };
  delete rest.summary;
  return rest as Omit<Intent, 'summary'>;
}

function expected(e: Expect): Omit<Intent, 'summary'> {
  return { ...fields(emptyIntent()), ...e };
}

describe('phrasings', () => {
  it('covers at least 300 phrasings, 40 per non-English language', () => {
    expect(PHRASINGS.length).toBeGreaterThanOrEqual(300);
    for (const lang of ['zh', 'es', 'de', 'fr', 'pt'] as const) {
      expect(PHRASINGS.filter(([l]) => l === lang).length).toBeGreaterThanOrEqual(40);
    }
  });

  it.each(PHRASINGS)('[%s] %s', (_lang, text, expect_) => {
    const intent = parseInstruction(text);
    expect(intentSchema.parse(intent)).toEqual(intent);
    const got = fields(intent);
    const want = expected(expect_);
    if (want.maxBytesRatio !== null && got.maxBytesRatio !== null) {
      expect(got.maxBytesRatio).toBeCloseTo(want.maxBytesRatio, 9);
      got.maxBytesRatio = want.maxBytesRatio;
    }
    expect(got).toEqual(want);
    expect(intent.summary.trim()).not.toBe('');
    expect(intent.summary).not.toContain('\n');
  });
});

describe('requests that cannot be met (INSTRUCTION_INVALID, exit status 2)', () => {
  const invalid = [
    'under 0MB',
    'compress to 0 MB',
    'under -5MB',
    'make it -20 mb',
    '99999999 TB',
    'under 11 TB',
    'from 0:50 to 0:05',
    'from 1:00 to 1:00',
    'first 0 seconds',
    'remove the audio and keep the audio',
    'mute it but keep the sound',
    '去掉声音，保留声音',
    'reduce by 100%',
    'reduce by 150%',
    '200% of the original',
    '0x smaller',
    '500 fps',
    'sin audio, con audio',
  ];
  it.each(invalid)('%s', (text) => {
    let caught: unknown;
    try {
      parseInstruction(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(AppError);
    const err = caught as AppError;
    expect(err.code).toBe('INSTRUCTION_INVALID');
    expect(err.exitCode).toBe(2);
    expect(err.message.length).toBeGreaterThan(20);
  });

  it('numbers describing the source are never validated as targets', () => {
    expect(parseInstruction('my file is 99999999 TB, get it under 20MB').maxBytes).toBe(20_000_000);
  });

  it('accepts the ceiling itself (10 TB)', () => {
    expect(parseInstruction('under 10 TB').maxBytes).toBe(10_000_000_000_000);
  });
});

describe('platform table', () => {
  it('every entry has an id, a positive integer limit, a source, a checked date and a note', () => {
    expect(PLATFORMS.length).toBeGreaterThanOrEqual(10);
    for (const p of PLATFORMS) {
      expect(p.id).toMatch(/^[a-z][a-z-]*$/);
      expect(Number.isSafeInteger(p.limitBytes) && p.limitBytes > 0).toBe(true);
      expect(p.source.length).toBeGreaterThan(3);
      expect(p.checked).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect(Number.isNaN(Date.parse(p.checked))).toBe(false);
      expect(p.note.length).toBeGreaterThan(10);
      expect(p.aliases.length).toBeGreaterThan(0);
    }
    expect(new Set(PLATFORMS.map((p) => p.id)).size).toBe(PLATFORMS.length);
  });

  it('has the platforms of issue #3', () => {
    for (const id of [
      'discord',
      'discord-nitro',
      'email',
      'whatsapp',
      'telegram',
      'youtube',
      'tiktok',
      'instagram',
      'x',
      'slack',
    ]) {
      expect(findPlatform(id)).toBeDefined();
    }
  });

  it('Discord free is under every reading of its limit (10 MB, 10 MiB, 20 MB)', () => {
    expect(findPlatform('discord')?.limitBytes).toBeLessThanOrEqual(10_000_000);
  });

  it('email leaves room for base64 (25 MB Gmail / 20 MB Outlook.com messages)', () => {
    expect(findPlatform('email')?.limitBytes).toBeLessThanOrEqual((20_000_000 * 3) / 4);
  });

  it('an explicit number beats the platform default', () => {
    const i = parseInstruction('for discord, under 25MB');
    expect(i.platform).toBe('discord');
    expect(i.maxBytes).toBe(25_000_000);
  });

  it('a ratio does not replace the platform cap', () => {
    const i = parseInstruction('half the size, for whatsapp');
    expect(i).toMatchObject({ platform: 'whatsapp', maxBytes: 16_000_000, maxBytesRatio: 0.5 });
  });

  it('overrides replace limitBytes per id', () => {
    const i = parseInstruction('for discord', { platforms: { discord: 25_000_000 } });
    expect(i.maxBytes).toBe(25_000_000);
    expect(parseInstruction('for telegram', { platforms: { discord: 25_000_000 } }).maxBytes).toBe(
      50_000_000,
    );
    expect(platformLimit('discord', { discord: -1 })).toBe(10_000_000);
    expect(platformLimit('nope')).toBeNull();
  });

  it('with several platforms, picks the smallest limit (after overrides)', () => {
    expect(parseInstruction('for telegram or discord').platform).toBe('discord');
    expect(
      parseInstruction('for telegram or discord', { platforms: { discord: 100_000_000 } }).platform,
    ).toBe('telegram');
  });
});

describe('summary and human form', () => {
  it('says back what was understood in one line', () => {
    expect(parseInstruction('Under 200MB, looks the same, 720p, first 30 s, no sound').summary).toBe(
      'Under 200 MB, looks the same, 720p, first 30 s, no sound.',
    );
    expect(parseInstruction('').summary).toMatch(/defaults apply/);
    expect(parseInstruction('compress').summary).toMatch(/defaults/);
  });

  it('formatIntentHuman prints the summary then each non-null field', () => {
    const text = formatIntentHuman(parseInstruction('under 25MB for discord, 720p'));
    const lines = text.split('\n');
    expect(lines[0]).toBe('Under 25 MB for Discord, 720p.');
    expect(lines).toContain('  maxBytes: 25000000 (25 MB)');
    expect(lines).toContain('  platform: discord');
    expect(lines).toContain('  maxShortSide: 720');
    expect(lines.some((l) => l.includes('fps'))).toBe(false);
  });
});

describe('robustness', () => {
  it('is deterministic', () => {
    const t = 'compress to 20MB, 720p, first 30s, mute, for discord';
    expect(parseInstruction(t)).toEqual(parseInstruction(t));
  });

  it('reads only the first 1,000 characters of very long messages', () => {
    const long = `${'blah '.repeat(400)} under 20MB`;
    expect(parseInstruction(long).maxBytes).toBeNull();
    expect(parseInstruction(`under 20MB ${'blah '.repeat(400)}`).maxBytes).toBe(20_000_000);
  });

  it('ignores control characters that look like consumed text', () => {
    expect(parseInstruction('\u0001under\u000120MB').maxBytes).toBe(20_000_000);
  });
});
