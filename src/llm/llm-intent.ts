// Optional fallback (issue #3): when the deterministic parser understood nothing and the operator configured an
// OpenAI-compatible endpoint (e.g. a local Ollama: VIDSHRINK_LLM_URL / VIDSHRINK_LLM_MODEL), ask it for the
// Intent as JSON. Off by default; outside the pure core because it does network I/O (global fetch).
// The answer is never trusted: it must validate against intentSchema, or the caller gets null and the defaults.
import { emptyIntent, intentSchema, type Intent } from '../domain/intent.js';
import { summarize } from '../instruction/summary.js';

export interface LlmIntentOptions {
  /** Server root or its /v1 path: "http://127.0.0.1:11434" or "http://127.0.0.1:11434/v1". */
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey?: string;
  /** The whole call (connect, generate, read) is abandoned after this many milliseconds. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** Answers bigger than this are not an Intent. */
const MAX_RESPONSE_CHARS = 64_000;

export const LLM_SYSTEM_PROMPT = [
  'You turn a chat message about compressing a video into one JSON object and nothing else.',
  'Keys (use null for anything the message does not ask for; never guess):',
  '"command": "compress"|"status"|"cancel"|"help"|"credits"|"export"|"refine"|null;',
  '"adjust": "smaller"|"better"|"undo"|null (follow-ups on the last result);',
  '"maxBytes": integer bytes (MB = 1000000, MiB = 1048576, GB = 1000000000)|null;',
  '"maxBytesRatio": number in (0,1] relative to the original size|null;',
  '"platform": "discord"|"discord-nitro"|"email"|"whatsapp"|"telegram"|"youtube"|"tiktok"|"instagram"|"x"|"slack"|null;',
  '"quality": "high"|"balanced"|"small"|null; "maxShortSide": integer short side in pixels (720p → 720)|null;',
  '"fps": number|null; "videoCodec": "h264"|"h265"|"av1"|"vp9"|null; "container": "mp4"|"mov"|"mkv"|"webm"|null;',
  '"audio": "keep"|"remove"|null; "trim": {"startSec": number, "endSec": number|null}|null;',
  '"aspect": "16:9"|"9:16"|"1:1"|"4:5"|null; "summary": one English sentence saying what was understood.',
  'Numbers that describe the source video ("my clip is 3GB", "shot in 4K") are not targets.',
].join('\n');

function endpoint(baseUrl: string): string {
  const base = baseUrl.replace(/\/+$/, '');
  return base.endsWith('/v1') ? `${base}/chat/completions` : `${base}/v1/chat/completions`;
}

/** The assistant's text, with a ```json fence removed if the model added one. */
function contentOf(body: unknown): string | null {
  const content = (body as { choices?: { message?: { content?: unknown } }[] } | null)?.choices?.[0]?.message
    ?.content;
  if (typeof content !== 'string') return null;
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(content);
  return (fenced?.[1] ?? content).trim();
}

/** Validates a model's JSON as an Intent: keys it left out are null; any wrong type or value rejects it all. */
export function intentFromLlmJson(json: string): Intent | null {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const parsed = intentSchema.safeParse({ ...emptyIntent(''), ...(value as Record<string, unknown>) });
  if (!parsed.success) return null;
  const intent = parsed.data;
  const trim = intent.trim;
  if (trim !== null && trim.endSec !== null && trim.endSec <= trim.startSec) return null;
  if (intent.summary.trim() === '') intent.summary = summarize(intent);
  return intent;
}

/**
 * Asks the configured model for the Intent of `text`. Returns null on any failure: network error, timeout,
 * abort, non-2xx status, a body that is not OpenAI-shaped, content that is not JSON or not a valid Intent.
 */
export async function askLlmForIntent(text: string, options: LlmIntentOptions): Promise<Intent | null> {
  const signals = [AbortSignal.timeout(Math.max(1, options.timeoutMs))];
  if (options.signal) signals.push(options.signal);
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  try {
    const res = await fetch(endpoint(options.baseUrl), {
      method: 'POST',
      headers,
      signal: AbortSignal.any(signals),
      body: JSON.stringify({
        model: options.model,
        temperature: 0,
        stream: false,
        response_format: { type: 'json_object' },
        messages: [
          { role: 'system', content: LLM_SYSTEM_PROMPT },
          { role: 'user', content: text.slice(0, 2000) },
        ],
      }),
    });
    if (!res.ok) return null;
    const raw = await res.text();
    if (raw.length > MAX_RESPONSE_CHARS) return null;
    const content = contentOf(JSON.parse(raw));
    return content === null ? null : intentFromLlmJson(content);
  } catch {
    return null;
  }
}
