/**
 * The dashboard in a real Chromium (Debian's package at /usr/bin/chromium, launched through playwright-core:
 * Playwright's own browser download cannot be reached here). Skips with a message when no browser is found,
 * unless BLASTWALL_REQUIRE_BROWSER=1 (or BLASTWALL_REQUIRE_SERVICES=1), which turns the skip into a failure.
 *
 * BLASTWALL_SCREENSHOTS=1 also writes docs/dashboard-normal.png and docs/dashboard-incident.png.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Browser, type Page, chromium } from 'playwright-core';
import { type ShopDashboard, TOKEN, startShopDashboard } from './shop-server.js';

// The page's globals, for the functions that run inside the browser (the project compiles without the DOM lib).
interface PageElement {
  textContent: string | null;
  getAttribute(name: string): string | null;
  submit(): void;
}
interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
}
declare const document: { getElementById(id: string): PageElement | null; querySelector(selector: string): PageElement | null; documentElement: { scrollWidth: number } };
declare const window: { marker?: number; innerWidth: number; axe: { run(context: unknown, options: unknown): Promise<AxeResult> } };

const CHROMIUM = process.env.BLASTWALL_CHROMIUM ?? '/usr/bin/chromium';
const REQUIRED = process.env.BLASTWALL_REQUIRE_BROWSER === '1' || process.env.BLASTWALL_REQUIRE_SERVICES === '1';
const found = existsSync(CHROMIUM);
if (!found && !REQUIRED) console.warn(`test/dashboard/browser.test.ts skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
const SHOTS = process.env.BLASTWALL_SCREENSHOTS === '1';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

describe.skipIf(!found && !REQUIRED)('dashboard in Chromium', () => {
  let browser: Browser;
  let dash: ShopDashboard;

  beforeAll(async () => {
    if (!found) throw new Error(`BLASTWALL_REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    // a fleet of two other instances as their heartbeats would tell it (the PostgreSQL side is fleetState's, tested with it)
    const fleet = [
      { instance: 'shop-b', service: 'shop', status: 'ok', mode: 'normal', dependencies: { payments: 'healthy' }, ageMs: 1200, gone: false },
      { instance: 'shop-c', service: 'shop', status: 'degraded', mode: 'normal', dependencies: { payments: 'degraded' }, ageMs: 42_000, gone: true },
    ];
    dash = await startShopDashboard({ token: TOKEN, maxRequests: 5000, fleet: () => Promise.resolve(fleet) });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await dash?.close();
  });

  async function open(options: { bypassCSP?: boolean; width?: number; height?: number } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: options.height ?? 800 }, bypassCSP: options.bypassCSP ?? false });
    const page = await context.newPage();
    await page.goto(dash.url);
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live');
    await page.waitForSelector('#dependency-list [data-dep="payments"]');
    return page;
  }

  it('shows capabilities first, then a fault arrives live (Server-Sent Events, no reload)', async () => {
    const page = await open();
    const headings = await page.locator('main h2').allTextContents();
    expect(headings[0]).toBe('Capabilities');
    await page.waitForSelector('#fleet:not([hidden])');
    expect(await page.locator('#fleet-list tbody tr').count()).toBe(2);
    expect(await page.locator('#fleet-list').textContent()).toMatch(/shop-c.*gone \(42\.0 s\)/);
    await page.waitForFunction(() => document.querySelector('[data-dep="payments"]')?.getAttribute('aria-label') === 'Dependency payments: healthy');
    if (SHOTS) {
      await page.waitForTimeout(2500); // a few sparkline samples
      await page.screenshot({ path: 'docs/dashboard-normal.png', fullPage: false });
    }
    await page.evaluate(() => (window.marker = 42));
    const fault = dash.shop.wall.faults.inject('payments', { kind: 'error' }, { for: '20s' });
    try {
      await page.waitForFunction(() => /Dependency payments: (unavailable|degraded|retrying)/.test(document.querySelector('[data-dep="payments"]')?.getAttribute('aria-label') ?? ''), undefined, { timeout: 15_000 });
      await page.waitForFunction(() => document.querySelector('#capability-list .card.s-down, #capability-list .card.s-limited') !== null, undefined, { timeout: 15_000 });
      // the same document: the change came over the event stream, not by reloading
      expect(await page.evaluate(() => window.marker)).toBe(42);
      expect(await page.locator('#timeline-list').textContent()).toMatch(/fault injected on payments/);
      if (SHOTS) {
        dash.shop.wall.declareIncident({ lead: 'ana (on call)', title: 'checkout failing: payments returns errors' });
        await page.waitForSelector('#incident:not([hidden])');
        await page.waitForTimeout(1500);
        await page.screenshot({ path: 'docs/dashboard-incident.png', fullPage: false });
      }
    } finally {
      fault.stop?.();
      dash.shop.wall.faults.clear();
    }
    await page.context().close();
  }, 60_000);

  it('an action with the token is applied and recorded; without it, and from another site, it is refused', async () => {
    const page = await open();
    await page.waitForSelector('#actions:not([hidden])');
    // with a wrong token: refused, nothing written
    await page.fill('#act-token', 'not-the-token-at-all-000');
    await page.fill('#act-by', 'ana');
    await page.fill('#form-note textarea[name="text"]', 'forged note');
    await page.click('#form-note button[type="submit"]');
    await page.waitForFunction(() => /Refused \(401\)/.test(document.getElementById('action-result')?.textContent ?? ''));
    // with the token: applied, and it arrives in the timeline on the page
    await page.fill('#act-token', TOKEN);
    await page.fill('#form-note textarea[name="text"]', 'rolled back the payments client');
    await page.click('#form-note button[type="submit"]');
    await page.waitForFunction(() => /Done: note/.test(document.getElementById('action-result')?.textContent ?? ''));
    await page.waitForFunction(() => /rolled back the payments client/.test(document.getElementById('timeline-list')?.textContent ?? ''), undefined, { timeout: 10_000 });
    dash.timeline.flush();
    const notes = dash.timeline.query({ kind: 'note' }).map((e) => e.title);
    expect(notes).toContain('rolled back the payments client');
    expect(notes).not.toContain('forged note');

    // a forged cross-site POST: a form on another origin (no custom header possible), and a fetch with the
    // token from another origin (needs a CORS preflight the dashboard never grants)
    const evil: Server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><title>evil</title><form id="f" method="POST" action="${dash.url}actions/mode" enctype="text/plain"><input name='{"mode":"shedding","reason":"x","by":"evil","p":"' value='"}'></form>`);
    });
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    try {
      const evilUrl = `http://localhost:${(evil.address() as AddressInfo).port}/`;
      const attacker = await browser.newPage();
      await attacker.goto(evilUrl);
      const fetched = await attacker.evaluate(async ([url, token]) => {
        try {
          const r = await fetch(`${url}actions/mode`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-blastwall-action': '1' },
            body: JSON.stringify({ mode: 'shedding', reason: 'x', by: 'evil' }),
          });
          return `status ${r.status}`;
        } catch {
          return 'blocked';
        }
      }, [dash.url, TOKEN] as const);
      expect(fetched).toBe('blocked');
      const [response] = await Promise.all([attacker.waitForNavigation(), attacker.evaluate(() => document.getElementById('f')!.submit())]);
      expect(response?.status()).toBe(401); // no token: a browser form cannot send one (nor the action header)
      await attacker.close();
    } finally {
      evil.closeAllConnections();
      await new Promise<void>((r) => evil.close(() => r()));
    }
    expect(dash.shop.wall.mode).toBe('normal');
    dash.timeline.flush();
    expect(dash.timeline.query({ kind: 'mode' }).filter((e) => e.title.includes('evil'))).toEqual([]);
    await page.context().close();
  }, 60_000);

  for (const [name, width, height] of [
    ['1280×800', 1280, 800],
    ['a phone (390×844)', 390, 844],
  ] as const) {
    it(`passes axe-core with no serious or critical violations at ${name}`, async () => {
      const page = await open({ bypassCSP: true, width, height });
      const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
      await page.addScriptTag({ content: axe });
      const result = await page.evaluate(async () => {
        const r = await window.axe.run(document, {
          runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
        });
        return r.violations.map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
      });
      const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
      expect(bad).toEqual([]);
      // nothing wider than the viewport (readable without sideways scrolling)
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(1);
      await page.context().close();
    }, 60_000);
  }
});
