/**
 * The fuzz and fast-path checks of test/audit over the real-world corpus in ../shared/fixtures: real
 * events from many clusters and converters have shapes our own fixtures do not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { mutateBytes, runEverything, sameDecision } from '../audit/robustness.ts';
import { fixtureUnits, pick, seededRandom, testSeed } from '../audit/support.ts';
import { sharedFixturesDir, sharedSkip } from './shared.ts';

describe('the audit parser on the real-world corpus', { skip: sharedSkip }, () => {
  const units = () => fixtureUnits(`${sharedFixturesDir}audit/`);

  it('the webhook fast path decides as the schema does for every event of the corpus, alone and as one EventList', () => {
    const events = units().flatMap((unit) => decodeAuditText(unit.toString()).events);
    assert.ok(events.length > 100, `${events.length} events`);
    for (const nodeProxy of ['interactive', 'all'] as const) {
      events.forEach((event, i) => sameDecision(event, nodeProxy, `corpus event ${i}`));
      sameDecision({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }, nodeProxy, 'corpus EventList');
    }
  });

  const seed = testSeed();
  it(`byte-mutated corpus lines never throw (seed ${seed})`, () => {
    const lines = units();
    const random = seededRandom(seed);
    for (let i = 0; i < 3000; i++) {
      let line = pick(random, lines);
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) line = mutateBytes(random, line);
      runEverything(line, `seed ${seed} mutation case ${i}`);
    }
  });
});
