// Engine settings with their defaults (pure data). Env overrides are parsed once, at startup, in src/config/load.ts.

export interface EngineConfig {
  /** Default short-side cap when the instruction names none (PRODUCT.md promise 7). */
  defaultMaxShortSide: number;
  /** Frame rates above this are capped (issue #2: "fps above 60 capped to 60"). */
  maxFps: number;
  /** x264 preset for every encode; medium is what the bare-ffmpeg peer uses and the speed target is relative to. */
  x264Preset: string;
  /** Size-mode attempts before CAP_NOT_MET (first + corrections). */
  maxAttempts: number;
  /** Most CRF probes in a quality search (ab-av1's progress bar assumes 4 runs). */
  maxCrfProbes: number;
  /** x264 medium throughput on this host in megapixels per second per core (measured: 1080p60 at ~35 Mpx/s/core). */
  x264MpixPerSecPerCore: number;
  cores: number;
  /** Per-process limits (reliability-anchors.md §1.5): a stalled ffmpeg is killed, a runaway one too. */
  stallTimeoutMs: number;
  /** Wall clock per encode pass as a multiple of the estimate, with a floor. */
  timeoutFactor: number;
  minTimeoutMs: number;
  /** Strip GPS/device metadata from outputs (privacy default). */
  stripMetadata: boolean;
}

export const DEFAULT_ENGINE_CONFIG: Readonly<EngineConfig> = Object.freeze({
  defaultMaxShortSide: 1080,
  maxFps: 60,
  x264Preset: 'medium',
  maxAttempts: 3,
  maxCrfProbes: 5,
  x264MpixPerSecPerCore: 35,
  cores: 2,
  stallTimeoutMs: 120_000,
  timeoutFactor: 8,
  minTimeoutMs: 10 * 60_000,
  stripMetadata: true,
});
