#!/usr/bin/env node
// `vidshrink`: compress, plan, probe, parse — for people (progress bar) and scripts (--json, exit codes 0/1/2/3).
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { AppError, toAppError } from '../domain/errors.js';
import type { PipelineEvent } from '../domain/events.js';
import type { Intent } from '../domain/intent.js';
import { formatIntentHuman, parseInstruction } from '../instruction/parse-instruction.js';
import { askLlmForIntent } from '../llm/llm-intent.js';
import { probe } from '../media/ffprobe.js';
import { runJob } from '../pipeline/run-job.js';
import { describeInfo, describePlan, renderJson, TtyRenderer, type Out } from './render.js';
import type { Backend } from '../backends/backend.js';
import { localBackend } from '../backends/local.js';
import { NemoClient } from '../backends/nemo/client.js';
import { nemoBackend, type CloudSessionStore } from '../backends/nemo-backend.js';
import { kvTokenStore } from '../backends/nemo-stores.js';
import { loadNemoConfig, nemoClientOptions } from '../config/nemo.js';
import { loadServiceConfig } from '../config/service.js';
import { migrateDb, openDb } from '../storage/db.js';
import { Repo } from '../storage/repo.js';

const stdout: Out = { write: (s) => void process.stdout.write(s), isTTY: process.stdout.isTTY };
const stderr: Out = { write: (s) => void process.stderr.write(s), isTTY: process.stderr.isTTY };

/** VIDSHRINK_DEBUG=1 prints an error's internal context (argv, stderr tail) for operators; never shown in chats. */
const debug = process.env.VIDSHRINK_DEBUG === '1';

function fail(e: unknown, json: boolean): never {
  const err = toAppError(e);
  if (debug)
    stderr.write(`${JSON.stringify({ internal: err.internal, cause: String(err.cause) }, null, 2)}\n`);
  if (json) stdout.write(JSON.stringify({ type: 'error', error: err.toJSON() }) + '\n');
  else stderr.write(`✗ ${err.message} [${err.code}]\n`);
  process.exit(err.exitCode);
}

/**
 * The deterministic parser first; only when it understood nothing, and only when configured (VIDSHRINK_LLM_URL and
 * VIDSHRINK_LLM_MODEL, e.g. a local Ollama), an OpenAI-compatible model is asked, its answer checked by the same schema.
 */
async function understand(text: string): Promise<Intent> {
  const intent = parseInstruction(text);
  const url = process.env.VIDSHRINK_LLM_URL;
  const model = process.env.VIDSHRINK_LLM_MODEL;
  const nothing = Object.entries(intent).every(([k, v]) => k === 'summary' || v === null);
  if (!nothing || !url || !model || text.trim() === '') return intent;
  const key = process.env.VIDSHRINK_LLM_API_KEY;
  return (
    (await askLlmForIntent(text, {
      baseUrl: url,
      model,
      timeoutMs: 15_000,
      ...(key ? { apiKey: key } : {}),
    })) ?? intent
  );
}

/** `compress a.mov b.mov "under 25MB"`: the last argument is the instruction unless it names an existing file. */
function splitArgs(args: string[]): { inputs: string[]; instruction: string } {
  const last = args[args.length - 1];
  if (args.length > 1 && last !== undefined && !existsSync(last))
    return { inputs: args.slice(0, -1), instruction: last };
  return { inputs: args, instruction: '' };
}

const EXT: Record<string, string> = { mp4: '.mp4', mov: '.mov', mkv: '.mkv', webm: '.webm' };

function outputPathFor(input: string, intent: Intent, outDir: string | undefined): string {
  const ext = EXT[intent.container ?? 'mp4'] ?? '.mp4';
  const dir = outDir ? resolve(outDir) : dirname(resolve(input));
  const stem = basename(input, extname(input));
  let candidate = join(dir, `${stem}-vidshrink${ext}`);
  for (let i = 2; existsSync(candidate); i++) candidate = join(dir, `${stem}-vidshrink-${i}${ext}`);
  return candidate;
}

async function consume(events: AsyncIterable<PipelineEvent>, input: string, json: boolean): Promise<number> {
  const tty = new TtyRenderer(stderr.isTTY ? stderr : stdout, stderr);
  let code = 0;
  for await (const e of events) {
    if (json) renderJson(e, input, stdout);
    else tty.event(e);
    if (e.type === 'error') code = e.error.exitCode;
  }
  return code;
}

const program = new Command();
program
  .name('vidshrink')
  .description('Compress videos to a size or quality you ask for in plain words.')
  .showHelpAfterError();

