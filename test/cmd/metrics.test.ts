/**
 * /metrics as an SRE scrapes it: every series the dashboards need is there, and after the examples are
 * ingested its counters say exactly what the processor's own summary line says.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collect, freePort, projectRoot, startProcessor, waitForLogLine } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';



/** `name{labels} value` lines → value by series; the sum over labels under the bare name. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match) continue;
    const [, name, labels = '', value] = match;
    values.set(name! + labels, Number(value));
    if (labels) values.set(name!, (values.get(name!) ?? 0) + Number(value));
  }
  return values;
}

for (const backend of backends) {
  describe(`/metrics after ingesting the examples on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    before(async () => (target = await createTestDatabaseTarget(backend)));
    after(() => target?.destroy());

    it('exposes every listed series, and its counters match the summary', { timeout: 180_000 }, async () => {
      const port = await freePort();
      const child = startProcessor([
        '-audit-log-dir', `${projectRoot}examples/audit`,
        '-kubearmor-file', `${projectRoot}examples/kubearmor/kubearmor.jsonl`,
        '-http-port', String(port), ...target.flags,
      ]);
      const exited = collect(child);
      try {
        const summary = await waitForLogLine(child, /stored \d+ session rows/, 90_000);
        const [, stored, fresh, stages, read, matched] = /stored (\d+) session rows \((\d+) new sessions\) from (\d+) session stages \((\d+) lines read, (\d+) matched/.exec(summary)!;
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const metrics = parseMetrics(text);

        assert.equal(metrics.get('exectrail_sessions_stored_total'), Number(stored));
        assert.equal(metrics.get('exectrail_sessions_new_total'), Number(fresh));
        assert.equal(metrics.get('exectrail_session_stages_total'), Number(stages));
        assert.equal(metrics.get('exectrail_lines_read_total'), Number(read));
        assert.equal(metrics.get('exectrail_lines_matched_total'), Number(matched));
        assert.ok(Number(stored) >= 5, `the example sessions were stored (${stored})`);
        assert.equal(metrics.get('exectrail_events_dropped_total'), 0, 'nothing dropped');
        for (const series of [
          'exectrail_bad_input_total', // by reason
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
        // The KubeArmor example is stored and correlated in the background: wait for its counters.
        for (let i = 0; i < 100 && !(parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).get('exectrail_correlation_links_total')! > 0); i++) {
          await new Promise((r) => setTimeout(r, 200));
        }
        const later = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
        assert.ok(later.get('exectrail_runtime_events_stored_total')! > 0, 'runtime events stored');
        assert.ok(later.get('exectrail_correlation_links_total')! > 0, 'correlation links made');
      } finally {
        child.kill('SIGTERM');
      }
      const result = await exited;
      assert.equal(result.code, 0, result.stderr.slice(-2000));
    });
  });
}
