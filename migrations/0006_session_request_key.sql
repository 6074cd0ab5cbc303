-- Hand-edited: sessions were keyed by (cluster, audit_id), and a client sets the Audit-ID header, so two
-- requests with one ID were merged into one row. A session is now (cluster, audit_id, request_key).
-- Rows stored before get the key computed from their stored fields exactly as src/audit/session.ts
-- requestKeyOf does (test/store/request-key-migration.test.ts holds the two to each other).
ALTER TABLE "change_events" ADD COLUMN IF NOT EXISTS "request_key" varchar(64);
--> statement-breakpoint
UPDATE "change_events" SET "request_key" = encode(sha256(convert_to(
  octet_length(coalesce("exec_metadata"->>'started_at', '')) || ':' || coalesce("exec_metadata"->>'started_at', '') || ';' ||
  octet_length(coalesce("actor"->>'username', '')) || ':' || coalesce("actor"->>'username', '') || ';' ||
  octet_length(coalesce("exec_metadata"->>'verb', '')) || ':' || coalesce("exec_metadata"->>'verb', '') || ';' ||
  octet_length("resource_kind") || ':' || "resource_kind" || ';' ||
  octet_length("namespace") || ':' || "namespace" || ';' ||
  octet_length("name") || ':' || "name" || ';' ||
  octet_length(coalesce("exec_metadata"->>'subresource', '')) || ':' || coalesce("exec_metadata"->>'subresource', '') || ';' ||
  octet_length(coalesce("exec_metadata"->>'kubelet_path', '')) || ':' || coalesce("exec_metadata"->>'kubelet_path', '') || ';',
  'UTF8')), 'hex')
WHERE "operation" = 'EXEC' AND "audit_id" IS NOT NULL AND "request_key" IS NULL;
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "change_events_session_key" ON "change_events" USING btree ("cluster","audit_id","request_key");
--> statement-breakpoint
DROP INDEX IF EXISTS "change_events_cluster_audit_id_key";
