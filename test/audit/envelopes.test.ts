/**
 * Managed clusters' envelopes through the one door (src/audit/input.ts): every shape built from our
 * fixtures' events gives the rows the native lines give (GKE: minus what Cloud Audit Logs lack), and
 * every document is a session, not interactive, or counted with a reason.
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { badInputWithoutParsing, mayBeInteractiveAccess } from '../../src/audit/prefilter.ts';
import { mergeStages, type SessionRow } from '../../src/audit/session.ts';
import { controlMessage, ecsDocument, gkeAbsentFields, gkeComparable, gkeLogEntry, managedShapes, nativeEvents, pubSubPush, shapeFileContent, subscriptionDocument, withoutSuffix, withSuffix } from './managed-shapes.ts';
import { countByReason, ingestDocument, ingestLines, sortById } from './support.ts';

const context = { cluster: 'payments' };
const events = nativeEvents();
const nativeRows = ingestLines(Buffer.from(events.map((e) => JSON.stringify(e)).join('\n')), context).rows;
const byAuditId = (rows: readonly SessionRow[]) => new Map(rows.map((row) => [row.auditId, row]));

function assertSameRows(name: string, rows: readonly SessionRow[], gke = false): void {
  const got = sortById(rows.map((row) => withoutSuffix(row, name)));
  assert.equal(got.length, nativeRows.length, `${name}: one row per native session`);
  if (!gke) {
    assert.deepEqual(got, nativeRows, name);
    return;
  }
  assert.deepEqual(got.map(gkeComparable), nativeRows.map(gkeComparable), name);
  const native = byAuditId(nativeRows);
  for (const row of got) {
    assert.equal(row.execMetadata.audit_format, 'gke-cloud-audit-log', `${name}: ${row.auditId} says where it came from`);
    assert.deepEqual(row.execMetadata.stages, [], `${name}: no stage`);
    assert.equal(row.execMetadata.ended_at, null);
    if (row.execMetadata.subresource === 'exec' || row.execMetadata.subresource === 'attach') {
      for (const field of gkeAbsentFields) assert.equal(row.execMetadata[field], undefined, `${name}: ${row.auditId} has no ${field}`);
    }
    // Refused in the native log ⇔ refused in Cloud Audit Logs (status 7 or granted false).
    assert.equal(row.allowed, native.get(row.auditId)!.allowed);
  }
}

describe('managed clusters: envelopes of the same events', () => {
  it('the native fixture lines give sessions, refused and allowed, pods and nodes', () => {
    assert.ok(nativeRows.length >= 10, `sessions in the fixtures (${nativeRows.length})`);
    assert.ok(nativeRows.some((r) => !r.allowed) && nativeRows.some((r) => r.resourceKind === 'Node'));
    assert.ok(new Set(nativeRows.map((r) => r.execMetadata.subresource)).size >= 5, 'exec, attach, portforward, ephemeralcontainers, proxy');
  });

  for (const shape of managedShapes(events)) {
    it(`${shape.name}: as lines of a file, the same rows as the native file`, () => {
      const content = shapeFileContent(shape);
      const data = shape.gzip ? gunzipSync(content) : content;
      const ingested = ingestLines(data, context);
      assert.deepEqual(ingested.rejected, [], `${shape.name}: nothing refused`);
      assertSameRows(shape.name, ingested.rows, shape.gke);
    });
    if (shape.body) {
      it(`${shape.name}: as a webhook body, the same rows`, () => {
        const ingested = ingestDocument(Buffer.from(shape.body!), context);
        assert.deepEqual(ingested.rejected, []);
        assertSameRows(shape.name, ingested.rows, shape.gke);
      });
    }
  }

  it('gke-pubsub: a Pub/Sub push of each GKE entry, as a webhook body, gives the GKE rows', () => {
    const entries = withSuffix(events, 'gke-pubsub').map(gkeLogEntry).filter((e) => e !== undefined);
    const bodies = entries.flatMap((entry, n) => ingestDocument(Buffer.from(pubSubPush(entry, n)), context).rows);
    assertSameRows('gke-pubsub', mergeStages(bodies), true);
  });

  it('ecs: Elastic/ECS documents give the native rows', () => {
    const ingested = ingestLines(Buffer.from(withSuffix(events, 'ecs').map(ecsDocument).join('\n')), context);
    assert.deepEqual(ingested.rejected, []);
    assertSameRows('ecs', ingested.rows);
  });

  it('CONTROL_MESSAGE is neither an event nor bad input; [Truncated...] is counted as truncated, the rest of the batch kept', () => {
    assert.deepEqual(sessionsFromLine(Buffer.from(JSON.stringify(controlMessage)), context), { rows: [], rejected: [], repaired: [] });
    const exec = withSuffix(events, 't').filter((e) => (e.objectRef as { subresource?: string } | undefined)?.subresource === 'exec');
    const cut = JSON.stringify(exec[0]).slice(0, 120) + '[Truncated...]';
    const document = subscriptionDocument(exec.slice(1, 3));
    (document.logEvents as { message: string }[]).push({ message: cut } as never);
    const outcome = sessionsFromLine(Buffer.from(JSON.stringify(document)), context);
    assert.deepEqual(countByReason(outcome.rejected), { truncated: 1 });
    assert.equal(mergeStages(outcome.rows).length, new Set(exec.slice(1, 3).map((e) => e.auditID)).size);
    // Raw (a file of messages), and as an S3 export line: counted, even when the pre-filter drops it.
    for (const line of [cut, `2026-01-20T10:00:00.000Z ${cut}`, '{"kind":"Event","auditID":"x","verb":"get","requestURI":"/api/v1/pods"[Truncated...]']) {
      assert.deepEqual(countByReason(sessionsFromLine(Buffer.from(line), context).rejected), { truncated: 1 }, line);
    }
  });

  it('a line the pre-filter drops is judged by its ends: a cut line is not-json, a whole non-interactive one is nothing', () => {
    const ordinary = '{"kind":"Event","auditID":"a","verb":"get","requestURI":"/api/v1/pods","requestReceivedTimestamp":"2026-01-20T10:00:00.000000Z"}';
    assert.equal(mayBeInteractiveAccess(Buffer.from(ordinary)), false);
    assert.equal(badInputWithoutParsing(Buffer.from(ordinary)), undefined);
    assert.equal(badInputWithoutParsing(Buffer.from(`${ordinary}\r\n`)), undefined);
    assert.equal(badInputWithoutParsing(Buffer.from(`2026-01-20T10:00:00.000Z ${ordinary}`)), undefined, 'an S3 export line');
    assert.equal(badInputWithoutParsing(Buffer.from(ordinary.slice(0, -3))), 'not-json');
    assert.equal(badInputWithoutParsing(Buffer.from(`[${ordinary}`)), 'not-json');
    const outcome = sessionsFromLine(Buffer.from(ordinary.slice(0, -3)), context);
    assert.deepEqual(countByReason(outcome.rejected), { 'not-json': 1 });
    assert.match(outcome.rejected[0]!.detail, /cut line/);
  });

  it('converters\' objectRef.apiGroup "core" is the core group; another group is not a pod', () => {
    const exec = events.find((e) => (e.objectRef as { subresource?: string } | undefined)?.subresource === 'exec')!;
    const withGroup = (apiGroup: string) => JSON.stringify({ ...exec, objectRef: { ...(exec.objectRef as object), apiGroup } });
    assert.equal(sessionsFromLine(Buffer.from(withGroup('core')), context).rows.length, 1);
    assert.equal(sessionsFromLine(Buffer.from(withGroup('example.com')), context).rows.length, 0);
  });

  it('a GKE entry that cannot form a session is counted with what it lacks; one of another service is not an event of ours', () => {
    const exec = events.find((e) => (e.objectRef as { subresource?: string } | undefined)?.subresource === 'exec')!;
    const entry = gkeLogEntry(exec)!;
    const without = (key: string) => JSON.stringify(Object.fromEntries(Object.entries(entry).filter(([k]) => k !== key && (key !== 'operation' || k !== 'insertId'))));
    assert.deepEqual(countByReason(sessionsFromLine(Buffer.from(without('timestamp')), context).rejected), { 'bad-field': 1 });
    assert.deepEqual(countByReason(sessionsFromLine(Buffer.from(without('operation')), context).rejected), { 'bad-field': 1 });
    const other = { ...entry, protoPayload: { ...(entry.protoPayload as object), serviceName: 'compute.googleapis.com', methodName: 'v1.compute.instances.core.v1.pods.exec.x' } };
    assert.deepEqual(sessionsFromLine(Buffer.from(JSON.stringify(other)), context), { rows: [], rejected: [], repaired: [] });
    // PERMISSION_DENIED without a granted=false: refused all the same.
    const denied = { ...entry, protoPayload: { ...(entry.protoPayload as object), status: { code: 7 }, authorizationInfo: [] } };
    const [row] = sessionsFromLine(Buffer.from(JSON.stringify(denied)), context).rows;
    assert.equal(row!.allowed, false);
    assert.equal(row!.execMetadata.response_code, 403);
  });

  it('EKS log events of other control-plane streams (authenticator, scheduler) are not audit events, nor bad input', () => {
    const line = JSON.stringify({ logStreamName: 'authenticator-0f1e2d', timestamp: 1, message: 'time="2026-01-20T10:00:00Z" level=info msg="access granted" pods/exec', eventId: '1' });
    assert.deepEqual(sessionsFromLine(Buffer.from(line), context), { rows: [], rejected: [], repaired: [] });
  });
});
