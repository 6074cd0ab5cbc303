#!/usr/bin/env node
/**
 * `audit-processor`: wires the sources, the audit transform and the store together. No logic of its
 * own beyond choosing what to start from the flags.
 */
import { UsageError } from '../src/config/flags.ts';
import { parseProcessorArgs, processorUsage, type ProcessorConfig } from '../src/config/options.ts';
import { AuditFileSource } from '../src/ingest/file-source.ts';
import { createLogger, type Logger } from '../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics, type Metrics } from '../src/observe/metrics.ts';
import { openDatabase } from '../src/store/database.ts';
import { SessionWriter } from '../src/store/session-writer.ts';

const FOLLOW_POLL_MS = 1000;

async function main(argv: string[]): Promise<number> {
  let config: ProcessorConfig;
  try {
    const parsed = parseProcessorArgs(argv);
    if (parsed.help) {
      process.stdout.write(processorUsage() + '\n');
      return 0;
    }
    if (parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    config = parsed.values;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`audit-processor: ${error.message}\n\n${processorUsage()}\n`);
      return 2;
    }
    throw error;
  }

  const logger = createLogger(config['log-level']);
  const metrics = createMetrics({ processMetrics: !config.once });
  const paths = await auditLogPaths(config);
  if (paths.length === 0 && !config['audit-log-file'] && !config['audit-log-dir']) {
    process.stderr.write('audit-processor: nothing to do: give -audit-log-file or -audit-log-dir (see -h)\n');
    return 2;
  }

  const db = await openDatabase({ databaseUrl: config['database-url'] || undefined, dataDir: config['data-dir'] });
  logger.info({ backend: db.backend, location: db.location }, `database ready: ${db.backend === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} at ${db.location}`);
  const source = new AuditFileSource({ writer: new SessionWriter(db), context: { cluster: config.cluster }, metrics, logger });

  try {
    for (const path of paths) await source.readToEnd(path);
    const summary = await summarize(metrics, db.backend, db.location);
    if (config.once) {
      process.stdout.write(summary + '\n');
      return 0;
    }
    logger.info(summary);
    await followUntilSignal(config, source, logger);
    return 0;
  } finally {
    await db.close();
  }
}

async function auditLogPaths(config: ProcessorConfig): Promise<string[]> {
  const paths: string[] = [];
  if (config['audit-log-dir']) paths.push(...(await AuditFileSource.listAuditLogs(config['audit-log-dir'])));
  if (config['audit-log-file']) paths.push(config['audit-log-file']);
  return paths;
}

async function followUntilSignal(config: ProcessorConfig, source: AuditFileSource, logger: Logger): Promise<void> {
  let stopping = false;
  const stop = new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        stopping = true;
        logger.info({ signal }, 'stopping');
        resolve();
      });
  });
  while (!stopping) {
    await Promise.race([stop, new Promise((r) => setTimeout(r, FOLLOW_POLL_MS))]);
    if (stopping) break;
    for (const path of await auditLogPaths(config)) await source.readToEnd(path);
  }
}

async function summarize(metrics: Metrics, backend: string, location: string): Promise<string> {
  const bad = await counterByLabel(metrics.badInput, 'reason');
  const badText = Object.entries(bad).map(([reason, n]) => `${reason}=${n}`).join(' ') || 'none';
  return (
    `stored ${await counterValue(metrics.sessionsStored)} session rows ` +
    `from ${await counterValue(metrics.sessionStagesSeen)} session stages ` +
    `(${await counterValue(metrics.linesRead)} lines read, ${await counterValue(metrics.linesMatched)} matched, bad input: ${badText}) ` +
    `into ${backend} at ${location}`
  );
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`audit-processor: ${error.message}\n`);
    process.exit(1);
  },
);
