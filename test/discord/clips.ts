// Small clips for the Discord end-to-end tests (CI has 2 cores), from the shared fixture generator.
import { noisyClip } from '../fixtures/generate.js';

/** 480×270, 3 s: a phone clip shrunk to what a 2-core CI encodes in seconds. */
export function smallClip(): string {
  return noisyClip('discord-small.mp4', 480, 270, 3);
}

/** 480×270, 12 s: long enough to still be running when a test restarts the service or presses cancel. */
export function longClip(): string {
  return noisyClip('discord-long.mp4', 480, 270, 12);
}
