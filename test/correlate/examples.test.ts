/**
 * examples/kubearmor/kubearmor.jsonl matches the sessions of examples/audit/: each KubeArmor event is
 * linked to the session that caused it (or to none), as the README's first command shows. Both are
 * stored by the real readers and writers, read back as the correlation store reads them, and correlated.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { sessionId } from '../../src/audit/session.ts';
import { correlate } from '../../src/correlate/decide.ts';
import type { Database } from '../../src/store/database.ts';
import { isoToMicros } from '../../src/time/micros.ts';
import { createTestDatabase, preferredBackend } from '../support/databases.ts';
import { exampleSessions, exampleWorld } from './examples-world.ts';
import { correlationInput, score, storeScenario, truthByKey } from './support.ts';

const examples = new URL('../../examples/', import.meta.url);
const kubearmorFile = new URL('kubearmor/kubearmor.jsonl', examples);
const readLines = (url: URL) => readFileSync(url, 'utf8').split('\n').filter((l) => l.trim() !== '');

describe('examples/kubearmor', () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => ({ db, close } = await createTestDatabase(preferredBackend)));
  after(() => close?.());

  it('is what test/correlate/examples-world.ts generates (its truth is kept there)', () => {
    assert.deepEqual(readLines(kubearmorFile), exampleWorld().runtimeLines().map((l) => l.line));
  });

  it('correlates with examples/audit: every event to its session or to none', async () => {
    const auditLines = readdirSync(new URL('audit/', examples))
      .filter((f) => f.endsWith('.log'))
      .flatMap((f) => readLines(new URL(`audit/${f}`, examples)));
    const runtimeLines = readLines(kubearmorFile);
    await storeScenario(db, '', auditLines, runtimeLines);
    const { sessions, events } = await correlationInput(db, '');
    const truthLines = exampleWorld().runtimeLines();
    const truth = truthByKey(runtimeLines.map((line, i) => ({ line, truth: truthLines[i]!.truth })), '');
    const links = correlate(sessions, events, { skewUs: 2_000_000, nowUs: isoToMicros('2026-01-01T00:00:00Z') });
    const result = score(links, truth, '');
    assert.deepEqual(result.wrong, []);
    assert.deepEqual(result.missed, []);
    for (const auditId of Object.values(exampleSessions))
      assert.ok(links.some((l) => l.sessionId === sessionId('', auditId)), `session ${auditId} has processes`);
    const kindOf = new Map(events.map((e) => [e.key, e.kind]));
    const aliceAlerts = links.filter((l) => l.sessionId === sessionId('', exampleSessions.aliceRm) && kindOf.get(l.eventKey) === 'alert');
    assert.equal(aliceAlerts.length, 2, "alice's rm -rf raised two Audit alerts");
  });
});
