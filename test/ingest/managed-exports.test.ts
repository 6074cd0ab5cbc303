/**
 * Managed clusters' exports through the real paths (issue 14, acceptance 2): each shape built from our
 * fixtures' events, written to disk, read by `-audit-log-file` (the audit file source, on PGlite and
 * Postgres), by `audit-processor -once -audit-log-dir` over a directory of `.jsonl`, `.json` and `.gz`
 * exports, and posted to the listening webhook where the shape is a batch, stores the rows the native
 * file stores (GKE: what Cloud Audit Logs carry).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SessionRow } from '../../src/audit/session.ts';
import { createAuditFileSource } from '../../src/ingest/audit-file-source.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Database, Queryable } from '../../src/store/database.ts';
import { gkeComparable, managedShapes, nativeEvents, pubSubPush, gkeLogEntry, shapeFileContent, withoutSuffix, withSuffix } from '../audit/managed-shapes.ts';
import { runProcessor } from '../support/cli.ts';
import { backends, createTestDatabase, createTestDatabaseTarget, preferredBackend, skipReason } from '../support/databases.ts';
import { tempDir } from './file-support.ts';
import { request, startTestWebhook } from './webhook-support.ts';

const shapes = managedShapes(nativeEvents());
const nativeLines = withSuffix(nativeEvents(), 'native').map((e) => JSON.stringify(e));

/** The stored rows of a cluster as SessionRows, by the shape their auditID names. */
async function storedByShape(db: Queryable, cluster: string): Promise<Map<string, SessionRow[]>> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, cluster, audit_id, request_key, operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata FROM change_events WHERE cluster = $1 ORDER BY id`,
    [cluster],
  );
  const byShape = new Map<string, SessionRow[]>();
  for (const r of rows) {
    const execMetadata = r.exec_metadata as SessionRow['execMetadata'];
    const auditId = r.audit_id as string;
    const shape = [...shapes.map((s) => s.name), 'native'].find((name) => auditId.endsWith(`-${name}`)) ?? '?';
    const row: SessionRow = {
      id: r.id as string,
      cluster: r.cluster as string,
      auditId,
      requestKey: r.request_key as string,
      timestamp: execMetadata.started_at,
      operation: 'EXEC',
      resourceKind: r.resource_kind as SessionRow['resourceKind'],
      namespace: r.namespace as string,
      name: r.name as string,
      actor: r.actor as SessionRow['actor'],
      source: r.source as SessionRow['source'],
      allowed: r.allowed as boolean,
      execMetadata,
    };
    byShape.set(shape, [...(byShape.get(shape) ?? []), withoutSuffix(row, shape)]);
  }
  return byShape;
}

function assertShapesStoredAsNative(byShape: Map<string, SessionRow[]>, names: readonly string[]): void {
  const native = byShape.get('native') ?? [];
  assert.ok(native.length >= 10, `the native file's sessions are stored (${native.length})`);
  for (const name of names) {
    const got = byShape.get(name) ?? [];
    const gke = shapes.find((s) => s.name === name)?.gke;
    if (gke) assert.deepEqual(got.map(gkeComparable), native.map(gkeComparable), name);
    else assert.deepEqual(got, native, name);
    if (gke) assert.ok(got.every((r) => r.execMetadata.audit_format === 'gke-cloud-audit-log'), name);
  }
}

function writeShapes(dir: string): string[] {
  writeFileSync(join(dir, 'audit.log'), nativeLines.join('\n') + '\n');
  const paths = [join(dir, 'audit.log')];
  for (const shape of shapes) {
    writeFileSync(join(dir, shape.fileName!), shapeFileContent(shape));
    paths.push(join(dir, shape.fileName!));
  }
  return paths;
}

