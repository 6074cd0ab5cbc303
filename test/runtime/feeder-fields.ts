/**
 * The wire contract of KubeArmor's feeder Alert and Log messages, written down from
 * ../shared/reference/kubearmor-feeder.md "Messages" (field name, type, number in Alert, number in Log;
 * '-' where the message has no such field). Alert and Log share 1-12 and differ after that.
 * test/runtime/proto.test.ts holds our kubearmor.proto to it; test/shared-corpus checks it against the
 * reference's table itself when ../shared is there.
 */
export type FeederFieldRow = [name: string, type: string, alert: number | '-', log: number | '-'];

export const feederFields: FeederFieldRow[] = [
  ['Timestamp', 'int64', 1, 1],
  ['UpdatedTime', 'string', 2, 2],
  ['ClusterName', 'string', 3, 3],
  ['HostName', 'string', 4, 4],
  ['NamespaceName', 'string', 5, 5],
  ['PodName', 'string', 6, 6],
  ['ContainerID', 'string', 7, 7],
  ['ContainerName', 'string', 8, 8],
  ['HostPID', 'int32', 9, 9],
  ['PPID', 'int32', 10, 10],
  ['PID', 'int32', 11, 11],
  ['UID', 'int32', 12, 12],
  ['Type', 'string', 17, 13],
  ['Source', 'string', 18, 14],
  ['Operation', 'string', 19, 15],
  ['Resource', 'string', 20, 16],
  ['Data', 'string', 21, 17],
  ['Result', 'string', 23, 18],
  ['ContainerImage', 'string', 24, 19],
  ['ParentProcessName', 'string', 25, 20],
  ['ProcessName', 'string', 26, 21],
  ['HostPPID', 'int32', 27, 22],
  ['Labels', 'string', 29, 23],
  ['Owner', 'Podowner', 31, 24],
  ['Cwd', 'string', 32, 25],
  ['TTY', 'string', 33, 26],
  ['ExecEvent', 'ExecEvent', 36, 27],
  ['NodeID', 'string', 38, 28],
  ['ProcessHash', 'string', 39, 29],
  ['ParentHash', 'string', 40, 30],
  ['ResourceHash', 'string', 41, 31],
  ['HashAlgo', 'string', 42, 32],
  ['EventData', 'map<string,string>', 43, 33],
  ['UserName', 'string', 44, 34],
  ['PolicyName', 'string', 13, '-'],
  ['Severity', 'string', 14, '-'],
  ['Tags', 'string', 15, '-'],
  ['Message', 'string', 16, '-'],
  ['Action', 'string', 22, '-'],
  ['Enforcer', 'string', 28, '-'],
  ['ATags', 'repeated string', 30, '-'],
  ['MaxAlertsPerSec', 'int32', 34, '-'],
  ['DroppingAlertsInterval', 'int32', 35, '-'],
  ['KubeArmorVersion', 'string', 37, '-'],
];
