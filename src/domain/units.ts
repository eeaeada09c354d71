// Units, decided once (PRODUCT.md "Units and words"): MB = 10^6 bytes, MiB = 2^20, KB = 10^3, GB = 10^9.
// "Under 200MB" is read with the stricter decimal unit so the promise holds for decimal and binary readers alike.

export const KB = 1_000;
export const MB = 1_000_000;
export const GB = 1_000_000_000;
export const TB = 1_000_000_000_000;
export const KiB = 1_024;
export const MiB = 1_048_576;
export const GiB = 1_073_741_824;

/** Size unit spellings → bytes per unit. Lower-case keys; callers fold case first. */
export const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  byte: 1,
  bytes: 1,
  k: KB,
  kb: KB,
  ko: KB,
  kilobyte: KB,
  kilobytes: KB,
  kib: KiB,
  m: MB,
  mb: MB,
  mo: MB,
  megabyte: MB,
  megabytes: MB,
  meg: MB,
  megs: MB,
  mib: MiB,
  g: GB,
  gb: GB,
  go: GB,
  gigabyte: GB,
  gigabytes: GB,
  gig: GB,
  gigs: GB,
  gib: GiB,
  t: TB,
  tb: TB,
  to: TB,
  terabyte: TB,
  terabytes: TB,
  tib: 1_099_511_627_776,
};

const SIZE_RE = /^\s*(\d+(?:[.,]\d+)?)\s*([a-z]+)?\s*$/i;

/** Parses "200MB", "1.5 GB", "700 MiB", "500kb", "1,5 Go". Returns bytes (integer) or null. */
export function parseSize(text: string): number | null {
  const m = SIZE_RE.exec(text);
  if (!m?.[1]) return null;
  const value = Number(m[1].replace(',', '.'));
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult = SIZE_UNITS[unit];
  if (mult === undefined || !Number.isFinite(value)) return null;
  return Math.floor(value * mult);
}

/** Human size with decimal units, 3 significant digits: 199.6 MB, 9.87 MB, 812 KB. */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [
    [TB, 'TB'],
    [GB, 'GB'],
    [MB, 'MB'],
    [KB, 'KB'],
  ];
  for (const [size, name] of units) {
    if (bytes >= size) return `${trimNumber(bytes / size)} ${name}`;
  }
  return `${Math.round(bytes)} B`;
}

function trimNumber(x: number): string {
  const digits = x >= 100 ? 0 : x >= 10 ? 1 : 2;
  return Number(x.toFixed(digits)).toString();
}

/** 252.4 → "4:12", 3725 → "1:02:05", 9.5 → "0:09.5" (tenths only below a minute). */
export function formatDuration(sec: number): string {
  const s = Math.max(0, sec);
  if (s < 60 && s % 1 !== 0) return `0:${s.toFixed(1).padStart(4, '0')}`;
  const whole = Math.round(s);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const r = whole % 60;
  return h > 0 ? `${h}:${pad2(m)}:${pad2(r)}` : `${m}:${pad2(r)}`;
}

function pad2(n: number): string {
  return n.toString().padStart(2, '0');
}

/** Parses "3:15", "00:02:10", "2m15s", "1h2m", "45s", "45", "1:02.5" → seconds, or null. */
export function parseTime(text: string): number | null {
  const t = text.trim().toLowerCase();
  let m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:[.,]\d+)?)$/.exec(t);
  if (m) {
    const h = Number(m[1] ?? 0);
    const min = Number(m[2]);
    const s = Number(m[3]?.replace(',', '.'));
    if (min >= 60 && m[1] !== undefined) return null;
    if (s >= 60) return null;
    return h * 3600 + min * 60 + s;
  }
  m = /^(?:(\d+(?:[.,]\d+)?)\s*h)?\s*(?:(\d+(?:[.,]\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:[.,]\d+)?)\s*s(?:ec)?)?$/.exec(t);
  if (m && (m[1] ?? m[2] ?? m[3]) !== undefined) {
    const num = (x: string | undefined): number => (x === undefined ? 0 : Number(x.replace(',', '.')));
    return num(m[1]) * 3600 + num(m[2]) * 60 + num(m[3]);
  }
  m = /^(\d+(?:[.,]\d+)?)$/.exec(t);
  if (m?.[1]) return Number(m[1].replace(',', '.'));
  return null;
}

/** Bits per second → "2.48 Mb/s" / "128 kb/s". */
export function formatBitrate(bps: number): string {
  return bps >= 1_000_000 ? `${trimNumber(bps / 1_000_000)} Mb/s` : `${Math.round(bps / 1000)} kb/s`;
}
