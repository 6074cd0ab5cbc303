/**
 * A fresh PostgreSQL database per measured run (created, then dropped), on the server named by
 * BENCH_DATABASE_URL, TEST_DATABASE_URL, or postgres://postgres@127.0.0.1:5432/postgres.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BenchDatabase {
  name: string;
  url: string;
  /** A client on this database (for checks and setup; not the processor's). */
  connect(): Promise<pg.Client>;
  drop(): Promise<void>;
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect().catch((error: Error) => {
    throw new Error(`cannot reach PostgreSQL at ${redacted(adminUrl)} (${error.message}); start it or set BENCH_DATABASE_URL`);
  });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const redacted = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');

export async function createBenchDatabase(label: string): Promise<BenchDatabase> {
  // The bench's pid in the name: a later run drops only the databases of runs that are gone.
  const name = `exectrail_bench_${process.pid}_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(3).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    connect: async () => {
      const client = new pg.Client({ connectionString: url.toString() });
      await client.connect();
      return client;
    },
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Drops databases left by interrupted earlier runs (never those of a bench still running). */
export async function dropLeftoverBenchDatabases(): Promise<void> {
  await admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'exectrail\\_bench\\_%'`);
    for (const { datname } of rows) {
      const pid = Number(/^exectrail_bench_(\d+)_/.exec(datname)?.[1]);
      if (pid && pid !== process.pid && isAlive(pid)) continue;
      await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
  });
}

export async function postgresVersion(): Promise<string> {
  return admin(async (c) => (await c.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version);
}
