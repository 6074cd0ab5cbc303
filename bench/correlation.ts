/**
 * How long one correlation pass takes for N runtime events in one pod's window.
 *   npx tsx bench/correlation.ts [N ...]            (default 10000 100000)
 * Prints, per N: the pure decision (src/correlate/correlate.ts) alone, and a whole pass over the tables
 * (load sessions and events, decide, write links: src/correlate/store.ts) on PGlite and, when
 * TEST_DATABASE_URL is set, on PostgreSQL. The pod holds two overlapping sessions with their process trees,
 * exec probes every 10 s and a busy application, so most events must be told apart from the sessions'.
 */
import { correlate } from '../src/correlate/correlate.ts';
import { isoToMicros } from '../src/correlate/model.ts';
import { correlatePod } from '../src/correlate/store.ts';
import { SessionWriter } from '../src/store/session-writer.ts';
import { createTestDatabase, testDatabaseUrl, type BackendName } from '../test/support/databases.ts';
import { at, overlappingSessions, World } from '../test/correlate/scenario.ts';
import { correlationEventOf, insertRuntimeRows, runtimeRow, sessionsOf } from '../test/correlate/support.ts';
import { correlationSession } from '../src/correlate/session-target.ts';
import type { CorrelationSession } from '../src/correlate/model.ts';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const options = { skewUs: 2_000_000, nowUs: isoToMicros('2025-10-21T12:00:00Z') };

/** The scenario, padded with the app's own activity (file events, children) to about n events. */
function busyPod(n: number): World {
  const world = new World();
  overlappingSessions(world);
  const app = world.container('worker-1', 'shop', 'web-0', 'web');
  const master = world.existing(app, '/usr/sbin/nginx');
  const t0 = '2025-10-21T09:00:00.000000Z';
  let i = 0;
  while (world.runtime.length < n) {
    const offset = (i * 180_000) / Math.max(1, n / 4);
    if (i % 4 === 0) {
      const child = world.spawn(master, at(t0, offset), ['/bin/sh', '-c', `/usr/local/bin/hook ${i}`], null);
      world.file(child, at(t0, offset + 0.1), `/var/cache/nginx/${i}`);
    } else world.file(master, at(t0, offset), `/usr/share/nginx/html/page-${i}.html`);
    i++;
  }
  return world;
}

const ms = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

async function main() {
  const backends: BackendName[] = testDatabaseUrl ? ['pglite', 'postgres'] : ['pglite'];
  console.log('| events | pure decision | ' + backends.map((b) => `pass on ${b}`).join(' | ') + ' | links |');
  console.log('|---|---|' + backends.map(() => '---|').join('') + '---|');
  for (const n of sizes.length ? sizes : [10_000, 100_000]) {
    const world = busyPod(n);
    const rows = world.runtimeLines().map(({ line }) => runtimeRow(line, 'bench'));
    const sessions = sessionsOf(world.auditLines(), 'bench')
      .map((row) => correlationSession({ ...row, resource_kind: row.resourceKind, exec_metadata: row.execMetadata }))
      .filter((s): s is CorrelationSession => s !== undefined);
    const events = rows.map(correlationEventOf);
    let started = process.hrtime.bigint();
    const links = correlate(sessions, events, options);
    const pure = ms(started);
    const passes: string[] = [];
    for (const backend of backends) {
      const { db, close } = await createTestDatabase(backend);
      try {
        await new SessionWriter(db).write(sessionsOf(world.auditLines(), 'bench'));
        for (let i = 0; i < rows.length; i += 5_000) await insertRuntimeRows(db, rows.slice(i, i + 5_000));
        started = process.hrtime.bigint();
        const result = await correlatePod(
          db,
          { cluster: 'bench', namespace: 'shop', pod: 'web-0', fromUs: isoToMicros('2025-10-21T09:00:00Z'), toUs: isoToMicros('2025-10-21T09:03:00Z') },
          options,
        );
        passes.push(`${ms(started).toFixed(0)} ms (${result.events} events loaded)`);
      } finally {
        await close();
      }
    }
    console.log(`| ${rows.length} | ${pure.toFixed(0)} ms | ${passes.join(' | ')} | ${links.length} |`);
  }
}

await main();
