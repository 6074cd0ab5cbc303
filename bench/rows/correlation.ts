/**
 * Row `correlation`: one whole correlation pass over a busy pod (src/correlate/pod-pass.ts: lock, load the
 * pod's sessions and runtime events around a window with widening, decide, write the links, in one
 * transaction), for N runtime events in the pod, on Postgres and PGlite, in-process. Like with like: the
 * baseline is load + decide without the pass's machinery (the two SELECTs over the same widened window,
 * the mapping, the same pure decision; no transaction, lock or link writes), both warmed alike by one
 * unmeasured run, then alternating pairs. The pure decision alone is in the note.
 *
 * The pod holds two overlapping sessions with their process trees, exec probes every 10 s and a busy
 * application (the labelled scenario of scenarios/correlation.ts, padded with the app's own events), so
 * most events must be told apart from the sessions'.
 */
import { correlate, reachOf } from '../../src/correlate/decide.ts';
import type { CorrelationSession } from '../../src/correlate/model.ts';
import { isoToMicros, microsToIso } from '../../src/time/micros.ts';
import { correlationSession, type StoredSession } from '../../src/correlate/session-target.ts';
import { eventColumnsSql, runPodPass, sessionColumnsSql, type EventRow } from '../../src/correlate/pod-pass.ts';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { at, World } from '../../scenarios/correlation.ts';
import { overlappingSessions } from '../../scenarios/correlation-cases.ts';
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
import { alternatingPairs, medianRun, pairsNote, spread } from '../lib/pairs.ts';
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

/** Stores the world through the real writers (sessions, then runtime events in batches of 5000). */
async function storeWorld(db: Database, world: World): Promise<void> {
  await new SessionWriter(db).write(sessionsOf(world));
  const events = eventsOf(world);
  const writer = new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger });
  for (let i = 0; i < events.length; i += 5_000) await writer.write(events.slice(i, i + 5_000));
  await db.query('ANALYZE runtime_events');
  await db.query('ANALYZE change_events');
}

interface Timed {
  ms: number;
  /** CPU of this process (the pass runs in it) over the same time, ms. */
  cpuMs: number;
  events: number;
  links: number;
}

async function timed(run: () => Promise<{ events: number; links: number }>): Promise<Timed> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const { events, links } = await run();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { ms, cpuMs: (used.user + used.system) / 1000, events, links };
}

/** One whole pass (load with widening, decide, write links, in one transaction), the links of the last pass removed first (not timed) so every pass writes them all. */
async function wholePass(db: Database): Promise<Timed> {
  await db.query('DELETE FROM exec_session_links');
  return timed(() => runPodPass(db, scope, options));
}

/**
 * The baseline: what any pass must do without the pass's machinery: SELECT the pod's sessions, SELECT its
 * events over the same widened window, map both, and decide (the same pure `correlate`); no transaction,
 * no lock, no link writes.
 */
async function loadAndDecide(db: Database): Promise<Timed> {
  return timed(async () => {
    const rows = (
      await db.query<StoredSession>(
        `SELECT ${sessionColumnsSql('c')} FROM change_events c WHERE c.operation = 'EXEC' AND c.cluster = $1 AND c.resource_kind = 'Pod' AND c.namespace = $2 AND c.name = $3`,
        [scope.cluster, scope.namespace, scope.pod],
      )
    ).rows;
    const sessions = rows.map(correlationSession).filter((s): s is CorrelationSession => s !== undefined);
    const reach = [...reachOf(sessions, options).values()];
    const from = Math.min(scope.fromUs - options.skewUs, ...reach.map((w) => w.fromUs));
    const to = Math.max(scope.toUs + options.skewUs, ...reach.map((w) => w.toUs));
    const events = (
      await db.query<EventRow>(
        `SELECT ${eventColumnsSql('r')} FROM runtime_events r WHERE r.cluster = $1 AND r.namespace = $2 AND r.pod = $3 AND r.event_time >= $4::timestamptz AND r.event_time <= $5::timestamptz`,
        [scope.cluster, scope.namespace, scope.pod, microsToIso(from), microsToIso(to)],
      )
    ).rows;
    const links = correlate(sessions, events.map(toCorrelationEvent), options);
    return { events: events.length, links: links.length };
  });
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
        await storeWorld(db, world);
        // Warm alike: one unmeasured run of each reads the pod's pages into the cache for both.
        await wholePass(db);
        await loadAndDecide(db);
        const runs = await alternatingPairs(ctx.scale.pairs, () => wholePass(db), () => loadAndDecide(db), ctx.log);
        const pass = spread(runs.measured.map((r) => r.ms));
        const base = spread(runs.baseline.map((r) => r.ms));
        const typical = medianRun(runs.measured, (r) => r.ms);
        const baseEvents = runs.baseline[0]!.events;
        ctx.log(`correlation: pass on ${backend} ${pass.median.toFixed(0)} ms (${typical.events} events, ${typical.links} links), load + decide ${base.median.toFixed(0)} ms`);
        outcomes.push({
          row: 'correlation',
          figure: `one whole pass over a pod with ${n.toLocaleString('en-US')} events, ${backend === 'postgres' ? 'Postgres' : 'PGlite'}`,
          value: pass.median,
          unit: 'ms',
          baseline: { label: `load + decide of the same ${baseEvents.toLocaleString('en-US')} events (two SELECTs, the pure decision; no transaction, no link writes)`, value: base.median, unit: 'ms' },
          ratio: pass.median / base.median,
          target: { text: '<= 2x load + decide', met: pass.median <= 2 * base.median },
          note:
            `the pass: lock, load with widening, decide, write ${typical.links} links (links removed before each pass, not timed)` +
            (typical.events === baseEvents ? '' : `; the pass loaded ${typical.events} events, the baseline ${baseEvents}`) +
            `; warmed alike, then ${pairsNote(pass, base, 'ms')}; bench process CPU ${Math.round((typical.cpuMs / typical.ms) * 100)} % of the pass's wall time` +
            (backend === 'pglite' ? ' (PGlite runs in it)' : ' (the rest: waiting on Postgres)') +
            `; the pure decision over all ${n.toLocaleString('en-US')} events takes ${decision.ms.toFixed(0)} ms`,
        });
      } finally {
        await db.close();
        await pgDb?.drop();
      }
    }
  }
  return outcomes;
}
