import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as protoLoader from '@grpc/proto-loader';
import { FEEDER_PROTO_PATH, feederLoaderOptions } from '../../src/runtime/feeder-messages.ts';
import { feederLogService } from '../../src/runtime/feeder-proto.ts';
import { feederFields } from './feeder-fields.ts';

const definition = protoLoader.loadSync(FEEDER_PROTO_PATH, feederLoaderOptions);

type Field = { name: string; number: number; type: string; label: string };
const fieldsOf = (message: string) => new Map(((definition[`feeder.${message}`] as unknown as { type: { field: Field[] } }).type.field).map((f) => [f.name, f]));

const protoType: Record<string, string> = { int64: 'TYPE_INT64', int32: 'TYPE_INT32', string: 'TYPE_STRING' };

describe('our kubearmor.proto against the wire contract (test/runtime/feeder-fields.ts)', () => {
  it('gives Alert and Log every field of the table with its number and type', () => {
    assert.equal(feederFields.length, 44, 'the table has 44 fields');
    const alert = fieldsOf('Alert');
    const log = fieldsOf('Log');
    for (const [name, type, alertNumber, logNumber] of feederFields) {
      for (const [message, fields, number] of [['Alert', alert, alertNumber], ['Log', log, logNumber]] as const) {
        const field = fields.get(name!);
        if (number === '-') {
          assert.equal(field, undefined, `${message} has no ${name}`);
          continue;
        }
        assert.equal(field?.number, number, `${message}.${name} = ${number}`);
        if (protoType[type]) assert.equal(field.type, protoType[type], `${message}.${name} is ${type}`);
        if (type === 'repeated string') assert.equal(field.label, 'LABEL_REPEATED');
      }
    }
    assert.equal(alert.size, 44);
    assert.equal(log.size, 34);
  });

  it('declares the small messages and the LogService methods as the reference does', () => {
    assert.deepEqual([...fieldsOf('RequestMessage').values()].map((f) => [f.name, f.number]), [['Filter', 1]]);
    assert.deepEqual([...fieldsOf('Podowner').values()].map((f) => [f.name, f.number]), [['Ref', 1], ['Name', 2], ['Namespace', 3]]);
    assert.deepEqual([...fieldsOf('ExecEvent').values()].map((f) => [f.name, f.number]), [['ExecID', 1], ['ExecutableName', 2]]);
    assert.deepEqual([...fieldsOf('Message').values()].map((f) => [f.name, f.number]), [
      ['Timestamp', 1], ['UpdatedTime', 2], ['ClusterName', 3], ['HostName', 4], ['HostIP', 5], ['Type', 6], ['Level', 7], ['Message', 8],
    ]);
    const service = feederLogService().service;
    assert.equal(service.WatchAlerts!.path, '/feeder.LogService/WatchAlerts');
    assert.equal(service.WatchLogs!.path, '/feeder.LogService/WatchLogs');
    assert.equal(service.WatchAlerts!.responseStream, true);
    assert.equal(service.HealthCheck!.responseStream, false);
  });

  it('keeps a 64-bit Timestamp exact (a string, not a float)', () => {
    const method = feederLogService().service.WatchLogs!;
    const decoded = method.responseDeserialize(method.responseSerialize({ Timestamp: '9007199254740993' })) as { Timestamp: string };
    assert.equal(decoded.Timestamp, '9007199254740993');
  });
});
