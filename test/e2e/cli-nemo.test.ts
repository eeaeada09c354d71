// Black-box: the built CLI (`./vidshrink`) with `compress … --backend nemo --json` against the protocol-faithful fake
// NemoVideo server on loopback (test/fakes/nemovideo.ts): the NDJSON contract of a cloud job (issue #6), the exit code
// of a cloud refusal, and the USAGE exit code of an unknown backend. The CLI runs from dist/: build it first with
// `npx tsc -b tsconfig.build.json`. It is spawned asynchronously because the fake answers from this process's event
// loop (spawnSync would block it).
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../src/domain/errors.js';
import { probe } from '../../src/media/ffprobe.js';
import { noisyClip } from '../fixtures/generate.js';
import { startFakeNemo, type FakeNemo } from '../fakes/nemovideo.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CAP = 2_000_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done, fail) => {
    const p = spawn(join(ROOT, 'vidshrink'), args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    // A CLI that never exits (an open handle after the job) fails the test instead of hanging it.
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('error', fail);
    p.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

type Event = Record<string, unknown> & { type: string };

function events(stdout: string): Event[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Event);
}

describe('vidshrink compress --backend nemo (CLI against the fake NemoVideo)', () => {
  let dir = '';
  let clip = '';
  let fake: FakeNemo;
  /** The environment the CLI gets: nothing of this process's but PATH (no stray NEMO_TOKEN or data dir). */
  let env: Record<string, string>;

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) {
      throw new Error('dist/ is missing: run `npx tsc -b tsconfig.build.json` before this test');
    }
    dir = await mkdtemp(join(tmpdir(), 'vidshrink-cli-nemo-'));
    // 480×270, 2 s, ~2.9 MB: just over the 2 MB cap, tiny to encode.
    clip = noisyClip('nemo-e2e-480x270.mp4', 480, 270, 2);
    fake = await startFakeNemo({ heartbeatMs: 40, renderPolls: 3 });
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      VIDSHRINK_DATA_DIR: join(dir, 'data'),
      NEMO_API_BASE: fake.url,
      NEMO_POLL_SECONDS: '0.05',
      NEMO_RETRY_AFTER_SECONDS: '0',
    };
  });

  afterAll(async () => {
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("--json: cloud stages, the agent's words as notes, a done under the cap; exit 0; a real MP4", async () => {
    const out = join(dir, 'small.mp4');
    const r = await cli(['compress', clip, 'under 2MB', '-o', out, '--backend', 'nemo', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const ev = events(r.stdout);
    // Every line is one event of this input.
    expect(ev.every((e) => e.input === clip)).toBe(true);

    // The cloud path's stages, in order: send the file, the agent's edit, the export, the download.
    const stages = ev.filter((e) => e.type === 'stage').map((e) => e.stage);
    const cloud = stages.filter((s) => ['upload', 'edit', 'render', 'download'].includes(String(s)));
    expect(cloud).toEqual(['upload', 'edit', 'render', 'download']);
    expect(ev.find((e) => e.type === 'plan')).toBeDefined();
    // The turn's heartbeats and the render polls keep the line alive.
    expect(ev.some((e) => e.type === 'heartbeat' && e.stage === 'edit')).toBe(true);
    expect(ev.some((e) => e.type === 'progress' && e.stage === 'render')).toBe(true);

    // The agent's words arrive as notes, without its GUI instructions ("Click the Export button…").
    const notes = ev.filter((e) => e.type === 'note').map((e) => String(e.text));
    expect(notes.length).toBeGreaterThan(0);
    expect(notes.some((t) => /^Done! I compressed \S+ aiming for under 2\.0 MB\.$/u.test(t))).toBe(true);
    expect(notes.filter((t) => /\bclick\b|export button/iu.test(t))).toEqual([]);

    // The last line is the result: the asked path, within the cap, the size on disk.
    const done = ev.at(-1) as Event & {
      result: { outputPath: string; sizeBytes: number; capBytes: number; durationSec: number };
    };
    expect(done.type).toBe('done');
    expect(ev.filter((e) => e.type === 'done')).toHaveLength(1);
    expect(done.result.outputPath).toBe(out);
    expect(done.result.capBytes).toBe(CAP);
    expect(done.result.sizeBytes).toBeLessThanOrEqual(CAP);
    expect(statSync(out).size).toBe(done.result.sizeBytes);
    const info = await probe(out);
    expect(info.container).toBe('mp4');
    expect(info.video?.codec).toBe('h264');
    expect(Math.abs(info.durationSec - 2)).toBeLessThan(0.25);

    // What reached the cloud: one anonymous token, one session, one turn carrying the person's words, one export;
    // the attribution headers on every API call.
    expect(fake.requests.filter((q) => q.route === 'token')).toHaveLength(1);
    expect(fake.requests.filter((q) => q.route === 'session')).toHaveLength(1);
    const runs = fake.requests.filter((q) => q.route === 'sse');
    expect(runs).toHaveLength(1);
    expect(JSON.stringify((runs[0]?.json as { new_message?: unknown }).new_message)).toContain('under 2MB');
    expect(fake.requests.filter((q) => q.route === 'render')).toHaveLength(1);
    for (const q of fake.requests.filter((x) => x.route !== 'cdn' && x.route !== 'renderResult')) {
      expect(q.headers['x-skill-source'], q.path).toBeTruthy();
      expect(q.headers['x-skill-version'], q.path).toBeTruthy();
      expect(q.headers['x-skill-platform'], q.path).toBeTruthy();
    }
    // The token is a secret: not in the CLI's output.
    const bearer = fake.tokens()[0]?.token ?? '';
    expect(bearer).toMatch(/^nmv_usr_/u);
    expect(r.stdout.includes(bearer) || r.stderr.includes(bearer)).toBe(false);
  }, 120_000);

  it('out of credits: exit 2 (NEMO_NO_CREDITS) with an error object naming the register?bind= link; no output', async () => {
    // The previous run's anonymous account (its client id is kept in the SQLite db under VIDSHRINK_DATA_DIR, so this
    // run is the same account) has spent its credits.
    expect(fake.tokens()).toHaveLength(1);
    fake.setCredits('all', 0);
    const before = fake.requests.length;
    const out = join(dir, 'broke.mp4');
    const r = await cli(['compress', clip, 'under 2MB', '-o', out, '--backend', 'nemo', '--json'], env);
    expect(ERRORS.NEMO_NO_CREDITS.exitCode).toBe(2);
    expect(r.code, r.stderr).toBe(ERRORS.NEMO_NO_CREDITS.exitCode);
    const ev = events(r.stdout);
    const last = ev.at(-1) as Event & { error: { code: string; message: string; exitCode: number } };
    expect(last.type).toBe('error');
    expect(last.error.code).toBe('NEMO_NO_CREDITS');
    expect(last.error.exitCode).toBe(2);
    expect(last.error.message).toContain('register?bind=');
    // …binding this install's anonymous client id, the one the token was issued to.
    const clientId = fake.tokens()[0]?.clientId ?? '';
    expect(clientId).not.toBe('');
    expect(last.error.message).toContain(`register?bind=${encodeURIComponent(clientId)}`);
    // The same account: no second anonymous user was created for this run.
    expect(fake.tokens()).toHaveLength(1);
    // The turn was refused before any edit or export.
    const after = fake.requests.slice(before);
    expect(after.filter((q) => q.route === 'sse').map((q) => q.status)).toEqual([403]);
    expect(after.filter((q) => q.route === 'render')).toEqual([]);
    expect(existsSync(out)).toBe(false);
    const bearer = fake.tokens()[0]?.token ?? '';
    expect(r.stdout.includes(bearer) || r.stderr.includes(bearer)).toBe(false);
  }, 120_000);

  it('--backend bogus: USAGE (exit 2) naming the choices, and nothing sent to the cloud', async () => {
    const before = fake.requests.length;
    const out = join(dir, 'bogus.mp4');
    const r = await cli(['compress', clip, 'under 2MB', '-o', out, '--backend', 'bogus', '--json'], env);
    expect(ERRORS.USAGE.exitCode).toBe(2);
    expect(r.code).toBe(ERRORS.USAGE.exitCode);
    const ev = events(r.stdout);
    expect(ev).toHaveLength(1);
    const err = ev[0] as Event & { error: { code: string; message: string } };
    expect(err.type).toBe('error');
    expect(err.error.code).toBe('USAGE');
    expect(err.error.message).toBe('--backend is local or nemo');
    expect(fake.requests.length).toBe(before);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});