program
  .command('compress')
  .description('compress one or more videos: vidshrink compress in.mov "under 25MB, 720p"')
  .argument('<args...>', 'input files, then the instruction (quoted)')
  .option('-o, --output <file>', 'output file (one input only)')
  .option('--out-dir <dir>', 'folder for outputs (default: next to each input)')
  .option('--json', 'one JSON event per line, ending with a done or error object')
  .option('--backend <name>', 'local (this machine, the default) or nemo (the NemoVideo cloud)', 'local')
  .action(
    async (args: string[], o: { output?: string; outDir?: string; json?: boolean; backend?: string }) => {
      const json = o.json === true;
      const { inputs, instruction } = splitArgs(args);
      let intent: Intent;
      try {
        intent = await understand(instruction);
        if (o.output && inputs.length > 1)
          throw new AppError('USAGE', { reason: '-o takes one input; use --out-dir for several' });
        for (const i of inputs)
          if (o.output && resolve(o.output) === resolve(i))
            throw new AppError('USAGE', { reason: 'the output would overwrite the input' });
      } catch (e) {
        fail(e, json);
      }
      if (o.backend !== 'local' && o.backend !== 'nemo')
        fail(new AppError('USAGE', { reason: '--backend is local or nemo' }), json);
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      process.once('SIGTERM', () => ac.abort());
      const cloud = o.backend === 'nemo' ? openCloud() : null;
      let worst = 0;
      for (const input of inputs) {
        const output = o.output ? resolve(o.output) : outputPathFor(input, intent, o.outDir);
        if (!json && inputs.length > 1) stdout.write(`\n${input}\n`);
        const onInternalError = debug
          ? (e: AppError): void => void stderr.write(`${JSON.stringify(e.internal, null, 2)}\n`)
          : undefined;
        const events = cloud
          ? cloud.backend.run({
              inputPath: input,
              intent,
              outputPath: output,
              signal: ac.signal,
              session: { id: 'cli', language: null },
              instruction,
            })
          : runJob({
              input,
              intent,
              output,
              signal: ac.signal,
              ...(onInternalError ? { onInternalError } : {}),
            });
        const code = await consume(events, input, json);
        worst = Math.max(worst, code);
        if (ac.signal.aborted) break;
      }
      await cloud?.close();
      process.exitCode = worst;
    },
  );

/**
 * `--backend nemo`: the same cloud path as the chat service, without a chat. The anonymous client id and token live
 * in the service's database (VIDSHRINK_DATA_DIR), so the CLI and the bot share one NemoVideo account; each run
 * opens its own cloud session.
 */
function openCloud(): { backend: Backend; close(): Promise<void> } {
  const nemoCfg = loadNemoConfig(process.env);
  const db = openDb(loadServiceConfig(process.env).dbPath);
  migrateDb(db.db);
  const repo = new Repo(db.db);
  const client = new NemoClient(nemoCfg, kvTokenStore(repo), nemoClientOptions(nemoCfg));
  const cloudSessions = new Map<string, { taskId: string; sessionId: string }>();
  const sessions: CloudSessionStore = {
    get: (id) => cloudSessions.get(id) ?? null,
    set: (id, s) => void (s ? cloudSessions.set(id, s) : cloudSessions.delete(id)),
  };
  const backend = nemoBackend({
    client,
    sessions,
    local: localBackend(),
    maxOutputBytes: nemoCfg.maxOutputBytes,
  });
  return {
    backend,
    async close() {
      await client.close();
      db.close();
    },
  };
}

program
  .command('plan')
  .description(
    'show the plan and estimates without encoding: vidshrink plan in.mov "small enough for Discord"',
  )
  .argument('<input>')
  .argument('[instruction]', 'what you want', '')
  .option('--json', 'print the plan as JSON')
  .action(async (input: string, instruction: string, o: { json?: boolean }) => {
    const json = o.json === true;
    try {
      const intent = await understand(instruction);
      let code = 0;
      for await (const e of runJob({
        input,
        intent,
        output: outputPathFor(input, intent, undefined),
        planOnly: true,
      })) {
        if (json) {
          if (e.type === 'plan' || e.type === 'error')
            stdout.write(JSON.stringify(e.type === 'plan' ? e.plan : e) + '\n');
        } else if (e.type === 'probe') stdout.write(describeInfo(e.info) + '\n');
        else if (e.type === 'plan') stdout.write(describePlan(e.plan) + '\n');
        else if (e.type === 'error') stderr.write(`✗ ${e.error.message} [${e.error.code}]\n`);
        if (e.type === 'error') code = e.error.exitCode;
      }
      process.exitCode = code;
    } catch (e) {
      fail(e, json);
    }
  });

program
  .command('probe')
  .description('describe a video file')
  .argument('<input>')
  .option('--json', 'print MediaInfo as JSON')
  .action(async (input: string, o: { json?: boolean }) => {
    try {
      const info = await probe(input);
      stdout.write(o.json ? JSON.stringify(info, null, 2) + '\n' : `${input}\n${describeInfo(info)}\n`);
    } catch (e) {
      fail(e, o.json === true);
    }
  });

program
  .command('parse')
  .description('show how an instruction is understood: vidshrink parse "under 200MB without losing quality"')
  .argument('<instruction>')
  .option('--json', 'print the Intent as JSON')
  .action(async (text: string, o: { json?: boolean }) => {
    try {
      const intent = await understand(text);
      stdout.write(o.json ? JSON.stringify(intent, null, 2) + '\n' : formatIntentHuman(intent) + '\n');
    } catch (e) {
      fail(e, o.json === true);
    }
  });

program
  .command('start')
  .description('start the chat service: the web chat (and Telegram/Discord when their tokens are set)')
  .action(async () => {
    try {
      const { runFromEnv } = await import('../apps/run.js');
      const running = await runFromEnv(process.env);
      if (running.service.url) stdout.write(`vidshrink web chat: ${running.service.url}/\n`);
      if (running.telegram) stdout.write('Telegram bot: running\n');
      const shutdown = (): void => {
        void running.stop().finally(() => process.exit(0));
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    } catch (e) {
      fail(e, false);
    }
  });

if (process.argv.length <= 2) {
  program.outputHelp();
} else {
  await program.parseAsync(process.argv).catch((e: unknown) => fail(e, process.argv.includes('--json')));
}
