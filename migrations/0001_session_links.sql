CREATE TABLE "exec_session_links" (
	"session_id" varchar(255) NOT NULL,
	"event_key" varchar(64) NOT NULL,
	"event_time" timestamp(6) with time zone NOT NULL,
	"cluster" varchar(255) DEFAULT '' NOT NULL,
	"link_method" varchar(32) NOT NULL,
	"linked_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "exec_session_links_session_id_event_key_event_time_pk" PRIMARY KEY("session_id","event_key","event_time")
);
--> statement-breakpoint
CREATE INDEX "idx_exec_session_links_event" ON "exec_session_links" USING btree ("event_key","event_time");