-- Hand-edited: kubechronicle may have created change_events already (CREATE TABLE IF NOT EXISTS in its
-- schema.sql, with rows in it). Create it only when missing, then add exectrail's columns; drop nothing.
CREATE TABLE IF NOT EXISTS "change_events" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"timestamp" timestamp(6) with time zone NOT NULL,
	"operation" varchar(50) NOT NULL,
	"resource_kind" varchar(100) NOT NULL,
	"namespace" varchar(255) NOT NULL,
	"name" varchar(255) NOT NULL,
	"actor" jsonb NOT NULL,
	"source" jsonb NOT NULL,
	"diff" jsonb,
	"object_snapshot" jsonb,
	"allowed" boolean DEFAULT true NOT NULL,
	"block_pattern" varchar(255),
	"exec_metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now()
);
--> statement-breakpoint
ALTER TABLE "change_events" ADD COLUMN IF NOT EXISTS "audit_id" varchar(255);
--> statement-breakpoint
ALTER TABLE "change_events" ADD COLUMN IF NOT EXISTS "cluster" varchar(255) DEFAULT '' NOT NULL;
--> statement-breakpoint
ALTER TABLE "change_events" ADD COLUMN IF NOT EXISTS "updated_at" timestamp with time zone DEFAULT now();
--> statement-breakpoint
CREATE TABLE "file_checkpoints" (
	"cluster" varchar(255) DEFAULT '' NOT NULL,
	"fingerprint" varchar(128) NOT NULL,
	"path" text NOT NULL,
	"offset" bigint NOT NULL,
	"completed" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "file_checkpoints_cluster_fingerprint_pk" PRIMARY KEY("cluster","fingerprint")
);
--> statement-breakpoint
CREATE TABLE "runtime_events" (
	"event_key" varchar(64) NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"received_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
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
	"raw" jsonb NOT NULL,
	CONSTRAINT "runtime_events_event_key_event_time_pk" PRIMARY KEY("event_key","event_time")
);
--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "change_events_cluster_audit_id_key" ON "change_events" USING btree ("cluster","audit_id");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_timestamp" ON "change_events" USING btree ("timestamp" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_resource" ON "change_events" USING btree ("resource_kind","namespace","name");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_operation" ON "change_events" USING btree ("operation");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_actor_username" ON "change_events" USING btree (("actor"->>'username'));--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_source_tool" ON "change_events" USING btree (("source"->>'tool'));--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_allowed" ON "change_events" USING btree ("allowed");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_actor_gin" ON "change_events" USING gin ("actor");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_source_gin" ON "change_events" USING gin ("source");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_change_events_exec_metadata_gin" ON "change_events" USING gin ("exec_metadata");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_runtime_events_container_time" ON "runtime_events" USING btree ("cluster","namespace","pod","container_name","event_time");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_runtime_events_host_pid" ON "runtime_events" USING btree ("cluster","host_name","host_pid");--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "idx_runtime_events_time" ON "runtime_events" USING btree ("event_time");