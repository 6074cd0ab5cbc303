/**
 * Row `runtime`: KubeArmor events from a local gRPC feeder into Postgres, in events stored per second
 * (from the feeder's first message to the moment runtime_events holds them all), against a bare grpc-js
 * client that only receives and decodes the same stream, in alternating pairs (a fresh feeder each run).
 * The database floor re-inserts the rows the first measured run stored (same number and shape).
 */
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { projectRoot } from '../lib/datasets.ts';
import { createBenchDatabase, type BenchDatabase } from '../lib/postgres.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { databaseFloor, databaseFloorOutcome } from '../lib/processor-runs.ts';
import { freePort, hasFlag, quietPorts } from '../lib/processor-flags.ts';
import { runToEnd, startNodeScript, startProcessor, waitFor, type ProcessResult, type RunningProcess } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';
import { existsSync } from 'node:fs';
import { ensureKubeArmorStream } from '../lib/kubearmor-stream.ts';

interface FeederLine {
  listening?: number;
  streaming?: boolean;
  sent?: number;
  seconds?: number;
}

function feederLines(feeder: RunningProcess): FeederLine[] {
  return feeder
    .output()
    .stdout.split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as FeederLine);
}

async function startFeeder(streamFile: string, alertsOnly: boolean): Promise<{ feeder: RunningProcess; address: string }> {
  const port = await freePort();
  const feeder = startNodeScript('bench/feeder/kubearmor-feeder.ts', [String(port), streamFile, ...(alertsOnly ? ['alerts-only'] : [])]);
  await waitFor('the bench KubeArmor feeder', () => feederLines(feeder).some((l) => l.listening), 30_000);
  return { feeder, address: `127.0.0.1:${port}` };
}

export async function measureRuntime(ctx: BenchContext): Promise<RowOutcome[]> {
  const figure = 'KubeArmor events from a local gRPC feeder into Postgres';
  if (!hasFlag('kubearmor-addr')) return [{ row: 'runtime', figure, reason: 'this tree has no -kubearmor-addr yet' }];
  if (!existsSync(join(projectRoot, 'src', 'runtime', 'proto', 'kubearmor.proto'))) return [{ row: 'runtime', figure, reason: 'src/runtime/proto/kubearmor.proto is missing' }];
  const count = ctx.scale.runtimeEvents;
  // -kubearmor-logs makes the processor watch logs too: the high-volume stream this row is about.
  if (!hasFlag('kubearmor-logs')) return [{ row: 'runtime', figure, reason: 'this tree has no -kubearmor-logs yet' }];
  const withLogs = true;
  const alertsOnly = false;

  ctx.log(`runtime: generating ${count} KubeArmor events (protobuf-encoded once, reused while there)`);
  const streamFile = ensureKubeArmorStream(count);
  let floor: { rows: number; rowsPerSecond: number } | undefined;
  ctx.log(`runtime: ${ctx.scale.pairs} alternating pair(s) of audit-processor -kubearmor-addr -kubearmor-logs into Postgres and a bare grpc-js client, ${count} events`);
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    async () => {
      const run = await processorRun(ctx, streamFile, count, alertsOnly, withLogs, async (db) => {
        if (floor) return;
        ctx.log('runtime: floor: the rows this run stored, INSERTed again by Postgres itself');
        floor = await databaseFloor(db, 'runtime_events');
      });
      ctx.peakRss.push({ mode: 'postgres', row: 'runtime', bytes: run.result.peakRssBytes });
      return run;
    },
    () => bareClientRun(streamFile, count, alertsOnly),
    ctx.log,
  );
  const rates = spread(runs.measured.map((r) => r.stored / r.seconds));
  const bare = spread(runs.baseline);
  const typical = medianRun(runs.measured, (r) => r.stored / r.seconds);
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const out: RowOutcome[] = [
    {
      row: 'runtime',
      figure: `${count} events (${alertsOnly ? 'alerts' : 'logs + 4 % alerts'}) from a local gRPC feeder into Postgres`,
      value: rates.median,
      unit: 'events/s',
      baseline: { label: 'bare grpc-js client, receive + decode only', value: bare.median },
      ratio: rates.median / bare.median,
      target: { text: '>= 0.8x the bare client', met: rates.median >= 0.8 * bare.median && runs.measured.every((r) => r.stored >= count) },
      peakRssBytes: peak,
      note:
        `${typical.stored} of ${count} stored in ${typical.seconds.toFixed(1)} s${typical.stored < count && !typical.stalled ? ' (stopped at the row time limit)' : ''}` +
        (typical.sentSeconds ? `; feeder sent all in ${typical.sentSeconds.toFixed(1)} s` : '') +
        `; ${boundBy(typical.result.cpuSeconds, typical.result.wallMs / 1000)} (CPU over the process's whole life, start-up included); ${pairsNote(rates, bare, 'events/s')}`,
    },
  ];
  if (floor) out.push(databaseFloorOutcome('runtime', rates.median, floor));
  return out;
}

