/**
 * The processor runs rows share: a fresh database migrated by the processor itself (so a baseline or a
 * floor writes into exactly the schema the measured run has), and one `-once` run into a fresh database
 * that reports what it stored.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { BenchContext } from './context.ts';
import { createBenchDatabase, type BenchDatabase } from './postgres.ts';
import { runToEnd, startProcessor, type ProcessResult } from './process.ts';
import type { RowOutcome } from './report.ts';

/** An empty audit log in a scratch directory: `-audit-log-file EMPTY -once` only starts and migrates. */
export function emptyLog(ctx: BenchContext): string {
  const empty = join(ctx.scratch('empty'), 'empty.log');
  writeFileSync(empty, '');
  return empty;
}

/** A fresh database whose schema the processor's own migrations made (a `-once` run on an empty file). */
export async function migratedDatabase(ctx: BenchContext, label: string): Promise<{ db: BenchDatabase; migration: ProcessResult }> {
  const db = await createBenchDatabase(label);
  try {
    const migration = await runToEnd(
      startProcessor(['-once', '-audit-log-file', emptyLog(ctx), '-database-url', db.url, '-log-level', 'warn']),
      'audit-processor on an empty file (schema setup)',
    );
    return { db, migration };
  } catch (error) {
    await db.drop();
    throw error;
  }
}

/**
 * One `audit-processor -once ARGS -database-url <fresh db>` run; `count` reads what it stored before the
 * database is dropped, `keep` (optional) does more with the database first (e.g. a re-read, a floor).
 */
export async function onceIntoFreshDatabase<T>(
  ctx: BenchContext,
  label: string,
  args: string[],
  count: (client: pg.Client) => Promise<T>,
  keep?: (db: BenchDatabase, result: ProcessResult, stored: T) => Promise<void>,
): Promise<{ result: ProcessResult; stored: T }> {
  const db = await createBenchDatabase(label);
  try {
    const result = await runToEnd(startProcessor(['-once', ...args, '-database-url', db.url, '-log-level', 'warn']), `audit-processor -once (${label}, Postgres)`);
    const client = await db.connect();
    let stored: T;
    try {
      stored = await count(client);
    } finally {
      await client.end();
    }
    await keep?.(db, result, stored);
    return { result, stored };
  } finally {
    await db.drop();
  }
}

export const countSessions = async (client: pg.Client) =>
  Number((await client.query(`SELECT count(*) AS n FROM change_events WHERE operation = 'EXEC'`)).rows[0].n);

export const countRuntimeEvents = async (client: pg.Client) => Number((await client.query('SELECT count(*) AS n FROM runtime_events')).rows[0].n);

/**
 * The database floor of a table, with the rows the processor stored: copy them aside, empty the table,
 * and time `INSERT INTO table SELECT * FROM the copy` (no client, same number and shape of rows, the
 * table's own indexes, partitions and constraints). Returns rows per second.
 */
export async function databaseFloor(db: BenchDatabase, table: 'runtime_events' | 'change_events'): Promise<{ rows: number; rowsPerSecond: number }> {
  const client = await db.connect();
  try {
    await client.query(`CREATE TABLE bench_floor_source AS SELECT * FROM ${table}`);
    // CASCADE: links and outbox rows refer to these rows; the database is dropped after the row anyway.
    await client.query(`TRUNCATE ${table} CASCADE`);
    await client.query('CHECKPOINT');
    const started = performance.now();
    const inserted = await client.query(`INSERT INTO ${table} SELECT * FROM bench_floor_source`);
    const seconds = (performance.now() - started) / 1000;
    const rows = inserted.rowCount ?? 0;
    return { rows, rowsPerSecond: rows / seconds };
  } finally {
    await client.end();
  }
}

/** Every row of a table in COPY text form (what `COPY table FROM STDIN` takes back). */
export async function copyOut(db: BenchDatabase, table: string): Promise<Buffer> {
  const client = await db.connect();
  try {
    const stream = client.query(copyTo(`COPY ${table} TO STDOUT`));
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return Buffer.concat(parts);
  } finally {
    await client.end();
  }
}

/** Times `COPY table FROM STDIN` of `data` from a client (one statement). Returns seconds. */
export async function copyIn(db: BenchDatabase, table: string, data: Buffer): Promise<number> {
  const client = await db.connect();
  try {
    const started = performance.now();
    const stream = client.query(copyFrom(`COPY ${table} FROM STDIN`));
    await pipeline(Readable.from([data]), stream);
    return (performance.now() - started) / 1000;
  } finally {
    await client.end();
  }
}

/** The row comparing a measured rate with the database floor of the same rows (databaseFloor). */
export function databaseFloorOutcome(row: string, eventsPerSecond: number, floor: { rows: number; rowsPerSecond: number }): RowOutcome {
  return {
    row,
    figure: 'same, against the database alone',
    value: eventsPerSecond,
    unit: 'events/s',
    baseline: { label: `the same ${floor.rows} stored rows INSERT ... SELECTed again by Postgres`, value: floor.rowsPerSecond, unit: 'rows/s' },
    ratio: eventsPerSecond / floor.rowsPerSecond,
    note: "the floor copies the measured run's own rows aside, empties runtime_events and inserts them again: same number, shape, indexes and partitions; one run",
  };
}