for (const backend of backends) {
  describe(`managed-cluster exports through -audit-log-file on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('every export file, read as the -audit-log-file, stores the rows the native file stores', async () => {
      const cluster = 'managed-file';
      const paths = writeShapes(tempDir('managed-file'));
      const metrics = createMetrics();
      for (const path of paths) {
        const source = createAuditFileSource({
          db,
          flags: { 'audit-log-file': path, 'audit-log-dir': '', 'start-at': 'beginning', 'max-line-bytes': 1 << 24, 'progress-interval': 0, cluster },
          metrics,
          logger: silentLogger,
        });
        const stats = await source.runOnce();
        assert.equal(stats.filesRead, 1, path);
      }
      assertShapesStoredAsNative(await storedByShape(db, cluster), shapes.map((s) => s.name));
      // Nothing in them was bad input (CONTROL_MESSAGE included).
      assert.deepEqual((await metrics.badInput.get()).values.filter((v) => v.value > 0), []);
    });
  });
}

describe(`managed-cluster exports through audit-processor -once -audit-log-dir on ${preferredBackend}`, () => {
  it('reads .jsonl, .json and .gz exports by default, says which it skips, and stores the native rows', async () => {
    const dir = tempDir('managed-dir');
    writeShapes(dir);
    writeFileSync(join(dir, 'README.txt'), 'notes, not an export\n');
    writeFileSync(join(dir, 'manifest.csv'), 'a,b\n');
    const target = await createTestDatabaseTarget(preferredBackend);
    try {
      const result = await runProcessor(['-audit-log-dir', dir, '-once', '-cluster', 'managed-dir', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /not reading 2 files in [^\n]* whose names no -audit-log-dir-pattern takes: README\.txt, manifest\.csv/);
      assert.match(result.stderr, new RegExp(`reading ${shapes.length + 1} files`));
      const db = await target.open();
      try {
        assertShapesStoredAsNative(await storedByShape(db, 'managed-dir'), shapes.map((s) => s.name));
      } finally {
        await db.close();
      }

      // -audit-log-dir-pattern replaces the default: only the S3 export's 000000.gz now.
      const only = await createTestDatabaseTarget(preferredBackend);
      try {
        const narrow = await runProcessor(['-audit-log-dir', dir, '-audit-log-dir-pattern', '0*.gz', '-once', '-cluster', 'managed-dir', ...only.flags]);
        assert.equal(narrow.code, 0, narrow.stderr);
        assert.match(narrow.stderr, /reading 1 file: [^\n]*000000\.gz/);
        const db2 = await only.open();
        try {
          const byShape = await storedByShape(db2, 'managed-dir');
          assert.deepEqual([...byShape.keys()], ['eks-s3-export']);
        } finally {
          await db2.close();
        }
      } finally {
        await only.destroy();
      }
    } finally {
      await target.destroy();
    }
  });
});

for (const backend of backends) {
  describe(`managed-cluster batches posted to the webhook on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('an AKS records batch, a CloudWatch subscription document, a gcloud array and Pub/Sub pushes, posted unchanged, store the native rows', async () => {
      const webhook = await startTestWebhook(db);
      try {
        const native = await request(webhook.url, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items: nativeLines.map((l) => JSON.parse(l)) }));
        assert.equal(native.status, 200, native.text);
        const batches = shapes.filter((s) => s.body);
        assert.deepEqual(batches.map((s) => s.name).sort(), ['aks-records', 'eks-subscription', 'gke-gcloud']);
        for (const shape of batches) {
          const reply = await request(webhook.url, shape.body!);
          assert.equal(reply.status, 200, `${shape.name}: ${reply.text}`);
        }
        const entries = withSuffix(nativeEvents(), 'gke-sink').map(gkeLogEntry).filter((e) => e !== undefined);
        for (const [n, entry] of entries.entries()) {
          const reply = await request(webhook.url, pubSubPush(entry, n));
          assert.equal(reply.status, 200, reply.text);
        }
        assertShapesStoredAsNative(await storedByShape(db, ''), [...batches.map((s) => s.name), 'gke-sink']);
        // A control message is answered 200 and stores nothing.
        const control = await request(webhook.url, JSON.stringify({ messageType: 'CONTROL_MESSAGE', logEvents: [] }));
        assert.equal(control.status, 200, control.text);
      } finally {
        await webhook.server.stop();
      }
    });
  });
}
