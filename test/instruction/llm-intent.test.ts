// The optional LLM fallback (issue #3) against a stub OpenAI-compatible server on 127.0.0.1 (random port):
// only loopback is ever called.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askLlmForIntent, intentFromLlmJson } from '../../src/llm/llm-intent.js';
import { closeServer } from '../fakes/http.js';

type Reply = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let reply: Reply = () => undefined;
const seen: { url: string; auth: string | undefined; body: Record<string, unknown> }[] = [];

function chat(content: string): Reply {
  return (_req, _body, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content } }] }));
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      seen.push({
        url: req.url ?? '',
        auth: req.headers.authorization,
        body: JSON.parse(body) as Record<string, unknown>,
      });
      reply(req, body, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await closeServer(server);
});

const VALID = {
  command: 'compress',
  adjust: null,
  maxBytes: 25_000_000,
  maxBytesRatio: null,
  platform: 'discord',
  quality: 'high',
  maxShortSide: 720,
  fps: null,
  videoCodec: null,
  container: null,
  audio: 'remove',
  trim: { startSec: 0, endSec: 30 },
  aspect: null,
  summary: 'Under 25 MB for Discord, 720p, first 30 s, no sound.',
};

describe('askLlmForIntent', () => {
  it('returns the Intent when the model answers valid JSON, and sends an OpenAI-style request', async () => {
    reply = chat(JSON.stringify(VALID));
    const intent = await askLlmForIntent('make it discord-sized, silent, 720, just the start', {
      baseUrl,
      model: 'qwen2.5:3b',
      apiKey: 'k-123',
      timeoutMs: 2000,
    });
    expect(intent).toEqual(VALID);
    const req = seen.at(-1);
    expect(req?.url).toBe('/v1/chat/completions');
    expect(req?.auth).toBe('Bearer k-123');
    expect(req?.body.model).toBe('qwen2.5:3b');
    expect(JSON.stringify(req?.body.messages)).toContain('make it discord-sized');
  });

  it('accepts a /v1 base URL, a fenced answer and omitted keys (null), and fills an empty summary', async () => {
    reply = chat('```json\n{"command":"compress","maxShortSide":480,"summary":""}\n```');
    const intent = await askLlmForIntent('tiny', { baseUrl: `${baseUrl}/v1/`, model: 'm', timeoutMs: 2000 });
    expect(intent).toMatchObject({ command: 'compress', maxShortSide: 480, maxBytes: null, audio: null });
    expect(intent?.summary).toBe('480p.');
    expect(seen.at(-1)?.url).toBe('/v1/chat/completions');
  });

  it('returns null when the content is not JSON', async () => {
    reply = chat('Sure! I would compress it to 25 MB.');
    expect(await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 2000 })).toBeNull();
  });

  it('returns null when the JSON does not match the Intent schema', async () => {
    for (const bad of [
      { ...VALID, quality: 'ultra' },
      { ...VALID, maxBytes: -5 },
      { ...VALID, maxBytesRatio: 3 },
      { ...VALID, trim: { startSec: 30, endSec: 10 } },
      [VALID],
      'compress',
    ]) {
      reply = chat(JSON.stringify(bad));
      expect(await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 2000 })).toBeNull();
    }
  });

  it('returns null when the body is not an OpenAI answer or the status is an error', async () => {
    reply = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"nope":true}');
    };
    expect(await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 2000 })).toBeNull();
    reply = (_req, _body, res) => {
      res.writeHead(500);
      res.end(JSON.stringify({ choices: [{ message: { content: JSON.stringify(VALID) } }] }));
    };
    expect(await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 2000 })).toBeNull();
  });

  it('returns null on timeout', async () => {
    reply = () => undefined; // never answers
    const t0 = Date.now();
    expect(await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 150 })).toBeNull();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('returns null when the caller aborts', async () => {
    reply = () => undefined;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(
      await askLlmForIntent('x', { baseUrl, model: 'm', timeoutMs: 5000, signal: ac.signal }),
    ).toBeNull();
  });

  it('returns null when nothing listens', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    expect(
      await askLlmForIntent('x', { baseUrl: `http://127.0.0.1:${port}`, model: 'm', timeoutMs: 2000 }),
    ).toBeNull();
  });
});

describe('intentFromLlmJson', () => {
  it('drops unknown keys and keeps valid ones', () => {
    expect(intentFromLlmJson(JSON.stringify({ ...VALID, bitrate: '2M' }))).toEqual(VALID);
  });
});
