/**
 * Decoding: every envelope the same event arrives in, every historic event shape, and bad input counted
 * by reason (not-json, not-an-event, bad-field) with a detail that never quotes the line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { eventFromLegacyLine, readGoQuoted } from '../../src/audit/legacy.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { readFixture, splitLines } from './support.ts';

const spdyExec = splitLines(readFixture('exec-spdy-create-all-stages.jsonl')).map((l) => l.toString());
const event = JSON.parse(spdyExec[2]!) as Record<string, unknown>;

describe('decoding audit input', () => {
  it('unwraps a bare Event, an EventList, an array and AKS records, with or without a BOM', () => {
    const aksRecord = { category: 'kube-audit', properties: { log: JSON.stringify(event) + '\n', stream: 'stdout' } };
    const bodies = [
      JSON.stringify(event),
      JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: [event, event] }),
      JSON.stringify([event, event]),
      JSON.stringify({ records: [aksRecord, aksRecord] }),
      JSON.stringify(aksRecord),
      '\uFEFF' + JSON.stringify({ records: [{ properties: { log: '\uFEFF' + JSON.stringify(event) } }] }),
    ];
    for (const body of bodies) {
      const decoded = decodeAuditText(body);
      assert.deepEqual(decoded.rejected, [], body.slice(0, 60));
      assert.ok(decoded.events.length >= 1);
      assert.ok(decoded.events.every((e) => e.auditID === event.auditID));
    }
  });

  it('accepts v1beta1, a missing apiVersion and a legacy timestamp-only event', () => {
    const { requestReceivedTimestamp: _r, stageTimestamp: _s, apiVersion: _v, ...bare } = event;
    for (const variant of [{ ...event, apiVersion: 'audit.k8s.io/v1beta1' }, { ...bare, requestReceivedTimestamp: event.requestReceivedTimestamp }, { ...bare, timestamp: '2024-05-02T09:15:01Z' }]) {
      const line = Buffer.from(JSON.stringify(variant));
      const { rows, rejected } = sessionsFromLine(line, { cluster: 'c' });
      assert.deepEqual(rejected, []);
      assert.equal(rows.length, 1);
    }
    const [old] = sessionsFromLine(Buffer.from(JSON.stringify({ ...bare, timestamp: '2024-05-02T09:15:01Z' })), { cluster: 'c' }).rows;
    assert.equal(old!.execMetadata.started_at, '2024-05-02T09:15:01.000000Z');
  });

  it('counts bad input by reason, without quoting it', () => {
    const cases: [string, string, RegExp][] = [
      ['{"kind":"Event","objectRef":{"subresource":"exec"},"auditID":"x", "requestURI": "/x?command=mysql+-pS3cret', 'not-json', /invalid JSON/],
      ['{"objectRef":{"subresource":"exec"},"message":"x"} [Truncated...]', 'truncated', /Truncated/],
      ['{"objectRef":{"subresource":"exec"},"hello":"world"}', 'not-an-event', /without auditID/],
      ['{"objectRef":{"subresource":"exec"},"auditID":"","stage":"ResponseComplete"}', 'bad-field', /auditID/],
      ['{"objectRef":{"subresource":"exec"},"auditID":"a","requestReceivedTimestamp":"yesterday"}', 'bad-field', /requestReceivedTimestamp: not an RFC 3339 time/],
      ['{"objectRef":{"subresource":"exec"},"auditID":"a"}', 'bad-field', /no requestReceivedTimestamp/],
      ['{"objectRef":{"subresource":"exec"},"auditID":"a","timestamp":"2024-01-01T00:00:00Z","responseStatus":{"code":"101"}}', 'bad-field', /responseStatus.code/],
      ['{"records":[{"properties":{"log":"{\\"objectRef\\":{\\"subresource\\":\\"exec\\"},"}}]}', 'not-json', /properties.log: invalid JSON/],
      ['garbage "subresource":"exec" line', 'not-json', /starts with "g"/],
      ['\x00\x01binary', 'not-json', /not a JSON object or array/],
    ];
    for (const [line, reason, detail] of cases) {
      const { rows, rejected } = sessionsFromLine(Buffer.from(line, 'latin1'), { cluster: 'c' });
      assert.equal(rows.length, 0, line);
      assert.equal(rejected.length, 1, line);
      assert.equal(rejected[0]!.reason, reason, line);
      assert.match(rejected[0]!.detail, detail, line);
      assert.ok(!rejected[0]!.detail.includes('S3cret'), 'the detail never quotes the line');
    }
  });

  it('a bad event in a batch costs only itself', () => {
    const body = JSON.stringify({ kind: 'EventList', items: [event, { auditID: 'bad', stage: 'ResponseComplete' }, { kind: 0 }, { ...event, auditID: 'other' }] });
    const decoded = decodeAuditText(body);
    assert.deepEqual(decoded.events.map((e) => e.auditID), [event.auditID, 'other']);
    assert.deepEqual(decoded.rejected.map((r) => r.reason), ['bad-field', 'not-an-event']);
  });

  it('parses --audit-log-format=legacy lines, Go %q escapes included', () => {
    assert.deepEqual(readGoQuoted('"a\\"b\\\\c\\x41\\u00e9\\U0001F600\\t"', 0), { value: 'a"b\\cAé😀\t', end: 31 });
    assert.equal(readGoQuoted('"\\xc3\\xa9"', 0)?.value, 'é', 'bytes of a UTF-8 sequence');
    const legacy = eventFromLegacyLine(
      '2024-05-02T09:15:01.1045Z AUDIT: id="x-1" stage="ResponseComplete" ip="203.0.113.5" method="get" user="system:admin" groups="\\"system:masters\\"" ' +
        'as="bob" asgroups="\\"devs\\",\\"system:authenticated\\"" user-agent="kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9" namespace="shop" ' +
        'uri="/api/v1/namespaces/shop/pods/web-0/exec?command=sh&command=-c&command=echo+%22hi%22&container=web" response="403"',
    )!;
    assert.deepEqual(legacy.user, { username: 'system:admin', groups: ['system:masters'] });
    assert.deepEqual(legacy.impersonatedUser, { username: 'bob', groups: ['devs', 'system:authenticated'] });
    assert.deepEqual(legacy.objectRef, { resource: 'pods', namespace: 'shop', name: 'web-0', apiGroup: undefined, subresource: 'exec' });
    const rows = sessionsFromLine(
      Buffer.from(
        '2024-05-02T09:15:01.1045Z AUDIT: id="x-1" stage="ResponseComplete" ip="203.0.113.5" method="get" user="system:admin" groups="<none>" as="bob" asgroups="<lookup>" user-agent="" namespace="shop" uri="/api/v1/namespaces/shop/pods/web-0/exec?command=sh&command=-c&command=echo+%22hi%22&container=web" response="403"',
      ),
      { cluster: 'c' },
    ).rows;
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0]!.execMetadata.command, ['sh', '-c', 'echo "hi"']);
    assert.equal(rows[0]!.allowed, false);
    assert.equal(rows[0]!.actor.impersonated_user, 'bob');
    assert.equal(rows[0]!.execMetadata.audit_format, 'legacy');
    assert.equal(rows[0]!.execMetadata.started_at, '2024-05-02T09:15:01.104500Z');
  });

  it('counts a legacy-looking line that does not parse', () => {
    const { rejected } = sessionsFromLine(Buffer.from('2024-05-02T09:15:01Z AUDIT: id="x" uri="/api/v1/namespaces/a/pods/b/exec'), { cluster: 'c' });
    assert.deepEqual(rejected.map((r) => r.reason), ['not-json']);
  });
});
