// Shared by the browser tests: Debian's Chromium through playwright-core (`npx playwright install` cannot work here)
// and a page that records console errors, uncaught exceptions and CSP violations.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface Problem {
  text: string;
  url: string;
}

export interface Opened {
  context: BrowserContext;
  page: Page;
  problems: Problem[];
}

/** Records CSP violations (init scripts run before the page's own, outside its CSP). */
const RECORD_CSP = `
  window.__csp = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__csp.push(e.violatedDirective + ' ' + e.blockedURI);
  });
`;

/** A fresh context (its own cookies = its own chat) whose page records every console error and CSP violation. */
export async function openRecorded(
  browser: Browser,
  viewport: { width: number; height: number },
): Promise<Opened> {
  const context = await browser.newContext({ viewport, acceptDownloads: true });
  await context.addInitScript(RECORD_CSP);
  const page = await context.newPage();
  const problems: Problem[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || /Content Security Policy/iu.test(m.text())) {
      problems.push({ text: m.text(), url: m.location().url });
    }
  });
  page.on('pageerror', (e) => problems.push({ text: `uncaught: ${e.message}`, url: '' }));
  return { context, page, problems };
}

/** CSP violations the page recorded. */
export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate<string[]>('window.__csp');
}

export async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * A page script recording every text each chat bubble (by data-id) shows, with its buttons, in order
 * (`window.__texts[id]`); `extra` adds more to record on each change, `init` sets up its store.
 */
export function recordBubbleChanges(extra = '', init = ''): string {
  return `
  window.__texts = {};
  ${init}
  const snap = () => {
    for (const li of document.querySelectorAll('#messages li[data-id]')) {
      const text = li.querySelector('.text')?.textContent ?? '';
      const buttons = [...li.querySelectorAll('.actions button')].map((b) => b.textContent).join(',');
      const seen = (window.__texts[li.dataset.id] ??= []);
      const last = seen[seen.length - 1];
      if (!last || last.text !== text || last.buttons !== buttons) seen.push({ text, buttons });
    }
    ${extra}
  };
  new MutationObserver(snap).observe(document.body, {
    subtree: true, childList: true, characterData: true, attributes: true,
  });
`;
}

export const RECORD_BUBBLE_CHANGES = recordBubbleChanges();

/**
 * Drops local files on the chat as a user would: a DataTransfer of real File objects, dragenter then drop.
 * `between` runs after dragenter (to look at the drop overlay). Chromium reads the files from disk through a scratch
 * file input; the page's own input is not touched.
 */
export async function dropFiles(page: Page, paths: string[], between?: () => Promise<void>): Promise<void> {
  await page.evaluate(`(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.multiple = true;
    input.id = 'e2e-drop-source';
    input.hidden = true;
    document.body.append(input);
  })()`);
  await page.setInputFiles('#e2e-drop-source', paths);
  const dataTransfer = await page.evaluateHandle(`(() => {
    const input = document.getElementById('e2e-drop-source');
    const dt = new DataTransfer();
    for (const f of input.files) dt.items.add(f);
    input.remove();
    return dt;
  })()`);
  await page.dispatchEvent('#chat', 'dragenter', { dataTransfer });
  await between?.();
  await page.dispatchEvent('#chat', 'drop', { dataTransfer });
}
