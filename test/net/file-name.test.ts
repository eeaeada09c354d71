import { describe, expect, it } from 'vitest';
import {
  contentDispositionAttachment,
  fileNameFromContentDisposition,
  fileNameFromUrl,
  sanitizeFileName,
} from '../../src/net/file-name.js';

describe('sanitizeFileName (checklist A4)', () => {
  it('keeps ordinary and Unicode names', () => {
    expect(sanitizeFileName('holiday clip.MOV')).toBe('holiday clip.MOV');
    expect(sanitizeFileName('видео 日本.mp4')).toBe('видео 日本.mp4');
  });

  it('drops directories, traversal, hidden-file dots and controls', () => {
    expect(sanitizeFileName('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFileName('C:\\Users\\me\\clip.mp4')).toBe('clip.mp4');
    expect(sanitizeFileName('..')).toBeNull();
    expect(sanitizeFileName('.bashrc')).toBe('bashrc');
    expect(sanitizeFileName('a\u0000b\r\nc.mp4')).toBe('abc.mp4');
    expect(sanitizeFileName('evil\u202egpj.exe')).toBe('evilgpj.exe');
    expect(sanitizeFileName('-i.mp4')).toBe('-i.mp4');
    expect(sanitizeFileName('x.m3u8')).toBe('x.m3u8');
    expect(sanitizeFileName('a"b<c>|d?.mp4')).toBe('a_b_c__d_.mp4');
    expect(sanitizeFileName('   ')).toBeNull();
    expect(sanitizeFileName(null)).toBeNull();
  });

  it('caps the length and keeps the extension', () => {
    const long = `${'a'.repeat(300)}.mp4`;
    const out = sanitizeFileName(long);
    expect(out).toHaveLength(120);
    expect(out?.endsWith('.mp4')).toBe(true);
    expect([...(sanitizeFileName('😀'.repeat(200)) ?? '')]).toHaveLength(120);
  });
});

describe('fileNameFromContentDisposition', () => {
  it('prefers filename* (RFC 6266) and decodes it', () => {
    expect(
      fileNameFromContentDisposition(`attachment; filename="a.mp4"; filename*=UTF-8''%E2%82%AC%20rates.mp4`),
    ).toBe('€ rates.mp4');
    expect(fileNameFromContentDisposition(`attachment; filename*=iso-8859-1'en'%A3%20x.mov`)).toBe('£ x.mov');
  });

  it('falls back to filename, quoted or not, sanitized', () => {
    expect(fileNameFromContentDisposition('attachment; filename="my \\"clip\\".mp4"')).toBe('my _clip_.mp4');
    expect(fileNameFromContentDisposition('inline; filename=plain.webm')).toBe('plain.webm');
    expect(fileNameFromContentDisposition('attachment; filename="../../x.mp4"')).toBe('x.mp4');
    expect(fileNameFromContentDisposition(`attachment; filename*=UTF-8''%ZZ; filename="ok.mp4"`)).toBe(
      'ok.mp4',
    );
  });

  it('returns null for nothing usable', () => {
    expect(fileNameFromContentDisposition(null)).toBeNull();
    expect(fileNameFromContentDisposition('attachment')).toBeNull();
    expect(fileNameFromContentDisposition('attachment; filename=""')).toBeNull();
    expect(fileNameFromContentDisposition(`attachment; filename="${'x'.repeat(5000)}"`)).toBeNull();
  });
});

describe('fileNameFromUrl', () => {
  it('takes the decoded last path segment', () => {
    expect(fileNameFromUrl('https://cdn.test/a/b/My%20Clip.mp4?sig=1')).toBe('My Clip.mp4');
    expect(fileNameFromUrl('https://cdn.test/a/%2e%2e%2Fsecret')).toBe('secret');
    expect(fileNameFromUrl('https://cdn.test/100%.mp4')).toBe('100%.mp4');
    expect(fileNameFromUrl('https://cdn.test/')).toBeNull();
    expect(fileNameFromUrl('not a url')).toBeNull();
  });
});

describe('contentDispositionAttachment', () => {
  it('gives an ASCII fallback and an RFC 8187 encoded name', () => {
    expect(contentDispositionAttachment('Clip (1) – final.mp4')).toBe(
      `attachment; filename="Clip (1) _ final.mp4"; filename*=UTF-8''Clip%20%281%29%20%E2%80%93%20final.mp4`,
    );
  });

  it('cannot be used to inject header syntax', () => {
    const h = contentDispositionAttachment('a";\r\nSet-Cookie: x=1; filename="b.mp4');
    expect(h).not.toMatch(/[\r\n]/u);
    expect(h.split('"')).toHaveLength(3);
    expect(contentDispositionAttachment('../..')).toBe(
      `attachment; filename="video.mp4"; filename*=UTF-8''video.mp4`,
    );
  });
});
