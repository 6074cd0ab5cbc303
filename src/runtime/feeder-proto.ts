/**
 * The feeder's gRPC service (`feeder.LogService`) for grpc-js, from the contract in feeder-messages.ts.
 */
import * as grpc from '@grpc/grpc-js';
import { feederDefinition } from './feeder-messages.ts';

/** The default feeder port of the node daemon and of kubearmor-relay. */
export const FEEDER_PORT = 32767;

/** RPC names: `/feeder.LogService/WatchAlerts` on the wire. */
export type FeederStreamRpc = 'WatchAlerts' | 'WatchLogs';

let loaded: { LogService: grpc.ServiceClientConstructor; raw: grpc.ServiceClientConstructor } | undefined;

function load(): NonNullable<typeof loaded> {
  if (!loaded) {
    const definition = feederDefinition();
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { feeder: { LogService: grpc.ServiceClientConstructor } };
    // The same service, its streams' messages delivered as received: decoded with normalising, off the
    // thread that reads the connection (feeder-messages.ts).
    const service = definition['feeder.LogService'] as unknown as grpc.ServiceDefinition;
    const undecoded = Object.fromEntries(Object.entries(service).map(([name, method]) => [name, { ...method, responseDeserialize: (bytes: Buffer) => bytes }]));
    loaded = { LogService: pkg.feeder.LogService, raw: grpc.makeGenericClientConstructor(undecoded, 'LogService') };
  }
  return loaded;
}

/** The `feeder.LogService` client constructor; `.service` is the definition a server implements. */
export function feederLogService(): grpc.ServiceClientConstructor {
  return load().LogService;
}

/** A `feeder.LogService` client whose streams deliver each message's bytes, undecoded. */
export function feederUndecodedLogService(): grpc.ServiceClientConstructor {
  return load().raw;
}
