-- Every runtime event (process, file, network, alert) attributed to an exec session, with who opened
-- the session: the SQL answer to "what ran inside it". Plain SQL that runs on PostgreSQL 15 and PGlite.
CREATE OR REPLACE VIEW exec_session_processes AS
SELECT
  l.session_id,
  c.cluster,
  c.actor->>'username'             AS user_name,
  c.namespace,
  c.name                           AS pod,
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
  l.event_key
FROM exec_session_links l
JOIN change_events c ON c.id = l.session_id
JOIN runtime_events r ON r.event_key = l.event_key AND r.event_time = l.event_time;
