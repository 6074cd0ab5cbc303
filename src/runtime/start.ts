/**
 * Starts runtime-event ingestion from the `-kubearmor-*` flags: the writer, the batching queue, one
 * feeder client per address (given with `-kubearmor-addr`, found with `-kubearmor-discover`), and the
 * JSON-lines reader for `-kubearmor-file`. cmd/audit-processor.ts calls `startRuntimeIngestFromFlags`
 * and hands `readiness` to the HTTP servers.
 */
import type { Readable } from 'node:stream';
import { parseRedaction, type Redaction } from '../audit/redact.ts';
import type { RawKept } from './event.ts';
import { fileSourceReadiness } from '../ingest/file-source.ts';
import type { Logger } from '../observe/log.ts';
import type { ReadinessContributor } from '../observe/readiness.ts';
import { counterValue, type Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import type { FeederDiscovery, FeederDiscoveryMode } from './discovery.ts';
import type { FeederBackoffOptions, FeederClient, FeederKeepalive, FeederStreamSpec, FeederStreamState } from './feeder-client.ts';
import { createRuntimeFileSource, type RuntimeFileSource } from './file.ts';
import { FeederBatchWriter, type QueuedFeederMessage } from './feeder-writer.ts';
import { PrepareThread } from './prepare-thread.ts';
import { RuntimeEventQueue, type RuntimeEventQueueOptions } from './queue.ts';
import { RuntimeEventWriter, type RuntimeCommitHook } from './writer.ts';

export interface RuntimeIngestOptions {
  db: Database;
  cluster: string;
  /** `-redact`: secrets hidden in Resource, Source, Data and raw. Default: the built-in set. */
  redaction?: Redaction;
  /** `-kubearmor-raw`: which events keep their raw form. Default: alerts. */
  raw?: RawKept;
  /** `-kubearmor-operations`: the operations of logs stored (alerts always are). Default: all. */
  operations?: readonly string[];
  metrics: Metrics;
  logger: Logger;
  /** `-kubearmor-addr host:port`, repeatable. */
  addresses?: readonly string[];
  /** `-kubearmor-logs`: WatchAlerts with filter "all" instead of "policy". WatchLogs "system" is always on. */
  allAlerts?: boolean;
  /** `-kubearmor-ca-file`: TLS to the feeders. */
  caFile?: string;
  /** `-kubearmor-discover[=relay|nodes]`. */
  discover?: FeederDiscoveryMode;
  /** `-kubeconfig`. */
  kubeconfigPath?: string;
  /** Feeder port on discovered pods (default 32767). */
  discoveryPort?: number;
  /** `-kubearmor-file`: a path, or `-` for stdin. */
  file?: string;
  /** `-once`: no streams and no discovery; readOnce() reads the file (or stdin) to its end. */
  once?: boolean;
  /** Called after each committed batch of runtime events (see writer.ts): correlation hooks in here. */
  onCommitted?: RuntimeCommitHook;
  /** For tests: what `-kubearmor-file -` reads. */
  stdin?: Readable;
  backoff?: Partial<FeederBackoffOptions>;
  /** How dead feeder connections are found (default: ping every 300 s, 20 s to answer). */
  keepalive?: FeederKeepalive;
  queue?: Pick<RuntimeEventQueueOptions, 'maxBatch' | 'highWater' | 'lowWater' | 'retryInitialMs' | 'retryMaxMs'>;
}

export interface RuntimeIngest {
  writer: RuntimeEventWriter;
  queue: RuntimeEventQueue<QueuedFeederMessage>;
  /** Every feeder stream's state, for /readyz detail and logs. */
  streamStates(): FeederStreamState[];
  /**
   * Its parts of /readyz: `runtimeStreams` (detail only: a feeder being away must not take the process
   * out of its Service, and there is no replay to catch up on anyway), and a -kubearmor-file's entry in
   * `fileSources` (not ready while it cannot be read).
   */
  readiness: ReadinessContributor[];
  /** Feeder addresses connected now (given and discovered). */
  addresses(): string[];
  /** `-once`: reads -kubearmor-file to its end (stdin to EOF), waits for everything to commit, and says what it stored. */
  readOnce(): Promise<string>;
  /** Stops the streams and discovery, then writes what is queued (up to `deadlineMs`). */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Which calls to keep open on each feeder. Filters must be exactly these words: any other value (even
 * "") makes the feeder end the stream at once with OK.
 */
export function feederStreamsFor(allAlerts: boolean): FeederStreamSpec[] {
  return [
    { rpc: 'WatchAlerts', filter: allAlerts ? 'all' : 'policy' },
    // Always: the commands typed in a shell match no policy; they arrive only as process logs, and they
    // are what correlation attributes to the person who opened the session.
    { rpc: 'WatchLogs', filter: 'system' },
  ];
}

/** The flags of src/config/options.ts this module reads. */
export interface RuntimeFlags {
  'kubearmor-addr': string[];
  'kubearmor-logs': boolean;
  'kubearmor-ca-file': string;
  'kubearmor-discover': FeederDiscoveryMode | '';
  kubeconfig: string;
  'kubearmor-file': string;
  'kubearmor-raw': RawKept;
  'kubearmor-operations': string[];
  cluster: string;
  redact: readonly string[];
  once: boolean;
}

/** True when any runtime source is configured. */
export function runtimeIngestWanted(flags: Pick<RuntimeFlags, 'kubearmor-addr' | 'kubearmor-discover' | 'kubearmor-file'>): boolean {
  return flags['kubearmor-addr'].length > 0 || !!flags['kubearmor-discover'] || !!flags['kubearmor-file'];
}

/**
 * What cmd/audit-processor.ts calls: undefined when no `-kubearmor-*` source is given. With `-once`,
 * feeder streams are not opened (a stream has no end) and a warning says so.
 */
export async function startRuntimeIngestFromFlags(
  flags: RuntimeFlags,
  deps: Pick<RuntimeIngestOptions, 'db' | 'metrics' | 'logger' | 'onCommitted'>,
): Promise<RuntimeIngest | undefined> {
  if (!runtimeIngestWanted(flags)) return undefined;
  if (flags.once && (flags['kubearmor-addr'].length > 0 || flags['kubearmor-discover'])) {
    deps.logger.warn('-kubearmor-addr and -kubearmor-discover are ignored with -once: feeder streams never end; use -kubearmor-file to read a capture once');
  }
  return startRuntimeIngest({
    ...deps,
    cluster: flags.cluster,
    redaction: parseRedaction(flags.redact),
    raw: flags['kubearmor-raw'],
    operations: flags['kubearmor-operations'],
    addresses: flags['kubearmor-addr'],
    allAlerts: flags['kubearmor-logs'],
    caFile: flags['kubearmor-ca-file'] || undefined,
    discover: flags['kubearmor-discover'] || undefined,
    kubeconfigPath: flags.kubeconfig || undefined,
    file: flags['kubearmor-file'] || undefined,
    once: flags.once,
  });
}

export async function startRuntimeIngest(options: RuntimeIngestOptions): Promise<RuntimeIngest> {
  const { db, metrics, logger } = options;
  const log = logger.child({ component: 'runtime' });
  const writer = new RuntimeEventWriter(db, { metrics, logger: log, onCommitted: options.onCommitted, operations: options.operations });
  // One normalising thread for the feeder streams and the file (prepare-thread.ts), started at the first burst.
  const settings = { cluster: options.cluster, redaction: options.redaction, raw: options.raw };
  const thread = new PrepareThread({ ...settings, operations: writer.operationsKept }, log);
  // Feeder messages are queued as received and decoded, normalised and stored in batches.
  const feederWriter = new FeederBatchWriter({ writer, settings, metrics, logger: log, thread });
  const queue = new RuntimeEventQueue<QueuedFeederMessage>({ writer: feederWriter, metrics, logger: log, ...options.queue });
  const streams = feederStreamsFor(options.allAlerts ?? false);
  const clients = new Map<string, FeederClient>();
  const given = options.once ? [] : [...new Set(options.addresses ?? [])].map(checkAddress);
  const discover = options.once ? undefined : options.discover;
  let discovered: string[] = [];
  // gRPC, the proto and the Kubernetes client load only when feeders are asked for (start-up, issue 16).
  const feeders = given.length > 0 || discover ? await import('./feeder-client.ts') : undefined;
  const credentials = feeders?.feederCredentials(options.caFile);

  const reconcile = () => {
    const wanted = new Set([...given, ...discovered]);
    for (const [address, client] of clients) {
      if (wanted.has(address)) continue;
      clients.delete(address);
      void client.stop();
      log.info({ address }, `disconnected from KubeArmor feeder ${address} (gone)`);
    }
    for (const address of wanted) {
      if (clients.has(address) || !feeders || !credentials) continue;
      const client = new feeders.FeederClient(
        { address, streams, queue, metrics, logger: log, backoff: options.backoff, keepalive: options.keepalive },
        credentials,
      );
      clients.set(address, client);
      client.start();
      log.info({ address, streams: streams.map((s) => `${s.rpc}(${s.filter})`) }, `connecting to KubeArmor feeder ${address}`);
    }
  };

  let discovery: FeederDiscovery | undefined;
  if (discover) {
    const { FeederDiscovery } = await import('./discovery.ts');
    discovery = new FeederDiscovery({
      mode: discover,
      kubeconfigPath: options.kubeconfigPath || undefined,
      port: options.discoveryPort,
      logger: log,
      onAddresses: (addresses) => {
        discovered = addresses;
        reconcile();
      },
    });
    await discovery.start();
  }
  reconcile();

  let file: RuntimeFileSource | undefined;
  if (options.file) {
    file = createRuntimeFileSource({ path: options.file, db, writer, ...settings, metrics, logger: log, stdin: options.stdin, thread });
    if (!options.once) await file.start();
  }

  const streamStates = () => [...clients.values()].flatMap((c) => c.states());
  const readiness: ReadinessContributor[] = [() => ({ fields: clients.size ? { runtimeStreams: streamStates() } : {} })];
  if (file?.health) readiness.push(fileSourceReadiness('kubearmor', [options.file!], { health: file.health }));
  const ingest: RuntimeIngest = {
    writer,
    queue,
    streamStates,
    readiness,
    addresses: () => [...clients.keys()].sort(),
    readOnce: async () => {
      const stats = file ? await file.runOnce() : undefined;
      await queue.flushed();
      const stored = await counterValue(metrics.runtimeEventsStored);
      const duplicates = await counterValue(metrics.runtimeEventsDuplicate);
      const source = options.file === '-' ? 'stdin' : options.file;
      return stats
        ? `stored ${stored} runtime events (${duplicates} already stored) from ${stats.lines} KubeArmor lines of ${source} ` +
            `(${stats.events} events, ${stats.skipped} relay log or blank lines skipped, ${stats.rejected} bad)`
        : `stored ${stored} runtime events`;
    },
    stop: async (deadlineMs) => {
      discovery?.stop();
      await Promise.all([...clients.values()].map((c) => c.stop()));
      clients.clear();
      await file?.stop();
      await queue.close(deadlineMs);
      await thread.close();
    },
  };
  return ingest;
}

/** `host:port` (IPv6 in brackets), or a usage error saying what is expected. */
function checkAddress(address: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new Error(`-kubearmor-addr "${address}" is not host:port (e.g. kubearmor.kubearmor.svc:32767 or 10.0.0.5:32767)`);
  }
  return address;
}
