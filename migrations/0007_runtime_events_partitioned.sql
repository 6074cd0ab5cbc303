-- Hand-written: runtime events at cluster scale (issue "Runtime events at cluster scale").
--
-- runtime_events becomes partitioned, so that retention drops whole partitions instead of deleting rows:
--   runtime_events              PARTITION BY LIST (kept)
--     runtime_events_transient    kept = false, PARTITION BY RANGE (event_time), one partition per hour:
--                                 logs no session has claimed; dropped after -retention-unlinked
--     runtime_events_kept         kept = true, PARTITION BY RANGE (event_time), one partition per day:
--                                 alerts and events linked to a session; dropped after -retention-runtime
-- exec_session_links is partitioned by day on event_time beside the kept events it points at.
-- The row is lighter: event_key is 128 bits (32 hex, the first half of the same SHA-256), raw is kept
-- for alerts only by default, and three indexes of six remain (the others served no query).
-- Every row and link of the old tables is kept. Plain SQL and PL/pgSQL for PostgreSQL 15 and PGlite.

-- The one definition of a time partition's name and bounds, used by this migration and by
-- src/store/partitions.ts: `<parent>_p<YYYYMMDD>` for a day, `<parent>_p<YYYYMMDDHH>` for an hour (UTC).
-- Concurrent callers (two processors) are serialised by an advisory lock on the name.
CREATE OR REPLACE FUNCTION exectrail_time_partition(parent text, at_time timestamptz, width text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  start_utc timestamp := date_trunc(width, at_time AT TIME ZONE 'UTC');
  part_name text := parent || '_p' || to_char(start_utc, CASE width WHEN 'hour' THEN 'YYYYMMDDHH24' ELSE 'YYYYMMDD' END);
BEGIN
  IF width NOT IN ('hour', 'day') THEN
    RAISE EXCEPTION 'exectrail_time_partition: width must be hour or day, not %', width;
  END IF;
  IF to_regclass(part_name) IS NULL THEN
    PERFORM pg_advisory_xact_lock(hashtext(part_name));
    IF to_regclass(part_name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        part_name, parent, (start_utc AT TIME ZONE 'UTC'), ((start_utc + ('1 ' || width)::interval) AT TIME ZONE 'UTC'));
    END IF;
  END IF;
  RETURN part_name;
END $$;
--> statement-breakpoint
DROP VIEW IF EXISTS exec_session_processes;
--> statement-breakpoint
ALTER TABLE runtime_events RENAME TO runtime_events_unpartitioned;
--> statement-breakpoint
ALTER TABLE exec_session_links RENAME TO exec_session_links_unpartitioned;
--> statement-breakpoint
ALTER TABLE exec_session_links_unpartitioned RENAME CONSTRAINT exec_session_links_session_id_event_key_event_time_pk TO exec_session_links_unpartitioned_pk;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_runtime_events_container_time;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_runtime_events_pod_time;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_runtime_events_host_pid;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_runtime_events_time;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_runtime_events_received_at;
--> statement-breakpoint
DROP INDEX IF EXISTS idx_exec_session_links_event;
--> statement-breakpoint
CREATE TABLE runtime_events (
	"event_key" varchar(32) NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"received_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"kept" boolean DEFAULT false NOT NULL,
	"cluster" varchar(255) DEFAULT '' NOT NULL,
	"kind" varchar(8) NOT NULL,
	"host_name" text,
	"node_id" text,
	"namespace" text,
	"pod" text,
	"container_name" text,
	"container_id" text,
	"container_image" text,
	"labels" text,
	"owner" jsonb,
	"process_name" text,
	"parent_process_name" text,
	"pid" integer,
	"ppid" integer,
	"host_pid" integer,
	"host_ppid" integer,
	"uid" integer,
	"cwd" text,
	"tty" text,
	"exec_id" text,
	"executable_name" text,
	"type" text,
	"operation" text,
	"resource" text,
	"source" text,
	"data" text,
	"result" text,
	"policy_name" text,
	"severity" text,
	"tags" text,
	"message" text,
	"action" text,
	"enforcer" text,
	"raw" jsonb,
	CONSTRAINT "runtime_events_event_key_event_time_kept_pk" PRIMARY KEY("event_key","event_time","kept")
) PARTITION BY LIST (kept);
--> statement-breakpoint
CREATE TABLE runtime_events_transient PARTITION OF runtime_events FOR VALUES IN (false) PARTITION BY RANGE (event_time);
--> statement-breakpoint
CREATE TABLE runtime_events_kept PARTITION OF runtime_events FOR VALUES IN (true) PARTITION BY RANGE (event_time);
--> statement-breakpoint
CREATE INDEX "idx_runtime_events_pod_time" ON runtime_events USING btree ("cluster","namespace","pod","event_time");
--> statement-breakpoint
CREATE INDEX "idx_runtime_events_time" ON runtime_events USING btree ("event_time");
--> statement-breakpoint
CREATE TABLE exec_session_links (
	"session_id" varchar(255) NOT NULL,
	"event_key" varchar(32) NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"cluster" varchar(255) DEFAULT '' NOT NULL,
	"link_method" varchar(32) NOT NULL,
	"linked_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "exec_session_links_session_id_event_key_event_time_pk" PRIMARY KEY("session_id","event_key","event_time")
) PARTITION BY RANGE (event_time);
--> statement-breakpoint
CREATE INDEX "idx_exec_session_links_event" ON exec_session_links USING btree ("event_key","event_time");
--> statement-breakpoint
-- When each partition was last written: retention keeps a partition until nothing was written into it
-- for its tier's limit (a backfill of an old incident stays until correlation has claimed its events).
CREATE TABLE "runtime_partition_writes" (
	"partition" text PRIMARY KEY NOT NULL,
	"written_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
-- Partitions for what the old tables hold: a day for each kept event and link, an hour for the rest.
SELECT exectrail_time_partition('exec_session_links', t, 'day') FROM (SELECT DISTINCT date_trunc('day', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t FROM exec_session_links_unpartitioned) d;
--> statement-breakpoint
SELECT exectrail_time_partition(CASE WHEN kept THEN 'runtime_events_kept' ELSE 'runtime_events_transient' END, t, CASE WHEN kept THEN 'day' ELSE 'hour' END)
FROM (
  SELECT DISTINCT kept, date_trunc(CASE WHEN kept THEN 'day' ELSE 'hour' END, event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS t
  FROM (SELECT r.event_time, (r.kind = 'alert' OR EXISTS (SELECT 1 FROM exec_session_links_unpartitioned l WHERE l.event_key = r.event_key AND l.event_time = r.event_time)) AS kept
        FROM runtime_events_unpartitioned r) e
) p;
--> statement-breakpoint
INSERT INTO runtime_events (event_key, event_time, received_at, kept, cluster, kind, host_name, node_id, namespace, pod, container_name,
  container_id, container_image, labels, owner, process_name, parent_process_name, pid, ppid, host_pid, host_ppid, uid, cwd, tty, exec_id,
  executable_name, type, operation, resource, source, data, result, policy_name, severity, tags, message, action, enforcer, raw)
SELECT left(r.event_key, 32), r.event_time, r.received_at,
  (r.kind = 'alert' OR EXISTS (SELECT 1 FROM exec_session_links_unpartitioned l WHERE l.event_key = r.event_key AND l.event_time = r.event_time)),
  r.cluster, r.kind, r.host_name, r.node_id, r.namespace, r.pod, r.container_name, r.container_id, r.container_image, r.labels, r.owner,
  r.process_name, r.parent_process_name, r.pid, r.ppid, r.host_pid, r.host_ppid, r.uid, r.cwd, r.tty, r.exec_id, r.executable_name, r.type,
  r.operation, r.resource, r.source, r.data, r.result, r.policy_name, r.severity, r.tags, r.message, r.action, r.enforcer, r.raw
FROM runtime_events_unpartitioned r
ON CONFLICT DO NOTHING;
--> statement-breakpoint
INSERT INTO exec_session_links (session_id, event_key, event_time, cluster, link_method, linked_at)
SELECT session_id, left(event_key, 32), event_time, cluster, link_method, linked_at FROM exec_session_links_unpartitioned
ON CONFLICT DO NOTHING;
--> statement-breakpoint
DROP TABLE exec_session_links_unpartitioned;
--> statement-breakpoint
DROP TABLE runtime_events_unpartitioned;
--> statement-breakpoint
-- exec_session_processes, third version: linked events are kept ones (the join says so, which keeps it to
-- the kept partitions).
CREATE VIEW exec_session_processes AS
SELECT
  l.session_id,
  c.cluster,
  c.actor->>'username'             AS user_name,
  r.namespace,
  r.pod,
  r.container_name                 AS container,
  r.event_time,
  r.host_name,
  r.host_pid,
  r.host_ppid,
  r.pid,
  r.ppid,
  r.process_name,
  r.parent_process_name,
  r.resource,
  r.operation,
  r.kind,
  r.type,
  r.policy_name,
  r.severity,
  r.action,
  r.result,
  r.tty,
  r.exec_id,
  l.link_method,
  l.event_key,
  c."timestamp"                    AS session_started_at,
  c.resource_kind                  AS session_resource_kind,
  c.name                           AS session_target,
  c.exec_metadata->'command'       AS session_command,
  c.source->>'tool'                AS tool,
  c.actor->>'source_ip'            AS source_ip,
  r.data
FROM exec_session_links l
JOIN change_events c ON c.id = l.session_id
JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time AND r.kept;
