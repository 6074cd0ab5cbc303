/**
 * Opens the database: PostgreSQL through `pg` when a URL is given, otherwise the embedded PGlite in a
 * data directory. Both get the same migrations and the same small query interface, so everything above
 * this module is backend-agnostic. Timestamps come back as text (Postgres keeps microseconds, a JS Date
 * does not: ../shared/reference/kubearmor-feeder.md "Time").
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyStreamFrom } from 'pg-copy-streams';
import { redactUrl } from '../observe/log.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { createPgliteDataDir, isPgliteDataDir } from './pglite-initdb.ts';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** What the rest of the code needs from a database connection (pool or transaction). */
export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /**
   * Runs `COPY ... FROM STDIN` with `data` in COPY's text format (src/store/columns.ts copyText): the
   * cheapest way to hand PostgreSQL many rows (pg-copy-streams; PGlite reads it from a blob).
   */
  /** `data`: rows in COPY text format, as text or as its UTF-8 bytes. */
  copyFrom(statement: string, data: string | Uint8Array): Promise<void>;
}

export interface Database extends Queryable {
  readonly backend: 'postgres' | 'pglite';
  /** The embedded database's lock on its -data-dir (data-dir-lock.ts); absent for PostgreSQL. */
  readonly dataDirLock?: Pick<DataDirLock, 'noteHttpPort' | 'tookOverFrom'>;
  /** Where the data is, safe to log (no password). */
  readonly location: string;
  /** Runs fn in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  /** pg pool size. */
  maxConnections?: number;
  /** Fail a query (and so a write) after this long, so callers can answer in time (webhook 503). */
  statementTimeoutMs?: number;
  /** Client-side limit on one query, for a connection that hangs without an answer (default 60 s). */
  queryTimeoutMs?: number;
  /** Give up connecting after this long. */
  connectTimeoutMs?: number;
  /** Who opens it, for a second opener's message (default "audit-processor"). */
  command?: string;
}

const TIMESTAMPTZ_OID = 1184;
const TIMESTAMP_OID = 1114;
const INT8_OID = 20;
const asText = (value: string) => value;
const asNumber = (value: string) => Number(value);

/**
 * A database error as a log line or an answer may show it: the SQLSTATE and the message with quoted
 * values elided. PostgreSQL quotes the value it refused ('value out of range: "..."'), and that value is
 * input, which may hold a secret.
 */
export function describeDatabaseError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  const message = ((error as Error)?.message ?? String(error)).replace(/"[^"]*"/g, '"…"').slice(0, 200);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}

/** The folder holding the SQL migrations, from src/ under tsx or from dist/ once built. */
export function migrationsFolder(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'migrations', 'meta', '_journal.json'))) return join(dir, 'migrations');
    dir = dirname(dir);
  }
  throw new Error('cannot find the migrations/ folder next to the installed package; reinstall exectrail');
}

/** Opens the database and applies every pending migration. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (!options.databaseUrl) return openPglite(options.dataDir, options.command ?? 'audit-processor');
  checkDatabaseUrl(options.databaseUrl);
  return openPostgres(options.databaseUrl, options);
}

const urlForm = 'postgres://USER:PASSWORD@HOST:5432/DATABASE';

/** A PostgreSQL URL, or an error naming the flag and the form it takes (before anything is dialled). */
export function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`-database-url (or DATABASE_URL) is not a URL; give ${urlForm}, or leave it out to use the embedded database in -data-dir`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(
      `-database-url (or DATABASE_URL) is a ${parsed.protocol}// URL; only postgres:// and postgresql:// are supported (exectrail stores into PostgreSQL 15 or later), e.g. ${urlForm}`,
    );
  }
}

