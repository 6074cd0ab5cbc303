-- exectrail_time_partition (migration 0007) again, for two callers that want the same new partition at
-- once (two batches of one processor written together, or a batch and a correlation pass): the
-- advisory lock serialises them, but the second one's catalog lookup after the lock may not see the
-- first one's table yet, and its CREATE then failed with "relation ... already exists" (seen in the
-- test suite). A table that exists by then is what was wanted.
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
      BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
          part_name, parent, (start_utc AT TIME ZONE 'UTC'), ((start_utc + ('1 ' || width)::interval) AT TIME ZONE 'UTC'));
      EXCEPTION WHEN duplicate_table THEN
        NULL;
      END;
    END IF;
  END IF;
  RETURN part_name;
END $$;
