/**
 * What a cluster user can put into an audit event never makes its session unstorable: the values
 * PostgreSQL would refuse are repaired at the domain's door, visibly, and each repair is reported.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { STORED_BOUNDS } from '../../src/audit/sanitize.ts';
import { normalizeTime, STORED_TIME_RANGE } from '../../src/time/timestamps.ts';
import { execStages } from '../support/audit-event.ts';

const complete = (over: Record<string, unknown>) => ({ ...execStages({ auditID: 'a-1' }).at(-1)!, ...over });
const outcomeOf = (event: Record<string, unknown>) => sessionsFromLine(Buffer.from(JSON.stringify(event)), { cluster: '' });

describe('sanitising session rows', () => {
  it('replaces NUL and unpaired surrogates with U+FFFD, in values and keys, and says so', () => {
    const event = complete({
      requestURI: '/api/v1/namespaces/prod/pods/db-0/exec?command=%00&command=ok&container=db',
      user: { username: 'a\u0000b', extra: { 'k\u0000': ['v\uD800'] } },
    });
    const { rows, repaired, rejected } = outcomeOf(event);
    assert.deepEqual(rejected, []);
    assert.deepEqual(repaired, ['forbidden-characters']);
    const [row] = rows;
    assert.deepEqual(row!.execMetadata.command, ['\uFFFD', 'ok']);
    assert.equal(row!.actor.username, 'a\uFFFDb');
    assert.deepEqual(row!.actor.extra, { 'k\uFFFD': ['v\uFFFD'] });
    assert.ok(!JSON.stringify(row).includes('\\u0000'));
  });

  it('bounds identifiers with a hash of the whole, so two long ones stay two', () => {
    const a = outcomeOf(complete({ auditID: 'x'.repeat(300) + 'a' })).rows[0]!;
    const b = outcomeOf(complete({ auditID: 'x'.repeat(300) + 'b' })).rows[0]!;
    assert.equal(a.auditId.length, STORED_BOUNDS.auditId);
    assert.notEqual(a.auditId, b.auditId);
    assert.ok(a.id.length <= 255);
    assert.notEqual(a.id, b.id);

    const longName = outcomeOf(complete({ objectRef: { resource: 'pods', namespace: 'n'.repeat(400), name: 'p'.repeat(400), subresource: 'exec' } }));
    assert.deepEqual(longName.repaired, ['too-long']);
    assert.equal(longName.rows[0]!.namespace.length, STORED_BOUNDS.namespace);
    assert.equal(longName.rows[0]!.name.length, STORED_BOUNDS.name);

    const user = outcomeOf(complete({ user: { username: 'u'.repeat(5000) } })).rows[0]!;
    assert.equal(user.actor.username.length, STORED_BOUNDS.username);
  });

  it('cuts a user agent at 1024 characters as the apiserver does, and long text with a marker', () => {
    const { rows, repaired } = outcomeOf(complete({ userAgent: 'U'.repeat(10 * 1024 * 1024) }));
    assert.deepEqual(repaired, ['too-long']);
    const agent = rows[0]!.source.user_agent!;
    assert.ok(agent.length <= STORED_BOUNDS.userAgent && agent.length > STORED_BOUNDS.userAgent - 40, `${agent.length}`);
    assert.match(agent, /…\[\d+ more characters cut\]$/);

    const argv = Array.from({ length: 3000 }, (_, i) => `arg${i}`);
    const long = outcomeOf(complete({ requestURI: `/api/v1/namespaces/prod/pods/db-0/exec?${argv.map((a) => `command=${a}`).join('&')}&command=${'z'.repeat(40_000)}` }));
    assert.equal(long.rows[0]!.execMetadata.command!.length, STORED_BOUNDS.listItems);
  });

  it('clamps times outside the stored range to its bounds, and says so', () => {
    assert.deepEqual(normalizeTime('0001-01-01T00:30:00+01:00'), { value: STORED_TIME_RANGE.min, clamped: true });
    assert.deepEqual(normalizeTime('9999-12-31T23:30:00-01:00'), { value: STORED_TIME_RANGE.max, clamped: true });
    assert.deepEqual(normalizeTime('2024-05-02T11:15:01.5+02:00'), { value: '2024-05-02T09:15:01.500000Z', clamped: false });
    assert.equal(normalizeTime('2024-02-30T00:00:00Z'), undefined);

    const early = outcomeOf(complete({ requestReceivedTimestamp: '0001-01-01T00:30:00+01:00', stageTimestamp: '0001-01-01T00:31:00+01:00' }));
    assert.deepEqual(early.repaired, ['time-out-of-range']);
    assert.equal(early.rows[0]!.timestamp, STORED_TIME_RANGE.min);
    const late = outcomeOf(complete({ requestReceivedTimestamp: '9999-12-31T23:30:00-01:00', stageTimestamp: '9999-12-31T23:30:00-01:00' }));
    assert.equal(late.rows[0]!.execMetadata.started_at, STORED_TIME_RANGE.max);
    assert.equal(late.rows[0]!.execMetadata.ended_at, STORED_TIME_RANGE.max);
  });

  it('leaves an ordinary event untouched and reports nothing', () => {
    const { rows, repaired } = outcomeOf(complete({}));
    assert.deepEqual(repaired, []);
    assert.equal(rows[0]!.auditId, 'a-1');
  });
});
