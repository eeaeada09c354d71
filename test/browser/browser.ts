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
