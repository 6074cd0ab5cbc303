/**
 * A client of one KubeArmor feeder (a node daemon or kubearmor-relay, `host:port`): it keeps its
 * server-streaming calls (`WatchAlerts`, and `WatchLogs` when logs are wanted) open for as long as it
 * runs, and hands every message to the queue as received (feeder-writer.ts decodes and normalises them
 * in batches, off this thread).
 *
 * Protocol facts that shape this (../shared/reference/kubearmor-feeder.md):
 *  - The feeder has no replay and no sequence numbers: whatever happens while we are away is missed,
 *    so we reconnect after ANY end, error or clean OK.
 *  - A filter the feeder does not accept (anything but "all"/"policy" for alerts, "all"/"system" for
 *    logs, even "") ends the stream at once with OK and no messages. Backoff is only reset after a
 *    stream that delivered something or stayed up a while, so that case settles into slow retries
 *    (bounded rate, logged every time) instead of a reconnect storm.
 *  - A connection that goes silent is found by keepalive pings (FeederKeepalive: every 300 s, the most
 *    often KubeArmor's grpc-go servers allow without closing the connection with `too_many_pings`).
 *  - Backpressure: when the queue is over high water the call is paused (call.pause(): grpc-js then
 *    stops reading, and HTTP/2 flow control pushes back on the feeder), resumed when it drains.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import { Backoff } from '../time/backoff.ts';
import type { RuntimeEventKind } from './event.ts';
import { feederUndecodedLogService, type FeederStreamRpc } from './feeder-proto.ts';
import type { QueuedFeederMessage } from './feeder-writer.ts';
import type { RuntimeEventQueue } from './queue.ts';

export type FeederStreamName = 'alerts' | 'logs';
export type FeederStreamStatus = 'connecting' | 'streaming' | 'paused' | 'backoff' | 'stopped';
const allStatuses: FeederStreamStatus[] = ['connecting', 'streaming', 'paused', 'backoff', 'stopped'];

/** What /readyz detail and logs show for one stream. Times are RFC 3339. */
export interface FeederStreamState {
  address: string;
  stream: FeederStreamName;
  rpc: FeederStreamRpc;
  filter: string;
  state: FeederStreamStatus;
  /** When it entered this state. */
  since: string;
  /** When the current (or last) call received its first response. */
  connectedAt: string | null;
  lastMessageAt: string | null;
  /** Messages received over all calls. */
  messages: number;
  /** Calls re-opened after the first. */
  reconnects: number;
  /** Calls in a row that ended without delivering anything. */
  consecutiveFailures: number;
  lastError: string | null;
  /** While in backoff: when the next call is made. */
  nextAttemptAt: string | null;
}

export interface FeederStreamSpec {
  rpc: FeederStreamRpc;
  /** Exactly "all"/"policy" (WatchAlerts) or "all"/"system" (WatchLogs). */
  filter: string;
}

export interface FeederBackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A call that stayed open this long counts as healthy even without messages (a quiet cluster). */
  stableAfterMs: number;
}

export const defaultFeederBackoff: FeederBackoffOptions = { initialMs: 1000, maxMs: 60_000, stableAfterMs: 60_000 };

/**
 * How a dead connection is found: a stream that goes silent without closing (a node gone, a network
 * path dropped, a proxy that holds the connection) delivers nothing and ends never, so the client
 * pings. HTTP/2 PING every `timeMs` while streams are open; no answer within `timeoutMs` closes the
 * connection, the streams end UNAVAILABLE, and they reconnect with backoff.
 *
 * 300 s, because KubeArmor's feeders are grpc-go servers with the default keepalive enforcement
 * (MinTime 5 minutes, no pings without streams): a client that pings more often is sent GOAWAY
 * `too_many_pings` and disconnected. (The servers ping their clients themselves, the relay every 5 s,
 * which keeps idle intermediaries from dropping the connection, but grpc-js never notices those pings
 * stopping.) So a dead connection is found within 5 min 20 s; tests make both small.
 */
export interface FeederKeepalive {
  timeMs: number;
  timeoutMs: number;
}

export const defaultFeederKeepalive: FeederKeepalive = { timeMs: 300_000, timeoutMs: 20_000 };

