// The web chat against the REAL service with VIDSHRINK_BACKEND=nemo (issue #6 "Tests": upload, instruction,
// heartbeat edits, state summary when no text, export, download, reply), in Debian's Chromium with playwright-core.
// startService() runs with a temp data dir and the NemoVideo client pointed at the protocol-faithful fake on loopback
// (test/fakes/nemovideo.ts). Turn 1 drops a clip with "under 2MB" (fake scenario 'slow': heartbeats, agent text with
// GUI talk, an edit); turn 2 says "now 240p" on the same video (scenario 'silent': no agent text at all), so the
// person must get the timeline/change summary instead. Both results are downloaded through the browser.
// Browser-side snippets are strings: the project's TypeScript has no DOM lib.
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';
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
} from './browser.js';
import { startService, type Service } from '../../src/apps/service.js';
import { loadNemoConfig } from '../../src/config/nemo.js';
import { loadServiceConfig } from '../../src/config/service.js';
import { formatBytes } from '../../src/domain/units.js';
import { probe } from '../../src/media/ffprobe.js';
import { noisyClip } from '../fixtures/generate.js';
import { startFakeNemo, TURN_TEXT, type FakeNemo } from '../fakes/nemovideo.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS = join(ROOT, 'test-artifacts');
const CAP = 2_000_000;
const FIRST = 'under 2MB';
const SECOND = 'now 240p';
const CLIP_NAME = 'beach.mp4';
const RESULT_NAME = 'beach-vidshrink.mp4';
/**
 * The web port edits a progress message at most every 500 ms, latest state wins. A "⏳ Still working" state shorter
 * than that can be overwritten before it is ever shown, so the fake's heartbeats are spaced so the state lasts about
 * a second ('slow' = 4 + 2 beats; "Still working" from the first beat to the render stage), and the render is polled
 * every 0.3 s (4 polls at least) so the render's percentage is on screen for longer than one edit interval too.
 */
const HEARTBEAT_MS = 200;
const POLL_SECONDS = '0.3';

if (!HAS_CHROMIUM) {
  console.warn(
    `[nemo-e2e] SKIPPED the web chat end-to-end test against the NemoVideo backend: ${CHROMIUM} is missing. ` +
      "Install Debian's Chromium (apt-get install -y --no-install-recommends chromium) to run it; " +
      '`npx playwright install` is not used.',
  );
}

type Seen = { text: string; buttons: string }[];

