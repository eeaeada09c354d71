// The web chat page (issue #4) in a real browser: Debian's Chromium driven by playwright-core, against the real
// createWebServer + WebChatPort with a scripted engine and a minimal tus route (./harness.ts).
// Browser-side snippets are strings: the project's TypeScript has no DOM lib.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHROMIUM,
  cspViolations,
  HAS_CHROMIUM,
  launchChromium,
  openRecorded,
  recordBubbleChanges,
  sha256,
  type Opened,
  type Problem,
} from './browser.js';
import { formatBytes } from '../../src/domain/units.js';
import { startHarness, type Harness, type TusRequest } from './harness.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHUNK = 8 * 1024 * 1024;

if (!HAS_CHROMIUM) {
  console.warn(
    `[web-chat] SKIPPED the browser tests: ${CHROMIUM} is missing. Install Debian's Chromium ` +
      '(apt-get install -y --no-install-recommends chromium) to run them; `npx playwright install` is not used.',
  );
}

const run = promisify(execFile);

/** Records every text each bubble (by data-id) shows and every upload progress value, in order. */
const RECORD_CHANGES = recordBubbleChanges(
  `for (const row of document.querySelectorAll('#uploads li.upload')) {
      const name = row.querySelector('.upload-name').textContent;
      const value = row.querySelector('progress').value;
      const last = window.__progress.findLast((p) => p[0] === name);
      if (!last || last[1] !== value) window.__progress.push([name, value]);
    }`,
  'window.__progress = [];',
);