/** Why PostgreSQL could not be opened, and what to check, from the error pg gives. */
function explainConnectError(error: Error & { code?: string; hostname?: string; address?: string; port?: number }, url: string): string {
  let host = '';
  let database = '';
  try {
    const parsed = new URL(url);
    host = parsed.hostname;
    database = decodeURIComponent(parsed.pathname.slice(1));
  } catch {
    // checked before: cannot happen
  }
  switch (error.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `the host "${error.hostname ?? host}" in -database-url (or DATABASE_URL) does not resolve (${error.code}); check the host name, and that this machine's DNS knows it`;
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${error.address ?? host}:${error.port ?? ''}; check that PostgreSQL is running there and the host and port in -database-url (or DATABASE_URL)`;
    case 'ETIMEDOUT':
      return `${host} did not answer in time; check the host and port in -database-url (or DATABASE_URL) and that no firewall drops the connection`;
    case '28P01':
    case '28000':
      return `${error.message}; check the user and password in -database-url (or DATABASE_URL) and pg_hba.conf`;
    case '3D000':
      return `${error.message}; create it (CREATE DATABASE ${database || '...'}) or fix the database name in -database-url (or DATABASE_URL)`;
    default:
      return /timeout/i.test(error.message)
        ? `${error.message}; check that PostgreSQL at ${host} is reachable and the host and port in -database-url (or DATABASE_URL)`
        : `${error.message}; check that it is running and that -database-url (or DATABASE_URL) is right`;
  }
}

async function openPostgres(url: string, options: OpenDatabaseOptions): Promise<Database> {
  const types = {
    getTypeParser: (oid: number, format?: 'text' | 'binary') => {
      if (oid === TIMESTAMPTZ_OID || oid === TIMESTAMP_OID) return asText;
      if (oid === INT8_OID) return asNumber;
      return pg.types.getTypeParser(oid, format);
    },
  };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    types: types as pg.CustomTypesConfig,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    statement_timeout: options.statementTimeoutMs,
    // A connection that hangs (network cut, no RST) would hold its pool client forever without this.
    query_timeout: options.queryTimeoutMs ?? 60_000,
    options: '-c TimeZone=UTC',
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on('error', () => undefined);
  const location = redactUrl(url);
  try {
    const client = await pool.connect();
    try {
      // Two replicas starting together must not both run the migrations.
      await client.query('SELECT pg_advisory_lock(7263548)');
      await migratePg(drizzlePg(client), { migrationsFolder: migrationsFolder() });
    } finally {
      await client.query('SELECT pg_advisory_unlock(7263548)').catch(() => undefined);
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(`cannot open PostgreSQL at ${location}: ${explainConnectError(error as Error, url)}`, { cause: error });
  }
  return {
    backend: 'postgres',
    location,
    query: async <Row>(text: string, params?: readonly unknown[]) => {
      const result = await pool.query(text, params as unknown[]);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    copyFrom: async (statement, data) => {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await copyThrough(client, statement, data);
      } catch (error) {
        if (!(error as { code?: string }).code) broken = error as Error;
        throw error;
      } finally {
        client.release(broken);
      }
    },
    transaction: async (fn) => {
      const client = await pool.connect();
      // A connection dropped mid-transaction emits 'error' on the checked-out client; unheard, that is an
      // uncaught exception. The failing query rejects on its own, which is what callers handle.
      const onClientError = () => undefined;
      client.on('error', onClientError);
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: async <Row>(text: string, params?: readonly unknown[]) => {
            const result = await client.query(text, params as unknown[]);
            return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
          },
          copyFrom: (statement, data) => copyThrough(client, statement, data),
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        // No SQLSTATE means the connection itself failed: the pool must discard it, not hand it out again.
        if (!(error as { code?: string }).code) broken = error as Error;
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.off('error', onClientError);
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string, command: string): Promise<Database> {
  const location = resolve(dataDir);
  mkdirSync(location, { recursive: true });
  const lock = lockDataDir(location, command);
  let db: PGlite;
  try {
    db = await startPglite(location);
  } catch (error) {
    lock.release();
    throw error;
  }
  const toResult = <Row>(result: { rows: unknown[]; affectedRows?: number }) => ({
    rows: result.rows as Row[],
    rowCount: result.affectedRows ?? result.rows.length,
  });
  // PGlite reads COPY data from a blob it is given instead of a client stream.
  const fromBlob = (statement: string) => statement.replace(/FROM\s+STDIN\s*$/i, "FROM '/dev/blob'");
  return {
    backend: 'pglite',
    location,
    dataDirLock: lock,
    query: async <Row>(text: string, params?: readonly unknown[]) => toResult<Row>(await db.query(text, params as unknown[])),
    copyFrom: async (statement, data) => {
      await db.query(fromBlob(statement), [], { blob: copyBlob(data) });
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: async <Row>(text: string, params?: readonly unknown[]) => toResult<Row>(await tx.query(text, params as unknown[])),
          copyFrom: async (statement, data) => {
            await tx.query(fromBlob(statement), [], { blob: copyBlob(data) });
          },
        }),
      ),
    close: async () => {
      try {
        await db.close();
      } finally {
        lock.release();
      }
    },
  };
}

/** COPY data as the Blob PGlite reads (a Blob takes only bytes whose memory is an ArrayBuffer). */
function copyBlob(data: string | Uint8Array): Blob {
  return new Blob([typeof data === 'string' || data.buffer instanceof ArrayBuffer ? (data as string | Uint8Array<ArrayBuffer>) : new Uint8Array(data)]);
}

/** PGlite in `location`, migrated. */
async function startPglite(location: string): Promise<PGlite> {
  // Loaded only for the embedded database: a PostgreSQL run starts without PGlite's WebAssembly (start-up, issue 16).
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  // A new data directory is made in a child process, so that initdb's memory leaves with it (pglite-initdb.ts).
  if (!isPgliteDataDir(location)) await createPgliteDataDir(location);
  const db = new PGlite(location, {
    parsers: { [TIMESTAMPTZ_OID]: asText, [TIMESTAMP_OID]: asText, [INT8_OID]: asNumber },
  });
  try {
    await db.waitReady;
    await db.exec("SET TIME ZONE 'UTC'");
    await migratePglite(drizzlePglite(db), { migrationsFolder: migrationsFolder() });
  } catch (error) {
    await db.close().catch(() => undefined);
    throw new Error(`cannot open the embedded database in ${location} (-data-dir): ${(error as Error).message}; check that the directory is writable and was made by exectrail`, {
      cause: error,
    });
  }
  return db;
}

/** Streams `data` into `COPY ... FROM STDIN` on one client (pg-copy-streams). */
async function copyThrough(client: pg.PoolClient, statement: string, data: string | Uint8Array): Promise<void> {
  const chunk = typeof data === 'string' || Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  await pipeline(Readable.from([chunk]), client.query(copyStreamFrom(statement)));
}