/** Channel options for a feeder, with the keepalive above. */
export function feederChannelOptionsFor(keepalive: FeederKeepalive = defaultFeederKeepalive): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': keepalive.timeMs,
    'grpc.keepalive_timeout_ms': keepalive.timeoutMs,
    // Pings only while streams are open: grpc-go's default policy (PermitWithoutStream=false) counts
    // pings on an idle connection as abuse.
    'grpc.keepalive_permit_without_calls': 0,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    'grpc.initial_reconnect_backoff_ms': 1000,
    'grpc.max_reconnect_backoff_ms': 30_000,
  };
}

export const feederChannelOptions: grpc.ChannelOptions = feederChannelOptionsFor();

export interface FeederClientOptions {
  /** `host:port`. */
  address: string;
  streams: readonly FeederStreamSpec[];
  /** PEM CA bundle to verify the feeder's certificate (TLS); plaintext without it. */
  caFile?: string;
  queue: Pick<RuntimeEventQueue<QueuedFeederMessage>, 'offer' | 'onDrain'>;
  metrics: Metrics;
  logger: Logger;
  backoff?: Partial<FeederBackoffOptions>;
  keepalive?: FeederKeepalive;
}

/** TLS credentials from a CA file, or plaintext. Reads the file now so a wrong path fails at start. */
export function feederCredentials(caFile: string | undefined): grpc.ChannelCredentials {
  if (!caFile) return grpc.credentials.createInsecure();
  let ca: Buffer;
  try {
    ca = readFileSync(caFile);
  } catch (error) {
    throw new Error(`cannot read -kubearmor-ca-file ${caFile}: ${(error as Error).message}; give the PEM CA that signed the feeder's certificate`, { cause: error });
  }
  return grpc.credentials.createSsl(ca);
}

export class FeederClient {
  private readonly client: grpc.Client;
  private readonly streams: FeederStream[];

  constructor(options: FeederClientOptions, credentials: grpc.ChannelCredentials = feederCredentials(options.caFile)) {
    const LogService = feederUndecodedLogService();
    this.client = new LogService(options.address, credentials, feederChannelOptionsFor(options.keepalive));
    const backoff = { ...defaultFeederBackoff, ...options.backoff };
    this.streams = options.streams.map((spec) => new FeederStream(this.client, spec, options, backoff));
  }

  start(): void {
    for (const stream of this.streams) stream.start();
  }

  async stop(): Promise<void> {
    for (const stream of this.streams) stream.stop();
    this.client.close();
  }

  states(): FeederStreamState[] {
    return this.streams.map((s) => s.snapshot());
  }
}

type ReadableCall = grpc.ClientReadableStream<Buffer>;

class FeederStream {
  private readonly state: FeederStreamState;
  private readonly backoff: Backoff;
  private readonly kind: RuntimeEventKind;
  private readonly labels: { address: string; stream: FeederStreamName };
  private call: ReadableCall | undefined;
  private timer: NodeJS.Timeout | undefined;
  private paused = false;
  private stopped = false;
  private removeDrainListener: (() => void) | undefined;
  private opens = 0;
  /** Kept as a number: formatting a time per message costs more than the rest of the hot path. */
  private lastMessageAtMs = 0;

  constructor(
    private readonly client: grpc.Client,
    private readonly spec: FeederStreamSpec,
    private readonly options: FeederClientOptions,
    private readonly backoffOptions: FeederBackoffOptions,
  ) {
    const stream: FeederStreamName = spec.rpc === 'WatchAlerts' ? 'alerts' : 'logs';
    this.kind = spec.rpc === 'WatchAlerts' ? 'alert' : 'log';
    this.labels = { address: options.address, stream };
    this.backoff = new Backoff({ initialMs: backoffOptions.initialMs, maxMs: backoffOptions.maxMs });
    this.state = {
      address: options.address,
      stream,
      rpc: spec.rpc,
      filter: spec.filter,
      state: 'connecting',
      since: new Date().toISOString(),
      connectedAt: null,
      lastMessageAt: null,
      messages: 0,
      reconnects: 0,
      consecutiveFailures: 0,
      lastError: null,
      nextAttemptAt: null,
    };
  }

  snapshot(): FeederStreamState {
    return { ...this.state, lastMessageAt: this.lastMessageAtMs ? new Date(this.lastMessageAtMs).toISOString() : null };
  }

  start(): void {
    this.removeDrainListener = this.options.queue.onDrain(() => this.resume());
    this.open();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.removeDrainListener?.();
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.setStatus('stopped');
    for (const state of allStatuses) this.options.metrics.runtimeStreamState.remove({ ...this.labels, state });
  }

