/**
 * Runtime events written straight into runtime_events by the database itself (INSERT ... SELECT
 * generate_series): the setup of the timeline row. Shape like the feeder's: 2000 pods over 24 h, one
 * chatty pod (1 % of all events), 4 % alerts; rows as the writer stores them (32-hex keys, alerts kept
 * with their raw document, logs in the hourly transient partitions without one).
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
  // The table is partitioned (migrations/0007): the day's hours (transient) and the day (kept) must exist,
  // and the next ones (the last event falls on the next midnight).
  const setup = Array.isArray(clients) ? clients[0]! : clients;
  await setup.query(
    `SELECT exectrail_time_partition('runtime_events_transient', $1::timestamptz + make_interval(hours => h), 'hour') FROM generate_series(0, 24) AS h`,
    [iso(DAY_START)],
  );
  await setup.query(
    `SELECT exectrail_time_partition(p, $1::timestamptz + make_interval(days => d), 'day') FROM unnest(ARRAY['runtime_events_kept', 'exec_session_links']) AS p, generate_series(0, 1) AS d`,
    [iso(DAY_START)],
  );
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
  const key = keys === 'hash' ? 'md5(g::text)' : "lpad(to_hex(g), 32, '0')";
  return client.query(
      `INSERT INTO runtime_events (event_key, event_time, kept, cluster, kind, host_name, namespace, pod, container_name, container_id,
         process_name, parent_process_name, pid, ppid, host_pid, host_ppid, uid, cwd, exec_id, executable_name, type, operation,
         resource, source, data, result, policy_name, severity, action, raw)
       SELECT ${key},
         $1::timestamptz + ((g::bigint * $2::bigint / $3::bigint) || ' milliseconds')::interval,
         g % 25 = 0, '', CASE WHEN g % 25 = 0 THEN 'alert' ELSE 'log' END,
         'ip-10-0-' || (g % 5) || '-' || (g % 40),
         CASE WHEN g % 100 = 0 THEN '${NAMESPACE}' ELSE 'ns-' || (g % 20) END,
         CASE WHEN g % 100 = 0 THEN '${POD}' ELSE 'app-' || (g % 1999) || '-5f7c9d8b6-q' || (g % 7) END,
         CASE WHEN g % 100 = 0 THEN 'web' ELSE 'app' END, md5((g % 2000)::text) || md5((g % 2000)::text),
         (ARRAY['/usr/sbin/nginx','/bin/sh','/usr/bin/curl','/usr/local/bin/python3.12'])[1 + g % 4], '/usr/bin/containerd-shim-runc-v2',
         1 + g % 400, 1, 200000 + g % 50000, 199990 + g % 50000, 101, '/', '0', 'nginx', CASE WHEN g % 25 = 0 THEN 'MatchedPolicy' ELSE 'ContainerLog' END,
         (ARRAY['File','Network','Process'])[1 + g % 3], '/etc/resolv.conf', '/usr/sbin/nginx', 'syscall=SYS_OPENAT fd=-100 flags=O_RDONLY', 'Passed',
         CASE WHEN g % 25 = 0 THEN 'protect-secrets' END, CASE WHEN g % 25 = 0 THEN '5' END, CASE WHEN g % 25 = 0 THEN 'Audit' END,
         CASE WHEN g % 25 = 0 THEN jsonb_build_object('Timestamp', 1768867200 + g / 12, 'HostPID', 200000 + g % 50000, 'Operation', 'File', 'Resource', '/etc/resolv.conf') END
       FROM generate_series($4::int, $5::int) AS g`,
      [iso(DAY_START), DAY_MS, total, first, last],
    );
}

