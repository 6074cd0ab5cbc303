/**
 * Runtime events written straight into runtime_events by the database itself (INSERT ... SELECT
 * generate_series): the setup of the timeline row, and the "database alone" floor of the runtime row.
 * Shape like the feeder's: 2000 pods over 24 h, one chatty pod (1 % of all events), 4 % alerts.
 */
import type pg from 'pg';

export const NAMESPACE = 'shop';
export const POD = 'web-7d9f5c6b8-x2k4t';
export const DAY_START = Date.UTC(2026, 0, 20, 0, 0, 0);
export const DAY_MS = 86_400_000;

const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * `total` runtime events in chunks of 100k (INSERT ... SELECT generate_series: the database does the
 * work), spread over the given connections (two keep both cores busy).
 */
export async function seedRuntimeEvents(
  clients: pg.Client | pg.Client[],
  total: number,
  progress?: (done: number) => void,
  /** 'hash': random 64-hex keys like real sha256 event keys (a measurement); 'sequential': keys in
   * insertion order, so the primary-key index is appended to (setup, several times faster). */
  keys: 'hash' | 'sequential' = 'hash',
): Promise<void> {
  const chunk = 100_000;
  let next = 1;
  let done = 0;
  const worker = async (client: pg.Client) => {
    while (next <= total) {
      const first = next;
      const last = Math.min(total, first + chunk - 1);
      next = last + 1;
      await insertRange(client, total, first, last, keys);
      done += last - first + 1;
      progress?.(done);
    }
  };
  await Promise.all((Array.isArray(clients) ? clients : [clients]).map(worker));
}

function insertRange(client: pg.Client, total: number, first: number, last: number, keys: 'hash' | 'sequential') {
  const key = keys === 'hash' ? 'md5(g::text) || md5((g * 7)::text)' : "lpad(to_hex(g), 64, '0')";
  return client.query(
      `INSERT INTO runtime_events (event_key, event_time, cluster, kind, host_name, namespace, pod, container_name, container_id,
         process_name, parent_process_name, pid, ppid, host_pid, host_ppid, uid, cwd, exec_id, executable_name, type, operation,
         resource, source, data, result, policy_name, severity, action, raw)
       SELECT ${key},
         $1::timestamptz + ((g::bigint * $2::bigint / $3::bigint) || ' milliseconds')::interval,
         '', CASE WHEN g % 25 = 0 THEN 'alert' ELSE 'log' END,
         'ip-10-0-' || (g % 5) || '-' || (g % 40),
         CASE WHEN g % 100 = 0 THEN '${NAMESPACE}' ELSE 'ns-' || (g % 20) END,
         CASE WHEN g % 100 = 0 THEN '${POD}' ELSE 'app-' || (g % 1999) || '-5f7c9d8b6-q' || (g % 7) END,
         CASE WHEN g % 100 = 0 THEN 'web' ELSE 'app' END, md5((g % 2000)::text) || md5((g % 2000)::text),
         (ARRAY['/usr/sbin/nginx','/bin/sh','/usr/bin/curl','/usr/local/bin/python3.12'])[1 + g % 4], '/usr/bin/containerd-shim-runc-v2',
         1 + g % 400, 1, 200000 + g % 50000, 199990 + g % 50000, 101, '/', '0', 'nginx', CASE WHEN g % 25 = 0 THEN 'MatchedPolicy' ELSE 'ContainerLog' END,
         (ARRAY['File','Network','Process'])[1 + g % 3], '/etc/resolv.conf', '/usr/sbin/nginx', 'syscall=SYS_OPENAT fd=-100 flags=O_RDONLY', 'Passed',
         CASE WHEN g % 25 = 0 THEN 'protect-secrets' END, CASE WHEN g % 25 = 0 THEN '5' END, CASE WHEN g % 25 = 0 THEN 'Audit' END,
         jsonb_build_object('Timestamp', 1768867200 + g / 12, 'HostPID', 200000 + g % 50000, 'Operation', 'File', 'Resource', '/etc/resolv.conf')
       FROM generate_series($4::int, $5::int) AS g`,
      [iso(DAY_START), DAY_MS, total, first, last],
    );
}