describe.skipIf(!HAS_CHROMIUM)(`web chat on the NemoVideo backend in Chromium (${CHROMIUM})`, () => {
  let dir = '';
  let clip = '';
  let fake: FakeNemo;
  let svc: Service;
  let browser: Browser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vidshrink-nemo-e2e-'));
    await mkdir(ARTIFACTS, { recursive: true });
    // A tiny noisy clip (480×270, 2 s, ~2.9 MB: just over the 2 MB cap, so the plan has real work to describe),
    // copied under the name the page should show.
    clip = join(dir, CLIP_NAME);
    await copyFile(noisyClip('nemo-e2e-480x270.mp4', 480, 270, 2), clip);
    fake = await startFakeNemo({ heartbeatMs: HEARTBEAT_MS, renderPolls: 3 });
    const cfg = loadServiceConfig({
      VIDSHRINK_DATA_DIR: join(dir, 'data'),
      VIDSHRINK_PORT: '0',
      VIDSHRINK_BACKEND: 'nemo',
      LOG_LEVEL: 'silent',
      VIDSHRINK_RATE_PER_MINUTE: '100',
    });
    const config = loadNemoConfig({
      NEMO_API_BASE: fake.url,
      NEMO_POLL_SECONDS: POLL_SECONDS,
      NEMO_RETRY_AFTER_SECONDS: '0',
    });
    svc = await startService(cfg, { listenPort: 0, nemo: { config, recoveryPollMs: 50 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await svc?.close();
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const history = (page: Page, id: string): Promise<Seen> =>
    page.evaluate(`window.__texts[${JSON.stringify(id)}] ?? []`);
  const allHistories = (page: Page): Promise<Record<string, Seen>> => page.evaluate('window.__texts');

  async function say(page: Page, text: string): Promise<void> {
    await page.locator('#text').fill(text);
    await page.locator('#text').press('Enter');
    await page.locator('li.msg.user', { hasText: text }).waitFor();
  }

  /**
   * The n-th plan reply ("Got it — beach.mp4: …") is the job's progress message: waits until it says Done and returns
   * every text it showed on the way.
   */
  async function progressOf(page: Page, n: number): Promise<{ id: string; seen: Seen }> {
    const plan = page.locator('li.msg.bot', { hasText: `Got it — ${CLIP_NAME}` }).nth(n);
    await plan.waitFor({ timeout: 20_000 });
    expect(await plan.locator('.text').textContent()).toContain(`≤ ${formatBytes(CAP)}`);
    const id = (await plan.getAttribute('data-id')) ?? '';
    await expect
      .poll(async () => (await plan.locator('.text').textContent()) ?? '', { timeout: 60_000, interval: 200 })
      .toMatch(/✅ Done|❌/u);
    const seen = await history(page, id);
    expect(seen.at(-1)?.text, `job ${n + 1} failed: ${seen.at(-1)?.text}`).toContain('✅ Done');
    return { id, seen };
  }

  /** Downloads a result bubble's file through the browser and checks it is the service's stored output. */
  async function download(result: Locator): Promise<{ path: string; bytes: number }> {
    const link = result.locator('a.download');
    expect(await link.getAttribute('download')).toBe(RESULT_NAME);
    const href = (await link.getAttribute('href')) ?? '';
    expect(href.startsWith(`${svc.url ?? ''}/d/`)).toBe(true);
    const page = result.page();
    const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
    expect(dl.suggestedFilename()).toBe(RESULT_NAME);
    const path = await dl.path();
    const bytes = (await readFile(path)).length;
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThanOrEqual(CAP);
    expect(await result.locator('.size').textContent()).toBe(formatBytes(bytes));
    // Byte for byte the stored output the signed link names (`base64url(JSON).signature`, JSON {i: file, s: session}).
    const token = new URL(href).pathname.split('/').pop() ?? '';
    const wire = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
      i: string;
      s: string;
    };
    const stored = svc.repo.file(wire.i, wire.s);
    expect(stored?.sizeBytes).toBe(bytes);
    expect(await sha256(path)).toBe(await sha256(stored?.path ?? ''));
    return { path, bytes };
  }

  it('drop + "under 2MB": plan, heartbeats, agent text without GUI talk, render, download; then "now 240p": change summary and result', async () => {
    // Turn 1 has heartbeats before and during the agent's work; turn 2 ends without any agent text.
    fake.scenario('slow', 'silent');
    const o = await openRecorded(browser, { width: 390, height: 844 });
    const { page } = o;
    await page.goto(`${svc.url ?? ''}/`);
    await page.evaluate(RECORD_BUBBLE_CHANGES);
    await expect.poll(() => page.getAttribute('#conn', 'data-state'), { timeout: 10_000 }).toBe('live');

    // ---- Turn 1: upload + instruction.
    await dropFiles(page, [clip]);
    await expect
      .poll(() => page.locator('#uploads li.upload[data-state="done"]').count(), { timeout: 30_000 })
      .toBe(1);
    await say(page, FIRST);
    const turn1 = await progressOf(page, 0);
    const t1 = turn1.seen.map((s) => s.text);
    expect(t1[0]).toMatch(/^Got it — beach\.mp4: 2\.87 MB, /u);
    // The cloud stages, in the one progress bubble, edited in place (latest state wins every 500 ms, so only the
    // states that last longer than that are certain to be seen: the agent's turn and the render).
    expect(t1.every((t) => t.startsWith(t1[0] ?? '\u0000'))).toBe(true);
    // The heartbeats during the agent's turn: "⏳ Still working..." at least once.
    expect(t1.some((t) => t.includes('⏳ Still working... (the cloud editor is working)'))).toBe(true);
    // The export's percentage from the render polls.
    expect(t1.some((t) => /Rendering in the cloud\n[▓░]{10} \d+%/u.test(t))).toBe(true);
    // Cancel while it runs, no buttons once done.
    expect(turn1.seen.slice(0, -1).every((s) => s.buttons === 'Cancel')).toBe(true);
    expect(turn1.seen.at(-1)?.buttons).toBe('');

    // The agent's words are their own bubbles (not edits of the progress message), with the GUI talk taken out:
    // "Done! I compressed X aiming for under 2.0 MB. You can preview it in the timeline. Click the Export button to
    // download your video." keeps only its first sentence; "preview it in the timeline" becomes the track summary.
    const ack = page.locator('li.msg.bot', { hasText: TURN_TEXT.ack });
    await ack.waitFor({ timeout: 10_000 });
    expect(await ack.getAttribute('data-id')).not.toBe(turn1.id);
    const reply = page.locator('li.msg.bot', { hasText: 'Done! I compressed' });
    await reply.waitFor({ timeout: 10_000 });
    expect(await reply.locator('.text').textContent()).toMatch(
      /^Done! I compressed beach\.mp4 aiming for under 2\.0 MB\.$/u,
    );
    expect(await page.locator('li.msg.bot', { hasText: /^Timeline \(1 track\): 1\. Video: / }).count()).toBe(
      1,
    );

    const result1 = page.locator('li.msg.result').nth(0);
    await result1.waitFor({ timeout: 20_000 });
    const caption1 = (await result1.locator('.text').textContent()) ?? '';
    expect(caption1).toMatch(/^✅ 2\.87 MB → .* \(−\d+%\)/u);
    expect(caption1).toContain(`Under your ${formatBytes(CAP)} limit.`);
    const out1 = await download(result1);
    const info1 = await probe(out1.path);
    expect(info1.container).toBe('mp4');
    expect(info1.video?.codec).toBe('h264');
    expect(info1.video?.displayWidth).toBe(480);
    expect(info1.video?.displayHeight).toBe(270);
    expect(Math.abs(info1.durationSec - 2)).toBeLessThan(0.25);

    // ---- Turn 2: a follow-up on the same video; the cloud turn ends without text.
    await say(page, SECOND);
    const turn2 = await progressOf(page, 1);
    expect(turn2.id).not.toBe(turn1.id);
    // No text from the agent, so the person is told what changed and what the timeline now holds.
    const summary = page.locator('li.msg.bot', { hasText: 'Changed: ' });
    await summary.waitFor({ timeout: 10_000 });
    const summaryText = (await summary.locator('.text').textContent()) ?? '';
    expect(summaryText).toMatch(
      /^Changed: resolution 480×270 → 426×240\.\nTimeline \(1 track\): 1\. Video: /u,
    );
    // …as its own bubble, before the result.
    expect(await summary.getAttribute('data-id')).not.toBe(turn2.id);
    const result2 = page.locator('li.msg.result').nth(1);
    await result2.waitFor({ timeout: 20_000 });
    const order = await page
      .locator('#messages li[data-id]')
      .evaluateAll((els: { dataset: Record<string, string | undefined> }[]) => els.map((e) => e.dataset.id));
    const summaryId = (await summary.getAttribute('data-id')) ?? '';
    const result2Id = (await result2.getAttribute('data-id')) ?? '';
    expect(order.indexOf(summaryId)).toBeLessThan(order.indexOf(result2Id));
    const out2 = await download(result2);
    const info2 = await probe(out2.path);
    expect(info2.video?.codec).toBe('h264');
    // The cloud's edit took effect: the second render is 240p.
    expect(info2.video?.displayHeight).toBe(240);
    expect(Math.abs(info2.durationSec - 2)).toBeLessThan(0.25);
    expect(await sha256(out2.path)).not.toBe(await sha256(out1.path));

    // ---- What went over the wire to NemoVideo.
    const api = fake.requests.filter((r) => r.route !== 'cdn' && r.route !== 'renderResult');
    // One anonymous token for the whole chat.
    expect(fake.requests.filter((r) => r.route === 'token')).toHaveLength(1);
    const tokens = fake.tokens();
    expect(tokens).toHaveLength(1);
    const bearer = tokens[0]?.token ?? '';
    expect(bearer).toMatch(/^nmv_usr_/u);
    // One cloud session, reused by both turns.
    expect(fake.requests.filter((r) => r.route === 'session')).toHaveLength(1);
    const sessions = fake.sessions();
    expect(sessions).toHaveLength(1);
    const runs = fake.requests.filter((r) => r.route === 'sse');
    expect(runs).toHaveLength(2);
    const sid = (r: (typeof runs)[number]): unknown => (r.json as { session_id?: unknown }).session_id;
    expect(runs.map(sid)).toEqual([sessions[0]?.sessionId, sessions[0]?.sessionId]);
    // The person's own words reach the agent.
    const words = (r: (typeof runs)[number]): string =>
      JSON.stringify((r.json as { new_message?: unknown }).new_message);
    expect(words(runs[0] as (typeof runs)[number])).toContain(FIRST);
    expect(words(runs[1] as (typeof runs)[number])).toContain(SECOND);
    // Two exports, each polled to completion.
    expect(fake.requests.filter((r) => r.route === 'render')).toHaveLength(2);
    expect(fake.renders().map((r) => r.status)).toEqual(['completed', 'completed']);
    // Attribution headers on every API call (missing ones cause auth failures or export 402, §4.2).
    for (const r of api) {
      expect(r.headers['x-skill-source'], `${r.method} ${r.path}`).toBeTruthy();
      expect(r.headers['x-skill-version'], `${r.method} ${r.path}`).toBeTruthy();
      expect(r.headers['x-skill-platform'], `${r.method} ${r.path}`).toBeTruthy();
    }
    // Every authenticated call used the one token; the public CDN / render-result URLs never got it.
    for (const r of api.filter((x) => x.route !== 'token')) {
      expect(r.headers.authorization, `${r.method} ${r.path}`).toBe(`Bearer ${bearer}`);
    }
    for (const r of fake.requests.filter((x) => x.route === 'cdn' || x.route === 'renderResult')) {
      expect(r.headers.authorization, `${r.method} ${r.path}`).toBeUndefined();
    }

    // ---- What the person saw.
    const histories = await allHistories(page);
    const everything = Object.values(histories).flatMap((seen) => seen.map((s) => s.text));
    expect(everything.length).toBeGreaterThan(0);
    const html = await page.content();
    // The token never reaches the page: not in any bubble at any moment, not in the final DOM (links included).
    expect(everything.filter((t) => t.includes(bearer))).toEqual([]);
    expect(html.includes(bearer)).toBe(false);
    // No GUI talk from the agent in any bubble, ever (the chat has no buttons, panels or timeline to click).
    const gui = everything.filter((t) => /\bclick\b|export button|preview it in the timeline/iu.test(t));
    expect(gui).toEqual([]);
    // No message twice (edits update bubbles in place).
    const ids = await page
      .locator('#messages li[data-id]')
      .evaluateAll((els: { dataset: Record<string, string | undefined> }[]) =>
        els.map((e) => e.dataset.id ?? ''),
      );
    expect(new Set(ids).size).toBe(ids.length);

    // Screenshot of the finished chat, from the change summary down.
    await page.evaluate(`(() => {
      const chat = document.getElementById('chat');
      const target = [...document.querySelectorAll('li.msg.bot')].find((li) => li.textContent.includes('Changed: '));
      const top = Math.max(chat.getBoundingClientRect().top, document.querySelector('header').getBoundingClientRect().bottom);
      chat.scrollTop += target.getBoundingClientRect().top - top - 8;
      window.scrollTo(0, 0);
    })()`);
    await page.screenshot({ path: join(ARTIFACTS, 'nemo-e2e-390x844.png') });

    // No console errors, uncaught exceptions or CSP violations.
    expect(await cspViolations(page)).toEqual([]);
    expect(o.problems).toEqual([]);
    await o.context.close();
  }, 90_000);
});
