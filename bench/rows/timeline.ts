/**
 * Row 6: the timeline of one pod among 1M stored runtime events, through the HTTP API
 * (GET /api/v1/timeline?namespace&pod&from&to), p50/p99 over queries of random one-hour windows of a
 * day, against the SQL lookup of that pod's runtime events in the window run straight on Postgres. Both
 * are warmed alike (one unmeasured pass of each over every window), then measured alternately per window.
 *
 * Setup: 1M runtime events over 24 h on 2000 pods, one pod chatty (1 % of all events, ~10k), 4 %
 * alerts; a few exec sessions into that pod, their runtime events linked as correlation would.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { freePort, hasFlag } from '../lib/processor-flags.ts';
import { runToEnd, startProcessor, waitFor, type RunningProcess } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';
import { Random } from '../lib/random.ts';
import { boundBy } from '../lib/pairs.ts';
import { DAY_MS, DAY_START, NAMESPACE, POD, seedRuntimeEvents } from '../lib/seed.ts';


const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Exec sessions into the chatty pod, every 3 h, 10 min each, with their log events linked. */
async function seedSessions(client: import('pg').Client): Promise<number> {
  let n = 0;
  for (let start = DAY_START + 1_800_000; start < DAY_START + DAY_MS; start += 3 * 3_600_000) {
    const id = `EXEC::bench-${n++}`;
    const end = start + 600_000;
    await client.query(
      `INSERT INTO change_events (id, cluster, audit_id, "timestamp", operation, resource_kind, namespace, name, actor, source, allowed, exec_metadata)
       VALUES ($1, '', $2, $3, 'EXEC', 'Pod', $4, $5, '{"username":"oidc:alice@example.com"}', '{"tool":"kubectl"}', true,
         jsonb_build_object('command', jsonb_build_array('/bin/bash'), 'container', 'web', 'tty', true, 'target_type', 'pod', 'subresource', 'exec',
           'started_at', $7::text, 'ended_at', $6::text, 'duration_ms', 600000, 'stages', jsonb_build_array('RequestReceived','ResponseStarted','ResponseComplete')))`,
      [id, id.slice(6), iso(start), NAMESPACE, POD, iso(end), iso(start)],
    );
    await client.query(
      `INSERT INTO exec_session_links (session_id, event_key, event_time, cluster, link_method)
       SELECT $1, event_key, event_time, '', 'process-tree' FROM runtime_events
       WHERE namespace = $2 AND pod = $3 AND event_time BETWEEN $4 AND $5 AND kind = 'log'`,
      [id, NAMESPACE, POD, iso(start), iso(end)],
    );
    // A linked event is kept (moved from the transient partitions), as the correlation pass does.
    await client.query(
      `UPDATE runtime_events SET kept = true WHERE NOT kept AND (event_key, event_time) IN (SELECT event_key, event_time FROM exec_session_links WHERE session_id = $1)`,
      [id],
    );
  }
  return n;
}

