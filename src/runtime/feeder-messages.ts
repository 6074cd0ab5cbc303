/**
 * The feeder's messages without gRPC: our copy of KubeArmor's contract (proto/kubearmor.proto, loaded
 * with @grpc/proto-loader; the .proto ships next to the compiled code, scripts/copy-assets.mjs), and a
 * batch of undecoded messages → the batch the writer stores (rows.ts), pure apart from reading the
 * .proto once.
 *
 * The feeder client hands over each message's bytes as received; they are decoded and normalised here,
 * on the normalising thread for a batch of many (prepare-thread.ts) and inline otherwise, with the very
 * decoder the gRPC client would have used (the method's responseDeserialize), so both give one result.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type * as ProtoLoader from '@grpc/proto-loader';
import type { Redaction } from '../audit/redact.ts';
import { normalizeFeederMessage, type RawKept, type RuntimeEventKind, type RuntimeEvent } from './event.ts';
import type { RejectedLine } from './line-batch.ts';
import { prepareRuntimeBatch, type PreparedRuntimeBatch } from './rows.ts';

export const FEEDER_PROTO_PATH = fileURLToPath(new URL('./proto/kubearmor.proto', import.meta.url));

export const feederLoaderOptions: ProtoLoader.Options = {
  // Field names exactly as KubeArmor spells them (PascalCase), as in its JSON output.
  keepCase: true,
  // int64 Timestamp as a decimal string: no precision loss, same as protojson renders it.
  longs: String,
  enums: String,
  // proto3 sends no zero values; leaving them out keeps `raw` like the relay's omitempty JSON.
  defaults: false,
  oneofs: true,
};

let definition: ProtoLoader.PackageDefinition | undefined;

/**
 * The feeder's package definition (loaded once). proto-loader and protobufjs are loaded here, at first
 * use, so that a processor without feeders starts without them (start-up, issue 16).
 */
export function feederDefinition(): ProtoLoader.PackageDefinition {
  if (!definition) {
    const protoLoader = createRequire(import.meta.url)('@grpc/proto-loader') as typeof ProtoLoader;
    definition = protoLoader.loadSync(FEEDER_PROTO_PATH, feederLoaderOptions);
  }
  return definition;
}

type Decode = (bytes: Buffer) => Record<string, unknown>;

let decoders: Record<RuntimeEventKind, Decode> | undefined;

/** WatchLogs' and WatchAlerts' response decoders, by the kind of event each streams. */
function feederDecoders(): Record<RuntimeEventKind, Decode> {
  if (!decoders) {
    const service = feederDefinition()['feeder.LogService'] as unknown as Record<'WatchLogs' | 'WatchAlerts', { responseDeserialize: Decode }>;
    decoders = { log: service.WatchLogs.responseDeserialize, alert: service.WatchAlerts.responseDeserialize };
  }
  return decoders;
}

/** One message as the feeder client received it. */
export interface FeederMessage {
  kind: RuntimeEventKind;
  bytes: Uint8Array;
  receivedAtMs: number;
}

export interface FeederMessageSettings {
  cluster: string;
  redaction?: Redaction;
  raw?: RawKept;
  operations?: ReadonlySet<string>;
}

/** A message that is not an event: its index in the batch and why (never quoting it). */
export interface RejectedMessage extends RejectedLine {
  index: number;
}

export interface PreparedFeederMessages {
  prepared: PreparedRuntimeBatch;
  events: number;
  rejected: RejectedMessage[];
  /** What was repaired to make events storable (src/audit/sanitize.ts), counted by reason. */
  repaired: Record<string, number>;
}

/** A batch of messages → the writer's batch, in the order given. */
export function prepareFeederMessages(messages: readonly FeederMessage[], settings: FeederMessageSettings): PreparedFeederMessages {
  const decode = feederDecoders();
  const events: RuntimeEvent[] = [];
  const rejected: RejectedMessage[] = [];
  const repaired: Record<string, number> = {};
  // The received time is formatted once per millisecond, not per message.
  let lastMs = Number.NaN;
  const context = { cluster: settings.cluster, redaction: settings.redaction, raw: settings.raw, receivedAt: '' };
  messages.forEach((message, index) => {
    if (message.receivedAtMs !== lastMs) context.receivedAt = new Date((lastMs = message.receivedAtMs)).toISOString();
    let decoded: Record<string, unknown>;
    try {
      const bytes = Buffer.isBuffer(message.bytes) ? message.bytes : Buffer.from(message.bytes.buffer, message.bytes.byteOffset, message.bytes.byteLength);
      decoded = decode[message.kind](bytes);
    } catch (error) {
      rejected.push({ index, reason: 'runtime-bad-protobuf', detail: `a ${message.bytes.length}-byte message that is not a feeder ${message.kind === 'log' ? 'Log' : 'Alert'} (${(error as Error).name})` });
      return;
    }
    const outcome = normalizeFeederMessage(decoded, message.kind, context);
    if (!outcome.ok) {
      rejected.push({ index, reason: outcome.reason, detail: outcome.detail });
      return;
    }
    for (const reason of outcome.repaired) repaired[reason] = (repaired[reason] ?? 0) + 1;
    events.push(outcome.event);
  });
  return { prepared: prepareRuntimeBatch(events, settings.operations), events: events.length, rejected, repaired };
}
