// A link pasted in chat goes through the SSRF-safe downloader and then exactly the upload path (issue #4).
import { createReadStream } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Service } from '../../src/apps/service.js';
import { safeDownload } from '../../src/net/safe-download.js';
import { basicClip } from '../fixtures/generate.js';
import { message, RecordingPort, service, tempDataDir } from './helpers.js';

let svc: Service | null = null;
let server: Server | null = null;
let hits = 0;
afterEach(async () => {
  await svc?.close();
  svc = null;
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = null;
});

async function clipServer(): Promise<number> {
  hits = 0;
  server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'Content-Type': 'video/mp4' });
    createReadStream(basicClip()).pipe(res);
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('links pasted in chat', () => {
  it('downloads a public link and compresses it like an upload, reading the instruction around the URL', async () => {
    const port = await clipServer();
    const chat = new RecordingPort();
    // The loopback server stands in for a public host: only this test's address is let through.
    svc = await service(
      await tempDataDir(),
      chat,
      {},
      {
        fetchUrl: ({ url, destPath, maxBytes, signal }) =>
          safeDownload({
            url,
            destPath,
            maxBytes,
            signal,
            allowPorts: [port],
            allowAddress: (ip) => ip === '127.0.0.1',
          }),
      },
    );
    await svc.engine.handle(message(`http://127.0.0.1:${port}/holiday.mp4 under 400KB`));
    const plan = await chat.waitFor((c) => c.kind === 'text' && c.text.startsWith('Got it'));
    if (plan.kind !== 'text') throw new Error();
    expect(plan.text).toContain('holiday.mp4');
    expect(plan.text).toMatch(/≤ 400 KB/u);
    const r = await chat.waitFor((c) => c.kind === 'file');
    if (r.kind !== 'file') throw new Error();
    expect(r.sizeBytes).toBeLessThanOrEqual(400_000);
  });

  it('refuses a link to a private address in plain words without connecting', async () => {
    const port = await clipServer();
    const chat = new RecordingPort();
    svc = await service(await tempDataDir(), chat);
    await svc.engine.handle(message(`http://127.0.0.1:${port}/x.mp4 under 1MB`));
    const reply = await chat.waitFor((c) => c.kind === 'text' && c.text.startsWith('❌'));
    if (reply.kind !== 'text') throw new Error();
    expect(reply.text).not.toMatch(/\/tmp|vidshrink-svc/u);
    expect(hits).toBe(0);
  });
});
