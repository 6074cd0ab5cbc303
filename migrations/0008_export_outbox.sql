CREATE TABLE "export_deliveries" (
	"output" varchar(255) NOT NULL,
	"session_id" varchar(255) NOT NULL,
	"sequence" integer NOT NULL,
	"state" varchar(16) DEFAULT 'pending' NOT NULL,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"next_attempt_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	"done_at" timestamp(6) with time zone,
	CONSTRAINT "export_deliveries_output_session_id_sequence_pk" PRIMARY KEY("output","session_id","sequence")
);
--> statement-breakpoint
CREATE TABLE "export_documents" (
	"session_id" varchar(255) NOT NULL,
	"sequence" integer NOT NULL,
	"event" varchar(16) NOT NULL,
	"delivery_id" uuid NOT NULL,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"document" json,
	"selected" boolean,
	CONSTRAINT "export_documents_session_id_sequence_pk" PRIMARY KEY("session_id","sequence")
);
--> statement-breakpoint
CREATE TABLE "export_sequences" (
	"session_id" varchar(255) PRIMARY KEY NOT NULL,
	"last_sequence" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idx_export_deliveries_pending" ON "export_deliveries" USING btree ("output","created_at") WHERE state = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "export_documents_delivery_id" ON "export_documents" USING btree ("delivery_id");