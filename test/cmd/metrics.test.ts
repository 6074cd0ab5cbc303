/**
 * /metrics as an SRE scrapes it: every series the dashboards need is there, and after the examples are
 * ingested its counters say what the input holds and what the database holds: the sessions, stages and
 * matching lines the example audit logs contain (worked out by the pure audit domain), the KubeArmor
 * events stored, and the links the example world's truth says correlation must make; then the tables
 * themselves are counted. (Comparing /metrics with the processor's own summary line could not fail: both
 * read the same counters.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { mergeStages } from '../../src/audit/session.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { exampleWorld } from '../correlate/examples-world.ts';
import { collect, freePort, projectRoot, startProcessor, waitForLogLine } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { scrapeMetrics } from '../support/metrics.ts';
import { waitFor } from '../support/wait.ts';

const auditDir = join(projectRoot, 'examples/audit');
const kubearmorFile = join(projectRoot, 'examples/kubearmor/kubearmor.jsonl');
const linesOf = (path: string) => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');

/** What the example input holds, independently of the processor. */
function examplesHold() {
  const auditLines = readdirSync(auditDir).filter((f) => f.endsWith('.log')).flatMap((f) => linesOf(join(auditDir, f)));
  const outcomes = auditLines.map((line) => sessionsFromLine(Buffer.from(line), { cluster: '' }));
  const events = new Set<string>();
  for (const line of linesOf(kubearmorFile)) {
    const outcome = runtimeEventFromLine(line, { cluster: '' });
    if (outcome.kind === 'event') events.add(outcome.event.eventKey);
  }
  return {
    auditLines: auditLines.length,
    stages: outcomes.reduce((n, o) => n + o.rows.length, 0),
    matchedLines: outcomes.filter((o) => o.rows.length > 0).length,
    sessions: mergeStages(outcomes.flatMap((o) => o.rows)).length,
    runtimeEvents: events.size,
    // Each KubeArmor event the example world says a session caused is one link.
    links: exampleWorld().runtimeLines().filter((l) => l.truth !== null).length,
  };
}

describe(`/metrics after ingesting the examples on ${preferredBackend}`, () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(preferredBackend)));
  after(() => target?.destroy());

  it('exposes every listed series, and its counters are what the input and the tables hold', { timeout: 180_000 }, async () => {
    const held = examplesHold();
    assert.ok(held.sessions >= 5 && held.runtimeEvents > 0 && held.links > 0, JSON.stringify(held));
    const port = await freePort();
    const child = startProcessor(['-audit-log-dir', auditDir, '-kubearmor-file', kubearmorFile, '-http-port', String(port), ...target.flags]);
    const exited = collect(child);
    let metrics = new Map<string, number>();
    let text = '';
    try {
      await waitForLogLine(child, /stored \d+ session rows/, 90_000);
      // Everything is read, stored and correlated once the counters reach what the input holds.
      await waitFor(
        'the examples stored and correlated',
        async () => {
          metrics = await scrapeMetrics(port);
          return (
            metrics.get('exectrail_sessions_new_total') === held.sessions &&
            metrics.get('exectrail_runtime_events_stored_total') === held.runtimeEvents &&
            (metrics.get('exectrail_correlation_links_total') ?? 0) >= held.links
          );
        },
        60_000,
      ).catch(() => undefined);
      text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));

    assert.equal(metrics.get('exectrail_sessions_new_total'), held.sessions, 'distinct sessions in the example logs');
    assert.ok(metrics.get('exectrail_sessions_stored_total')! >= held.sessions, 'every session stored at least once (inserts and updates)');
    assert.equal(metrics.get('exectrail_session_stages_total'), held.stages, 'interactive-access events in the example logs');
    assert.equal(metrics.get('exectrail_lines_matched_total'), held.matchedLines, 'lines holding one');
    assert.ok(metrics.get('exectrail_lines_read_total')! >= held.auditLines, 'every audit line read');
    assert.equal(metrics.get('exectrail_runtime_events_stored_total'), held.runtimeEvents, 'distinct KubeArmor events in the example');
    assert.equal(metrics.get('exectrail_correlation_links_total'), held.links, 'one link per event a session caused, none changed');

    const db = await target.open();
    try {
      const count = async (table: string) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
      assert.equal(await count('change_events'), held.sessions, 'change_events rows');
      assert.equal(await count('runtime_events'), held.runtimeEvents, 'runtime_events rows');
      assert.equal(await count('exec_session_links'), held.links, 'exec_session_links rows');
    } finally {
      await db.close();
    }

    for (const series of [
      'exectrail_bad_input_total', // by reason
      'exectrail_events_dropped_total',
      'exectrail_file_checkpoint_lag_bytes',
      'exectrail_webhook_requests_total', // by status
      'exectrail_db_write_seconds',
      'exectrail_runtime_stream_state',
      'exectrail_runtime_events_stored_total',
      'exectrail_correlation_links_total',
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${series} `, 'm'), `${series} is exposed`);
    }
    assert.ok((metrics.get('exectrail_db_write_seconds_count') ?? 0) > 0, 'write latency observed');
    assert.ok([...metrics.keys()].some((k) => k.startsWith('exectrail_file_checkpoint_lag_bytes{file=')), 'lag per followed file');
  });
});