describe.skipIf(!HAS_CHROMIUM)(`web chat page in Chromium (${CHROMIUM})`, () => {
  let dir = '';
  let h: Harness;
  let browser: Browser;
  const clips = { a: '', b: '', big: '' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidshrink-web-'));
    await mkdir(ARTIFACTS, { recursive: true });
    // Two tiny real MP4s (a second of test pattern each, one thread, ultrafast) and one 9 MiB file of random bytes,
    // which takes two 8 MiB tus chunks.
    const tiny = async (name: string, size: string): Promise<string> => {
      const out = join(dir, name);
      await run('ffmpeg', [
        ...['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25`, '-t', '1'],
        ...['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-threads', '1'],
        ...['-movflags', '+faststart', '-y', out],
      ]);
      return out;
    };
    clips.a = await tiny('a.mp4', '320x240');
    clips.b = await tiny('b.mp4', '240x320');
    clips.big = join(dir, 'big.mp4');
    await writeFile(clips.big, randomBytes(CHUNK + 1024 * 1024 + 123));
    h = await startHarness(join(dir, 'server'));
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function open(viewport: { width: number; height: number }): Promise<Opened> {
    const { context, page, problems } = await openRecorded(browser, viewport);
    await page.goto(h.url);
    // Not waiting for "Connected": server.ts flushes the SSE headers only with the first event or keep-alive (15 s).
    await page.evaluate(RECORD_CHANGES);
    return { context, page, problems };
  }

  /** No console errors, no uncaught exceptions, no CSP violations (minus `allowed`, which must match). */
  async function expectClean(o: Opened, allowed: (p: Problem) => boolean = () => false): Promise<void> {
    const csp = await cspViolations(o.page);
    expect(csp).toEqual([]);
    expect(o.problems.filter((p) => !allowed(p))).toEqual([]);
  }

  /** What one bubble showed over time: its text and its buttons' labels. */
  const history = (page: Page, id: string): Promise<{ text: string; buttons: string }[]> =>
    page.evaluate(`window.__texts[${JSON.stringify(id)}] ?? []`);

  async function waitUploaded(page: Page, n: number): Promise<void> {
    await expect
      .poll(() => page.locator('#uploads li.upload[data-state="done"]').count(), { timeout: 30_000 })
      .toBe(n);
  }

  /** Downloads a result through the browser's download path; checks it against what the server sent. */
  async function download(page: Page, fileName: string, source: string): Promise<void> {
    const result = page.locator('li.msg.result', { hasText: fileName });
    const link = result.locator('a.download');
    expect(await link.getAttribute('download')).toBe(fileName);
    const href = (await link.getAttribute('href')) ?? '';
    // The link was signed for the public address (localhost); the page fetches it on its own origin.
    expect(href.startsWith(`${h.url}/d/`)).toBe(true);
    const fileId = href.split('/').pop() ?? '';
    const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(dl.suggestedFilename()).toBe(fileName);
    const path = await dl.path();
    const bytes = (await readFile(path)).length;
    const served = h.served.filter((s) => s.fileId === fileId).map((s) => s.bytes);
    expect(served.length).toBeGreaterThan(0);
    expect(served).toContain(bytes);
    expect(await sha256(path)).toBe(await sha256(source));
    expect(await result.locator('.size').textContent()).toBe(formatBytes(bytes));
  }

  /** The plan reply becomes the progress message: one bubble, edited in place through every step. */
  async function expectProgressInPlace(page: Page, fileName: string): Promise<void> {
    const plan = page.locator('li.msg.bot', { hasText: `Got it — ${fileName}` });
    await plan.waitFor({ timeout: 15_000 });
    const id = (await plan.getAttribute('data-id')) ?? '';
    const node = await plan.elementHandle();
    await expect
      .poll(async () => (await node?.textContent()) ?? '', { timeout: 15_000 })
      .toContain('✅ Done');
    // The very element first shown is the one that now says "Done" (replaced in place, not re-created).
    expect(await node?.evaluate((el: { isConnected: boolean }) => el.isConnected)).toBe(true);
    expect(await page.locator('li.msg', { hasText: `Got it — ${fileName}` }).count()).toBe(1);
    const seen = await history(page, id);
    const step = (needle: string): number => seen.findIndex((s) => s.text.includes(needle));
    expect(step('Got it —')).toBe(0);
    expect(step('▓▓░░░░░░░░ 20%')).toBeGreaterThan(0);
    expect(step('55%')).toBeGreaterThan(step('20%'));
    expect(step('90%')).toBeGreaterThan(step('55%'));
    expect(step('✅ Done')).toBeGreaterThan(step('90%'));
    // Cancel while it runs; the final edit (buttons: []) takes it away.
    expect(seen.slice(0, step('✅ Done')).map((s) => s.buttons)).toEqual(
      seen.slice(0, step('✅ Done')).map(() => 'Cancel'),
    );
    expect(seen.at(-1)?.buttons).toBe('');
    expect(await plan.locator('button').count()).toBe(0);
  }

  async function expectNoDuplicates(page: Page): Promise<void> {
    const ids = await page
      .locator('#messages li[data-id]')
      .evaluateAll((els: { dataset: Record<string, string | undefined> }[]) =>
        els.map((e) => e.dataset.id ?? ''),
      );
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
  }

  it('uploads two picked videos with tus, shows the plan, edits progress in place, downloads the result', async () => {
    const o = await open({ width: 390, height: 844 });
    const { page } = o;
    const mark = h.tus.length;

    await page.setInputFiles('#file-input', [clips.a, clips.big]);
    await expect.poll(() => page.locator('#uploads li.upload').count()).toBe(2);
    await waitUploaded(page, 2);

    // Per-file progress: the 9 MiB file showed a value between 0 and 100 (after its first chunk), both reached 100.
    const progress = await page.evaluate<[string, number][]>('window.__progress');
    const of = (name: string): number[] => progress.filter((p) => p[0] === name).map((p) => p[1]);
    expect(of('big.mp4').some((v) => v > 0 && v < 100)).toBe(true);
    expect(of('big.mp4').at(-1)).toBe(100);
    expect(of('a.mp4').at(-1)).toBe(100);
    expect(await page.locator('#uploads .upload-meta').allTextContents()).toEqual([
      expect.stringContaining('uploaded'),
      expect.stringContaining('uploaded'),
    ]);

    // The protocol: tus 1.0.0 creation with metadata, then 8 MiB PATCHes at the right offsets.
    const reqs: TusRequest[] = h.tus.slice(mark);
    for (const name of ['a.mp4', 'big.mp4']) {
      const create = reqs.find((r) => r.method === 'POST' && r.fileName === name);
      expect(create?.status).toBe(201);
      expect(create?.tusResumable).toBe('1.0.0');
      const meta = Object.fromEntries(
        (create?.uploadMetadata ?? '').split(',').map((kv): [string, string] => {
          const [k, v] = kv.split(' ');
          return [k ?? '', Buffer.from(v ?? '', 'base64').toString()];
        }),
      );
      expect(meta).toEqual({ filename: name, filetype: 'video/mp4' });
    }
    const patches = reqs.filter((r) => r.method === 'PATCH' && r.fileName === 'big.mp4');
    expect(patches.map((r) => [r.uploadOffset, r.bodyBytes, r.status])).toEqual([
      ['0', CHUNK, 204],
      [String(CHUNK), 1024 * 1024 + 123, 204],
    ]);
    expect(
      patches.every((r) => r.contentType === 'application/offset+octet-stream' && r.tusResumable === '1.0.0'),
    ).toBe(true);

    // Type the instruction; Enter sends it with both uploads.
    await page.locator('#text').fill('under 25MB');
    await page.locator('#text').press('Enter');
    const user = page.locator('li.msg.user', { hasText: 'under 25MB' });
    await user.waitFor();
    expect(await user.locator('.files li').allTextContents()).toEqual(['a.mp4', 'big.mp4']);
    expect(await page.locator('#text').inputValue()).toBe('');
    await expect.poll(() => page.locator('#uploads li').count()).toBe(0);
    const sent = h.handled.find((m) => m.text === 'under 25MB');
    expect(sent?.attachments.map((a) => [a.fileName, a.sizeBytes])).toEqual([
      ['a.mp4', (await readFile(clips.a)).length],
      ['big.mp4', CHUNK + 1024 * 1024 + 123],
    ]);

    await expectProgressInPlace(page, 'a.mp4');
    await expectProgressInPlace(page, 'big.mp4');

    // Results: the first has a before/after comparison, the second a plain preview; both a Download button.
    const resultA = page.locator('li.msg.result', { hasText: 'a-vidshrink.mp4' });
    await resultA.waitFor();
    expect(await resultA.locator('.text').textContent()).toContain('Quality: looks the same');
    expect(await resultA.locator('.compare video').count()).toBe(2);
    expect(
      await resultA
        .locator('.compare video')
        .evaluateAll((vs: { muted: boolean }[]) => vs.every((v) => v.muted)),
    ).toBe(true);
    const slider = resultA.locator('input[type="range"]');
    await slider.fill('20');
    const split = await resultA
      .locator('.compare-stage')
      .evaluate((s: { style: { getPropertyValue(name: string): string } }) =>
        s.style.getPropertyValue('--split'),
      );
    expect(split).toBe('20%');
    expect(await resultA.locator('button', { hasText: 'Smaller' }).count()).toBe(1);
    const resultBig = page.locator('li.msg.result', { hasText: 'big-vidshrink.mp4' });
    await resultBig.waitFor({ timeout: 15_000 });
    expect(await resultBig.locator('.compare').count()).toBe(0);
    expect(await resultBig.locator('video.preview').count()).toBe(1);

    await download(page, 'a-vidshrink.mp4', clips.a);
    await download(page, 'big-vidshrink.mp4', clips.big);
    await expectNoDuplicates(page);

    // Fits a phone: nothing wider than the viewport.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await resultA.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-390x844.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-1280x800.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-1280x800-dark.png') });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-390x844-dark.png') });

    await expectClean(o);
    await o.context.close();
  });

  it('takes videos dropped on the page and resumes an upload after the connection drops (HEAD, then PATCH on)', async () => {
    const o = await open({ width: 1280, height: 800 });
    const { page } = o;
    const mark = h.tus.length;
    h.flaky.add('flaky.mp4');
    const files = [
      { name: 'flaky.mp4', b64: (await readFile(clips.b)).toString('base64') },
      { name: 'dropped.mp4', b64: (await readFile(clips.a)).toString('base64') },
    ];
    const dataTransfer = await page.evaluateHandle(`(() => {
      const dt = new DataTransfer();
      for (const f of ${JSON.stringify(files)}) {
        const bin = atob(f.b64);
        const bytes = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
        dt.items.add(new File([bytes], f.name, { type: 'video/mp4' }));
      }
      return dt;
    })()`);
    await page.dispatchEvent('#chat', 'dragenter', { dataTransfer });
    expect(await page.locator('#drop-overlay').isVisible()).toBe(true);
    await page.dispatchEvent('#chat', 'drop', { dataTransfer });
    expect(await page.locator('#drop-overlay').isVisible()).toBe(false);
    await waitUploaded(page, 2);

    const flaky = h.tus.slice(mark).filter((r) => r.fileName === 'flaky.mp4');
    const size = (await readFile(clips.b)).length;
    const half = Math.floor(size / 2);
    // Chromium itself may resend a request whose reused connection died; that copy meets the moved offset (409).
    const resent = flaky.filter((r) => r.status === 409);
    expect(resent.length).toBeLessThanOrEqual(1);
    const steps = flaky.filter((r) => r.status !== 409);
    expect(steps.map((r) => [r.method, r.status, r.uploadOffset, r.bodyBytes])).toEqual([
      ['POST', 201, null, 0],
      ['PATCH', 0, '0', half], // half stored, then the connection died
      ['HEAD', 200, null, 0],
      ['PATCH', 204, String(half), size - half],
    ]);

    await page.locator('#text').fill('small enough for Discord');
    await page.locator('#send').click();
    await page.locator('li.msg.user', { hasText: 'small enough for Discord' }).waitFor();
    await expectProgressInPlace(page, 'flaky.mp4');
    await expectProgressInPlace(page, 'dropped.mp4');
    await page.locator('li.msg.result', { hasText: 'flaky-vidshrink.mp4' }).waitFor();
    await download(page, 'flaky-vidshrink.mp4', clips.b);
    await expectNoDuplicates(page);

    // The only error is the browser's own report of the PATCH that lost its connection.
    const dropped = (p: Problem): boolean => /\/u\//u.test(p.url) && /Failed to load resource/u.test(p.text);
    expect(o.problems.filter(dropped).length).toBeLessThanOrEqual(1);
    await expectClean(o, dropped);
    await o.context.close();
  });

  it('example chips fill the box, or send with waiting videos; buttons post; a reload replays the chat', async () => {
    const o = await open({ width: 390, height: 844 });
    const { page } = o;
    expect(await page.locator('.chip').allInnerTexts()).toEqual([
      'under 25MB',
      'small enough for Discord',
      'first 30 s, no sound, 720p',
      'without losing quality',
    ]);

    // Nothing waiting: a chip fills the box (focused, ready to edit or send).
    await page.locator('.chip', { hasText: 'small enough for Discord' }).click();
    expect(await page.locator('#text').inputValue()).toBe('small enough for Discord');
    expect(await page.evaluate('document.activeElement.id')).toBe('text');
    await page.locator('#text').press('Enter');
    await page.locator('li.msg.bot', { hasText: 'Noted: “small enough for Discord”' }).waitFor();

    // A video waiting: the chip sends it with the example.
    await page.setInputFiles('#file-input', [clips.b]);
    await waitUploaded(page, 1);
    await page.screenshot({ path: join(ARTIFACTS, 'web-chat-390x844-upload.png') });
    await page.locator('.chip', { hasText: 'first 30 s, no sound, 720p' }).click();
    const user = page.locator('li.msg.user', { hasText: 'first 30 s, no sound, 720p' });
    await user.waitFor();
    expect(await user.locator('.files li').allTextContents()).toEqual(['b.mp4']);
    expect(await page.locator('#text').inputValue()).toBe('');
    await expectProgressInPlace(page, 'b.mp4');

    const result = page.locator('li.msg.result', { hasText: 'b-vidshrink.mp4' });
    await result.waitFor();
    const pressed = h.buttons.length;
    await result.locator('button', { hasText: 'Smaller' }).click();
    await page.locator('li.msg.bot', { hasText: 'OK — making it smaller.' }).waitFor();
    const posted = h.buttons.slice(pressed);
    expect(posted.map((b) => b.action)).toEqual(['smaller']);
    expect(posted[0]?.jobId).toMatch(/^job-\d+-/u);

    // A reload replays the whole conversation from the server's log, once.
    const before = await page.locator('#messages li[data-id]').count();
    await page.reload();
    await expect.poll(() => page.locator('#messages li[data-id]').count()).toBe(before);
    await expectNoDuplicates(page);
    expect(await page.locator('li.msg.result', { hasText: 'b-vidshrink.mp4' }).count()).toBe(1);
    expect(await page.locator('li.msg', { hasText: 'Got it — b.mp4' }).textContent()).toContain('✅ Done');

    await expectClean(o);
    await o.context.close();
  });

  it('is labelled, keyboard operable and served under a strict CSP', async () => {
    const o = await open({ width: 1280, height: 800 });
    const { page } = o;
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.getAttribute('#messages', 'aria-live')).toBe('polite');
    expect(await page.getByLabel('Instruction').count()).toBe(1);
    const input = page.locator('#file-input');
    expect(await input.getAttribute('accept')).toBe('video/*');
    expect(await input.getAttribute('multiple')).not.toBeNull();

    // Tab reaches the chips, the file button, the text box and Send, in that order, with a visible focus ring.
    await page.locator('body').focus();
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate<string>(
          "document.activeElement.id || document.activeElement.getAttribute('data-text') || document.activeElement.tagName",
        ),
      );
      if (order.at(-1) === 'send') break;
    }
    expect(order).toEqual([
      'under 25MB',
      'small enough for Discord',
      'first 30 s, no sound, 720p',
      'without losing quality',
      'pick',
      'text',
      'send',
    ]);
    expect(await page.evaluate('getComputedStyle(document.activeElement).outlineStyle')).not.toBe('none');

    // Shift+Enter is a new line, not a send.
    await page.locator('#text').fill('first line');
    await page.locator('#text').press('Shift+Enter');
    expect(await page.locator('#text').inputValue()).toBe('first line\n');
    expect(await page.locator('li.msg.user').count()).toBe(0);

    // The CSP the server sends, and nothing inline in the page that it would block.
    const res = await page.request.get(`${h.url}/`);
    expect(res.headers()['content-security-policy']).toContain("default-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/<style|\sstyle=|<script(?![^>]*\bsrc=)|\son[a-z]+=/iu);
    expect(html).not.toMatch(/https?:\/\//u);

    await expectClean(o);
    await o.context.close();
  });
});
