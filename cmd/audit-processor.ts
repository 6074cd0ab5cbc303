#!/usr/bin/env node
/**
 * `audit-processor`: wires the sources, the audit transform and the store together. No logic of its
 * own beyond choosing what to start from the flags.
 */
import { UsageError } from '../src/config/flags.ts';
import { parseProcessorArgs, processorUsage, type ProcessorConfig } from '../src/config/options.ts';
import { startHttpServerFromFlags } from '../src/api/server.ts';
import { subcommands } from '../src/timeline/commands.ts';
import { extractContextFromFlags } from '../src/audit/extract.ts';
import { createAuditFileSource, describeFileIngest } from '../src/ingest/audit-file-source.ts';
import { startWebhook, webhookSettingsFromConfig, type WebhookServer } from '../src/ingest/webhook.ts';
import { createLogger, type Logger } from '../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics, type Metrics } from '../src/observe/metrics.ts';
import { Correlator } from '../src/correlate/correlator.ts';
import { runtimeIngestWanted, startRuntimeIngestFromFlags } from '../src/runtime/start.ts';
import { openDatabase } from '../src/store/database.ts';
import { SessionWriter } from '../src/store/session-writer.ts';

async function main(argv: string[]): Promise<number> {
  const subcommand = subcommands[argv[0] ?? ''];
  if (subcommand) return subcommand(argv.slice(1));
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
  if (!config['audit-log-file'] && !config['audit-log-dir'] && !config['enable-webhook'] && !runtimeIngestWanted(config)) {
    process.stderr.write('audit-processor: nothing to do: give -audit-log-file, -audit-log-dir, -enable-webhook, -kubearmor-addr, -kubearmor-discover or -kubearmor-file (see -h)\n');
    return 2;
  }

  const db = await openDatabase({ databaseUrl: config['database-url'] || undefined, dataDir: config['data-dir'] });
  logger.info({ backend: db.backend, location: db.location }, `database ready: ${db.backend === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} at ${db.location}`);
  // Health, metrics, API and page answer from the start, while a long first read is still going on.
  const http = config.once ? undefined : await startHttpServerFromFlags(config, { db, metrics, logger });
  // Links sessions to runtime events whenever either side is committed (background, never blocks ingestion).
  const correlator = new Correlator({ db, skewMs: config['correlation-skew'], logger, metrics });
  // Sessions whose pass the last run may have missed (it stopped right after a commit) are redone.
  await correlator.catchUp().catch((error: Error) => logger.warn({ err: error.message }, 'correlation catch-up failed; links follow with the next arrivals'));
  const files = createAuditFileSource({ db, flags: config, metrics, logger, context: extractContextFromFlags(config), writer: new SessionWriter(db, { onCommitted: correlator.onSessionsCommitted }) });

  // KubeArmor runtime events (-kubearmor-*); each committed batch is reported to the correlator too.
  const runtime = await startRuntimeIngestFromFlags(config, { db, metrics, logger, onCommitted: correlator.onRuntimeCommitted });

  let webhook: WebhookServer | undefined;
  try {
    if (config.once) {
      const stats = await files.runOnce();
      const runtimeSummary = await runtime?.readOnce();
      await correlator.flush();
      process.stdout.write(`${await summarize(metrics, db.backend, db.location)}\n${describeFileIngest(stats)}\n${runtimeSummary ? `${runtimeSummary}\n` : ''}`);
      return 0;
    }
    // The apiserver's audit webhook: a batch is acknowledged once its sessions are committed.
    if (config['enable-webhook']) {
      const writer = new SessionWriter(db, { onCommitted: correlator.onSessionsCommitted });
      webhook = await startWebhook(webhookSettingsFromConfig(config), { db, writer, metrics, logger, context: extractContextFromFlags(config) });
    }
    await files.start();
    logger.info(await summarize(metrics, db.backend, db.location));
    await untilSignal(logger);
    await files.stop();
    return 0;
  } finally {
    // First: stop accepting batches and finish those in flight while the database is still open.
    await webhook?.stop();
    await runtime?.stop();
    await correlator.close();
    await http?.close();
    await db.close();
  }
}

function untilSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.once(signal, () => {
        logger.info({ signal }, 'stopping');
        resolve();
      });
  });
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
