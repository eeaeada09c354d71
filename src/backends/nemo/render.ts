// Pure normalization of a render poll (chatbot-anchors.md §4.6). Three shapes are documented and the skills
// disagree on which is real: v4.4 `{"success":true,"data":{"id","status","progress","outputUrl",…}}`, the Chinese
// v4.x / v1.x / seed top-level `{"taskId","status","progress","output":{"url","duration","size"}}`, and the CLI's
// `{render_id,status,output:{url,duration,size},error}` inside a `code` envelope. All become one RenderStatus.
import type { RenderStatus } from './types.js';
import { isObject, num } from './values.js';

function httpUrl(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/** Status words seen across the skills and the usual synonyms; anything unknown keeps the poll going. */
export function normalizeStatus(v: unknown): RenderStatus['status'] {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (['completed', 'complete', 'done', 'success', 'succeeded', 'finished', 'ready'].includes(s)) {
    return 'completed';
  }
  if (['failed', 'failure', 'error', 'errored', 'cancelled', 'canceled', 'timeout'].includes(s))
    return 'failed';
  if (s === '' || ['pending', 'queued', 'waiting', 'created', 'submitted'].includes(s)) return 'pending';
  return 'processing';
}

function errorText(v: unknown): string | null {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (isObject(v) && typeof v.message === 'string') return v.message;
  return null;
}

/** A poll body (envelope already removed or not) → RenderStatus. */
export function normalizeRender(raw: unknown): RenderStatus {
  let obj: Record<string, unknown> = isObject(raw) ? raw : {};
  // An envelope that reached here intact: the job is inside `data` (v4.4: "NOT top-level").
  if (obj.status === undefined && isObject(obj.data)) obj = obj.data;
  const output = isObject(obj.output) ? obj.output : {};
  const status = normalizeStatus(obj.status);
  const rawProgress = num(obj.progress);
  const progress = rawProgress === null ? null : Math.min(100, Math.max(0, rawProgress));
  const url =
    httpUrl(obj.outputUrl) ??
    httpUrl(obj.output_url) ??
    httpUrl(output.url) ??
    httpUrl(obj.url) ??
    httpUrl(obj.downloadUrl) ??
    httpUrl(obj.download_url) ??
    (typeof obj.output === 'string' ? httpUrl(obj.output) : null);
  const error =
    errorText(obj.error) ??
    errorText(obj.errorMessage) ??
    errorText(obj.error_message) ??
    errorText(output.error) ??
    (status === 'failed' ? (errorText(obj.message) ?? 'the render failed') : null);
  return {
    status,
    progress,
    url,
    sizeBytes: num(output.size) ?? num(obj.size) ?? num(obj.sizeBytes) ?? num(obj.fileSize),
    durationSec: num(output.duration) ?? num(obj.duration) ?? num(obj.durationSec),
    error: status === 'failed' ? error : null,
  };
}
