// Pure normalization of /run_sse frames (chatbot-anchors.md §4.4). Two shapes are documented and both are accepted:
// the v4.4 reference's `{"type":"text","content"}` / tool_call / tool_result / heartbeat, and Google ADK's Event
// (`{"content":{"parts":[{"text"}|{"functionCall"}|{"functionResponse"}]},"author","partial",…}`), which is what
// the body of /run_sse (ADK's RunAgentRequest) implies the server really is. Failures arrive as `{"error":"…"}`;
// empty `data:` and `: comment` lines are heartbeats ("Heartbeat / empty data: … Not a disconnect").
import type { SseEvent } from './types.js';
import { isObject } from './values.js';

export interface NormalizedFrame {
  events: SseEvent[];
  /** ADK `partial: true`: a streamed chunk of text that a final, non-partial event repeats in full. */
  partial: boolean;
  /** False when the frame matched no known shape (it is then ignored, not guessed at). */
  recognized: boolean;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function errorText(v: unknown): string | null {
  if (typeof v === 'string') return v.trim() === '' ? null : v;
  if (isObject(v)) return str(v.message) ?? str(v.error) ?? JSON.stringify(v);
  return null;
}

const toolName = (v: unknown): string => (isObject(v) && typeof v.name === 'string' ? v.name : 'tool');

/** v4.4: `{"type": "text"|"tool_call"|"tool_result"|"heartbeat"|"error", …}`. */
function v44(obj: Record<string, unknown>, type: string): SseEvent[] | null {
  switch (type) {
    case 'text':
    case 'message':
    case 'delta': {
      const text = str(obj.content) ?? str(obj.text) ?? str(obj.delta);
      return text === null ? [] : [{ kind: 'text', text }];
    }
    case 'tool_call':
    case 'tool_start':
      return [{ kind: 'tool', name: str(obj.name) ?? toolName(obj.tool), phase: 'call' }];
    case 'tool_result':
    case 'tool_end':
      return [{ kind: 'tool', name: str(obj.name) ?? toolName(obj.tool), phase: 'result' }];
    case 'heartbeat':
    case 'ping':
    case 'keepalive':
      return [{ kind: 'heartbeat' }];
    case 'error':
      return [
        {
          kind: 'error',
          message:
            errorText(obj.message) ?? errorText(obj.error) ?? errorText(obj.content) ?? 'unknown error',
        },
      ];
    default:
      return null;
  }
}

/** ADK Event: parts in order; `thought` parts are the model's internal reasoning and never reach a user. */
function adk(obj: Record<string, unknown>): SseEvent[] | null {
  const content = obj.content;
  const events: SseEvent[] = [];
  let matched = false;
  if (isObject(content) && Array.isArray(content.parts)) {
    matched = true;
    // ADK gives function responses role "user" (functions.py), so the role only rules out text: an echo of the
    // user's own message is not the agent's answer.
    const fromUser = content.role === 'user' || obj.author === 'user';
    for (const part of content.parts) {
      if (!isObject(part)) continue;
      if (typeof part.text === 'string') {
        if (part.thought !== true && !fromUser) events.push({ kind: 'text', text: part.text });
      } else if (isObject(part.functionCall) || isObject(part.function_call)) {
        events.push({ kind: 'tool', name: toolName(part.functionCall ?? part.function_call), phase: 'call' });
      } else if (isObject(part.functionResponse) || isObject(part.function_response)) {
        events.push({
          kind: 'tool',
          name: toolName(part.functionResponse ?? part.function_response),
          phase: 'result',
        });
      }
    }
  }
  // LlmResponse fields errorCode/errorMessage (camelCase on the wire) mark a failed model call.
  const adkError = errorText(obj.errorMessage) ?? errorText(obj.error_message);
  if (adkError !== null || obj.errorCode !== undefined) {
    matched = true;
    events.push({
      kind: 'error',
      message: adkError ?? `error ${String(errorText(obj.errorCode) ?? obj.errorCode)}`,
    });
  }
  if (!matched && (typeof obj.invocationId === 'string' || typeof obj.author === 'string')) matched = true;
  return matched ? events : null;
}

/** One SSE `data` payload → normalized events. */
export function normalizeFrame(data: string): NormalizedFrame {
  if (data.trim() === '') return { events: [{ kind: 'heartbeat' }], partial: false, recognized: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return { events: [], partial: false, recognized: false };
  }
  if (!isObject(parsed)) return { events: [], partial: false, recognized: false };
  const partial = parsed.partial === true;
  if (typeof parsed.type === 'string') {
    const events = v44(parsed, parsed.type);
    if (events !== null) return { events, partial, recognized: true };
  }
  const fromAdk = adk(parsed);
  if (fromAdk !== null) return { events: fromAdk, partial, recognized: true };
  // ADK's server writes `{"error": "…"}` when the run raises (adk_web_server.py).
  const err = errorText(parsed.error);
  if (err !== null) return { events: [{ kind: 'error', message: err }], partial: false, recognized: true };
  return { events: [], partial, recognized: false };
}

/** "I encountered a temporary issue" after normal output is noise the skills tell clients to ignore (§4.4). */
export const TEMPORARY_ISSUE = /\bI\s+encountered\s+a\s+temporary\s+issue\b/iu;

/**
 * Turn-level filtering over the normalized events: drops ADK's final event when it only repeats streamed partial
 * text, drops empty text, and turns a trailing "temporary issue" text into nothing (after real text) or an
 * `error` event (when it is all there is, so nobody shows it as the answer). Stateful per turn.
 */
export class TurnFilter {
  #sawText = false;
  #partialText = '';

  accept(frame: NormalizedFrame): SseEvent[] {
    const out: SseEvent[] = [];
    for (const ev of frame.events) {
      if (ev.kind !== 'text') {
        out.push(ev);
        continue;
      }
      if (frame.partial) {
        this.#partialText += ev.text;
      } else if (this.#partialText !== '') {
        const repeated = ev.text.trim() === this.#partialText.trim();
        this.#partialText = '';
        if (repeated) continue;
      }
      if (ev.text.trim() === '') continue;
      if (TEMPORARY_ISSUE.test(ev.text)) {
        if (!this.#sawText) out.push({ kind: 'error', message: 'temporary issue' });
        continue;
      }
      this.#sawText = true;
      out.push(ev);
    }
    return out;
  }
}
