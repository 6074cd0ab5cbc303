/**
 * Our copy of KubeArmor's feeder contract (proto/kubearmor.proto), loaded at run time with
 * @grpc/proto-loader. The .proto ships next to the compiled code (scripts/copy-assets.mjs copies
 * src/runtime/proto into dist).
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const FEEDER_PROTO_PATH = fileURLToPath(new URL('./proto/kubearmor.proto', import.meta.url));

/** The default feeder port of the node daemon and of kubearmor-relay. */
export const FEEDER_PORT = 32767;

/** RPC names: `/feeder.LogService/WatchAlerts` on the wire. */
export type FeederStreamRpc = 'WatchAlerts' | 'WatchLogs';

export const feederLoaderOptions: protoLoader.Options = {
  // Field names exactly as KubeArmor spells them (PascalCase), as in its JSON output.
  keepCase: true,
  // int64 Timestamp as a decimal string: no precision loss, same as protojson renders it.
  longs: String,
  enums: String,
  // proto3 sends no zero values; leaving them out keeps `raw` like the relay's omitempty JSON.
  defaults: false,
  oneofs: true,
};

let loaded: { LogService: grpc.ServiceClientConstructor } | undefined;

/** The `feeder.LogService` client constructor; `.service` is the definition a server implements. */
export function feederLogService(): grpc.ServiceClientConstructor {
  if (!loaded) {
    const definition = protoLoader.loadSync(FEEDER_PROTO_PATH, feederLoaderOptions);
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { feeder: { LogService: grpc.ServiceClientConstructor } };
    loaded = { LogService: pkg.feeder.LogService };
  }
  return loaded.LogService;
}