/** The bare grpc-js client over a fresh feeder: events received and decoded per second. */
async function bareClientRun(streamFile: string, count: number, alertsOnly: boolean): Promise<number> {
  const base = await startFeeder(streamFile, alertsOnly);
  try {
    const counted = await runToEnd(startNodeScript('bench/baselines/grpc-count.ts', [base.address, String(count), ...(alertsOnly ? ['alerts-only'] : [])]), 'grpc-count baseline');
    const out = JSON.parse(counted.stdout.trim()) as { received: number; seconds: number };
    return out.received / out.seconds;
  } finally {
    await base.feeder.stop();
  }
}

interface ProcessorRun {
  stored: number;
  seconds: number;
  stalled: boolean;
  sentSeconds?: number;
  result: ProcessResult;
}

/** One processor run over a fresh feeder into a fresh database; `keep` sees the database before it is dropped. */
async function processorRun(
  ctx: BenchContext,
  streamFile: string,
  count: number,
  alertsOnly: boolean,
  withLogs: boolean,
  keep: (db: BenchDatabase) => Promise<void>,
): Promise<ProcessorRun> {
  const db = await createBenchDatabase('runtime');
  const { feeder, address } = await startFeeder(streamFile, alertsOnly);
  let processor: RunningProcess | undefined;
  try {
    processor = startProcessor(['-kubearmor-addr', address, ...(withLogs ? ['-kubearmor-logs'] : []), '-database-url', db.url, '-log-level', 'warn', ...quietPorts()]);
    const proc = processor;
    await waitFor('the feeder stream to start', () => {
      if (proc.child.exitCode !== null) throw new Error(`audit-processor exited: ${proc.output().stderr.slice(-500)}`);
      return feederLines(feeder).some((l) => l.streaming);
    }, 60_000);
    const started = performance.now();
    const client = await db.connect();
    let stored = 0;
    let lastGrowth = performance.now();
    try {
      // Count until everything is stored, or nothing new arrives for 15 s (a duplicate-key merge or a loss).
      for (;;) {
        await new Promise((r) => setTimeout(r, 100));
        const n = Number((await client.query('SELECT count(*) AS n FROM runtime_events')).rows[0].n);
        if (n > stored) lastGrowth = performance.now();
        stored = n;
        if (stored >= count || performance.now() - lastGrowth > 15_000) break;
        if (performance.now() - started > ctx.scale.maxRowSeconds * 1000) break; // a slow run: its rate so far
        if (proc.child.exitCode !== null) throw new Error(`audit-processor exited: ${proc.output().stderr.slice(-500)}`);
      }
    } finally {
      await client.end();
    }
    const stalled = performance.now() - lastGrowth > 15_000;
    const seconds = ((stalled ? lastGrowth : performance.now()) - started) / 1000;
    const result = await processor.stop();
    const sent = feederLines(feeder).find((l) => l.sent);
    await keep(db);
    return { stored, seconds, stalled, sentSeconds: sent?.seconds, result };
  } finally {
    await processor?.stop();
    await feeder.stop();
    await db.drop();
  }
}
