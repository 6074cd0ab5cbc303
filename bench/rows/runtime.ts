/**
 * Row 4: KubeArmor events from a local gRPC feeder into Postgres, in events stored per second (from the
 * feeder's first message to the moment runtime_events holds them all), against a bare grpc-js client
 * that only receives and decodes the same stream.
 */
import { join } from 'node:path';
import type { BenchContext } from '../lib/context.ts';
import { benchRoot, projectRoot } from '../lib/datasets.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { freePort, hasFlag, quietPorts } from '../lib/processor-flags.ts';
import { runToEnd, startNodeScript, startProcessor, waitFor, type RunningProcess } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';
import { existsSync, writeFileSync } from 'node:fs';
import { seedRuntimeEvents } from '../lib/seed.ts';
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

/** runtime_events rows per second when Postgres writes them itself (fresh database, the processor's schema). */
async function databaseInsertRate(ctx: BenchContext, rows: number): Promise<number> {
  const db = await createBenchDatabase('runtime_floor');
  try {
    const empty = join(ctx.scratch('floor'), 'empty.log');
    writeFileSync(empty, '');
    await runToEnd(startProcessor(['-once', '-audit-log-file', empty, '-database-url', db.url, '-log-level', 'warn']), 'schema setup');
    const client = await db.connect();
    try {
      const started = performance.now();
      await seedRuntimeEvents(client, rows);
      return rows / ((performance.now() - started) / 1000);
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
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
  ctx.log(`runtime: baseline: a bare grpc-js client receiving ${count} events`);
  const base = await startFeeder(streamFile, alertsOnly);
  let baselinePerSecond: number;
  try {
    const counted = await runToEnd(startNodeScript('bench/baselines/grpc-count.ts', [base.address, String(count), ...(alertsOnly ? ['alerts-only'] : [])]), 'grpc-count baseline');
    const out = JSON.parse(counted.stdout.trim()) as { received: number; seconds: number };
    baselinePerSecond = out.received / out.seconds;
  } finally {
    await base.feeder.stop();
  }

  ctx.log(`runtime: audit-processor -kubearmor-addr${withLogs ? ' -kubearmor-logs' : ''} into Postgres, ${count} events`);
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
    const seconds = (stalled ? lastGrowth : performance.now()) - started;
    const perSecond = stored / (seconds / 1000);
    const result = await processor.stop();
    ctx.peakRss.push({ mode: 'postgres', row: 'runtime', bytes: result.peakRssBytes });
    const sent = feederLines(feeder).find((l) => l.sent);
    ctx.log('runtime: floor: the same number of rows INSERTed by the database itself');
    const floor = await databaseInsertRate(ctx, Math.min(count, 50_000));
    return [
      {
        row: 'runtime',
        figure: `${count} events (${alertsOnly ? 'alerts' : 'logs + 4 % alerts'}) from a local gRPC feeder into Postgres`,
        value: perSecond,
        unit: 'events/s',
        baseline: { label: 'bare grpc-js client, receive + decode only', value: baselinePerSecond },
        ratio: perSecond / baselinePerSecond,
        target: { text: '>= 50k events/s', met: perSecond >= 50_000 && stored >= count },
        peakRssBytes: result.peakRssBytes,
        note:
          `${stored} of ${count} stored in ${(seconds / 1000).toFixed(1)} s${stored < count && !stalled ? ' (stopped at the row time limit)' : ''}` +
          (sent?.seconds ? `; feeder sent all in ${sent.seconds.toFixed(1)} s` : '') +
          `; processor CPU ~${Math.round((result.cpuSeconds / (seconds / 1000)) * 100)} % of one core`,
      },
      {
        row: 'runtime',
        figure: 'same, against the database alone',
        value: perSecond,
        unit: 'events/s',
        baseline: { label: 'rows INSERT ... SELECTed by Postgres itself', value: floor, unit: 'rows/s' },
        ratio: perSecond / floor,
        note: 'same shape: 64-hex key, raw jsonb, the table\'s indexes',
      },
    ];
  } finally {
    await processor?.stop();
    await feeder.stop();
    await db.drop();
  }
}
