import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineEvent, JobResult } from '../../src/domain/events.js';
import { emptyIntent, type Intent } from '../../src/domain/intent.js';
import { runJob, type JobOptions } from '../../src/pipeline/run-job.js';

export function intent(fields: Partial<Intent>): Intent {
  return { ...emptyIntent(), ...fields };
}

export function outDir(): string {
  return mkdtempSync(join(tmpdir(), 'vidshrink-test-'));
}

export async function collect(opts: JobOptions): Promise<{
  events: PipelineEvent[];
  result: JobResult | null;
  error: Extract<PipelineEvent, { type: 'error' }>['error'] | null;
}> {
  const events: PipelineEvent[] = [];
  for await (const e of runJob(opts)) events.push(e);
  const done = events.find((e): e is Extract<PipelineEvent, { type: 'done' }> => e.type === 'done');
  const err = events.find((e): e is Extract<PipelineEvent, { type: 'error' }> => e.type === 'error');
  return { events, result: done?.result ?? null, error: err?.error ?? null };
}
