/**
 * Row 3: the audit webhook under concurrent clients posting EventLists of 400 events (the apiserver's
 * default batch size), realistic mix with 0.5 % interactive lines: events acknowledged per second and
 * p50/p99 batch latency, against the same load on a bare node:http server that only parses the body, in
 * alternating pairs (a fresh processor and database each run; medians of each figure).
 *
 * Every request is a distinct batch: its auditIDs get a fresh 8-hex-digit prefix, so sessions are new
 * rows, as in a real stream (re-sent batches would be cheaper: the writer sees nothing changed).
 */
import autocannon from 'autocannon';
import { AuditLogGenerator } from '../lib/audit-log.ts';
import type { BenchContext } from '../lib/context.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { countSessions } from '../lib/processor-runs.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { freePort, hasFlag, quietPorts } from '../lib/processor-flags.ts';
import { startNodeScript, startProcessor, waitFor, type ProcessResult, type RunningProcess } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';

const BATCH_EVENTS = 400;
const PLACEHOLDER = 'ffffffff';

/** Distinct EventList bodies whose auditIDs all start with PLACEHOLDER (replaced per request). */
function eventListBodies(count: number): { bodies: string[]; interactive: number } {
  const generator = new AuditLogGenerator({ interactiveRatio: 0.005, seed: 99, auditIdPrefix: PLACEHOLDER, maxSessionLines: 4 * BATCH_EVENTS });
  const bodies: string[] = [];
  let interactive = 0;
  for (let b = 0; b < count; b++) {
    const items: string[] = [];
    for (let i = 0; i < BATCH_EVENTS; i++) {
      const line = generator.next();
      if (line.interactive) interactive++;
      items.push(line.text);
    }
    bodies.push(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[${items.join(',')}]}`);
  }
  return { bodies, interactive };
}

interface LoadResult {
  eventsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
  seconds: number;
}

async function load(url: string, bodies: string[], seconds: number, connections: number): Promise<LoadResult> {
  let n = 0;
  const needle = `"auditID":"${PLACEHOLDER}`;
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections,
    duration: seconds,
    timeout: 30, // the apiserver's webhook timeout
    requests: [
      {
        setupRequest: (request) => {
          const prefix = (n++ >>> 0).toString(16).padStart(8, '0');
          request.body = bodies[n % bodies.length]!.replaceAll(needle, `"auditID":"${prefix}`);
          return request;
        },
      },
    ],
  });
  return {
    eventsPerSecond: (result['2xx'] * BATCH_EVENTS) / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors,
    seconds: result.duration,
  };
}

export async function measureWebhook(ctx: BenchContext): Promise<RowOutcome[]> {
  if (!hasFlag('enable-webhook')) return [{ row: 'webhook', figure: 'webhook events/s', reason: 'this tree has no -enable-webhook yet' }];
  const { webhookSeconds: seconds, webhookConnections: connections } = ctx.scale;
  ctx.log(`webhook: building 32 EventList bodies of ${BATCH_EVENTS} events`);
  const { bodies, interactive } = eventListBodies(32);

  const runs = await alternatingPairs(
    ctx.scale.pairs,
    () => processorLoad(ctx, bodies, seconds, connections),
    () => baselineLoad(bodies, seconds, connections),
    ctx.log,
  );
  const rates = spread(runs.measured.map((r) => r.load.eventsPerSecond));
  const base = spread(runs.baseline.map((b) => b.eventsPerSecond));
  const p50 = spread(runs.measured.map((r) => r.load.p50));
  const p99 = spread(runs.measured.map((r) => r.load.p99));
  const baseP50 = spread(runs.baseline.map((b) => b.p50));
  const baseP99 = spread(runs.baseline.map((b) => b.p99));
  const typical = medianRun(runs.measured, (r) => r.load.eventsPerSecond);
  const { load: measured, result, stored } = typical;
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const failed = runs.measured.reduce((sum, r) => sum + r.load.failed, 0);
  const common = `${connections} connections, ${measured.seconds.toFixed(0)} s; ${measured.ok} batches acknowledged, ${measured.failed} failed; ${stored} sessions stored; ${boundBy(result.cpuSeconds, measured.seconds)}; ${pairsNote(rates, base, 'events/s')}`;
  return [
    {
      row: 'webhook',
      figure: `EventLists of ${BATCH_EVENTS} (${((interactive / (bodies.length * BATCH_EVENTS)) * 100).toFixed(1)} % interactive) into Postgres`,
      value: rates.median,
      unit: 'events/s',
      baseline: { label: 'bare node:http + JSON.parse', value: base.median },
      ratio: rates.median / base.median,
      target: { text: '>= 20k events/s', met: rates.median >= 20_000 && failed === 0 },
      peakRssBytes: peak,
      note: common,
    },
    {
      row: 'webhook',
      figure: 'batch latency p50',
      value: p50.median,
      unit: 'ms',
      baseline: { label: 'bare node:http + JSON.parse', value: baseP50.median },
      ratio: p50.median / baseP50.median,
      note: pairsNote(p50, baseP50, 'ms'),
    },
    {
      row: 'webhook',
      figure: 'batch latency p99',
      value: p99.median,
      unit: 'ms',
      baseline: { label: 'bare node:http + JSON.parse', value: baseP99.median },
      ratio: p99.median / baseP99.median,
      target: { text: '< 250 ms', met: p99.median < 250 },
      note: pairsNote(p99, baseP99, 'ms'),
    },
  ];
}

/** The same load on a bare node:http server that reads and JSON.parses the body. */
async function baselineLoad(bodies: string[], seconds: number, connections: number): Promise<LoadResult> {
  const basePort = await freePort();
  const baseServer = startNodeScript('bench/baselines/http-parse-server.ts', [String(basePort)]);
  try {
    await waitFor('the baseline HTTP server', () => baseServer.output().stdout.includes('listening'), 30_000);
    return await load(`http://127.0.0.1:${basePort}/audit`, bodies, seconds, connections);
  } finally {
    await baseServer.stop();
  }
}

/** The load on `audit-processor -enable-webhook` with a fresh database. */
async function processorLoad(ctx: BenchContext, bodies: string[], seconds: number, connections: number): Promise<{ load: LoadResult; result: ProcessResult; stored: number }> {
  const db = await createBenchDatabase('webhook');
  let processor: RunningProcess | undefined;
  try {
    const port = await freePort();
    processor = startProcessor(['-enable-webhook', '-webhook-port', String(port), '-database-url', db.url, '-log-level', 'warn', ...quietPorts()]);
    const proc = processor;
    await waitFor('the webhook /readyz', async () => {
      if (proc.child.exitCode !== null) throw new Error(`audit-processor exited: ${proc.output().stderr.slice(-500)}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok;
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; stderr: ${proc.output().stderr.slice(-300)}`);
    });
    const measured = await load(`http://127.0.0.1:${port}/audit`, bodies, seconds, connections);
    const result = await processor.stop();
    ctx.peakRss.push({ mode: 'postgres', row: 'webhook', bytes: result.peakRssBytes });
    const client = await db.connect();
    const stored = await countSessions(client).finally(() => client.end());
    return { load: measured, result, stored };
  } finally {
    await processor?.stop();
    await db.drop();
  }
}
