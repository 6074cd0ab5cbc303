/**
 * Runtime baseline: a bare grpc-js client of the feeder that opens the same streams as the processor and
 * only counts messages (decoding included, storage not): the transport's limit here.
 *
 *   grpc-count.ts ADDRESS COUNT [alerts-only]
 *
 * Prints {"received":COUNT,"seconds":S} (first message to last).
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { projectRoot } from '../lib/datasets.ts';

const [address, countText, mode] = process.argv.slice(2);
const count = Number(countText);
const definition = protoLoader.loadSync(join(projectRoot, 'src', 'runtime', 'proto', 'kubearmor.proto'), { keepCase: true, longs: String, defaults: false });
const pkg = grpc.loadPackageDefinition(definition) as unknown as { feeder: { LogService: grpc.ServiceClientConstructor } };
const client = new pkg.feeder.LogService(address!, grpc.credentials.createInsecure()) as unknown as Record<string, (req: { Filter: string }) => grpc.ClientReadableStream<unknown>>;
let received = 0;
let first = 0;
const onData = () => {
  if (received++ === 0) first = performance.now();
  if (received === count) {
    process.stdout.write(JSON.stringify({ received, seconds: (performance.now() - first) / 1000 }) + '\n');
    process.exit(0);
  }
};
const streams = mode === 'alerts-only' ? [client.WatchAlerts!({ Filter: 'policy' })] : [client.WatchAlerts!({ Filter: 'all' }), client.WatchLogs!({ Filter: 'system' })];
for (const s of streams) {
  s.on('data', onData);
  s.on('error', (e: Error) => {
    process.stderr.write(`grpc-count: ${e.message}\n`);
    process.exit(1);
  });
}
