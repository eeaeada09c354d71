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
  m =
    /^(?:(\d+(?:[.,]\d+)?)\s*h)?\s*(?:(\d+(?:[.,]\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:[.,]\d+)?)\s*s(?:ec)?)?$/.exec(
      t,
    );
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

/**
 * Size unit spellings accepted in free text (the instruction parser), all languages, accent-free lower case.
 * Stricter than SIZE_UNITS on purpose: no bare "k" ("4k" is a resolution), "t", "b" or "to" (an English word).
 * Bare "m"/"g" stay: Chinese writers say "200M" / "1.5G" (PRODUCT.md "Units and words": 兆/M = 10^6).
 */
export const TEXT_SIZE_UNITS: Readonly<Record<string, number>> = {
  bytes: 1,
  byte: 1,
  octets: 1,
  字节: 1,
  kb: KB,
  kbytes: KB,
  kilobyte: KB,
  kilobytes: KB,
  ko: KB,
  kilooctets: KB,
  kib: KiB,
  千字节: KB,
  m: MB,
  mb: MB,
  mbyte: MB,
  mbytes: MB,
  meg: MB,
  megs: MB,
  mega: MB,
  megas: MB,
  megabyte: MB,
  megabytes: MB,
  megabites: MB,
  mo: MB,
  megaoctet: MB,
  megaoctets: MB,
  'mega-octets': MB,
  mib: MiB,
  mio: MiB,
  兆: MB,
  兆字节: MB,
  g: GB,
  gb: GB,
  gbyte: GB,
  gbytes: GB,
  gig: GB,
  gigs: GB,
  giga: GB,
  gigas: GB,
  gigabyte: GB,
  gigabytes: GB,
  go: GB,
  gigaoctet: GB,
  gigaoctets: GB,
  gib: GiB,
  gio: GiB,
  tb: TB,
  terabyte: TB,
  terabytes: TB,
  tib: 1_099_511_627_776,
};

/** Time unit spellings in free text → seconds, all six languages (accent-free lower case). */
export const TEXT_TIME_UNITS: Readonly<Record<string, number>> = {
  s: 1,
  sec: 1,
  secs: 1,
  second: 1,
  seconds: 1,
  seg: 1,
  segs: 1,
  segundo: 1,
  segundos: 1,
  sek: 1,
  sekunde: 1,
  sekunden: 1,
  seconde: 1,
  secondes: 1,
  秒: 1,
  秒钟: 1,
  m: 60,
  min: 60,
  mins: 60,
  minute: 60,
  minutes: 60,
  minuto: 60,
  minutos: 60,
  minuten: 60,
  分: 60,
  分钟: 60,
  h: 3600,
  hr: 3600,
  hrs: 3600,
  hour: 3600,
  hours: 3600,
  hora: 3600,
  horas: 3600,
  std: 3600,
  stunde: 3600,
  stunden: 3600,
  heure: 3600,
  heures: 3600,
  小时: 3600,
  个小时: 3600,
};

/**
 * Parses a decimal number as people type it: "1.5", "1,5" (European decimal comma), "1,500" / "1,000,000"
 * (thousands). A comma followed by exactly three digits is read as a thousands separator. Returns null if unparsable.
 */
export function parseDecimal(text: string): number | null {
  const t = /^\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(text) ? text.replace(/,/g, '') : text.replace(',', '.');
  if (!/^\d+(?:\.\d+)?$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/**
 * value × unit in whole bytes without binary floating-point drift: "1.13" GB is 1,130,000,000 exactly, not
 * 1,129,999,999 (1.13 * 1e9 in doubles). Floors fractional bytes (a cap must not be exceeded).
 */
export function decimalToBytes(text: string, unitBytes: number): number | null {
  const v = parseDecimal(text);
  if (v === null) return null;
  const [whole = '0', frac = ''] = v.toString().includes('e') ? [String(v), ''] : v.toString().split('.');
  if (whole.includes('e')) return Math.floor(v * unitBytes);
  const scaled = BigInt(whole + frac) * BigInt(Math.round(unitBytes));
  return Number(scaled / 10n ** BigInt(frac.length));
}
