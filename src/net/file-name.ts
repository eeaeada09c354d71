// File names that come from users or remote servers (upload metadata, Content-Disposition, URL paths) are display
// text only: storage names are always our random ids (reliability-anchors.md §0 rule 6, §1.6, checklist A4). These
// helpers turn such a name into a safe base name and back into a correctly encoded Content-Disposition header.

/** Longest display name kept, in code points; longer names keep their extension and lose the middle of the stem. */
export const MAX_FILE_NAME_LENGTH = 120;

// C0/C1 controls, DEL, bidi overrides/isolates (they can make "gpj.exe" read as "exe.jpg"), zero-width characters,
// line/paragraph separators and the BOM.
// eslint-disable-next-line no-control-regex -- removing control characters is the point.
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/gu;
// Reserved on Windows, where downloaded names end up; quotes also keep Content-Disposition simple.
const RESERVED = /[<>:"|?*]/gu;

/**
 * A safe base name for display and for the download header, or null when nothing usable is left. Never a path:
 * everything up to the last slash or backslash is dropped, and leading dots go so it can't be hidden or `..`.
 */
export function sanitizeFileName(
  raw: string | null | undefined,
  maxLength = MAX_FILE_NAME_LENGTH,
): string | null {
  if (typeof raw !== 'string') return null;
  const base = raw.normalize('NFC').split(/[/\\]/u).pop() ?? '';
  const cleaned = base
    .replace(INVISIBLE, '')
    .replace(RESERVED, '_')
    .replace(/\s+/gu, ' ')
    .replace(/^[\s.]+/u, '')
    .replace(/[\s.]+$/u, '');
  if (!cleaned) return null;
  const chars = [...cleaned];
  if (chars.length <= maxLength) return cleaned;
  const dot = cleaned.lastIndexOf('.');
  const ext = dot > 0 ? [...cleaned.slice(dot)] : [];
  const keepExt = ext.length > 1 && ext.length <= 10 ? ext : [];
  return chars.slice(0, maxLength - keepExt.length).join('') + keepExt.join('');
}

function decodeExtValue(value: string): string | null {
  // RFC 8187 ext-value: charset "'" [language] "'" pct-encoded bytes.
  const m = /^([A-Za-z0-9!#$%&+^_`{}~-]+)'[^']*'(.*)$/u.exec(value.trim());
  if (!m) return null;
  const charset = (m[1] ?? '').toLowerCase();
  const encoded = m[2] ?? '';
  try {
    if (charset === 'utf-8') return decodeURIComponent(encoded);
    if (charset === 'iso-8859-1') {
      return encoded.replace(/%([0-9A-Fa-f]{2})/gu, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
  } catch {
    return null;
  }
  return null;
}

/**
 * The file name a Content-Disposition header suggests (RFC 6266: `filename*` wins over `filename`), sanitized, or
 * null. Parses only what it needs and never throws on hostile input.
 */
export function fileNameFromContentDisposition(
  header: string | readonly string[] | null | undefined,
): string | null {
  const value = typeof header === 'string' ? header : header?.[0];
  if (typeof value !== 'string' || value.length > 4096) return null;
  const star = /(?:^|;)\s*filename\*\s*=\s*([^;]*)/iu.exec(value);
  if (star?.[1]) {
    const decoded = sanitizeFileName(decodeExtValue(star[1]));
    if (decoded) return decoded;
  }
  const plain = /(?:^|;)\s*filename\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/iu.exec(value);
  if (!plain?.[1]) return null;
  const v = plain[1].trim();
  const unquoted = v.startsWith('"') ? v.slice(1, -1).replace(/\\(.)/gu, '$1') : v;
  return sanitizeFileName(unquoted);
}

/** The last path segment of a URL, percent-decoded and sanitized, or null (e.g. for `https://host/`). */
export function fileNameFromUrl(url: string | URL): string | null {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return null;
  }
  const segment = path.split('/').pop() ?? '';
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // A stray "%" is kept literally rather than losing the name.
  }
  return sanitizeFileName(decoded);
}

/**
 * `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266 §4.3 recommends both so
 * old clients get a readable name and new ones the exact one). The input is sanitized again, so a name from the
 * database can never inject header syntax.
 */
export function contentDispositionAttachment(
  fileName: string | null | undefined,
  fallback = 'video.mp4',
): string {
  const name = sanitizeFileName(fileName) ?? fallback;
  const ascii = name.replace(/[^\x20-\x7e]/gu, '_').replace(/["\\]/gu, '_');
  // encodeURIComponent leaves !'()* unescaped, but RFC 8187 attr-char excludes ' ( ) *.
  const encoded = encodeURIComponent(name).replace(
    /['()*]/gu,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
