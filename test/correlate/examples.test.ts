/**
 * examples/kubearmor/kubearmor.jsonl matches the sessions of examples/audit/: each KubeArmor event is
 * linked to the session that caused it (or to none), as the README's first command shows.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sessionId } from '../../src/audit/session.ts';
import { correlate } from '../../src/correlate/correlate.ts';
import type { CorrelationSession } from '../../src/correlate/model.ts';
import { isoToMicros } from '../../src/time/micros.ts';
import { correlationSession } from '../../src/correlate/session-target.ts';
import { exampleSessions, exampleWorld } from './examples-world.ts';
import { correlationEventOf, runtimeRow, score, sessionsOf } from './support.ts';

const examples = new URL('../../examples/', import.meta.url);
const kubearmorFile = new URL('kubearmor/kubearmor.jsonl', examples);
const readLines = (url: URL) => readFileSync(url, 'utf8').split('\n').filter((l) => l.trim() !== '');

describe('examples/kubearmor', () => {
  it('is what test/correlate/examples-world.ts generates (its truth is kept there)', () => {
    assert.deepEqual(readLines(kubearmorFile), exampleWorld().runtimeLines().map((l) => l.line));
  });

  it('correlates with examples/audit: every event to its session or to none', () => {
    const auditLines = readdirSync(new URL('audit/', examples))
      .filter((f) => f.endsWith('.log'))
      .flatMap((f) => readLines(new URL(`audit/${f}`, examples)));
    const sessions = sessionsOf(auditLines, '')
      .map((row) => correlationSession({ ...row, resource_kind: row.resourceKind, exec_metadata: row.execMetadata }))
      .filter((s): s is CorrelationSession => s !== undefined);
    const truthLines = exampleWorld().runtimeLines();
    const rows = readLines(kubearmorFile).map((line) => runtimeRow(line, ''));
    const truth = new Map(rows.map((row, i) => [row.event_key, truthLines[i]!.truth]));
    const links = correlate(sessions, rows.map(correlationEventOf), { skewUs: 2_000_000, nowUs: isoToMicros('2026-01-01T00:00:00Z') });
    const result = score(links, truth, '');
    assert.deepEqual(result.wrong, []);
    assert.deepEqual(result.missed, []);
    for (const auditId of Object.values(exampleSessions))
      assert.ok(links.some((l) => l.sessionId === sessionId('', auditId)), `session ${auditId} has processes`);
    const aliceAlerts = links.filter((l) => l.sessionId === sessionId('', exampleSessions.aliceRm) && rows.find((r) => r.event_key === l.eventKey)?.kind === 'alert');
    assert.equal(aliceAlerts.length, 2, "alice's rm -rf raised two Audit alerts");
  });
});
