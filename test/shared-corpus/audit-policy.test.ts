/**
 * deploy/apiserver/audit-policy.yaml records every event of the real-world corpus in ../shared/fixtures
 * that the processor keeps as a session (real events from Falco's traces, GKE converters, AKS...).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { extractSession } from '../../src/audit/extract.ts';
import { fixtureUnits } from '../audit/support.ts';
import { policyLevel, shippedAuditPolicy } from '../ingest/audit-policy.ts';
import { sharedFixturesDir, sharedSkip } from './shared.ts';

describe('the shipped audit policy on the real-world corpus', { skip: sharedSkip }, () => {
  it('records every corpus event the processor keeps as a session, even with -node-proxy=all', () => {
    const policy = shippedAuditPolicy();
    const events = fixtureUnits(`${sharedFixturesDir}audit/`).flatMap((unit) => decodeAuditText(unit.toString()).events);
    const kept = events.filter((event) => extractSession(event, { cluster: '', nodeProxy: 'all' }));
    assert.ok(kept.length >= 20, `found ${kept.length} interactive-access events in the corpus`);
    const missed = kept.filter((event) => policyLevel(policy.rules, event) !== 'Metadata');
    assert.deepEqual(missed.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource} ${e.auditID}`), []);
  });
});
