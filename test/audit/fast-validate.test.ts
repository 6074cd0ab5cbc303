/**
 * The webhook's fast path (decodeInteractiveCandidates: a hand-written check, then classify, the schema
 * only for candidates) must decide exactly as the schema-first path (decodeAuditValue, then
 * classifyRequest): same events kept, same rejections with the same reasons and details, the rest
 * counted as ignored. Checked on every fixture event and on events mutated where the check looks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { auditEventSchema, passesAuditEventSchema } from '../../src/audit/event.ts';
import { normalizeTimestamp } from '../../src/time/timestamps.ts';
import { sameDecision } from './robustness.ts';
import { fixtureUnits, pick, seededRandom, testSeed } from './support.ts';

function fixtureEvents(): Record<string, unknown>[] {
  return fixtureUnits().flatMap((unit) => decodeAuditText(unit.toString()).events) as Record<string, unknown>[];
}

const paths = [
  ['kind'], ['auditID'], ['apiVersion'], ['level'], ['stage'], ['requestURI'], ['verb'], ['userAgent'], ['user'], ['user', 'username'],
  ['user', 'uid'], ['user', 'groups'], ['user', 'extra'], ['user', 'extra', 'k'], ['impersonatedUser'], ['impersonatedUser', 'groups'],
  ['sourceIPs'], ['objectRef'], ['objectRef', 'resource'], ['objectRef', 'subresource'], ['objectRef', 'apiGroup'], ['objectRef', 'name'],
  ['objectRef', 'namespace'], ['objectRef', 'uid'], ['objectRef', 'apiVersion'], ['responseStatus'], ['responseStatus', 'code'],
  ['responseStatus', 'status'], ['responseStatus', 'message'], ['responseStatus', 'reason'], ['requestReceivedTimestamp'],
  ['stageTimestamp'], ['timestamp'], ['annotations'], ['annotations', 'authorization.k8s.io/decision'], ['requestObject'],
];

const times = [
  '2024-05-02T09:15:01.104512Z', '2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T12:00:00Z', '2000-02-29T12:00:00.1Z',
  '2024-04-31T00:00:00Z', '2024-13-01T00:00:00Z', '2024-00-10T00:00:00Z', '2024-01-00T00:00:00Z', '2024-01-01T24:00:00Z',
  '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z', '2024-05-02 09:15:01Z',
  '2024-05-02T09:15:01+02:00', '2024-05-02T09:15:01-0530', ' 2024-05-02T09:15:01Z', '2024-05-02T09:15:01.Z', '2024-05-02T09:15:01.1234567890Z',
  '2024-05-02t09:15:01z', '', '2024-5-2T09:15:01Z',
];

const values = [
  undefined, null, '', 'x', 'exec', 'proxy', 'pods', 'nodes', 'Event', 'EventList', 'get', 'create', 0, 1, -1, 1.5, 200, 403,
  2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, true, false, [], ['a'], ['a', 1], [null], {}, { a: 'b' }, { a: ['b'] }, { a: [1] }, { a: null },
  ...times,
];

function mutate(random: () => number, event: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(event);
  for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
    const path = pick(random, paths);
    let target: Record<string, unknown> = copy;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const last = path.at(-1)!;
    if (random() < 0.15) delete target[last];
    else target[last] = structuredClone(pick(random, values));
  }
  return copy;
}

describe('the webhook fast path decides as the schema does', () => {
  const seed = testSeed();
  const events = fixtureEvents();

  it('every fixture event, alone and as one EventList', () => {
    assert.ok(events.length > 20);
    for (const nodeProxy of ['interactive', 'all'] as const) {
      events.forEach((event, i) => sameDecision(event, nodeProxy, `fixture event ${i}`));
      sameDecision({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: events }, nodeProxy, 'fixture EventList');
    }
  });

  it(`mutated events: the fast check says yes only when the schema does, and the outcome is the same (seed ${seed})`, () => {
    const random = seededRandom(seed + 7);
    let fastYes = 0;
    let rejected = 0;
    for (let i = 0; i < 8000; i++) {
      const mutated = mutate(random, pick(random, events));
      const schemaSays = auditEventSchema.safeParse(mutated).success;
      const fastSays = passesAuditEventSchema(mutated);
      if (fastSays) {
        fastYes++;
        assert.ok(schemaSays, `case ${i}: fast check accepted what the schema rejects: ${JSON.stringify(mutated)}`);
      }
      if (!schemaSays) rejected++;
      sameDecision(mutated, pick(random, ['interactive', 'all'] as const), `case ${i}`);
    }
    // Both sides of the comparison were exercised.
    assert.ok(fastYes > 1000 && rejected > 1000, `fast yes ${fastYes}, rejected ${rejected}`);
  });

  it('timestamps: the fast check accepts exactly what normalizeTimestamp accepts', () => {
    const base = events[0]!;
    for (const time of times) {
      const event = { ...base, requestReceivedTimestamp: time, stageTimestamp: time };
      if (passesAuditEventSchema(event)) assert.notEqual(normalizeTimestamp(time), undefined, time);
      else assert.equal(normalizeTimestamp(time) !== undefined && auditEventSchema.safeParse(event).success, false, time);
    }
  });
});
