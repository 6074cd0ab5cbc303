-- exec_session_processes, second version. namespace and pod now come from the runtime event (the pod the
-- process ran in), so a nodes/proxy session, whose change_events row names the node, shows its target
-- pod; the session's start, target row, tool and source IP are added for reports. DROP and CREATE because
-- column types change (varchar -> text), which CREATE OR REPLACE VIEW refuses. Plain SQL for PostgreSQL 15
-- and PGlite.
DROP VIEW IF EXISTS exec_session_processes;
--> statement-breakpoint
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
JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time;
