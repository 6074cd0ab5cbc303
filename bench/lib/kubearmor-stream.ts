/**
 * A generated KubeArmor event stream on disk, already encoded as the feeder's protobuf messages
 * (Log or Alert), so the bench feeder only writes bytes: encoding 300k objects with protobufjs while
 * streaming would make the feeder, not the processor, the measured limit. Also writable as JSON lines
 * (the relay's stdout / `karmor logs --json` form) for `-kubearmor-file`.
 *
 * File format: records of [1 byte kind: 1 log, 2 alert][4 bytes length, big-endian][message bytes].
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { dataDir, projectRoot } from './datasets.ts';
import { KubeArmorGenerator } from './kubearmor.ts';

export const feederProtoPath = join(projectRoot, 'src', 'runtime', 'proto', 'kubearmor.proto');

export function feederDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(feederProtoPath, { keepCase: true, longs: String, defaults: false });
}

type Serialize = (value: object) => Buffer;

/** Writes (or reuses) `count` encoded events; returns the path. */
export function ensureKubeArmorStream(count: number, seed = 5): string {
  const path = join(dataDir, `kubearmor-${count}-${seed}.pb`);
  if (existsSync(path)) return path;
  const service = feederDefinition()['feeder.LogService'] as unknown as Record<string, { responseSerialize: Serialize }>;
  const encode = { log: service.WatchLogs!.responseSerialize, alert: service.WatchAlerts!.responseSerialize };
  const generator = new KubeArmorGenerator({ seed });
  const fd = openSync(path + '.tmp', 'w');
  try {
    let parts: Buffer[] = [];
    let size = 0;
    for (let i = 0; i < count; i++) {
      const { kind, event } = generator.next();
      const message = encode[kind](event);
      const header = Buffer.allocUnsafe(5);
      header[0] = kind === 'log' ? 1 : 2;
      header.writeUInt32BE(message.length, 1);
      parts.push(header, message);
      size += 5 + message.length;
      if (size > 4 << 20) {
        writeSync(fd, Buffer.concat(parts));
        parts = [];
        size = 0;
      }
    }
    writeSync(fd, Buffer.concat(parts));
  } finally {
    closeSync(fd);
  }
  // Complete files only: a run interrupted while writing leaves a .tmp that is never reused.
  renameSync(path + '.tmp', path);
  return path;
}

/** The encoded messages of a stream file, in order. */
export function readKubeArmorStream(path: string): { kind: 'log' | 'alert'; message: Buffer }[] {
  const data = readFileSync(path);
  const out: { kind: 'log' | 'alert'; message: Buffer }[] = [];
  for (let at = 0; at < data.length; ) {
    const kind = data[at] === 1 ? 'log' : 'alert';
    const length = data.readUInt32BE(at + 1);
    out.push({ kind, message: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

/** Writes (or reuses) `count` events as JSON lines (the form writeKubeArmorJsonLines writes); returns the path. */
export function ensureKubeArmorJsonLines(count: number, seed = 5): string {
  const path = join(dataDir, `kubearmor-${count}-${seed}.jsonl`);
  if (existsSync(path)) return path;
  mkdirSync(dataDir, { recursive: true });
  writeKubeArmorJsonLines(path + '.tmp', count, seed);
  renameSync(path + '.tmp', path); // complete files only, as for the protobuf stream
  return path;
}

/** JSON lines of the same generator, as `karmor logs --json` prints them. */
export function writeKubeArmorJsonLines(path: string, count: number, seed = 5): void {
  const generator = new KubeArmorGenerator({ seed });
  const fd = openSync(path, 'w');
  try {
    let chunk = '';
    for (let i = 0; i < count; i++) {
      chunk += JSON.stringify(generator.next().event) + '\n';
      if (chunk.length > 4 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}
