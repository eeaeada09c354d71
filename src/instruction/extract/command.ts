// What the chat message is: a compression ask, a follow-up on the last result (refine), or one of the bot's
// commands (issue #3: status, cancel, help, credits, export). The bot routes every message through the parser.
import type { Adjust, Command } from '../../domain/intent.js';
import { re, words } from '../patterns.js';
import type { Scanner } from '../scanner.js';
import { allOf } from '../vocabulary/index.js';
import type { CommandWord } from '../vocabulary/types.js';

/** Slash commands (Telegram "/compress@MyBot", Discord "/compress"): the name → what it asks. */
const SLASH_NAMES: Readonly<Record<string, { command: Command; adjust?: Adjust }>> = {
  compress: { command: 'compress' },
  shrink: { command: 'compress' },
  start: { command: 'help' },
  help: { command: 'help' },
  status: { command: 'status' },
  progress: { command: 'status' },
  cancel: { command: 'cancel' },
  stop: { command: 'cancel' },
  credits: { command: 'credits' },
  balance: { command: 'credits' },
  export: { command: 'export' },
  download: { command: 'export' },
  undo: { command: 'refine', adjust: 'undo' },
  smaller: { command: 'refine', adjust: 'smaller' },
  better: { command: 'refine', adjust: 'better' },
};
const SLASH = /^\/([a-z_]+)(?:@[a-z0-9_]+)?(?![a-z0-9_])/;

/** Reads and consumes a leading slash command; unknown names are consumed too (the rest is still read). */
export function takeSlashCommand(sc: Scanner): { command: Command; adjust?: Adjust } | null {
  const m = SLASH.exec(sc.text);
  if (!m) return null;
  sc.consume(0, m[0].length);
  return SLASH_NAMES[m[1] ?? ''] ?? null;
}

// Undo first: French "annuler la dernière modif" is an undo, "annule" alone a cancel.
const ADJUST_ORDER: readonly Adjust[] = ['undo', 'better', 'smaller'];
const ADJUST_PATTERNS = ADJUST_ORDER.map((a) => ({ a, pattern: re(words(allOf((v) => v.adjust[a]))) }));

/** "even smaller" / "better quality" / "undo" — the last one said wins. */
export function extractAdjust(sc: Scanner): Adjust | null {
  let best: { a: Adjust; at: number } | null = null;
  for (const { a, pattern } of ADJUST_PATTERNS) {
    for (const m of sc.take(pattern)) if (best === null || m.index > best.at) best = { a, at: m.index };
  }
  return best?.a ?? null;
}

const REFINE = re(words(allOf((v) => v.refineMarkers)));

/** "now 720p", "this time", "instead": the message changes the last result rather than starting anew. */
export function hasRefineMarker(sc: Scanner): boolean {
  return sc.find(REFINE).length > 0;
}

const COMMAND_ORDER: readonly CommandWord[] = ['cancel', 'status', 'help', 'credits', 'export', 'compress'];
const COMMAND_PATTERNS = COMMAND_ORDER.map((c) => ({ c, pattern: re(words(allOf((v) => v.commands[c]))) }));

/** The command word said first ("help me compress" → help); null when there is none. */
export function findCommandWord(sc: Scanner): CommandWord | null {
  let best: { c: CommandWord; at: number } | null = null;
  for (const { c, pattern } of COMMAND_PATTERNS) {
    const m = sc.find(pattern)[0];
    if (m && (best === null || m.index < best.at)) best = { c, at: m.index };
  }
  return best?.c ?? null;
}
