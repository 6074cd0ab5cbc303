import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { startRuntimeIngest, type RuntimeIngest } from '../../src/runtime/start.ts';
import type { Database } from '../../src/store/database.ts';
import { createTestDatabase, testDatabaseUrl } from '../support/databases.ts';
import { FakeFeeder } from './feeder-server.ts';
import { syntheticLog } from './fixtures.ts';

// TLS is about the connection, not storage: one database is enough (PostgreSQL when available).
const backend = testDatabaseUrl ? 'postgres' : 'pglite';

/** A CA and a server certificate for 127.0.0.1 signed by it, made with the openssl command. */
function makeCertificates(dir: string) {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=exectrail test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kubearmor-relay', '-keyout', 'server.key', '-out', 'server.csr');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem');
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=some other CA', '-keyout', 'other.key', '-out', 'other.pem');
  const read = (name: string) => readFileSync(join(dir, name));
  return { ca: join(dir, 'ca.pem'), otherCa: join(dir, 'other.pem'), server: grpc.ServerCredentials.createSsl(null, [{ private_key: read('server.key'), cert_chain: read('server.pem') }]) };
}

describe(`-kubearmor-ca-file: TLS to the feeder (${backend})`, () => {
  let db: Database;
  let close: () => Promise<void>;
  let dir: string;
  const cleanup: { stop(): Promise<void> }[] = [];
  before(async () => {
    ({ db, close } = await createTestDatabase(backend));
    dir = mkdtempSync(join(tmpdir(), 'exectrail-tls-'));
  });
  after(async () => {
    for (const thing of cleanup.reverse()) await thing.stop().catch(() => undefined);
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams over TLS verified with the given CA, and refuses a feeder whose certificate that CA did not sign', async () => {
    const certs = makeCertificates(dir);
    const feeder = await FakeFeeder.start({ credentials: certs.server });
    cleanup.push(feeder);
    const ingest: RuntimeIngest = await startRuntimeIngest({
      db, cluster: 'tls', metrics: createMetrics(), logger: silentLogger, addresses: [feeder.address], allAlerts: true, caFile: certs.ca,
    });
    cleanup.push(ingest);
    await feeder.waitForStreams('WatchLogs');
    await feeder.send('WatchLogs', [syntheticLog(1, 'tls')]);
    await ingest.queue.flushed();
    const deadline = Date.now() + 10_000;
    while ((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'tls'`)).rows[0]!.n !== 1) {
      assert.ok(Date.now() < deadline, 'the event sent over TLS is stored');
      await new Promise((r) => setTimeout(r, 50));
    }

    const wrong = await startRuntimeIngest({
      db, cluster: 'tls-wrong', metrics: createMetrics(), logger: silentLogger, addresses: [feeder.address], caFile: certs.otherCa,
      backoff: { initialMs: 100, maxMs: 400, stableAfterMs: 60_000 },
    });
    cleanup.push(wrong);
    const until = Date.now() + 10_000;
    while (!(wrong.streamStates()[0]?.lastError ?? '').includes('UNAVAILABLE')) {
      assert.ok(Date.now() < until, `expected an UNAVAILABLE error, state: ${JSON.stringify(wrong.streamStates())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(feeder.calls.WatchAlerts.size, 1, 'only the verified client got a stream');
  });

  it('fails at start with what to do when the CA file cannot be read', async () => {
    await assert.rejects(
      startRuntimeIngest({ db, cluster: 'x', metrics: createMetrics(), logger: silentLogger, addresses: ['127.0.0.1:1'], caFile: join(dir, 'missing.pem') }),
      /cannot read -kubearmor-ca-file .*missing\.pem.*give the PEM CA/,
    );
  });
});
