// Platform upload limits as DATA (PRODUCT.md "Units and words": limits change — Discord free went 8 → 25 → 10 MiB,
// maybe 20 MB now — so they are kept with their source and the date checked, overridable in config, never
// hard-coded in logic). Sources are the reference keys of /work/shared/research/mission-anchors.md §(d).
// Rule for every entry: where sources disagree, or MB vs MiB is unclear, take the SMALLER reading, so a file
// made "for X" is accepted by X under every reading (a size cap is a promise: PRODUCT.md "Engine promises" 1).
// Adding a platform = one entry here (plus local names in ./vocabulary if a language has its own word) + tests.
import { GB, MB } from '../domain/units.js';

export interface PlatformLimit {
  /** The Intent's `platform` value. */
  readonly id: string;
  /** Display name for summaries. */
  readonly name: string;
  /** The cap used when the instruction names the platform but no number (bytes). */
  readonly limitBytes: number;
  /** Where the figure comes from: URL or mission-anchors.md reference key(s). */
  readonly source: string;
  /** When the figure was last checked (ISO date). */
  readonly checked: string;
  /** What is uncertain and why this value was chosen. */
  readonly note: string;
  /** Names people write (regex sources on normalized text, see ./vocabulary/types.ts); all languages. */
  readonly aliases: readonly string[];
}

/** Per-id replacement limits (bytes), e.g. from config: { discord: 25_000_000 }. */
export type PlatformOverrides = Readonly<Partial<Record<string, number>>>;

/** "for X" / "on X": a bare "x" is too common a letter ("5x smaller", "1920x1080") to be read alone. */
const X_PREFIX = '(?<=(?:for|on|to|para|pour|fur|auf|en|no|na|in|per|sur|an) )';

