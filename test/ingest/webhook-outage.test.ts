/**
 * The database going away never loses an acknowledged batch: while it is down or too slow the webhook
 * answers 503 (so the apiserver keeps the batch and re-sends it) well inside the apiserver's 30 s
 * timeout, and the re-sent batch is stored once the database is back.
 *
 * The shared PostgreSQL server is never stopped: the connection is cut with a TCP proxy on loopback
 * (reset = "Postgres stopped", blackhole = "Postgres hangs"), and slowness is a lock held on the table.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { parseProcessorArgs } from '../../src/config/options.ts';
import { APISERVER_TIMEOUT_MS } from '../../src/ingest/webhook.ts';
import { openDatabase, type Database, type Queryable } from '../../src/store/database.ts';
import { backends, createTestDatabase, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { allStages, eventList, execEvent, request, rowId, startTestWebhook, storedSessions, type RunningWebhook } from './webhook-support.ts';

const batchOf = (...ids: string[]) => eventList(ids.flatMap((id) => allStages.map((s) => execEvent(id, s, { pod: `pod-${id}` }))));

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work;
  return { value, ms: Math.round(performance.now() - started) };
}

/** Holds an exclusive lock on change_events until release() is called: every write waits. */
async function lockSessions(db: Database): Promise<{ release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const isLocked = new Promise<void>((resolve) => (locked = resolve));
  const holder = db.transaction(async (tx: Queryable) => {
    await tx.query('LOCK TABLE change_events IN EXCLUSIVE MODE');
    locked();
    await released;
  });
  await isLocked;
  return {
    release: async () => {
      release();
      await holder;
    },
  };
}

/** A TCP proxy to PostgreSQL that a test can cut: reset (refuse and drop) or blackhole (accept, never answer). */
class CuttableProxy {
  private mode: 'forward' | 'reset' | 'blackhole' = 'forward';
  private readonly pairs = new Set<{ client: net.Socket; upstream?: net.Socket }>();
  private readonly server = net.createServer((client) => this.accept(client));
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  private accept(client: net.Socket): void {
    client.on('error', () => undefined);
    if (this.mode === 'reset') return void client.destroy();
    const pair: { client: net.Socket; upstream?: net.Socket } = { client };
    this.pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    if (this.mode === 'blackhole') return void client.pause();
    this.connectUpstream(pair);
  }

  private connectUpstream(pair: { client: net.Socket; upstream?: net.Socket }): void {
    const upstream = net.connect(this.target.port, this.target.host);
    pair.upstream = upstream;
    upstream.on('error', () => pair.client.destroy());
    upstream.on('close', () => pair.client.destroy());
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    pair.client.resume();
  }

  /** Postgres is "stopped": open connections drop, new ones are refused. */
  reset(): void {
    this.mode = 'reset';
    for (const pair of this.pairs) pair.client.destroy();
  }

  /** Postgres "hangs" (a network partition): nothing sent on any connection, old or new, gets an answer. */
  blackhole(): void {
    this.mode = 'blackhole';
    for (const pair of this.pairs) {
      pair.client.unpipe();
      pair.upstream?.unpipe();
      pair.client.pause();
      pair.upstream?.pause();
    }
  }

  /** Postgres is reachable again: held connections carry on where they stopped, new ones go through. */
  forward(): void {
    const wasHeld = this.mode === 'blackhole';
    this.mode = 'forward';
    if (!wasHeld) return;
    for (const pair of this.pairs) {
      if (!pair.upstream) {
        this.connectUpstream(pair);
        continue;
      }
      pair.client.pipe(pair.upstream);
      pair.upstream.pipe(pair.client);
      pair.client.resume();
      pair.upstream.resume();
    }
  }

