/**
 * A local KubeArmor feeder for the runtime row: a gRPC `feeder.LogService` on 127.0.0.1 that streams a
 * generated event stream (bench/lib/kubearmor-stream.ts, already protobuf-encoded) as fast as each
 * client takes it: it waits for 'drain' when a stream's buffer is full, as grpc-go's flow control makes
 * the real feeder wait.
 *
 *   kubearmor-feeder.ts PORT STREAM_FILE [alerts-only]
 *
 * Waits until WatchAlerts (and, unless alerts-only, WatchLogs) are open, then sends every event: logs on
 * WatchLogs, alerts on WatchAlerts (with alerts-only, only the alerts: a processor without logs never
 * asks for the rest). Prints one JSON line per step on stdout: {"listening":PORT},
 * {"streaming":true}, {"sent":N,"seconds":S}. Streams stay open afterwards (a feeder has no end).
 */
import * as grpc from '@grpc/grpc-js';
import { feederDefinition, readKubeArmorStream } from '../lib/kubearmor-stream.ts';

const [portText, streamFile, mode] = process.argv.slice(2);
const alertsOnly = mode === 'alerts-only';
const events = readKubeArmorStream(streamFile!);
const definition = feederDefinition();
// The messages are encoded already: the server writes their bytes as they are.
const service = { ...(definition['feeder.LogService'] as grpc.ServiceDefinition) };
for (const rpc of ['WatchLogs', 'WatchAlerts'] as const) service[rpc] = { ...service[rpc]!, responseSerialize: (bytes: Buffer) => bytes };

type Stream = grpc.ServerWritableStream<{ Filter: string }, Buffer>;
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
  const begin = performance.now();
  for (const { kind, message } of events) {
    if (alertsOnly && kind === 'log') continue;
    const target = kind === 'alert' ? alerts : logs;
    if (!target.write(message)) await new Promise((resolve) => target.once('drain', resolve));
  }
  say({ sent: events.length, seconds: (performance.now() - begin) / 1000 });
}

const server = new grpc.Server();
server.addService(service, {
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
