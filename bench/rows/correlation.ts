/**
 * Row: one correlation pass over a busy pod (src/correlate): load the pod's sessions and runtime events
 * around a window, decide, write the links, for N runtime events in the pod. Measured on Postgres and
 * PGlite; the baseline is the plain SELECT of the same events (what any pass has to read), and the pure
 * decision alone is reported in the note.
 *
 * The pod holds two overlapping sessions with their process trees, exec probes every 10 s and a busy
 * application (the labelled scenario of test/correlate, padded with the app's own events), so most
 * events must be told apart from the sessions'.
 */
import { correlate } from '../../src/correlate/decide.ts';
import type { CorrelationSession } from '../../src/correlate/model.ts';
import { isoToMicros } from '../../src/time/micros.ts';
import { correlationSession } from '../../src/correlate/session-target.ts';
import { runPodPass } from '../../src/correlate/pod-pass.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { at, overlappingSessions, World } from '../../test/correlate/scenario.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { mergeStages } from '../../src/audit/session.ts';
import { toCorrelationEvent } from '../../src/correlate/pod-pass.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { RuntimeEvent } from '../../src/runtime/event.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import type { BenchContext } from '../lib/context.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import type { RowOutcome } from '../lib/report.ts';

const options = { skewUs: 2_000_000, nowUs: isoToMicros('2025-10-21T12:00:00Z') };
const scope = { cluster: 'bench', namespace: 'shop', pod: 'web-0', fromUs: isoToMicros('2025-10-21T09:00:00Z'), toUs: isoToMicros('2025-10-21T09:03:00Z') };

/** The scenario, padded with the app's own activity (file events, children) to n events over 3 minutes. */
export function busyPod(n: number): World {
  const world = new World();
  overlappingSessions(world);
  const app = world.container('worker-1', 'shop', 'web-0', 'web');
  const master = world.existing(app, '/usr/sbin/nginx');
  const t0 = '2025-10-21T09:00:00.000000Z';
  const padding = n - world.runtime.length;
  for (let i = 0; world.runtime.length < n; i++) {
    const offset = (i * 180_000) / Math.max(1, padding);
    if (i % 4 === 0) {
      const child = world.spawn(master, at(t0, offset), ['/bin/sh', '-c', `/usr/local/bin/hook ${i}`], null);
      world.file(child, at(t0, offset + 0.1), `/var/cache/nginx/${i}`);
    } else world.file(master, at(t0, offset), `/usr/share/nginx/html/page-${i}.html`);
  }
  return world;
}

/** The world's audit lines as session rows, through the real audit line path. */
function sessionsOf(world: World) {
  return mergeStages(world.auditLines().flatMap((line) => sessionsFromLine(Buffer.from(line), { cluster: 'bench' }).rows));
}

/** The world's KubeArmor lines as runtime events, through the real reader. */
function eventsOf(world: World): RuntimeEvent[] {
  return world.runtimeLines().flatMap(({ line }) => {
    const outcome = runtimeEventFromLine(line, { cluster: 'bench' });
    return outcome.kind === 'event' ? [outcome.event] : [];
  });
}

/** Times the pure decision over the world's events, in milliseconds. */
export function timeDecision(world: World): { ms: number; links: number } {
  const sessions = sessionsOf(world)
    .map(correlationSession)
    .filter((s): s is CorrelationSession => s !== undefined);
  const events = eventsOf(world).map(toCorrelationEvent);
  correlate(sessions, events, options); // warm-up
  const started = performance.now();
  const links = correlate(sessions, events, options);
  return { ms: performance.now() - started, links: links.length };
}

/** Stores the world, then times one pass over its pod and the plain SELECT of the same events. */
export async function timePass(db: Database, world: World): Promise<{ passMs: number; selectMs: number; events: number; links: number }> {
  await new SessionWriter(db).write(sessionsOf(world));
  const events = eventsOf(world);
  const writer = new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger });
  for (let i = 0; i < events.length; i += 5_000) await writer.write(events.slice(i, i + 5_000));
  await db.query('ANALYZE runtime_events');
  let started = performance.now();
  const { rows: selected } = await db.query(
    `SELECT * FROM runtime_events WHERE cluster = 'bench' AND namespace = 'shop' AND pod = 'web-0' AND event_time BETWEEN $1 AND $2`,
    ['2025-10-21T08:59:58Z', '2025-10-21T09:03:02Z'],
  );
  const selectMs = performance.now() - started;
  started = performance.now();
  const result = await runPodPass(db, scope, options);
  return { passMs: performance.now() - started, selectMs, events: selected.length, links: result.links };
}

export async function measureCorrelation(ctx: BenchContext): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  for (const n of ctx.quick ? [10_000] : [10_000, 100_000]) {
    const world = busyPod(n);
    const decision = timeDecision(world);
    ctx.log(`correlation: ${n.toLocaleString('en-US')} events in one pod, pure decision ${decision.ms.toFixed(0)} ms`);
    for (const backend of ['postgres', 'pglite'] as const) {
      const pgDb = backend === 'postgres' ? await createBenchDatabase('correlation') : undefined;
      const db = await openDatabase(pgDb ? { databaseUrl: pgDb.url, dataDir: ctx.scratch('correlation') } : { dataDir: ctx.scratch('correlation') });
      try {
        const t = await timePass(db, world);
        ctx.log(`correlation: pass on ${backend} ${t.passMs.toFixed(0)} ms (${t.events} events in the window, ${t.links} links)`);
        outcomes.push({
          row: 'correlation',
          figure: `one pass over a pod with ${n.toLocaleString('en-US')} events, ${backend === 'postgres' ? 'Postgres' : 'PGlite'}`,
          value: Math.round(t.passMs),
          unit: 'ms',
          baseline: { label: `SELECT of the ${t.events.toLocaleString('en-US')} events in the window`, value: Math.round(t.selectMs), unit: 'ms' },
          ratio: t.passMs / Math.max(1, t.selectMs),
          note: `load + decide + write ${t.links} links; the pure decision over all ${n.toLocaleString('en-US')} events takes ${decision.ms.toFixed(0)} ms`,
        });
      } finally {
        await db.close();
        await pgDb?.drop();
      }
    }
  }
  return outcomes;
}
