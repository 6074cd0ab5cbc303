/**
 * Row 3: the audit webhook under concurrent clients posting EventLists of 400 events (the apiserver's
 * default batch size), realistic mix with 0.5 % interactive lines: events acknowledged per second and
 * p50/p99 batch latency, against the same load on a bare node:http server that only parses the body.
 *
 * Every request is a distinct batch: its auditIDs get a fresh 8-hex-digit prefix, so sessions are new
 * rows, as in a real stream (re-sent batches would be cheaper: the writer sees nothing changed).
 */
import autocannon from 'autocannon';
import { join } from 'node:path';
import { AuditLogGenerator } from '../lib/audit-log.ts';
import type { BenchContext } from '../lib/context.ts';
import { benchRoot } from '../lib/datasets.ts';
import { createBenchDatabase } from '../lib/postgres.ts';
import { freePort, hasFlag, quietPorts } from '../lib/processor-flags.ts';
import { startNodeScript, startProcessor, waitFor, type RunningProcess } from '../lib/process.ts';
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

  ctx.log(`webhook: baseline: bare node:http + JSON.parse, ${connections} connections, ${seconds} s`);
  const basePort = await freePort();
  const baseServer = startNodeScript('bench/baselines/http-parse-server.ts', [String(basePort)]);
  let baseline: LoadResult;
  try {
    await waitFor('the baseline HTTP server', () => baseServer.output().stdout.includes('listening'), 30_000);
    baseline = await load(`http://127.0.0.1:${basePort}/audit`, bodies, seconds, connections);
  } finally {
    await baseServer.stop();
  }

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
    ctx.log(`webhook: audit-processor -enable-webhook into Postgres, ${connections} connections, ${seconds} s`);
    const measured = await load(`http://127.0.0.1:${port}/audit`, bodies, seconds, connections);
    const result = await processor.stop();
    ctx.peakRss.push({ mode: 'postgres', row: 'webhook', bytes: result.peakRssBytes });
    const client = await db.connect();
    const stored = Number((await client.query(`SELECT count(*) AS n FROM change_events WHERE operation = 'EXEC'`)).rows[0].n);
    await client.end();
    const cpu = Math.round((result.cpuSeconds / measured.seconds) * 100);
    const common = `${connections} connections, ${measured.seconds.toFixed(0)} s; ${measured.ok} batches acknowledged, ${measured.failed} failed; ${stored} sessions stored; processor CPU ~${cpu} % of one core`;
    return [
      {
        row: 'webhook',
        figure: `EventLists of ${BATCH_EVENTS} (${((interactive / (bodies.length * BATCH_EVENTS)) * 100).toFixed(1)} % interactive) into Postgres`,
        value: measured.eventsPerSecond,
        unit: 'events/s',
        baseline: { label: 'bare node:http + JSON.parse', value: baseline.eventsPerSecond },
        ratio: measured.eventsPerSecond / baseline.eventsPerSecond,
        target: { text: '>= 20k events/s', met: measured.eventsPerSecond >= 20_000 && measured.failed === 0 },
        peakRssBytes: result.peakRssBytes,
        note: common,
      },
      {
        row: 'webhook',
        figure: 'batch latency p50',
        value: measured.p50,
        unit: 'ms',
        baseline: { label: 'bare node:http + JSON.parse', value: baseline.p50 },
        ratio: measured.p50 / baseline.p50,
      },
      {
        row: 'webhook',
        figure: 'batch latency p99',
        value: measured.p99,
        unit: 'ms',
        baseline: { label: 'bare node:http + JSON.parse', value: baseline.p99 },
        ratio: measured.p99 / baseline.p99,
        target: { text: '< 250 ms', met: measured.p99 < 250 },
      },
    ];
  } finally {
    await processor?.stop();
    await db.drop();
  }
}
