// Black-box: the built CLI (`./vidshrink`, what a person or a script runs), its NDJSON contract and exit codes.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicClip, compliantClip, hostileFiles } from '../fixtures/generate.js';
import { outDir } from '../integration/helpers.js';

const ROOT = resolve(import.meta.dirname, '../..');

function cli(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(join(ROOT, 'vidshrink'), args, { encoding: 'utf8', cwd: ROOT, timeout: 300_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('vidshrink CLI', () => {
  it('compress --json: NDJSON events ending in done; output under the cap; exit 0', () => {
    const dir = outDir();
    const out = join(dir, 'small.mp4');
    const r = cli(['compress', basicClip(), 'under 500KB', '-o', out, '--json']);
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    const types = ev.map((e) => e.type);
    expect(types[0]).toBe('stage');
    expect(types).toContain('plan');
    expect(types).toContain('progress');
    const done = ev[ev.length - 1] as {
      type: string;
      result: {
        outputPath: string;
        sizeBytes: number;
        capBytes: number;
        width: number;
        quality: { ssim: number };
      };
    };
    expect(done.type).toBe('done');
    expect(done.result.outputPath).toBe(out);
    expect(done.result.capBytes).toBe(500_000);
    expect(statSync(out).size).toBe(done.result.sizeBytes);
    expect(done.result.sizeBytes).toBeLessThanOrEqual(500_000);
    expect(done.result.quality.ssim).toBeGreaterThan(0.8);
  });

  it('a batch writes one output per input into --out-dir', () => {
    const dir = outDir();
    const r = cli(['compress', basicClip(), compliantClip(), 'under 2MB', '--out-dir', dir]);
    expect(r.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['basic-vidshrink.mp4', 'compliant-vidshrink.mp4']);
  });

  it('exit 3 for a file that is not a video, with the code and no output', () => {
    const dir = outDir();
    const r = cli(['compress', hostileFiles().hlsAsMp4 ?? '', 'under 5MB', '--out-dir', dir, '--json']);
    expect(r.code).toBe(3);
    const err = events(r.stdout).find((e) => e.type === 'error') as {
      error: { code: string; message: string };
    };
    expect(err.error.code).toBe('INPUT_UNSUPPORTED');
    expect(err.error.message).not.toMatch(/\/etc\/passwd|stderr/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('exit 2 for an impossible cap, naming the smallest feasible size', () => {
    const r = cli(['compress', basicClip(), 'under 5KB', '--out-dir', outDir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/CAP_INFEASIBLE/);
    expect(r.stderr).toMatch(/at least/);
  });

  it('plan --json prints the plan with estimates and encodes nothing', () => {
    // Only files named after this input count: other test files write their own clips into the same folder.
    const stem = basename(basicClip(), extname(basicClip()));
    const outputs = () => readdirSync(join(basicClip(), '..')).filter((f) => f.includes(`${stem}-vidshrink`));
    const before = outputs();
    const r = cli(['plan', basicClip(), 'under 300KB', '--json']);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout) as {
      goal: string;
      capBytes: number;
      estimate: { sizeBytes: number; encodeSec: number };
    };
    expect(plan.goal).toBe('size');
    expect(plan.capBytes).toBe(300_000);
    expect(plan.estimate.sizeBytes).toBeLessThanOrEqual(300_000);
    expect(plan.estimate.encodeSec).toBeGreaterThan(0);
    expect(outputs()).toEqual(before);
  });

  it('probe --json and parse --json', () => {
    const p = cli(['probe', basicClip(), '--json']);
    expect(p.code).toBe(0);
    expect((JSON.parse(p.stdout) as { video: { width: number } }).video.width).toBe(640);
    const q = cli(['parse', 'under 200MB', '--json']);
    expect(q.code).toBe(0);
    expect((JSON.parse(q.stdout) as { maxBytes: number }).maxBytes).toBe(200_000_000);
  });

  it('refuses to overwrite the input', () => {
    const r = cli(['compress', basicClip(), 'under 1MB', '-o', basicClip()]);
    expect(r.code).toBe(2);
    expect(existsSync(basicClip())).toBe(true);
  });
});

describe('optional LLM fallback', () => {
  it('asks the configured endpoint only when the parser understood nothing, and validates the answer', async () => {
    const { createServer } = await import('node:http');
    const asked: string[] = [];
    const answer = {
      ...JSON.parse(cli(['parse', '', '--json']).stdout),
      command: 'compress',
      maxShortSide: 720,
      summary: 'From the model: 720p.',
    } as Record<string, unknown>;
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        asked.push(body);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ choices: [{ message: { role: 'assistant', content: JSON.stringify(answer) } }] }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const env = {
      ...process.env,
      VIDSHRINK_LLM_URL: `http://127.0.0.1:${port}`,
      VIDSHRINK_LLM_MODEL: 'stub',
    };
    const run = (stdout: string): { maxShortSide: number | null; maxBytes: number | null } =>
      JSON.parse(stdout) as { maxShortSide: number | null; maxBytes: number | null };
    const { spawn } = await import('node:child_process');
    // Spawned asynchronously: the stub server answers from this process's event loop.
    const call = (text: string): Promise<string> =>
      new Promise((resolveOut) => {
        const p = spawn(join(ROOT, 'vidshrink'), ['parse', text, '--json'], { env, cwd: ROOT });
        let out = '';
        p.stdout.on('data', (c: Buffer) => (out += c.toString()));
        p.on('close', () => resolveOut(out));
      });
    const vague = run(await call('do the thing my friend said'));
    const clear = run(await call('under 25MB'));
    server.close();
    expect(vague.maxShortSide).toBe(720);
    expect(clear.maxBytes).toBe(25_000_000);
    expect(clear.maxShortSide).toBeNull();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('do the thing my friend said');
  });
});
