/**
 * `npm run bench [-- -quick] [-- -only backfill,webhook]`: measures every hot path of audit-processor
 * against a baseline measured in the same run, prints one table, and writes it to
 * bench/results/latest.md and latest.json (with the machine it ran on).
 *
 * Every measured run is the real command in a child process (`node --import tsx cmd/audit-processor.ts`),
 * on a fresh Postgres database or a fresh PGlite directory, so its peak RSS is the processor's own.
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { join, relative } from 'node:path';
import { measureBackfill } from './rows/backfill.ts';
import { measureBackfillGz } from './rows/backfill-gz.ts';
import { measureExecHeavy } from './rows/exec-heavy.ts';
import { measureStartup } from './rows/startup.ts';
import { measureRuntimeFile } from './rows/runtime-file.ts';
import { measureWebhook } from './rows/webhook.ts';
import { measureRuntime } from './rows/runtime.ts';
import { measureTail } from './rows/tail.ts';
import { measureTimeline } from './rows/timeline.ts';
import { measureCorrelation } from './rows/correlation.ts';
import { createContext, type BenchContext } from './lib/context.ts';
import { benchRoot, dataDir, projectRoot } from './lib/datasets.ts';
import { buildDir, buildProcessor } from './lib/build.ts';
import { dropLeftoverBenchDatabases, postgresVersion } from './lib/postgres.ts';
import {
  describeOs,
  isSkipped,
  machineMarkdown,
  markdownTable,
  type MachineDescription,
  type Measurement,
  type RowOutcome,
} from './lib/report.ts';

interface RowDefinition {
  id: string;
  title: string;
  measure(ctx: BenchContext): Promise<RowOutcome[]>;
}

const rows: RowDefinition[] = [
  { id: 'backfill', title: 'backfill of a realistic log, Postgres and PGlite', measure: measureBackfill },
  { id: 'backfill-gz', title: 'backfill of a directory of rotated .gz logs into Postgres', measure: measureBackfillGz },
  { id: 'exec-heavy', title: 'exec-heavy log, sessions committed per second', measure: measureExecHeavy },
  { id: 'startup', title: 'start to first read on an existing database', measure: measureStartup },
  { id: 'webhook', title: 'webhook EventLists of 400 from concurrent clients', measure: measureWebhook },
  { id: 'runtime', title: 'KubeArmor events from a local gRPC feeder into Postgres', measure: measureRuntime },
  { id: 'runtime-file', title: 'KubeArmor JSON lines -kubearmor-file -once into Postgres', measure: measureRuntimeFile },
  { id: 'tail', title: 'tail latency: appended line to committed row', measure: measureTail },
  { id: 'timeline', title: 'timeline query for one pod among stored runtime events', measure: measureTimeline },
  { id: 'correlation', title: 'correlation pass over one busy pod (load, decide, write links)', measure: measureCorrelation },
];

function parseArgs(argv: string[]): { quick: boolean; only?: Set<string>; write: boolean; pairs?: number } {
  let quick = false;
  let pairs: number | undefined;
  let only: Set<string> | undefined;
  let write = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!.replace(/^--?/, '');
    if (arg === 'quick') quick = true;
    else if (arg === 'no-write') write = false;
    else if (arg === 'pairs' || arg.startsWith('pairs=')) {
      pairs = Number(arg.startsWith('pairs=') ? arg.slice(6) : argv[++i]);
      if (!Number.isInteger(pairs) || pairs < 1) throw new Error('-pairs needs a whole number of alternating pairs, e.g. -pairs 3');
    }
    else if (arg === 'only' || arg.startsWith('only=')) {
      const value = arg.startsWith('only=') ? arg.slice(5) : argv[++i];
      if (!value) throw new Error('-only needs a list of rows, e.g. -only backfill,webhook');
      only = new Set(value.split(','));
      for (const id of only) if (!rows.some((r) => r.id === id)) throw new Error(`unknown row "${id}"; rows: ${rows.map((r) => r.id).join(', ')}`);
    } else if (arg === 'h' || arg === 'help') {
      process.stdout.write(
        `Usage: npm run bench [-- -quick] [-- -only ROW,ROW] [-- -pairs N] [-- -no-write]\n  -quick     one-minute smoke run (small inputs, one pair per row)\n  -pairs     alternating measured/baseline pairs per row (default 3; 1 with -quick)\n  -only      run only these rows: ${rows.map((r) => r.id).join(', ')}\n  -no-write  do not write bench/results/latest.*\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument "${argv[i]}" (see -h)`);
  }
  return { quick, only, write, pairs };
}

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: projectRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'cmd'], { cwd: projectRoot, encoding: 'utf8' }).trim();
    return dirty ? `${sha} (+ uncommitted changes in src/ or cmd/)` : sha;
  } catch {
    return 'unknown';
  }
}

async function describeMachine(): Promise<MachineDescription> {
  const pglite = JSON.parse(readFileSync(join(projectRoot, 'node_modules', '@electric-sql', 'pglite', 'package.json'), 'utf8')) as { version: string };
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: describeOs(),
    node: process.version,
    postgres: await postgresVersion(),
    pglite: pglite.version,
    commit: gitCommit(),
    loadAverageAtStart: os.loadavg(),
  };
}

/** The peak-RSS summary row: the largest processor footprint in Postgres mode over the whole run. */
function peakRssRow(ctx: BenchContext, idle: Measurement | undefined): RowOutcome[] {
  const postgres = ctx.peakRss.filter((p) => p.mode === 'postgres');
  if (postgres.length === 0) return [{ row: 'peak-rss', figure: 'processor peak RSS, Postgres mode', reason: 'no Postgres-mode run completed' }];
  const worst = postgres.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const pglite = ctx.peakRss.filter((p) => p.mode === 'pglite');
  const mb = worst.bytes / (1024 * 1024);
  return [
    {
      row: 'peak-rss',
      figure: `processor peak RSS, Postgres mode (largest of ${postgres.length} runs: ${worst.row})`,
      value: mb,
      unit: 'MB',
      baseline: idle ? { label: 'startup on an empty file', value: idle.value } : undefined,
      ratio: idle ? mb / idle.value : undefined,
      target: { text: '< 200 MB', met: mb < 200 },
      peakRssBytes: worst.bytes,
      note:
        postgres.map((p) => `${p.row} ${Math.round(p.bytes / (1024 * 1024))} MB`).join(', ') +
        (pglite.length ? `; PGlite mode: ${pglite.map((p) => `${p.row} ${Math.round(p.bytes / (1024 * 1024))} MB`).join(', ')}` : ''),
    },
  ];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const ctx = createContext(args.quick, args.pairs);
  const started = performance.now();
  const machine = await describeMachine();
  await dropLeftoverBenchDatabases();
  const buildStarted = performance.now();
  const build = buildProcessor();
  ctx.log(`built the processor and bench scripts into ${relative(projectRoot, buildDir)} (${build.emitted} files emitted, ${((performance.now() - buildStarted) / 1000).toFixed(1)} s)`);
  ctx.log(`exectrail bench (${args.quick ? 'quick' : 'full'}) on ${machine.cpus} cores, Node ${machine.node}, PostgreSQL ${machine.postgres}; load average ${machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const outcomes: RowOutcome[] = [];
  try {
    for (const row of rows) {
      if (args.only && !args.only.has(row.id)) continue;
      ctx.log(`== ${row.id}: ${row.title}`);
      const rowStarted = performance.now();
      try {
        const results = await row.measure(ctx);
        outcomes.push(...results);
        for (const r of results) ctx.log(`   ${r.figure}: ${isSkipped(r) ? `not measured (${r.reason})` : `${r.value.toFixed(1)} ${r.unit}`}`);
      } catch (error) {
        const message = (error as Error).message.split('\n').slice(0, 3).join(' / ');
        ctx.log(`   ${row.id} failed: ${message}`);
        outcomes.push({ row: row.id, figure: row.title, reason: `failed: ${message}` });
      }
      ctx.log(`   (${((performance.now() - rowStarted) / 1000).toFixed(0)} s)`);
    }
    const idle = outcomes.find((o): o is Measurement => !isSkipped(o) && o.row === 'rss-idle');
    outcomes.push(...peakRssRow(ctx, idle));
  } finally {
    ctx.cleanup();
  }
  machine.loadAverageAtEnd = os.loadavg();
  const totalSeconds = (performance.now() - started) / 1000;
  const table = markdownTable(outcomes);
  const title = `# exectrail bench (${args.quick ? 'quick' : 'full'} run, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${totalSeconds.toFixed(0)} s)`;
  const markdown = `${title}\n\n${machineMarkdown(machine)}\n\n${table}\n`;
  process.stdout.write(`\n${markdown}`);
  if (args.write) {
    // Only a full run is the committed result; a quick run's table goes next to the generated data.
    const dir = args.quick || args.only ? dataDir : join(benchRoot, 'results');
    const name = args.quick || args.only ? 'last-partial-run' : 'latest';
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.md`), markdown);
    writeFileSync(join(dir, `${name}.json`), JSON.stringify({ run: args.quick ? 'quick' : 'full', seconds: Math.round(totalSeconds), machine, outcomes }, null, 2) + '\n');
    ctx.log(`written ${relative(projectRoot, join(dir, name))}.md and .json`);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`bench: ${error.message}\n`);
  process.exit(1);
});