export async function measureTimeline(ctx: BenchContext): Promise<RowOutcome[]> {
  const figure = 'timeline of one pod among stored runtime events';
  if (!hasFlag('http-port')) return [{ row: 'timeline', figure, reason: 'this tree has no -http-port (API) yet' }];
  const { timelineEvents: total, timelineQueries: queries } = ctx.scale;
  const db = await createBenchDatabase('timeline');
  const dir = ctx.scratch('timeline');
  const followed = join(dir, 'audit.log');
  writeFileSync(followed, '');
  let processor: RunningProcess | undefined;
  const client = await db.connect();
  try {
    // The processor's migrations make the schema; then the data goes straight in.
    await runToEnd(startProcessor(['-once', '-audit-log-file', followed, '-database-url', db.url, '-log-level', 'warn']), 'schema setup');
    ctx.log(`timeline: seeding ${total.toLocaleString('en-US')} runtime events`);
    const second = await db.connect();
    try {
      await seedRuntimeEvents([client, second], total, (done) => ctx.log(`  seeded ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')} runtime events`), 'sequential');
    } finally {
      await second.end();
    }
    await client.query('ANALYZE runtime_events');
    const sessions = await seedSessions(client);
    const podEvents = Number((await client.query('SELECT count(*) AS n FROM runtime_events WHERE namespace = $1 AND pod = $2', [NAMESPACE, POD])).rows[0].n);

    const random = new Random(3);
    const windows = Array.from({ length: queries }, () => {
      const from = DAY_START + random.int(0, 23 * 60) * 60_000;
      return { from: iso(from), to: iso(from + 3_600_000) };
    });

    ctx.log('timeline: starting audit-processor with the API');
    const port = await freePort();
    // Retention off: the seeded day is in the past, and dropping it is not what this row measures.
    processor = startProcessor(['-audit-log-file', followed, '-http-port', String(port), '-database-url', db.url, '-log-level', 'warn', '-retention-unlinked', 'off', '-retention-runtime', 'off']);
    const proc = processor;
    await waitFor('the API /readyz', async () => {
      if (proc.child.exitCode !== null) throw new Error(`audit-processor exited: ${proc.output().stderr.slice(-500)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    }, 60_000);
    const sql = async (w: { from: string; to: string }) => {
      const t = performance.now();
      await client.query(
        `SELECT * FROM runtime_events WHERE namespace = $1 AND pod = $2 AND event_time >= $3 AND event_time <= $4 ORDER BY event_time LIMIT 5001`,
        [NAMESPACE, POD, w.from, w.to],
      );
      return performance.now() - t;
    };
    let answerBytes = 0;
    const api = async (w: { from: string; to: string }) => {
      const url = `http://127.0.0.1:${port}/api/v1/timeline?namespace=${NAMESPACE}&pod=${POD}&from=${encodeURIComponent(w.from)}&to=${encodeURIComponent(w.to)}`;
      const t = performance.now();
      const response = await fetch(url);
      const text = await response.text();
      const ms = performance.now() - t;
      if (!response.ok) throw new Error(`GET /api/v1/timeline answered ${response.status}: ${text.slice(0, 300)}`);
      answerBytes += text.length;
      return ms;
    };
    // Warm alike: one unmeasured pass of both over every window reads the pod's pages into the cache for
    // both sides, so neither is measured cold while the other is warm. Then, per window, the order of the
    // two alternates (SQL first on even windows, API first on odd ones).
    ctx.log(`timeline: warming both sides over the ${queries} windows (not measured)`);
    for (const w of windows) {
      await sql(w);
      await api(w);
    }
    answerBytes = 0;
    ctx.log(`timeline: ${queries} windows, GET /api/v1/timeline and the pod/window SQL alternately`);
    const sqlTimes: number[] = [];
    const apiTimes: number[] = [];
    for (const [i, w] of windows.entries()) {
      if (i % 2 === 0) {
        sqlTimes.push(await sql(w));
        apiTimes.push(await api(w));
      } else {
        apiTimes.push(await api(w));
        sqlTimes.push(await sql(w));
      }
    }
    sqlTimes.sort((a, b) => a - b);
    apiTimes.sort((a, b) => a - b);
    const events = answerBytes;
    const result = await processor.stop();
    ctx.peakRss.push({ mode: 'postgres', row: 'timeline', bytes: result.peakRssBytes });
    const note =
      `${total.toLocaleString('en-US')} runtime events, ${podEvents} in the pod, ${sessions} sessions; random 1 h windows; mean answer ${Math.round(events / queries / 1024)} KB; ` +
      `both sides warmed alike by one unmeasured pass, then alternated per window; ${boundBy(result.cpuSeconds, result.wallMs / 1000, 'the database and the client')} (over its whole life)`;
    return [
      {
        row: 'timeline',
        figure: `GET /api/v1/timeline one pod, 1 h window, p50 of ${queries}`,
        value: percentile(apiTimes, 50),
        unit: 'ms',
        baseline: { label: 'the pod/window SQL on Postgres', value: percentile(sqlTimes, 50) },
        ratio: percentile(apiTimes, 50) / percentile(sqlTimes, 50),
        peakRssBytes: result.peakRssBytes,
        note,
      },
      {
        row: 'timeline',
        figure: 'same, p99',
        value: percentile(apiTimes, 99),
        unit: 'ms',
        baseline: { label: 'the pod/window SQL on Postgres', value: percentile(sqlTimes, 99) },
        ratio: percentile(apiTimes, 99) / percentile(sqlTimes, 99),
        target: { text: '< 50 ms and <= 1.2x the SQL', met: percentile(apiTimes, 99) < 50 && percentile(apiTimes, 99) <= 1.2 * percentile(sqlTimes, 99) },
      },
    ];
  } finally {
    await client.end().catch(() => undefined);
    await processor?.stop();
    await db.drop();
  }
}
