/**
 * Starts runtime-event ingestion from the `-kubearmor-*` flags: the writer, the batching queue, one
 * feeder client per address (given with `-kubearmor-addr`, found with `-kubearmor-discover`), and the
 * JSON-lines reader for `-kubearmor-file`. cmd/audit-processor.ts calls `startRuntimeIngest` and, for
 * /readyz detail, `streamStates()` of what it returns.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { Database } from '../store/database.ts';
import { FeederDiscovery, type FeederDiscoveryMode } from './discovery.ts';
import { FeederClient, feederCredentials, type FeederBackoffOptions, type FeederStreamSpec, type FeederStreamState } from './feeder-client.ts';
import { RuntimeEventQueue, type RuntimeEventQueueOptions } from './queue.ts';
import { RuntimeEventWriter, type RuntimeCommitHook } from './writer.ts';

export interface RuntimeIngestOptions {
  db: Database;
  cluster: string;
  metrics: Metrics;
  logger: Logger;
  /** `-kubearmor-addr host:port`, repeatable. */
  addresses?: readonly string[];
  /** `-kubearmor-logs`: WatchAlerts with filter "all" instead of "policy", plus WatchLogs "system". */
  watchLogs?: boolean;
  /** `-kubearmor-ca-file`: TLS to the feeders. */
  caFile?: string;
  /** `-kubearmor-discover[=relay|nodes]`. */
  discover?: FeederDiscoveryMode;
  /** `-kubeconfig`. */
  kubeconfigPath?: string;
  /** Feeder port on discovered pods (default 32767). */
  discoveryPort?: number;
  /** Called after each committed batch of runtime events (see writer.ts): correlation hooks in here. */
  onCommitted?: RuntimeCommitHook;
  backoff?: Partial<FeederBackoffOptions>;
  queue?: Pick<RuntimeEventQueueOptions, 'maxBatch' | 'highWater' | 'lowWater' | 'retryInitialMs' | 'retryMaxMs'>;
}

export interface RuntimeIngest {
  writer: RuntimeEventWriter;
  queue: RuntimeEventQueue;
  /** Every feeder stream's state, for /readyz detail and logs. */
  streamStates(): FeederStreamState[];
  /** Feeder addresses connected now (given and discovered). */
  addresses(): string[];
  /** Stops the streams and discovery, then writes what is queued (up to `deadlineMs`). */
  stop(deadlineMs?: number): Promise<void>;
}

/**
 * Which calls to keep open on each feeder. Filters must be exactly these words: any other value (even
 * "") makes the feeder end the stream at once with OK.
 */
export function feederStreamsFor(watchLogs: boolean): FeederStreamSpec[] {
  return watchLogs
    ? [
        { rpc: 'WatchAlerts', filter: 'all' },
        { rpc: 'WatchLogs', filter: 'system' },
      ]
    : [{ rpc: 'WatchAlerts', filter: 'policy' }];
}

/** True when any runtime source is configured. */
export function runtimeIngestWanted(options: Pick<RuntimeIngestOptions, 'addresses' | 'discover'>): boolean {
  return (options.addresses?.length ?? 0) > 0 || !!options.discover;
}

export async function startRuntimeIngest(options: RuntimeIngestOptions): Promise<RuntimeIngest> {
  const { db, metrics, logger } = options;
  const log = logger.child({ component: 'runtime' });
  const writer = new RuntimeEventWriter(db, { metrics, logger: log, onCommitted: options.onCommitted });
  const queue = new RuntimeEventQueue({ writer, metrics, logger: log, ...options.queue });
  const credentials = feederCredentials(options.caFile);
  const streams = feederStreamsFor(options.watchLogs ?? false);
  const clients = new Map<string, FeederClient>();
  const given = [...new Set(options.addresses ?? [])].map(checkAddress);
  let discovered: string[] = [];

  const reconcile = () => {
    const wanted = new Set([...given, ...discovered]);
    for (const [address, client] of clients) {
      if (wanted.has(address)) continue;
      clients.delete(address);
      void client.stop();
      log.info({ address }, `disconnected from KubeArmor feeder ${address} (gone)`);
    }
    for (const address of wanted) {
      if (clients.has(address)) continue;
      const client = new FeederClient({ address, streams, queue, cluster: options.cluster, metrics, logger: log, backoff: options.backoff }, credentials);
      clients.set(address, client);
      client.start();
      log.info({ address, streams: streams.map((s) => `${s.rpc}(${s.filter})`) }, `connecting to KubeArmor feeder ${address}`);
    }
  };

  let discovery: FeederDiscovery | undefined;
  if (options.discover) {
    discovery = new FeederDiscovery({
      mode: options.discover,
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

  return {
    writer,
    queue,
    streamStates: () => [...clients.values()].flatMap((c) => c.states()),
    addresses: () => [...clients.keys()].sort(),
    stop: async (deadlineMs) => {
      discovery?.stop();
      await Promise.all([...clients.values()].map((c) => c.stop()));
      clients.clear();
      await queue.close(deadlineMs);
    },
  };
}

/** `host:port` (IPv6 in brackets), or a usage error saying what is expected. */
function checkAddress(address: string): string {
  if (!/^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]]+):\d{1,5}$/.test(address)) {
    throw new Error(`-kubearmor-addr "${address}" is not host:port (e.g. kubearmor.kubearmor.svc:32767 or 10.0.0.5:32767)`);
  }
  return address;
}