  private open(): void {
    if (this.stopped) return;
    const { logger, metrics, queue } = this.options;
    if (this.opens++ > 0) {
      this.state.reconnects++;
      metrics.runtimeStreamReconnects.inc(this.labels);
    }
    this.state.nextAttemptAt = null;
    this.setStatus('connecting');
    const openedAt = Date.now();
    let received = 0;
    let status: grpc.StatusObject | undefined;
    let ended = false;
    let finished = false;
    const call = (this.client as unknown as Record<FeederStreamRpc, (request: { Filter: string }) => ReadableCall>)[this.spec.rpc]({
      Filter: this.spec.filter,
    });
    this.call = call;
    this.paused = false;

    const finish = () => {
      if (finished || this.call !== call) return;
      finished = true;
      this.call = undefined;
      this.scheduleReconnect(status, received, Date.now() - openedAt);
    };
    call.on('metadata', () => {
      if (this.call !== call) return;
      this.state.connectedAt = new Date().toISOString();
      if (this.state.state === 'connecting') this.setStatus('streaming');
      logger.info({ ...this.labels, rpc: this.spec.rpc, filter: this.spec.filter }, `feeder stream open: ${this.spec.rpc} on ${this.options.address}`);
    });
    call.on('data', (bytes: Buffer) => {
      // Messages already buffered when stop() cancelled the call: the queue may be closing.
      if (this.stopped) return;
      received++;
      this.state.messages++;
      this.lastMessageAtMs = Date.now();
      if (this.state.state === 'connecting') this.setStatus('streaming');
      if (!queue.offer([{ kind: this.kind, bytes, receivedAtMs: this.lastMessageAtMs, labels: this.labels }]) && !this.paused && this.call === call) {
        this.paused = true;
        call.pause();
        metrics.runtimeStreamPaused.inc(this.labels);
        this.setStatus('paused');
        logger.warn({ ...this.labels }, `paused ${this.spec.rpc} from ${this.options.address}: the database is behind; resuming when it catches up`);
      }
    });
    // A non-OK status arrives as 'error' then 'status'; an OK one as 'status' alone. 'end' comes after
    // every buffered message was consumed, so a paused call is only finished once resumed and drained.
    call.on('error', () => undefined);
    call.on('status', (s: grpc.StatusObject) => {
      status = s;
      if (ended) finish();
    });
    call.on('end', () => {
      ended = true;
      if (status) finish();
    });
  }

  private resume(): void {
    if (!this.paused || !this.call) return;
    this.paused = false;
    this.setStatus('streaming');
    this.call.resume();
    this.options.logger.info({ ...this.labels }, `resumed ${this.spec.rpc} from ${this.options.address}`);
  }

  private scheduleReconnect(status: grpc.StatusObject | undefined, received: number, livedMs: number): void {
    if (this.stopped) return;
    const healthy = received > 0 || livedMs >= this.backoffOptions.stableAfterMs;
    if (healthy) {
      this.backoff.reset();
      this.state.consecutiveFailures = 0;
    } else this.state.consecutiveFailures++;
    const delay = this.backoff.next();
    const code = status ? grpc.status[status.code] ?? String(status.code) : 'UNKNOWN';
    const reason =
      status?.code === grpc.status.OK
        ? received === 0 && livedMs < 1000
          ? `ended at once with OK and no events (a feeder does this for a filter it does not accept; we sent ${JSON.stringify(this.spec.filter)})`
          : `ended by the feeder (OK) after ${received} events`
        : `failed: ${code} ${status?.details ?? ''}`.trim();
    this.state.lastError = status?.code === grpc.status.OK && received > 0 ? null : reason;
    this.state.nextAttemptAt = new Date(Date.now() + delay).toISOString();
    this.setStatus('backoff');
    this.options.logger.warn(
      { ...this.labels, rpc: this.spec.rpc, code, received, livedMs, attempt: this.state.consecutiveFailures, delayMs: delay },
      `feeder stream ${this.spec.rpc} on ${this.options.address} ${reason}; reconnecting in ${(delay / 1000).toFixed(2)}s (backoff)`,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.open();
    }, delay);
  }

  private setStatus(status: FeederStreamStatus): void {
    if (this.state.state !== status) this.state.since = new Date().toISOString();
    this.state.state = status;
    if (status === 'stopped') return;
    for (const s of allStatuses) this.options.metrics.runtimeStreamState.set({ ...this.labels, state: s }, s === status ? 1 : 0);
  }
}