  async close(): Promise<void> {
    for (const pair of this.pairs) pair.client.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('audit webhook when the PostgreSQL connection is cut', { skip: skipReason('postgres') }, () => {
  let target: TestDatabaseTarget;
  let proxy: CuttableProxy;
  let viaProxy: Database;
  let direct: Database;
  let hook: RunningWebhook;
  const defaultWriteTimeout = parseProcessorArgs([], {}).values['webhook-write-timeout'];

  before(async () => {
    target = await createTestDatabaseTarget('postgres');
    const url = new URL(target.databaseUrl!);
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.listen();
    url.port = String(proxy.port);
    viaProxy = await openDatabase({ databaseUrl: url.toString(), dataDir: target.dataDir });
    direct = await target.open();
    // The shipped default deadline, so this proves what a user gets.
    hook = await startTestWebhook(viaProxy, { writeTimeoutMs: defaultWriteTimeout });
  });
  after(async () => {
    await hook?.server.stop();
    await proxy?.forward();
    await viaProxy?.close().catch(() => undefined);
    await direct?.close();
    await proxy?.close();
    await target?.destroy();
  });

  it('answers 503 at once while Postgres refuses connections, then stores the re-sent batch when it is back', async (t) => {
    const before = await request(hook.url, batchOf('cut-before'));
    assert.equal(before.status, 200, before.text);

    proxy.reset();
    // What a stopped Postgres looks like: open connections drop, every new one is refused. The batch meets
    // either an idle connection the pool has not yet seen drop or a refused new one: 503 both ways.
    const { value: down, ms } = await timed(request(hook.url, batchOf('cut-during')));
    t.diagnostic(`connection refused: 503 after ${ms} ms`);
    assert.equal(down.status, 503, down.text);
    assert.equal(down.headers['retry-after'], '10');
    assert.match(down.json.error as string, /nothing is acknowledged, the apiserver will re-send it/);
    assert.ok(ms < APISERVER_TIMEOUT_MS, `answered in ${ms} ms`);
    const ready = await request(`${hook.origin}/readyz`, undefined);
    assert.equal(ready.status, 503);
    assert.equal(ready.json.database, 'unreachable');
    assert.ok(!(await storedSessions(direct)).has(rowId('cut-during')), 'a 503 batch is not claimed as stored');

    proxy.forward();
    const resent = await request(hook.url, batchOf('cut-during'));
    assert.equal(resent.status, 200, resent.text);
    const rows = await storedSessions(direct);
    assert.ok(rows.has(rowId('cut-during')), 'the re-sent batch is stored');
    assert.deepEqual((rows.get(rowId('cut-during'))!.exec_metadata as { stages: string[] }).stages, allStages);
    assert.ok(rows.has(rowId('cut-before')), 'what was acknowledged before the outage is still there');
    assert.equal((await request(`${hook.origin}/readyz`, undefined)).status, 200);
  });

  it('answers 503 within the write deadline (default -webhook-write-timeout) while Postgres hangs, well inside 30 s', async (t) => {
    proxy.blackhole();
    const { value: hung, ms } = await timed(request(hook.url, batchOf('hang-1', 'hang-2')));
    t.diagnostic(`connection hanging: 503 after ${ms} ms (deadline ${defaultWriteTimeout} ms)`);
    assert.equal(hung.status, 503, hung.text);
    assert.match(hung.json.error as string, /did not commit the batch within 10000 ms/);
    assert.ok(ms >= defaultWriteTimeout - 50 && ms < APISERVER_TIMEOUT_MS, `answered in ${ms} ms`);

    proxy.forward();
    const resent = await request(hook.url, batchOf('hang-1', 'hang-2'));
    assert.equal(resent.status, 200, resent.text);
    const rows = await storedSessions(direct);
    assert.ok(rows.has(rowId('hang-1')) && rows.has(rowId('hang-2')));
  });
});

for (const backend of backends) {
  describe(`audit webhook with a slow database on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it('answers 503 when the commit takes longer than -webhook-write-timeout; the re-sent batch is stored once the database keeps up', async (t) => {
      const hook = await startTestWebhook(db, { writeTimeoutMs: 1500 });
      try {
        const lock = await lockSessions(db);
        let reply;
        try {
          const result = await timed(request(hook.url, batchOf('slow-1')));
          reply = result.value;
          t.diagnostic(`table locked: 503 after ${result.ms} ms (deadline 1500 ms)`);
          assert.ok(result.ms >= 1450 && result.ms < APISERVER_TIMEOUT_MS);
        } finally {
          await lock.release();
        }
        assert.equal(reply.status, 503, reply.text);
        const resent = await request(hook.url, batchOf('slow-1'));
        assert.equal(resent.status, 200, resent.text);
        const rows = await storedSessions(db);
        assert.deepEqual((rows.get(rowId('slow-1'))!.exec_metadata as { stages: string[] }).stages, allStages, 'stored once, whole');
        assert.equal([...rows.keys()].filter((id) => id === rowId('slow-1')).length, 1);
      } finally {
        await hook.server.stop();
      }
    });

    it('on stop, refuses new connections but finishes the batch in flight (committed and answered 200) before resolving', async () => {
      // The webhook's database, watched: the SessionWriter opening its transaction is the batch reaching it.
      let writes = 0;
      const watched: Database = { ...db, query: (text, params) => db.query(text, params), transaction: (fn) => (writes++, db.transaction(fn)) };
      const hook = await startTestWebhook(watched, { writeTimeoutMs: 20_000 });
      const lock = await lockSessions(db);
      writes = 0;
      const order: string[] = [];
      const inFlight = request(hook.url, batchOf('drain-1')).then((r) => (order.push(`answer ${r.status}`), r));
      inFlight.catch(() => undefined);
      await waitFor('the batch to reach the writer (it waits on the lock)', () => writes > 0);
      const stopped = hook.server.stop().then(() => order.push('stopped'));
      await assert.rejects(request(hook.url, batchOf('drain-late'), { agent: false }), /ECONNREFUSED/, 'no new connections');
      assert.deepEqual(order, [], 'stop waits for the batch in flight (its table is still locked)');
      await lock.release();
      await stopped;
      assert.ok((await storedSessions(db)).has(rowId('drain-1')), 'committed before stop resolved');
      const reply = await inFlight;
      assert.equal(reply.status, 200, `the client got its answer, not a reset: ${reply.text}`);
    });
  });
}
