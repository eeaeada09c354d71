// The web chat against the REAL service (issue #4): startService() with a temp data dir (SQLite, persistent queue,
// local ffmpeg backend, conversation engine, tus uploads under /u/, signed downloads under /d/), driven in Debian's
// Chromium with playwright-core. Two generated clips are dropped on the page, compressed "under 300KB", and
// downloaded through the browser; then the links and the chat boundary are probed from a second browser context.
// Browser-side snippets are strings: the project's TypeScript has no DOM lib.
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  cspViolations,
  dropFiles,
  HAS_CHROMIUM,
  launchChromium,
  openRecorded,
  RECORD_BUBBLE_CHANGES,
  sha256,
  type Opened,
} from './browser.js';
import { startService, type Service } from '../../src/apps/service.js';
import { loadServiceConfig } from '../../src/config/service.js';
import { formatBytes } from '../../src/domain/units.js';
import { signToken } from '../../src/links/signed-token.js';
import { probe } from '../../src/media/ffprobe.js';
import { liveProcessGroups } from '../../src/media/run-process.js';
import { basicClip, rotatedClip } from '../fixtures/generate.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const CAP = 300_000;
const INSTRUCTION = 'under 300KB';

if (!HAS_CHROMIUM) {
  console.warn(
    `[service-e2e] SKIPPED the web chat end-to-end test against the real service: ${CHROMIUM} is missing. ` +
      "Install Debian's Chromium (apt-get install -y --no-install-recommends chromium) to run it; " +
      '`npx playwright install` is not used.',
  );
}

/** The readable half of a signed link token (`base64url(JSON).signature`). */
interface Wire {
  k: string;
  i: string;
  s: string;
  e: number;
  m?: number;
}
const tokenOf = (url: string): string => new URL(url).pathname.split('/').pop() ?? '';
function decodeToken(token: string): { body: string; sig: string; wire: Wire } {
  const [body = '', sig = ''] = token.split('.');
  return { body, sig, wire: JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Wire };
}
const encodeWire = (w: Wire): string => Buffer.from(JSON.stringify(w), 'utf8').toString('base64url');

