/**
 * Row 5: tail latency. The processor follows a file; the bench appends one exec line at a time (a new
 * session each) and takes the time until the row is COMMITted: a trigger on change_events sends
 * pg_notify at commit, and the bench LISTENs. p50/p99 over all lines appended; a line not committed
 * within 10 s counts as infinite latency (it is not dropped from the percentiles). Baseline: a minimal
 * follower (fs.watch + read + one committed pg_notify per line), measured the same way, in alternating
 * pairs (each run on its own file and database); medians of the per-run percentiles.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { AuditLogGenerator } from '../lib/audit-log.ts';
import type { BenchContext } from '../lib/context.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { createBenchDatabase, type BenchDatabase } from '../lib/postgres.ts';
import { quietPorts } from '../lib/processor-flags.ts';
import { startNodeScript, startProcessor, waitFor, type ProcessResult, type RunningProcess } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';

/** One line per new session (its first stage), each with its own auditID. */
function sessionLines(count: number, seed: number): { id: string; text: string }[] {
  const generator = new AuditLogGenerator({ interactiveRatio: 1, seed, maxSessionLines: 50 });
  const seen = new Set<string>();
  const out: { id: string; text: string }[] = [];
  while (out.length < count) {
    const line = generator.next();
    if (seen.has(line.auditId)) continue;
    seen.add(line.auditId);
    out.push({ id: line.auditId, text: line.text });
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Appends lines at a steady pace and collects append→notify latencies from a LISTENing client. */
async function appendAndListen(
  file: string,
  listener: pg.Client,
  channel: string,
  lines: { id: string; text: string }[],
  intervalMs: number,
): Promise<{ latencies: number[]; missing: number }> {
  const appendedAt = new Map<string, number>();
  const latencies: number[] = [];
  listener.on('notification', (n) => {
    if (n.channel !== channel || !n.payload) return;
    const at = appendedAt.get(n.payload);
    if (at === undefined) return;
    latencies.push(performance.now() - at);
    appendedAt.delete(n.payload);
  });
  await listener.query(`LISTEN ${channel}`);
  const begin = performance.now();
  for (let i = 0; i < lines.length; i++) {
    const wait = begin + i * intervalMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const line = lines[i]!;
    appendedAt.set(line.id, performance.now());
    appendFileSync(file, line.text + '\n');
  }
  // Let the last lines land (anything later than 10 s is reported as missing).
  const deadline = performance.now() + 10_000;
  while (appendedAt.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await listener.query(`UNLISTEN ${channel}`);
  return { latencies: latencies.sort((a, b) => a - b), missing: appendedAt.size };
}

async function installCommitNotify(db: BenchDatabase, channel: string): Promise<void> {
  const client = await db.connect();
  try {
    await client.query(`CREATE OR REPLACE FUNCTION bench_notify_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('${channel}', NEW.audit_id); RETURN NEW; END $$`);
    await client.query(`CREATE TRIGGER bench_notify_commit AFTER INSERT OR UPDATE ON change_events FOR EACH ROW EXECUTE FUNCTION bench_notify_commit()`);
  } finally {
    await client.end();
  }
}

/** One follower run (the processor, or the baseline) on its own file and database: append→commit latencies. */
interface TailRun {
  /** Sorted; a line never committed within 10 s counts as Infinity (it is the worst latency, not a dropped sample). */
  latencies: number[];
  missing: number;
  result?: ProcessResult;
}

const withMissing = (r: { latencies: number[]; missing: number }): number[] => [...r.latencies, ...Array<number>(r.missing).fill(Infinity)];

async function baselineRun(ctx: BenchContext, count: number, interval: number, seed: number): Promise<TailRun> {
  const db = await createBenchDatabase('tail_base');
  const listener = await db.connect();
  let follower: RunningProcess | undefined;
  try {
    const baseFile = join(ctx.scratch('tail'), 'baseline.log');
    writeFileSync(baseFile, '');
    follower = startNodeScript('bench/baselines/tail-notify.ts', [baseFile, db.url, 'bench_tail_base']);
    const f = follower;
    await waitFor('the baseline follower', () => f.output().stdout.includes('ready'), 30_000);
    const r = await appendAndListen(baseFile, listener, 'bench_tail_base', sessionLines(count, seed), interval);
    return { latencies: withMissing(r), missing: r.missing };
  } finally {
    await listener.end().catch(() => undefined);
    await follower?.stop();
    await db.drop();
  }
}

async function processorRun(ctx: BenchContext, count: number, interval: number, seed: number): Promise<TailRun> {
  const db = await createBenchDatabase('tail');
  const listener = await db.connect();
  let processor: RunningProcess | undefined;
  try {
    const file = join(ctx.scratch('tail'), 'audit.log');
    const all = sessionLines(count + 30, seed);
    const lines = all.slice(0, count);
    const warmups = all.slice(count);
    writeFileSync(file, '');
    processor = startProcessor(['-audit-log-file', file, '-database-url', db.url, '-log-level', 'warn', ...quietPorts()]);
    const proc = processor;
    // Ready when a line appended now is stored: the schema exists and the file is being followed
    // (whether the source starts at the beginning or at the end of the file).
    const appended: string[] = [];
    let lastAppend = 0;
    await waitFor('the processor to store a line appended to the followed file', async () => {
      if (proc.child.exitCode !== null) throw new Error(`audit-processor exited: ${proc.output().stderr.slice(-500)}`);
      if (performance.now() - lastAppend > 2000 && warmups.length) {
        const w = warmups.shift()!;
        appendFileSync(file, w.text + '\n');
        appended.push(w.id);
        lastAppend = performance.now();
      }
      const r = await listener.query(`SELECT 1 FROM change_events WHERE audit_id = ANY($1::text[])`, [appended]);
      return (r.rowCount ?? 0) > 0;
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; stderr: ${proc.output().stderr.slice(-300)}`);
    });
    await installCommitNotify(db, 'bench_tail');
    const measured = await appendAndListen(file, listener, 'bench_tail', lines, interval);
    const result = await processor.stop();
    ctx.peakRss.push({ mode: 'postgres', row: 'tail', bytes: result.peakRssBytes });
    return { latencies: withMissing(measured), missing: measured.missing, result };
  } finally {
    await listener.end().catch(() => undefined);
    await processor?.stop();
    await db.drop();
  }
}

export async function measureTail(ctx: BenchContext): Promise<RowOutcome[]> {
  const { tailLines: count, tailIntervalMs: interval } = ctx.scale;
  ctx.log(`tail: ${ctx.scale.pairs} alternating pair(s) of audit-processor following a file and an fs.watch follower committing one pg_notify per line, ${count} lines every ${interval} ms`);
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    (i) => processorRun(ctx, count, interval, 12 + 2 * i),
    (i) => baselineRun(ctx, count, interval, 11 + 2 * i),
    ctx.log,
  );
  const p50 = spread(runs.measured.map((r) => percentile(r.latencies, 50)));
  const p99 = spread(runs.measured.map((r) => percentile(r.latencies, 99)));
  const b50 = spread(runs.baseline.map((r) => percentile(r.latencies, 50)));
  const b99 = spread(runs.baseline.map((r) => percentile(r.latencies, 99)));
  const missing = runs.measured.reduce((sum, r) => sum + r.missing, 0);
  const baseMissing = runs.baseline.reduce((sum, r) => sum + r.missing, 0);
  const max = Math.max(...runs.measured.map((r) => r.latencies.at(-1)!));
  const typical = medianRun(runs.measured, (r) => percentile(r.latencies, 99));
  const missingText =
    (missing ? `${missing} of ${count * runs.pairs} lines never committed within 10 s (counted as infinite latency)` : `all ${count * runs.pairs} lines committed`) +
    (baseMissing ? `; baseline: ${baseMissing} never notified` : '');
  return [
    {
      row: 'tail',
      figure: `appended line → committed row, p50 over ${count} lines`,
      value: p50.median,
      unit: 'ms',
      baseline: { label: 'fs.watch + one committed pg_notify per line', value: b50.median },
      ratio: p50.median / b50.median,
      peakRssBytes: Math.max(...runs.measured.map((r) => r.result!.peakRssBytes)),
      note: `one line every ${interval} ms; ${missingText}; ${boundBy(typical.result!.cpuSeconds, typical.result!.wallMs / 1000, 'the next line')}; ${pairsNote(p50, b50, 'ms')}`,
    },
    {
      row: 'tail',
      figure: 'appended line → committed row, p99',
      value: p99.median,
      unit: 'ms',
      baseline: { label: 'fs.watch + one committed pg_notify per line', value: b99.median },
      ratio: p99.median / b99.median,
      target: { text: '< 1 s, none missing', met: p99.median < 1000 && missing === 0 },
      note: `max ${Number.isFinite(max) ? `${max.toFixed(0)} ms` : 'infinite (a line never arrived)'}; ${pairsNote(p99, b99, 'ms')}`,
    },
  ];
}
