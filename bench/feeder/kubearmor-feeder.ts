/**
 * A local KubeArmor feeder for the runtime row: a gRPC `feeder.LogService` on 127.0.0.1 that streams
 * generated events (bench/lib/kubearmor.ts) as fast as each client takes them (it waits for 'drain'
 * when a stream's buffer is full, as grpc-go's flow control makes the real feeder wait).
 *
 *   kubearmor-feeder.ts PORT COUNT [alerts-only]
 *
 * Waits until WatchAlerts (and, unless alerts-only, WatchLogs) are open, then sends COUNT events: logs on
 * WatchLogs, alerts on WatchAlerts (everything on WatchAlerts when alerts-only). Prints one JSON line
 * per step on stdout: {"listening":PORT}, {"streaming":true}, {"sent":COUNT,"seconds":S}. Streams stay
 * open afterwards (the feeder has no end and no replay).
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KubeArmorGenerator, type FeederEvent } from '../lib/kubearmor.ts';
import { projectRoot } from '../lib/datasets.ts';

const [portText, countText, mode] = process.argv.slice(2);
const count = Number(countText);
const alertsOnly = mode === 'alerts-only';
const protoPath = join(projectRoot, 'src', 'runtime', 'proto', 'kubearmor.proto');
const definition = protoLoader.loadSync(protoPath, { keepCase: true, longs: String, defaults: false });
const pkg = grpc.loadPackageDefinition(definition) as unknown as { feeder: { LogService: grpc.ServiceClientConstructor } };

type Stream = grpc.ServerWritableStream<{ Filter: string }, FeederEvent>;
const open: { alerts?: Stream; logs?: Stream } = {};
let started = false;
const say = (value: unknown) => process.stdout.write(JSON.stringify(value) + '\n');

function maybeStart(): void {
  if (started || !open.alerts || (!alertsOnly && !open.logs)) return;
  started = true;
  void stream(open.alerts, alertsOnly ? open.alerts : open.logs!);
}

async function stream(alerts: Stream, logs: Stream): Promise<void> {
  say({ streaming: true });
  const generator = new KubeArmorGenerator({ seed: 5 });
  const begin = performance.now();
  for (let i = 0; i < count; i++) {
    const { kind, event } = generator.next();
    const target = kind === 'alert' ? alerts : logs;
    if (!target.write(event)) await new Promise((resolve) => target.once('drain', resolve));
  }
  say({ sent: count, seconds: (performance.now() - begin) / 1000 });
}

const server = new grpc.Server();
server.addService(pkg.feeder.LogService.service, {
  HealthCheck: (call: grpc.ServerUnaryCall<{ nonce: number }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { Retval: call.request.nonce }),
  WatchMessages: () => undefined,
  WatchAlerts: (call: Stream) => {
    if (call.request.Filter !== 'all' && call.request.Filter !== 'policy') return call.end();
    open.alerts = call;
    maybeStart();
  },
  WatchLogs: (call: Stream) => {
    if (call.request.Filter !== 'all' && call.request.Filter !== 'system') return call.end();
    open.logs = call;
    maybeStart();
  },
});
server.bindAsync(`127.0.0.1:${portText}`, grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  say({ listening: port });
});
process.on('SIGTERM', () => server.forceShutdown());