describe.skipIf(!HAS_CHROMIUM)(`web chat against the real service in Chromium (${CHROMIUM})`, () => {
  let dir = '';
  let svc: Service;
  let browser: Browser;
  /** The first chat, kept open for the second test. */
  let first: Opened | null = null;
  const clips = { a: '', b: '' };
  const names = { a: 'clip-a.mp4', b: 'clip-b.mp4' };
  const results: { fileName: string; url: string; beforeUrl: string }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidshrink-svc-e2e-'));
    await mkdir(ARTIFACTS, { recursive: true });
    // The shared lavfi fixtures (cached in .cache/fixtures): 640×360 30 fps 4 s with a tone, and a portrait phone
    // clip (coded 640×360, 90° display matrix, 3 s). Copied under the names the page should show.
    clips.a = join(dir, names.a);
    clips.b = join(dir, names.b);
    await copyFile(basicClip(), clips.a);
    await copyFile(rotatedClip(), clips.b);
    const cfg = loadServiceConfig({
      VIDSHRINK_DATA_DIR: join(dir, 'data'),
      VIDSHRINK_PORT: '0',
      LOG_LEVEL: 'silent',
      VIDSHRINK_RATE_PER_MINUTE: '100',
    });
    svc = await startService(cfg, { listenPort: 0 });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await first?.context.close();
    await browser?.close();
    await svc?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const base = (): string => svc.url ?? '';

  async function open(viewport: { width: number; height: number }): Promise<Opened> {
    const { context, page, problems } = await openRecorded(browser, viewport);
    await page.goto(`${base()}/`);
    await page.evaluate(RECORD_BUBBLE_CHANGES);
    // server.ts flushes the SSE headers at once, so the page says it is live.
    await expect.poll(() => page.getAttribute('#conn', 'data-state'), { timeout: 10_000 }).toBe('live');
    return { context, page, problems };
  }

  /** No console errors, no uncaught exceptions, no CSP violations. */
  async function expectClean(o: Opened): Promise<void> {
    expect(await cspViolations(o.page)).toEqual([]);
    expect(o.problems).toEqual([]);
  }

  const history = (page: Page, id: string): Promise<{ text: string; buttons: string }[]> =>
    page.evaluate(`window.__texts[${JSON.stringify(id)}] ?? []`);

  /** Drops files on the chat; the overlay shows while dragging and goes away on drop. */
  async function dropAndCheckOverlay(page: Page, paths: string[]): Promise<void> {
    await dropFiles(page, paths, async () => {
      expect(await page.locator('#drop-overlay').isVisible()).toBe(true);
    });
    expect(await page.locator('#drop-overlay').isVisible()).toBe(false);
  }

  /**
   * The plan reply becomes the progress message: one bubble, edited in place from the plan through at least one
   * progress state to "Done"; Cancel while it runs, no buttons after.
   */
  async function expectPlanThenProgressInPlace(page: Page, fileName: string): Promise<void> {
    const plan = page.locator('li.msg.bot', { hasText: `Got it — ${fileName}` });
    await plan.waitFor({ timeout: 30_000 });
    expect(await plan.locator('.text').textContent()).toContain(`≤ ${formatBytes(CAP)}`);
    const id = (await plan.getAttribute('data-id')) ?? '';
    const node = await plan.elementHandle();
    await expect
      .poll(async () => (await node?.textContent()) ?? '', { timeout: 150_000, interval: 250 })
      .toContain('✅ Done');
    expect(await node?.evaluate((el: { isConnected: boolean }) => el.isConnected)).toBe(true);
    expect(await page.locator('li.msg', { hasText: `Got it — ${fileName}` }).count()).toBe(1);
    const seen = await history(page, id);
    const done = seen.findIndex((s) => s.text.includes('✅ Done'));
    expect(seen[0]?.text).toMatch(/^Got it — /u);
    expect(done).toBe(seen.length - 1);
    // In between: the engine's progress (a stage, a bar with a percentage, or the queue position), same bubble.
    const between = seen.slice(1, done);
    expect(between.length).toBeGreaterThan(0);
    expect(between.every((s) => s.text.startsWith(seen[0]?.text.split('\n')[0] ?? '\u0000'))).toBe(true);
    expect(between.some((s) => /[▓░]+ \d+%|⏳/u.test(s.text))).toBe(true);
    expect(seen.slice(0, done).every((s) => s.buttons === 'Cancel')).toBe(true);
    expect(seen[done]?.buttons).toBe('');
  }

  it('drops two clips, says "under 300KB", shows plans and progress in place, downloads two verified MP4s', async () => {
    const o = await open({ width: 390, height: 844 });
    first = o;
    const { page, context } = o;

    await dropAndCheckOverlay(page, [clips.a, clips.b]);
    await expect.poll(() => page.locator('#uploads li.upload').count()).toBe(2);
    await expect
      .poll(() => page.locator('#uploads li.upload[data-state="done"]').count(), { timeout: 60_000 })
      .toBe(2);

    await page.locator('#text').fill(INSTRUCTION);
    await page.locator('#text').press('Enter');
    const user = page.locator('li.msg.user', { hasText: INSTRUCTION });
    await user.waitFor();
    expect(await user.locator('.files li').allTextContents()).toEqual([names.a, names.b]);
    await expect.poll(() => page.locator('#uploads li').count()).toBe(0);

    await expectPlanThenProgressInPlace(page, names.a);
    await expectPlanThenProgressInPlace(page, names.b);

    for (const [key, name] of Object.entries(names) as ['a' | 'b', string][]) {
      const fileName = name.replace(/\.mp4$/u, '-vidshrink.mp4');
      const result = page.locator('li.msg.result', { hasText: fileName });
      await result.waitFor({ timeout: 30_000 });
      const caption = (await result.locator('.text').textContent()) ?? '';
      expect(caption).toMatch(/^✅ .* → .* \(−\d+%\)/u);
      expect(caption).toContain('Quality:');
      expect(caption).toContain(`Under your ${formatBytes(CAP)} limit.`);

      // Before/after comparison: the original and the result, on this origin, with the split slider.
      const compare = result.locator('.compare');
      expect(await compare.count()).toBe(1);
      const before = (await compare.locator('video.before').getAttribute('src')) ?? '';
      const after = (await compare.locator('video.after').getAttribute('src')) ?? '';
      expect(before.startsWith(`${base()}/d/`)).toBe(true);
      expect(after.startsWith(`${base()}/d/`)).toBe(true);
      expect(before).not.toBe(after);
      expect(await compare.locator('.tag').allTextContents()).toEqual(['Before', 'After']);
      await compare.locator('input[type="range"]').fill('30');
      expect(
        await compare
          .locator('.compare-stage')
          .evaluate((s: { style: { getPropertyValue(n: string): string } }) =>
            s.style.getPropertyValue('--split'),
          ),
      ).toBe('30%');
      // Both videos load in the browser (metadata over Range requests from /d/): readyState ≥ 1, no error.
      const loaded = (): Promise<number[]> =>
        compare
          .locator('video')
          .evaluateAll((vs: { readyState: number; error: unknown }[]) =>
            vs.map((v) => (v.error ? -1 : v.readyState)),
          );
      await expect.poll(async () => (await loaded()).every((s) => s !== 0), { timeout: 20_000 }).toBe(true);
      expect((await loaded()).every((s) => s >= 1)).toBe(true);

      // Download through the browser's download path.
      const link = result.locator('a.download');
      expect(await link.getAttribute('download')).toBe(fileName);
      const href = (await link.getAttribute('href')) ?? '';
      expect(href).toBe(after);
      const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
      expect(dl.suggestedFilename()).toBe(fileName);
      const path = await dl.path();
      const bytes = (await readFile(path)).length;
      expect(bytes).toBeGreaterThan(10_000);
      expect(bytes).toBeLessThanOrEqual(CAP);
      expect(await result.locator('.size').textContent()).toBe(formatBytes(bytes));

      // It is the stored output, byte for byte, and a real MP4 of the whole clip.
      const { wire } = decodeToken(tokenOf(href));
      const stored = svc.repo.file(wire.i, wire.s);
      expect(stored?.sizeBytes).toBe(bytes);
      expect(await sha256(path)).toBe(await sha256(stored?.path ?? ''));
      const info = await probe(path);
      const src = await probe(clips[key]);
      expect(info.container).toBe('mp4');
      expect(info.video?.codec).toBe('h264');
      expect(Math.abs(info.durationSec - src.durationSec)).toBeLessThan(0.25);
      expect(info.audio.length).toBe(src.audio.length);
      // The portrait clip stays portrait (its display matrix is honoured), the landscape one landscape.
      const portrait = (m: typeof info): boolean =>
        (m.video?.displayHeight ?? 0) > (m.video?.displayWidth ?? 0);
      expect(portrait(src)).toBe(key === 'b');
      expect(portrait(info)).toBe(portrait(src));
      results.push({ fileName, url: href, beforeUrl: before });
    }

    // No message twice (replays and edits update bubbles in place).
    const ids = await page
      .locator('#messages li[data-id]')
      .evaluateAll((els: { dataset: Record<string, string | undefined> }[]) =>
        els.map((e) => e.dataset.id ?? ''),
      );
    expect(new Set(ids).size).toBe(ids.length);

    // Screenshots of the finished chat, phone and desktop.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    // The last result from its caption down. The chat scrolls inside #chat; the document itself must stay put, or
    // the header and the composer's edge leave the shot.
    const showLastResult = (): Promise<void> =>
      page.evaluate(`(() => {
        const chat = document.getElementById('chat');
        const last = [...document.querySelectorAll('li.msg.result')].pop();
        const top = Math.max(chat.getBoundingClientRect().top, document.querySelector('header').getBoundingClientRect().bottom);
        chat.scrollTop += last.getBoundingClientRect().top - top - 8;
        window.scrollTo(0, 0);
      })()`);
    await showLastResult();
    await page.screenshot({ path: join(ARTIFACTS, 'service-e2e-390x844.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await showLastResult();
    await page.screenshot({ path: join(ARTIFACTS, 'service-e2e-1280x800.png') });

    await expectClean(o);
    expect(context.pages()).toHaveLength(1);
  }, 300_000);

  it('refuses forged links with 404; another chat sees none of these events and cannot re-point a link', async () => {
    if (!first || results.length !== 2) throw new Error('needs the finished chat of the previous test');
    const a = first;
    const [r] = results;
    if (!r) throw new Error('no result');

    // The genuine link works in its own browser context.
    const genuine = await a.context.request.get(r.url);
    expect(genuine.status()).toBe(200);
    expect(genuine.headers()['content-type']).toBe('video/mp4');

    // A forged signature, a made-up token, and a token of the wrong kind: all a plain 404, also when navigated to.
    const token = tokenOf(r.url);
    const { body, sig, wire } = decodeToken(token);
    const flipped = `${body}.${sig.slice(0, -2)}${sig.at(-2) === 'A' ? 'B' : 'A'}${sig.at(-1) ?? ''}`;
    const session = (await (await a.context.request.get(`${base()}/api/session`)).json()) as {
      uploadUrl: string;
    };
    const uploadToken = tokenOf(session.uploadUrl);
    for (const bad of [
      flipped,
      'not-a-token',
      `${encodeWire({ ...wire, e: wire.e + 1 })}.${sig}`,
      uploadToken,
    ]) {
      const res = await a.context.request.get(`${base()}/d/${bad}`);
      expect(res.status(), bad).toBe(404);
    }
    const tab = await a.context.newPage();
    const nav = await tab.goto(`${base()}/d/${flipped}`);
    expect(nav?.status()).toBe(404);
    expect(await tab.locator('body').textContent()).not.toMatch(/clip-a|\/tmp|Error:/u);
    await tab.close();

    // A second browser context is another cookie, so another chat: it starts empty and stays empty.
    const b = await open({ width: 1280, height: 800 });
    await b.page.waitForTimeout(1000);
    expect(await b.page.locator('#messages li[data-id]').count()).toBe(0);
    // Its own event stream, read from the start, carries nothing of the first chat.
    const types = await b.page.evaluate<string[]>(`new Promise((resolve) => {
      const seen = [];
      const es = new EventSource('api/events?after=0');
      for (const t of ['user', 'message', 'edit', 'result']) es.addEventListener(t, (e) => seen.push(t + ' ' + e.data));
      setTimeout(() => { es.close(); resolve(seen); }, 1500);
    })`);
    expect(types).toEqual([]);
    const cookies = async (c: BrowserContext): Promise<string> =>
      (await c.cookies()).find((k) => k.name === 'vs_chat')?.value ?? '';
    expect(await cookies(b.context)).not.toBe(await cookies(a.context));

    // Re-pointing the first chat's result link at this chat's session: the signature no longer matches (404)…
    const bSession = (await (await b.context.request.get(`${base()}/api/session`)).json()) as {
      uploadUrl: string;
    };
    const bSessionId = decodeToken(tokenOf(bSession.uploadUrl)).wire.s;
    expect(bSessionId).not.toBe(wire.s);
    const repointed = `${encodeWire({ ...wire, s: bSessionId })}.${sig}`;
    expect((await b.context.request.get(`${base()}/d/${repointed}`)).status()).toBe(404);
    // …and even correctly signed for this session, the first chat's file is not this session's (404).
    const secret = (await readFile(join(dir, 'data', 'link-secret'), 'utf8')).trim();
    const resigned = signToken(secret, { kind: 'd', id: wire.i, sessionId: bSessionId, expiresAtMs: wire.e });
    expect((await b.context.request.get(`${base()}/d/${resigned}`)).status()).toBe(404);
    const original = decodeToken(tokenOf(r.beforeUrl)).wire;
    const resignedBefore = signToken(secret, {
      kind: 'd',
      id: original.i,
      sessionId: bSessionId,
      expiresAtMs: original.e,
    });
    expect((await b.context.request.get(`${base()}/d/${resignedBefore}`)).status()).toBe(404);

    // After all that, a reload of the second chat still shows nothing, and the first chat is intact.
    await b.page.reload();
    await expect.poll(() => b.page.getAttribute('#conn', 'data-state'), { timeout: 10_000 }).toBe('live');
    await b.page.waitForTimeout(500);
    expect(await b.page.locator('#messages li[data-id]').count()).toBe(0);
    expect(await a.page.locator('li.msg.result').count()).toBe(2);

    await expectClean(b);
    await expectClean(a);
    await b.context.close();
    expect(liveProcessGroups()).toBe(0);
  }, 120_000);
});
