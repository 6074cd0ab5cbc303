#!/usr/bin/env node
/**
 * `audit-processor`: wires the sources, the audit transform and the store together. No logic of its
 * own beyond choosing what to start from the flags.
 */
import { formatUsage, parseFlags, UsageError } from '../src/config/flags.ts';
import { parseProcessorArgs, processorUsage, serveCommandFlags, type ProcessorConfig } from '../src/config/options.ts';
import { extractContextFromFlags } from '../src/audit/extract.ts';
import { auditFileReadiness, createAuditFileSource, describeFileIngest } from '../src/ingest/audit-file-source.ts';
import type { WebhookServer } from '../src/ingest/webhook.ts';
import { createLogger, type Logger } from '../src/observe/log.ts';
import { counterByLabel, counterValue, createMetrics, type Metrics } from '../src/observe/metrics.ts';
import type { ReadinessContributor } from '../src/observe/readiness.ts';
import { Correlator } from '../src/correlate/scheduler.ts';
import { exporterFromFlags } from '../src/export/start.ts';
import { runtimeIngestWanted, startRuntimeIngestFromFlags } from '../src/runtime/start.ts';
import { openDatabase } from '../src/store/database.ts';
import { databaseReadiness } from '../src/store/readiness.ts';
import { startRetention } from '../src/store/retention.ts';
import { SessionWriter } from '../src/store/session-writer.ts';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') return serve(argv.slice(1));
  // The read side loads only for its subcommands (start-up of the processor).
  if (argv[0] === 'timeline' || argv[0] === 'sessions') return (await import('../src/timeline/commands.ts')).subcommands[argv[0]]!(argv.slice(1));
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
  // Installed first, so a signal during start-up or a long first read is a clean stop, not a kill.
  const stopRequested = onceStopSignal(logger);
  const metrics = createMetrics({ processMetrics: !config.once });
  if (!config['audit-log-file'] && !config['audit-log-dir'] && !config['enable-webhook'] && !runtimeIngestWanted(config)) {
    process.stderr.write('audit-processor: nothing to do: give -audit-log-file, -audit-log-dir, -enable-webhook, -kubearmor-addr, -kubearmor-discover or -kubearmor-file; to only serve the API and page over a filled database: audit-processor serve (see -h)\n');
    return 2;
  }

  const db = await openDatabase({ databaseUrl: config['database-url'] || undefined, dataDir: config['data-dir'] });
  logger.info({ backend: db.backend, location: db.location }, `database ready: ${db.backend === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} at ${db.location}`);
  const stale = db.dataDirLock?.tookOverFrom;
  if (stale) logger.warn({ pid: stale.pid }, `took over the lock on -data-dir ${db.location} left by ${stale.command} (pid ${stale.pid}), which is gone`);
  // Session documents out (-export-*): recorded in the outbox inside the session and link transactions.
  const exporter = await exporterFromFlags(config, { db, logger, metrics }).catch(async (error: Error) => {
    await db.close();
    throw error;
  });
  // Links sessions to runtime events whenever either side is committed (background, never blocks ingestion).
  const correlator = new Correlator({ db, skewMs: config['correlation-skew'], logger, metrics, inTransaction: exporter?.record });
  const sessionWriterOptions = { onCommitted: correlator.onSessionsCommitted, inTransaction: exporter?.record };
  const auditWanted = Boolean(config['audit-log-file'] || config['audit-log-dir']);
  const files = !auditWanted ? undefined : createAuditFileSource({ db, flags: config, metrics, logger, context: extractContextFromFlags(config), writer: new SessionWriter(db, sessionWriterOptions) });
  // What /readyz reports on both ports: the database and the audit files from the start (the files
  // say "starting" until their first pass), the runtime sources once started.
  const readiness: ReadinessContributor[] = [databaseReadiness(db)];
  if (files) readiness.push(auditFileReadiness(config, files));
  if (exporter) readiness.push(exporter.readiness());
  // Detail only: a pod whose pass keeps failing is retried on its own and holds nothing else back.
  readiness.push(() => ({ fields: { correlation: correlator.status() } }));
  // Health, metrics, API and page answer from the start, while a long first read is still going on.
  // Express and the page load only when they serve (a -once run starts without them).
  const http = config.once ? undefined : await (await import('../src/api/server.ts')).startHttpServerFromFlags(config, { db, metrics, logger, readiness });
  // A second process refused the -data-dir is told where to ask instead.
  if (http) db.dataDirLock?.noteHttpPort(http.port);
  exporter?.start();
  // Sessions whose pass the last run may have missed (it stopped right after a commit) are redone, in
  // the background: the query scans change_events (246 ms over 100k sessions), and intake must not wait.
  const caughtUp = correlator.catchUp().then(
    () => undefined,
    (error: Error) => logger.warn({ err: error.message }, 'correlation catch-up failed; links follow with the next arrivals'),
  );

  // KubeArmor runtime events (-kubearmor-*); each committed batch is reported to the correlator too.
  const runtime = await startRuntimeIngestFromFlags(config, { db, metrics, logger, onCommitted: correlator.onRuntimeCommitted });
  readiness.push(...(runtime?.readiness ?? []));

  let webhook: WebhookServer | undefined;
  // The webhook Deployment's readiness probe asks the -http-port, which answers before the webhook listens.
  if (config['enable-webhook'] && !config.once) {
    readiness.push(() => (webhook ? { fields: {} } : { ready: false, reasons: ['webhook: not listening on -webhook-port yet (starting)'], fields: {} }));
  }
  let retention: { stop(): Promise<void> } | undefined;
  try {
    if (config.once) {
      const readEverything = async () => {
        const stats = await files?.runOnce();
        const runtimeSummary = await runtime?.readOnce();
        await caughtUp;
        await correlator.flush();
        // -once with -export-*: everything recorded goes out before the summary (a stop request ends the wait).
        await exporter?.drain();
        const where = `into ${db.backend} at ${db.location}`;
        const lines = [];
        if (stats) lines.push(`audit: ${await summarize(metrics)} ${where}`, `audit files: ${describeFileIngest(stats)}`);
        if (runtimeSummary) lines.push(`KubeArmor: ${runtimeSummary} ${where}`);
        return { text: lines.map((line) => `${line}\n`).join(''), missing: stats?.missingFiles ?? [] };
      };
      const outcome = await Promise.race([readEverything(), stopRequested.then(() => undefined)]);
      if (!outcome) {
        // Interrupted: what was committed is checkpointed; the next run continues from there.
        process.stdout.write(`interrupted before the end of the input; ${await summarize(metrics)} into ${db.backend} at ${db.location}; run again to continue\n`);
        return 0;
      }
      process.stdout.write(outcome.text);
      if (outcome.missing.length === 0) return 0;
      for (const file of outcome.missing) {
        process.stderr.write(`audit-processor: -audit-log-file ${file} does not exist: nothing was read from it; check the path (the apiserver's --audit-log-path)\n`);
      }
      return 1;
    }
    // The apiserver's audit webhook: a batch is acknowledged once its sessions are committed.
    if (config['enable-webhook']) {
      const writer = new SessionWriter(db, sessionWriterOptions);
      const { startWebhook, webhookSettingsFromConfig } = await import('../src/ingest/webhook.ts');
      const settings = { ...webhookSettingsFromConfig(config), shutdownGraceMs: config['shutdown-timeout'] * 0.6 };
      webhook = await startWebhook(settings, { db, writer, metrics, logger, context: extractContextFromFlags(config), readiness });
    }
    retention = startRetention(db, { runtimeMs: config['retention-runtime'], unlinkedMs: config['retention-unlinked'], sessionsMs: config['retention-sessions'] }, logger, metrics);
    // The first read of a backlog may be long; a stop request ends it early (checkpoints hold what committed).
    if (files) await Promise.race([files.start().then(async () => logger.info(`${await summarize(metrics)} into ${db.backend} at ${db.location}`)), stopRequested]);
    await stopRequested;
  } finally {
    await stopWithin(config['shutdown-timeout'], logger, async () => {
      // Intake first, while the database is still open: the webhook finishes the batches in flight,
      // the file source commits its last batch and checkpoint, runtime streams flush their queue.
      await webhook?.stop();
      await files?.stop();
      await runtime?.stop();
      await retention?.stop();
      await caughtUp;
      await correlator.close();
      await exporter?.stop();
      await http?.close();
      await db.close();
    });
  }
  return 0;
}

