/**
 * A real gRPC server on loopback implementing feeder.LogService from our proto, behaving as
 * KubeArmor's does where it matters: streams stay open, and a filter it does not accept ends the
 * stream at once with OK and no messages.
 */
import * as grpc from '@grpc/grpc-js';
import { feederLogService } from '../../src/runtime/feeder-proto.ts';

type Call = grpc.ServerWritableStream<{ Filter: string }, Record<string, unknown> | Buffer>;
type Rpc = 'WatchAlerts' | 'WatchLogs';

const accepted: Record<Rpc, string[]> = { WatchAlerts: ['all', 'policy'], WatchLogs: ['all', 'system'] };

export class FakeFeeder {
  readonly calls: Record<Rpc, Set<Call>> = { WatchAlerts: new Set(), WatchLogs: new Set() };
  /** Every call received, with its filter, in order. */
  readonly requests: { rpc: Rpc; filter: string; at: number }[] = [];
  private waiters: (() => void)[] = [];

  private constructor(
    private readonly server: grpc.Server,
    readonly host: string,
    readonly port: number,
    private readonly mode: 'normal' | 'end-at-once',
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  static async start(options: { host?: string; port?: number; mode?: 'normal' | 'end-at-once'; credentials?: grpc.ServerCredentials } = {}): Promise<FakeFeeder> {
    const server = new grpc.Server();
    const host = options.host ?? '127.0.0.1';
    let feeder!: FakeFeeder;
    const handler = (rpc: Rpc) => (call: Call) => feeder.onCall(rpc, call);
    // A Buffer given to send() goes out as it is: what a broken or hostile feeder can put on the wire.
    const service = Object.fromEntries(
      Object.entries(feederLogService().service).map(([name, method]) => [
        name,
        { ...method, responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : method.responseSerialize(value)) },
      ]),
    ) as grpc.ServiceDefinition;
    server.addService(service, {
      HealthCheck: (call: grpc.ServerUnaryCall<{ nonce: number }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
        callback(null, { Retval: call.request.nonce }),
      WatchMessages: (call: Call) => call.end(),
      WatchAlerts: handler('WatchAlerts'),
      WatchLogs: handler('WatchLogs'),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${options.port ?? 0}`, options.credentials ?? grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    feeder = new FakeFeeder(server, host, port, options.mode ?? 'normal');
    return feeder;
  }

  private onCall(rpc: Rpc, call: Call): void {
    this.requests.push({ rpc, filter: call.request.Filter, at: Date.now() });
    if (this.mode === 'end-at-once' || !accepted[rpc].includes(call.request.Filter)) {
      call.end();
      return;
    }
    // Headers now, as grpc-go does when a handler starts streaming.
    call.sendMetadata(new grpc.Metadata());
    this.calls[rpc].add(call);
    call.on('cancelled', () => this.calls[rpc].delete(call));
    call.on('close', () => this.calls[rpc].delete(call));
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `count` streams of `rpc` are open. */
  async waitForStreams(rpc: Rpc, count = 1, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.calls[rpc].size < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} ${rpc} streams on ${this.address} (have ${this.calls[rpc].size})`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  /** Writes messages to every open stream of `rpc`; resolves when written to the socket buffers. */
  async send(rpc: Rpc, messages: readonly (Record<string, unknown> | Buffer)[]): Promise<void> {
    for (const call of this.calls[rpc]) {
      for (const message of messages) {
        if (!call.write(message)) await new Promise((resolve) => call.once('drain', resolve));
      }
    }
  }

  /** Abrupt stop: every connection dropped (the pod is killed). */
  async kill(): Promise<void> {
    this.server.forceShutdown();
  }

  async stop(): Promise<void> {
    for (const calls of Object.values(this.calls)) for (const call of calls) call.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
