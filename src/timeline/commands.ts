/**
 * `audit-processor timeline` and `audit-processor sessions`: the answers on a terminal, reading the
 * database the processor writes (same -database-url / DATABASE_URL / -data-dir flags). cmd/ only
 * dispatches here.
 */
import { formatUsage, parseFlags, UsageError, type FlagTable, type FlagValues } from '../config/flags.ts';
import { sessionsCommandFlags, timelineCommandFlags } from '../config/options.ts';
import { openDatabase, type Database } from '../store/database.ts';
import { formatSessions, formatTimeline } from './format.ts';
import { listSessions, loadTimeline } from './queries.ts';
import { parseTimeBound, timelineWindow } from '../time/time-bounds.ts';

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  now: () => Date;
}

const processIo: CommandIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  now: () => new Date(),
};

type Run<T extends FlagTable> = (values: FlagValues<T>, io: CommandIo) => Promise<string>;

/** Parses the flags, opens the database, prints what `run` returns. Exit code 2 on a usage error. */
async function runCommand<T extends FlagTable>(name: string, table: T, run: Run<T>, argv: readonly string[], io: CommandIo): Promise<number> {
  const command = `audit-processor ${name}`;
  try {
    const parsed = parseFlags(table, argv, io.env);
    if (parsed.help) {
      io.stdout(formatUsage(command, table) + '\n');
      return 0;
    }
    if (parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    io.stdout((await run(parsed.values, io)) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`${command}: ${error.message}\n\n${formatUsage(command, table)}\n`);
      return 2;
    }
    throw error;
  }
}

async function withDatabase<T>(command: string, values: { 'database-url': string; 'data-dir': string }, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ databaseUrl: values['database-url'] || undefined, dataDir: values['data-dir'], maxConnections: 2, command: `audit-processor ${command}` });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

const timelineRun: Run<typeof timelineCommandFlags> = async (values, io) => {
  if (!values.namespace || !values.pod) throw new UsageError('give the pod: -namespace NS -pod POD');
  const window = timelineWindow(values, io.now());
  if (!window.ok) throw new UsageError(window.message.replace(/\b(since|from|to)\b/g, '-$1'));
  const target = { cluster: values.cluster || undefined, namespace: values.namespace, pod: values.pod, from: window.from, to: window.to };
  const timeline = await withDatabase('timeline', values, (db) => loadTimeline(db, target));
  return formatTimeline(timeline, values.format);
};

const sessionsRun: Run<typeof sessionsCommandFlags> = async (values, io) => {
  const filter = {
    cluster: values.cluster || undefined,
    user: values.user || undefined,
    namespace: values.namespace || undefined,
    pod: values.pod || undefined,
    since: values.since ? parseTimeBound(values.since, io.now()) : undefined,
    limit: values.limit,
  };
  const page = await withDatabase('sessions', values, (db) => listSessions(db, filter));
  return formatSessions(page, values.format);
};

/** `audit-processor timeline ...`: one pod's sessions, denied attempts, processes and alerts in order. */
export function runTimelineCommand(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  return runCommand('timeline', timelineCommandFlags, timelineRun, argv, io);
}

/** `audit-processor sessions ...`: exec sessions, newest first. */
export function runSessionsCommand(argv: readonly string[], io: CommandIo = processIo): Promise<number> {
  return runCommand('sessions', sessionsCommandFlags, sessionsRun, argv, io);
}

/** The subcommands cmd/audit-processor.ts dispatches on its first argument. */
export const subcommands: Record<string, (argv: readonly string[]) => Promise<number>> = {
  timeline: (argv) => runTimelineCommand(argv),
  sessions: (argv) => runSessionsCommand(argv),
};