/**
 * `audit-processor serve`: health, /metrics, the API and the page over a database another process fills
 * (a read-only UI Deployment, or a finished `-once` backfill in the browser). Nothing is ingested.
 */
async function serve(argv: string[]): Promise<number> {
  const command = 'audit-processor serve';
  let flags;
  try {
    const parsed = parseFlags(serveCommandFlags, argv);
    if (parsed.help) {
      process.stdout.write(formatUsage(command, serveCommandFlags) + '\n');
      return 0;
    }
    if (parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
    flags = parsed.values;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${command}: ${error.message}\n\n${formatUsage(command, serveCommandFlags)}\n`);
      return 2;
    }
    throw error;
  }
  const logger = createLogger(flags['log-level']);
  const stopRequested = onceStopSignal(logger);
  const metrics = createMetrics({ processMetrics: true });
  const db = await openDatabase({ databaseUrl: flags['database-url'] || undefined, dataDir: flags['data-dir'], command });
  const { startHttpServerFromFlags } = await import('../src/api/server.ts');
  let http: Awaited<ReturnType<typeof startHttpServerFromFlags>> | undefined;
  try {
    logger.info({ backend: db.backend, location: db.location }, `serving ${db.backend === 'pglite' ? 'embedded PGlite' : 'PostgreSQL'} at ${db.location}; nothing is ingested`);
    http = await startHttpServerFromFlags(flags, { db, metrics, logger });
    db.dataDirLock?.noteHttpPort(http.port);
    await stopRequested;
  } finally {
    await stopWithin(flags['shutdown-timeout'], logger, async () => {
      await http?.close();
      await db.close();
    });
  }
  return 0;
}

/** Resolves on the first SIGTERM or SIGINT. */
function onceStopSignal(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping: finishing in-flight work');
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      resolve();
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

/**
 * Runs the shutdown sequence; if it outlasts -shutdown-timeout, exits anyway with status 1. Nothing
 * acknowledged is lost by that: checkpoints and webhook answers only ever follow a COMMIT.
 */
async function stopWithin(timeoutMs: number, logger: Logger, sequence: () => Promise<void>): Promise<void> {
  const timer = setTimeout(() => {
    logger.error({ timeoutMs }, 'shutdown did not finish within -shutdown-timeout; exiting now (uncommitted work is re-read or re-sent on restart)');
    process.exit(1);
  }, timeoutMs);
  timer.unref();
  await sequence();
  clearTimeout(timer);
}

/** What the audit sources stored (KubeArmor lines are counted apart, in the runtime summary). */
async function summarize(metrics: Metrics): Promise<string> {
  const bad = await counterByLabel(metrics.badInput, 'reason');
  const badText =
    Object.entries(bad)
      .filter(([reason]) => !reason.startsWith('runtime-'))
      .map(([reason, n]) => `${reason}=${n}`)
      .join(' ') || 'none';
  return (
    `stored ${await counterValue(metrics.sessionsStored)} session rows (${await counterValue(metrics.sessionsNew)} new sessions) ` +
    `from ${await counterValue(metrics.sessionStagesSeen)} session stages ` +
    `(${await counterValue(metrics.linesRead)} lines read, ${await counterValue(metrics.linesMatched)} matched, bad input: ${badText})`
  );
}

/**
 * Exits once stdout and stderr have taken everything written: a pipe (`sessions -format json | jq`) is
 * written asynchronously, and process.exit() would cut the output at the pipe's 64 KiB buffer.
 */
async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit(code);
}

main(process.argv.slice(2)).then(exitWhenFlushed, (error: Error) => {
  process.stderr.write(`audit-processor: ${error.message}\n`);
  return exitWhenFlushed(1);
});