export const PLATFORMS: readonly PlatformLimit[] = [
  {
    id: 'discord',
    name: 'Discord',
    limitBytes: 10 * MB,
    source: '[FF4D-67] [HALFSIZE] [HB-6509] [DISC-churn] [CONCORD] [SAPPHIRE]; PRODUCT.md "Chat promises"',
    checked: '2026-09-01',
    note:
      "Free tier. Reported 20 MB since Aug 2026 [FF4D-67] but unverified against Discord's own page; 10 MiB from " +
      'late 2024 (libraries: 10 MiB [CONCORD][SAPPHIRE]); bots attach ≤ 10 MB per PRODUCT.md. 10,000,000 B is under ' +
      'every reading (10 MB, 10 MiB, 20 MB).',
    aliases: ['discord', 'disc[oa]rd'],
  },
  {
    id: 'discord-nitro',
    name: 'Discord Nitro',
    limitBytes: 50 * MB,
    source: '[SAPPHIRE] [CONCORD] [MAGAZIN]',
    checked: '2026-09-01',
    note:
      'Nitro Basic 50 MB, Nitro 500 MB, boosted servers 50/100 MB; "Nitro" alone does not say which, so the ' +
      'smallest paid figure (50 MB, decimal) is used. Nitro (full) users can override to 500 MB.',
    aliases: ['discord nitro', 'nitro basic', 'nitro', 'discord boost(?:ed)?'],
  },
  {
    id: 'email',
    name: 'email',
    limitBytes: 14 * MB,
    source: '[FILESHOT] [FILESIZE-GMAIL] [TRUEFS] [SENDSPLIT] [FASTNET]',
    checked: '2026-09-01',
    note:
      'Gmail 25 MB per message (≈ 18 MB raw after base64), Outlook.com 20 MB (≈ 14.6 MB raw: base64 is 4/3 plus ' +
      'line breaks), M365 often 10–25 MB by tenant. 14 MB raw fits Gmail and Outlook.com; override for a tenant ' +
      'with a 10 MB limit.',
    aliases: ['e-?mail', 'email', 'gmail', 'outlook', 'hotmail', 'mail'],
  },
  {
    id: 'whatsapp',
    name: 'WhatsApp',
    limitBytes: 16 * MB,
    source: '[USECARLY] [CHATDADDY] [WATIPS]',
    checked: '2026-09-01',
    note:
      'Inline media video: 16 MB widely cited; some say 100 MB / 720p; as a document up to 2 GB. All unverified: ' +
      'the smallest (16 MB, decimal) is used so it plays inline.',
    aliases: ['whats ?app', 'whatsap', 'watsapp'],
  },
  {
    id: 'telegram',
    name: 'Telegram',
    limitBytes: 50 * MB,
    source: '[TG-PREMIUM] [TDESKTOP-4] [TG-UPLOAD] [TELEGRAPH-607]; PRODUCT.md "Chat promises"',
    checked: '2026-09-01',
    note:
      'Users may send 2 GB (Premium 4 GB), but the bot can send back only ≤ 50 MB through the Bot API, so a file ' +
      '"for Telegram" is made to arrive in the chat itself. Override to 2,000,000,000 to target user uploads.',
    aliases: ['telegram', 'tg', 'telegramm'],
  },
  {
    id: 'youtube',
    name: 'YouTube',
    limitBytes: 128 * GB,
    source: '[YT-SHORTS] [AIVID] [CONSULT]',
    checked: '2026-09-01',
    note:
      'Uploads: 256 GB / 12 h reported but UNVERIFIED; 128 GB was the long-standing figure and is used as the ' +
      'smaller reading. Shorts: ≤ 3 min (official), vertical or square — length, not size, is their limit.',
    aliases: ['youtube shorts', 'youtube', 'yt shorts', 'yt', 'shorts', 'you tube'],
  },
  {
    id: 'tiktok',
    name: 'TikTok',
    limitBytes: 72 * MB,
    source: '[UNANSWERED-TT] [HYPEFURY-TT]',
    checked: '2026-09-01',
    note:
      'In-app upload: iOS 287.6 MB, Android 72 MB; web 500 MB–10 GB. Third-party only, UNVERIFIED; the Android ' +
      'figure (smallest) is used so it uploads from any phone.',
    aliases: ['tik ?tok', 'tiktock'],
  },
  {
    id: 'instagram',
    name: 'Instagram',
    limitBytes: 1 * GB,
    source: '[ALPHR] [KOMPOZY-IG] [IG-cb]',
    checked: '2026-09-01',
    note:
      'Reels: 4 GB / 3.9 GB in the app (widely cited, UNVERIFIED); the Graph API allows 1 GB. The smaller (1 GB) ' +
      'is used. Length limits (90 s / 3 min / 15 min) are not size limits.',
    aliases: ['instagram reels', 'instagram', 'insta', 'ig', 'reels?'],
  },
  {
    id: 'x',
    name: 'X (Twitter)',
    limitBytes: 512 * MB,
    source: '[SLEEKPOST] [TWEETPEEK] [HYPEFURY-X]',
    checked: '2026-09-01',
    note:
      'Free accounts: 512 MB, 140 s; Premium 8–16 GB (sources disagree). UNVERIFIED; the free figure (decimal) ' +
      'is used.',
    aliases: ['twitter', 'tweet', 'x\\.com', `${X_PREFIX}x`],
  },
  {
    id: 'slack',
    name: 'Slack',
    limitBytes: 1 * GB,
    source: '[SLACK-FREE] [SLACK-API]',
    checked: '2026-09-01',
    note: 'Per-file cap commonly given as 1 GB; not found on an official page (UNVERIFIED). 1 GB decimal is used.',
    aliases: ['slack'],
  },
];

const BY_ID: ReadonlyMap<string, PlatformLimit> = new Map(PLATFORMS.map((p) => [p.id, p]));

export function findPlatform(id: string): PlatformLimit | undefined {
  return BY_ID.get(id);
}

/** The cap for a platform id: the override when one is configured (and sane), else the table's value. */
export function platformLimit(id: string, overrides?: PlatformOverrides): number | null {
  const o = overrides?.[id];
  if (o !== undefined && Number.isSafeInteger(o) && o > 0) return o;
  return BY_ID.get(id)?.limitBytes ?? null;
}
