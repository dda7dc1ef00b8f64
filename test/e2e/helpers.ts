/**
 * End-to-end helpers: Debian's Chromium driven by playwright-core (never a downloaded browser), an
 * Entra stand-in started in this process, and the real app on the local host.
 *
 * The stand-in serves HTTPS with a certificate from the local CA, which Chromium does not trust. We
 * do not turn certificate checks off: Chromium gets `--ignore-certificate-errors-spki-list` with the
 * SHA-256 of exactly the stand-in's leaf key (`serverCertificate()` is cached per process, so it is
 * the very certificate the stand-in serves).
 */
import { createHash, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { repoRoot, serverCertificate } from '../../scripts/standins/ca.ts';
import { demoTenant, type EntraStandIn, startEntraStandIn } from '../../scripts/standins/entra.ts';
import { startTestApp, type TestApp } from '../helpers/stack.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const OUTPUT_DIR = path.join(repoRoot, 'test-output', 'e2e');

/** base64(SHA-256(SubjectPublicKeyInfo)) of the stand-in's leaf certificate. */
export function standInSpkiHash(): string {
  const leaf = new X509Certificate(serverCertificate().cert);
  const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${standInSpkiHash()}`,
    ],
  });
}

export interface E2eStack {
  standIn: EntraStandIn;
  app: TestApp;
  browser: Browser;
  close(): Promise<void>;
}

/** Entra stand-in (this process), the app pointed at it, and Chromium. */
export async function startE2eStack(): Promise<E2eStack> {
  const standIn = await startEntraStandIn({ tenants: [demoTenant()] });
  const closers: (() => Promise<void>)[] = [standIn.close];
  try {
    const app = await startTestApp({ env: { BROKER_ENTRA_PUBLIC_AUTHORITY_HOST: standIn.host } });
    closers.push(app.close);
    const browser = await launchChromium();
    closers.push(() => browser.close());
    return {
      standIn,
      app,
      browser,
      close: async () => {
        await Promise.allSettled(closers.reverse().map((c) => c()));
      },
    };
  } catch (err) {
    await Promise.allSettled(closers.reverse().map((c) => c()));
    throw err;
  }
}

/** A fresh browser profile (own cookies), phone-sized or desktop. */
export async function newPage(
  browser: Browser,
  opts: { phone?: boolean; bypassCSP?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({
    ...(opts.phone
      ? { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true }
      : { viewport: { width: 1024, height: 768 } }),
    // Only for calling the API with fetch() from a broker page, whose CSP (rightly) forbids it.
    ...(opts.bypassCSP ? { bypassCSP: true } : {}),
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const file = path.join(OUTPUT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Every visible form control has an accessible label (a <label for>, a wrapping <label> or aria-label). */
export async function unlabelledInputs(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      const input = el as HTMLInputElement;
      if (input.type === 'hidden') continue;
      const labelled =
        (input.labels && input.labels.length > 0) ||
        !!input.getAttribute('aria-label') ||
        !!input.getAttribute('aria-labelledby');
      if (!labelled) out.push(input.name || input.id || input.outerHTML.slice(0, 60));
    }
    return out;
  });
}

/** The ids an element's aria-describedby points at that exist, with their text. */
export async function describedBy(page: Page, selector: string): Promise<string[]> {
  return page.$eval(selector, (el) =>
    (el.getAttribute('aria-describedby') ?? '')
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent?.trim() ?? `(missing #${id})`),
  );
}

/** Signs in at the Entra stand-in's form (any password), screenshotting it first when asked. */
export async function standInLogin(page: Page, account: string, shot?: string): Promise<void> {
  await page.waitForSelector('input[name=login]');
  if (shot) await screenshot(page, shot);
  await page.fill('input[name=login]', account);
  await page.fill('input[name=password]', 'any password');
  await page.click('button[type=submit]');
  await brokerPage(page);
}

/** Waits until the browser shows one of the broker's pages (through any redirects). */
export async function brokerPage(page: Page): Promise<void> {
  await page.waitForSelector('main > p.product');
  await page.waitForLoadState('load');
}

const AXE = readFileSync(path.join(repoRoot, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

/** axe-core's serious and critical findings in the page (run through DevTools, the page's CSP stays on). */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: {
        run(): Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }>;
      };
    };
    const result = await w.axe.run();
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.targets.slice(0, 3).join(', ')}`);
}
