import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack.js';

/**
 * The dashboard in Debian's chromium (installed by the test bootstrap) against a stack started as
 * `npm start` starts it: what a person sees is checked against what the API answers.
 * Screenshots of each page land in tests/e2e/screenshots/ (not committed).
 */
const SHOTS = join(import.meta.dirname, '..', 'screenshots');
const EXAMPLE_CSV = join(import.meta.dirname, '..', '..', '..', 'scripts', 'examples', 'sales.csv');

const ZONE = 'Pacific/Kiritimati';
let stack: Stack;
let browser: Browser;
const problems: string[] = [];

const sale = (id: string, region: string, total: string, date = '2026-01-15') => ({
  id,
  date,
  user_id: 1,
  product_name: region === 'EU' ? 'Desk' : 'Laptop',
  quantity: 1,
  unit_price: total,
  total_amount: total,
  region,
});

async function post(body: unknown, key = stack.keys.ingest) {
  const res = await fetch(`${stack.base}/v1/sales/batches?wait=true`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(202);
}

async function summary(query: string) {
  const res = await fetch(`${stack.base}/v1/sales/summary?${query}`, {
    headers: { authorization: `Bearer ${stack.keys.operator}` },
  });
  return res.json() as Promise<{
    totals: { count: number; revenue: string };
    rows: { key: string; revenue: string }[];
  }>;
}

const money = (d: string) => {
  const [w = '0', f = '00'] = d.split('.');
  return `${w.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${f}`;
};

async function newPage(width = 1280, height = 900): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

async function signIn(page: Page, key: string) {
  await page.goto(`${stack.base}/`);
  await page.getByLabel('Operator API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

const kpi = (page: Page, label: string) => page.locator(`[data-kpi="${label}"]`);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  // A business zone 14 hours from UTC: "today" differs from UTC's for most of the day.
  stack = await startStack({ env: { DASHBOARD_TZ: ZONE } });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  await post([sale('D-1', 'EU', '100.10'), sale('D-2', 'EU', '50.00'), sale('D-3', 'NA', '999.99')]);
  await post([{ ...sale('D-4', 'EU', '1.00'), date: '2026-02-30' }]); // quarantined: no such day
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.cleanup();
});

describe('the dashboard in a browser', () => {
  it('refuses no key, a wrong key and an ingest key, saying why', async () => {
    const page = await newPage();
    await page.goto(`${stack.base}/`);
    await expect.poll(() => page.getByLabel('Operator API key').isVisible()).toBe(true);
    await signIn(page, 'not-a-key');
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/not a valid API key/);
    await signIn(page, stack.keys.ingest);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/ingest key/);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    const api = await fetch(`${stack.base}/v1/sales/analytics?from=2026-01-01&to=2026-01-31`);
    expect(api.status).toBe(401);
    await page.close();
  });

  it('signs in; the KPIs and the regions equal the summary API; a filter changes them; a commit shows without reload', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/sales?from=2026-01-01&to=2026-01-31&bucket=day`);
    const all = await summary('groupBy=region&from=2026-01-01&to=2026-01-31');
    await expect.poll(() => kpi(page, 'Revenue').textContent()).toBe(money(all.totals.revenue));
    expect(await kpi(page, 'Orders').textContent()).toBe(String(all.totals.count));
    const regionCell = (r: string) =>
      page.locator('section', { hasText: 'By region' }).getByRole('row', { name: new RegExp(`^${r}`) });
    for (const row of all.rows)
      await expect.poll(() => regionCell(row.key).textContent()).toContain(money(row.revenue));
    await page.screenshot({ path: join(SHOTS, 'sales.png'), fullPage: true });

    // The region filter: every figure obeys it.
    await page.getByLabel('Region').fill('EU');
    await page.getByRole('button', { name: 'Apply' }).click();
    const eu = all.rows.find((r) => r.key === 'EU')!;
    await expect.poll(() => kpi(page, 'Revenue').textContent()).toBe(money(eu.revenue));
    expect(page.url()).toContain('region=EU');

    // Live: a batch committed elsewhere shows within seconds, no reload.
    const before = await kpi(page, 'Orders').textContent();
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    await post([sale('D-5', 'EU', '10.00')]);
    await expect
      .poll(() => kpi(page, 'Orders').textContent(), { timeout: 10_000 })
      .toBe(String(Number(before) + 1));
    expect(navigations).toEqual([]);
    const after = await summary('groupBy=region&from=2026-01-01&to=2026-01-31');
    expect(await kpi(page, 'Revenue').textContent()).toBe(
      money(after.rows.find((r) => r.key === 'EU')!.revenue),
    );
    await page.close();
  });

  it('opens on the last 30 days up to today in the business time zone, and names the zone', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/sales`);
    const dayIn = (instant: Date) =>
      new Intl.DateTimeFormat('en-CA', {
        timeZone: ZONE,
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
      }).format(instant);
    const today = dayIn(new Date());
    const from = new Date(Date.parse(`${today}T00:00:00Z`) - 29 * 86_400_000).toISOString().slice(0, 10);
    await expect.poll(() => page.getByLabel('To').inputValue()).toBe(today);
    expect(await page.getByLabel('From').inputValue()).toBe(from);
    await expect.poll(() => page.locator('header .zone').textContent()).toBe(ZONE);
    await expect.poll(() => page.locator('.period').textContent()).toContain(`days in ${ZONE}`);
    // A period the api refuses: its reason, once, and no figures of the page before under it.
    await page.goto(`${stack.base}/#/sales?from=2000-01-01&to=2026-12-31`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/at most ten years/);
    expect((await page.getByRole('alert').textContent())?.match(/at most ten years/g)).toHaveLength(1);
    expect(await kpi(page, 'Revenue').count()).toBe(0);
    await page.close();
  });

  it('drills down from a region to its rows, and from a row to the batch it came from', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/sales?from=2026-01-01&to=2026-01-31&bucket=day`);
    const na = page.locator('section', { hasText: 'By region' }).getByRole('row', { name: /^NA/ });
    await na.getByRole('link', { name: '1', exact: true }).click();
    await expect.poll(() => page.locator('table.rows tbody tr').count()).toBe(1);
    expect(page.url()).toMatch(/#\/rows\?.*region=NA/);
    const row = page.locator('table.rows tbody tr').first();
    expect(await row.textContent()).toContain('999.99');
    await page.screenshot({ path: join(SHOTS, 'rows.png'), fullPage: true });
    await row.getByRole('link').click();
    const origin = page.getByRole('region', { name: 'Where the batch came from' });
    await expect.poll(() => origin.textContent()).toMatch(/A batch POSTed by \S+/);
    expect(await origin.textContent()).toMatch(/3 received, 3 stored, 0 quarantined/);
    await page.close();
  });

  it('the live ingest panel counts a commit per source and shows the queue depths, without reload', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/operations`);
    const panel = page.getByRole('region', { name: 'Live ingest' });
    await expect
      .poll(() => panel.getByRole('table', { name: 'Queue depths' }).textContent())
      .toMatch(/ingest/);
    await expect.poll(() => panel.textContent()).toMatch(/^Live ingest\s*Live:/);
    await post([
      sale('L-1', 'EU', '5.00'),
      sale('L-2', 'NA', '6.00'),
      { ...sale('L-3', 'EU', '1.00'), date: '2026-02-30' },
    ]);
    const perSource = panel.getByRole('table', { name: 'Committed per source' });
    await expect
      .poll(() => perSource.getByRole('row').nth(1).textContent(), { timeout: 10_000 })
      .toMatch(/^\S+21$/);
    await page.screenshot({ path: join(SHOTS, 'operations-live.png'), fullPage: true });
    await page.close();
  });

  it('the quarantine shows a rejected record with its reasons and raw form', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/quarantine`);
    await expect
      .poll(() => page.locator('table.rejects').textContent())
      .toMatch(/date must be a calendar date YYYY-MM-DD/);
    await page.getByRole('button', { name: 'Show the raw record' }).first().click();
    await expect.poll(() => page.locator('tr.raw pre').first().textContent()).toContain('2026-02-30');
    await page.screenshot({ path: join(SHOTS, 'quarantine.png'), fullPage: true });
    await page.close();
  });

  it('uploads a CSV from the page and shows its result; then signs out', async () => {
    const page = await newPage();
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/operations`);
    await page.getByLabel('Import a sales CSV').setInputFiles(EXAMPLE_CSV);
    await expect
      .poll(() => page.getByRole('status').first().textContent(), { timeout: 30_000 })
      .toMatch(/CSV import of sales\.csv done: 5 read, 4 stored, 1 rejected/);
    await expect
      .poll(() => page.locator('section', { hasText: 'Recent jobs' }).getByRole('table').textContent())
      .toMatch(/sales-sync/);
    await page.screenshot({ path: join(SHOTS, 'operations.png'), fullPage: true });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(() => page.getByLabel('Operator API key').isVisible()).toBe(true);
    const status = await page.evaluate(async () => (await fetch('/v1/schedules')).status);
    expect(status).toBe(401);
    await page.close();
  });

  it("works at a phone's width", async () => {
    const page = await newPage(390, 844);
    await signIn(page, stack.keys.operator);
    await page.goto(`${stack.base}/#/sales?from=2026-01-01&to=2026-01-31`);
    // The figures are the linked period's, not the default one the sign-in page asked for first.
    await expect
      .poll(() => page.locator('.period').textContent())
      .toMatch(/^2026-01-01 to 2026-01-31 against/);
    await expect.poll(() => kpi(page, 'Orders').textContent()).not.toBe('0');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(SHOTS, 'sales-phone.png'), fullPage: true });
    await page.close();
  });

  it('logged no console error on any page', () => {
    // Only the refusals the tests provoke on purpose (no key, an ingest key, a ten-year period),
    // which the browser logs as failed loads.
    expect(
      problems.filter((p) => !/400 \(Bad Request\)|401 \(Unauthorized\)|403 \(Forbidden\)/.test(p)),
    ).toEqual([]);
  });
});
