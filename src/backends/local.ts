// The default backend: the local ffmpeg engine (src/pipeline/run-job.ts).
import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from '../config/engine.js';
import { probe } from '../media/ffprobe.js';
import { runJob } from '../pipeline/run-job.js';
import { draftPlan } from '../planning/plan-encode.js';
import type { Backend } from './backend.js';

export function localBackend(opts: { config?: Partial<EngineConfig>; tempRoot?: string } = {}): Backend {
  const cfg = { ...DEFAULT_ENGINE_CONFIG, ...opts.config };
  return {
    name: 'local',
    async preview(inputPath, intent, signal) {
      const info = await probe(inputPath, { signal });
      return { info, plan: draftPlan(intent, info, cfg).plan };
    },
    run({ inputPath, intent, outputPath, signal }) {
      return runJob({
        input: inputPath,
        intent,
        output: outputPath,
        signal,
        config: cfg,
        ...(opts.tempRoot !== undefined ? { tempRoot: opts.tempRoot } : {}),
      });
    },
  };
}
