/**
 * Row `runtime-file`: `-kubearmor-file FILE -once` of feeder-shaped KubeArmor JSON lines (the form
 * bench/lib/kubearmor-stream.ts writes) into Postgres, in events stored per second end to end (start-up
 * included), against JSON.parse of every line of the same file in a child process, in alternating pairs.
 * After the first measured run the same file is read again with `-once` into the same database, and then
 * once more with its checkpoint deleted (read through, deduplicated by event key only); both must store
 * nothing new. Then the database floor is taken with the rows that run stored.
 */
import { statSync } from 'node:fs';
import type { BenchContext } from '../lib/context.ts';
import { ensureKubeArmorJsonLines } from '../lib/kubearmor-stream.ts';
import { alternatingPairs, boundBy, medianRun, pairsNote, spread } from '../lib/pairs.ts';
import { countRuntimeEvents, databaseFloor, databaseFloorOutcome, onceIntoFreshDatabase } from '../lib/processor-runs.ts';
import { hasFlag } from '../lib/processor-flags.ts';
import { runToEnd, startNodeScript, startProcessor } from '../lib/process.ts';
import type { RowOutcome } from '../lib/report.ts';

const MiB = 1024 * 1024;

export async function measureRuntimeFile(ctx: BenchContext): Promise<RowOutcome[]> {
  const figure = 'KubeArmor JSON lines -kubearmor-file -once into Postgres';
  if (!hasFlag('kubearmor-file')) return [{ row: 'runtime-file', figure, reason: 'this tree has no -kubearmor-file yet' }];
  const count = ctx.scale.runtimeFileEvents;
  ctx.log(`runtime-file: generating ${count.toLocaleString('en-US')} KubeArmor JSON lines (reused when already there)`);
  const path = ensureKubeArmorJsonLines(count);
  const bytes = statSync(path).size;
  let reread: { before: number; after: number; seconds: number; copyAfter: number; copySeconds: number } | undefined;
  let floor: { rows: number; rowsPerSecond: number } | undefined;
  ctx.log(`runtime-file: ${ctx.scale.pairs} alternating pair(s) of -kubearmor-file -once into Postgres and JSON.parse of every line`);
  const runs = await alternatingPairs(
    ctx.scale.pairs,
    async () => {
      const run = await onceIntoFreshDatabase(ctx, 'runtime_file', ['-kubearmor-file', path], countRuntimeEvents, async (db, _result, stored) => {
        if (reread) return;
        ctx.log('runtime-file: the same file again with -once into the same database');
        const again = await runToEnd(startProcessor(['-once', '-kubearmor-file', path, '-database-url', db.url, '-log-level', 'warn']), 'audit-processor -once (runtime-file re-read)');
        let client = await db.connect();
        const after = await countRuntimeEvents(client).finally(() => client.end());
        // The same file is skipped by its checkpoint (a content fingerprint, so a copy would be too): with
        // the checkpoints deleted it is read through, and every event must be recognised by its key.
        ctx.log('runtime-file: the same file again with its checkpoint deleted (read through)');
        client = await db.connect();
        const forgotten = await client.query('DELETE FROM file_checkpoints').finally(() => client.end());
        if (!forgotten.rowCount) ctx.log('runtime-file: (no checkpoint was stored; the second re-read is the same as the first)');
        const copied = await runToEnd(startProcessor(['-once', '-kubearmor-file', path, '-database-url', db.url, '-log-level', 'warn']), 'audit-processor -once (runtime-file read through)');
        client = await db.connect();
        const copyAfter = await countRuntimeEvents(client).finally(() => client.end());
        reread = { before: stored, after, seconds: again.wallMs / 1000, copyAfter, copySeconds: copied.wallMs / 1000 };
        ctx.log('runtime-file: database floor: the stored rows INSERTed again by Postgres itself');
        floor = await databaseFloor(db, 'runtime_events');
      });
      ctx.peakRss.push({ mode: 'postgres', row: 'runtime-file', bytes: run.result.peakRssBytes });
      return run;
    },
    async () => {
      const result = await runToEnd(startNodeScript('bench/baselines/json-parse-lines.ts', [path]), 'json-parse-lines baseline');
      const out = JSON.parse(result.stdout.trim()) as { lines: number; bad: number };
      if (out.lines !== count) throw new Error(`json-parse-lines counted ${out.lines} lines, the generator wrote ${count}`);
      return count / (result.wallMs / 1000);
    },
    ctx.log,
  );
  const rates = spread(runs.measured.map((r) => r.stored / (r.result.wallMs / 1000)));
  const parse = spread(runs.baseline);
  const typical = medianRun(runs.measured, (r) => r.result.wallMs);
  const peak = Math.max(...runs.measured.map((r) => r.result.peakRssBytes));
  const stored = typical.stored;
  const rereadText = reread
    ? `re-read of the same path stored ${reread.after - reread.before} (${reread.seconds.toFixed(1)} s), ` +
      `read through again with its checkpoint deleted stored ${reread.copyAfter - reread.after} (${reread.copySeconds.toFixed(1)} s); ${reread.before} rows after the first run`
    : 're-read not run';
  const rereadStoredNothing = reread !== undefined && reread.after === reread.before && reread.copyAfter === reread.after;
  const out: RowOutcome[] = [
    {
      row: 'runtime-file',
      figure: `${count.toLocaleString('en-US')} events (${Math.round(bytes / MiB)} MB JSON lines) -kubearmor-file -once into Postgres`,
      value: rates.median,
      unit: 'events/s',
      baseline: { label: 'JSON.parse of every line', value: parse.median, unit: 'lines/s' },
      ratio: rates.median / parse.median,
      target: { text: '>= 50k events/s, peak RSS <= 200 MB, re-read stores 0', met: rates.median >= 50_000 && peak <= 200 * MiB && rereadStoredNothing && stored === count },
      peakRssBytes: peak,
      note:
        `${stored === count ? `${stored} stored` : `stored ${stored} of ${count}`} in ${(typical.result.wallMs / 1000).toFixed(1)} s (start-up included); ${rereadText}; ` +
        `${boundBy(typical.result.cpuSeconds, typical.result.wallMs / 1000)}; ${pairsNote(rates, parse, 'per s')}`,
    },
  ];
  if (floor) out.push(databaseFloorOutcome('runtime-file', rates.median, floor));
  return out;
}
