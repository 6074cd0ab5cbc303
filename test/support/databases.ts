/**
 * Test databases on both backends. Every test file gets its own: a fresh PostgreSQL database (created
 * from TEST_DATABASE_URL, dropped at the end) or a fresh PGlite data directory.
 *
 * Creating and migrating a database costs seconds (PGlite runs initdb in WebAssembly: about 7 s on
 * these 2 cores, against about 1 s to copy and open a migrated one), and the suite needs dozens. So
 * each is a copy of a template that was created and migrated by the real `openDatabase` once:
 *  - PGlite: a data directory in the OS temp dir, keyed by a hash of what shapes it (the migrations,
 *    src/store/database.ts, the PGlite version), built once (./built-once.ts) and copied;
 *  - PostgreSQL: one template database per test run (`CREATE DATABASE x TEMPLATE t`), built under an
 *    advisory lock; templates of runs that are over are dropped when the next run builds its own.
 *
 * Without TEST_DATABASE_URL the Postgres variants are skipped with a visible reason; with
 * REQUIRE_POSTGRES=1 a missing URL is an error, so CI cannot silently test PGlite only.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase, type Database } from '../../src/store/database.ts';
import { builtOnce, cacheRoot, processIsAlive } from './built-once.ts';

export type BackendName = 'pglite' | 'postgres';

export const testDatabaseUrl = process.env.TEST_DATABASE_URL || undefined;

if (process.env.REQUIRE_POSTGRES === '1' && !testDatabaseUrl) {
  throw new Error('REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set: point it at a PostgreSQL database');
}

/** node:test `skip` value for a backend: false to run, or the reason it is skipped. */
export function skipReason(backend: BackendName): string | false {
  if (backend === 'postgres' && !testDatabaseUrl) return 'TEST_DATABASE_URL is not set: Postgres variant skipped';
  return false;
}

export const backends: BackendName[] = ['pglite', 'postgres'];

/**
 * The backend for tests whose subject is not the backend (command-line flags and output, the summary,
 * /metrics, the correlation decision): PostgreSQL when TEST_DATABASE_URL is set (a database is ready in
 * a fraction of a second, a processor starts faster against it), PGlite otherwise.
 */
export const preferredBackend: BackendName = testDatabaseUrl ? 'postgres' : 'pglite';

/** A place to put a database: the flags that point audit-processor at it, and a way to open it here. */
export interface TestDatabaseTarget {
  backend: BackendName;
  /** `-database-url URL` or `-data-dir DIR`. */
  flags: string[];
  databaseUrl?: string;
  dataDir: string;
  open(): Promise<Database>;
  /** Drops the database / removes the directory. */
  destroy(): Promise<void>;
}

export interface TargetOptions {
  /**
   * `migrated` (default): a copy of the migrated template, as the processor leaves a database.
   * `empty`: a database exectrail never opened (to test what happens at its first start).
   */
  state?: 'migrated' | 'empty';
}

/** A database to point the processor at: a migrated copy of the template unless asked for an empty one. */
export async function createTestDatabaseTarget(backend: BackendName, options: TargetOptions = {}): Promise<TestDatabaseTarget> {
  const state = options.state ?? 'migrated';
  const dataDir = mkdtempSync(join(tmpdir(), 'exectrail-test-'));
  if (backend === 'pglite') {
    cpSync(await pgliteTemplate(state), dataDir, { recursive: true });
    return {
      backend,
      flags: ['-data-dir', dataDir],
      dataDir,
      open: () => openDatabase({ dataDir }),
      destroy: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  if (!testDatabaseUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `exectrail_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(state === 'migrated' ? `CREATE DATABASE ${name} TEMPLATE ${await postgresTemplate()}` : `CREATE DATABASE ${name}`);
  const databaseUrl = databaseUrlFor(name);
  return {
    backend,
    flags: ['-database-url', databaseUrl],
    databaseUrl,
    dataDir,
    open: () => openDatabase({ databaseUrl, dataDir }),
    destroy: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Runs one statement on the database TEST_DATABASE_URL names (to create or drop test databases). */
export async function adminQuery(text: string): Promise<void> {
  await withAdminClient((client) => client.query(text));
}

async function withAdminClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseUrlFor(name: string): string {
  const url = new URL(testDatabaseUrl!);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A migrated database shared by the tests of one file on one backend. */
export async function createTestDatabase(backend: BackendName): Promise<{ db: Database; target: TestDatabaseTarget; close(): Promise<void> }> {
  const target = await createTestDatabaseTarget(backend);
  const db = await target.open();
  return {
    db,
    target,
    close: async () => {
      await db.close();
      await target.destroy();
    },
  };
}

// ---- templates ----------------------------------------------------------------------------------

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

/** What a migrated database is made of: a change to any of it makes a new template. */
function templateHash(state: 'migrated' | 'empty'): string {
  const hash = createHash('sha256');
  hash.update(`pglite ${readJson(join(projectRoot, 'node_modules/@electric-sql/pglite/package.json')).version}\n`);
  if (state === 'migrated') {
    for (const file of filesUnder(join(projectRoot, 'migrations'))) hash.update(`${file}\n`).update(readFileSync(join(projectRoot, 'migrations', file)));
    hash.update(readFileSync(join(projectRoot, 'src/store/database.ts')));
  }
  return hash.digest('hex').slice(0, 16);
}

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name), `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]))
    .sort();
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { version: string };

const pgliteTemplates = new Map<string, Promise<string>>();

/** The PGlite template's directory, built now if no process built it before. */
function pgliteTemplate(state: 'migrated' | 'empty'): Promise<string> {
  const dir = join(cacheRoot, `pglite-${state}-${templateHash(state)}`);
  let ready = pgliteTemplates.get(dir);
  if (!ready) {
    ready = builtOnce(dir, async (building) => {
      if (state === 'migrated') await (await openDatabase({ dataDir: building })).close();
      else {
        mkdirSync(building, { recursive: true });
        await (await PGlite.create(building)).close();
      }
    });
    pgliteTemplates.set(dir, ready);
  }
  return ready;
}

/**
 * This run's template database. `npm test` (scripts/test.mjs) names the run by its pid in
 * EXECTRAIL_TEST_RUN and drops the template at the end; a test file run on its own is named by its test
 * runner (our parent). Templates of runs whose process is gone are dropped by the next run.
 */
const templatePrefix = 'exectrail_template_';
let postgresTemplateName: Promise<string> | undefined;

function postgresTemplate(): Promise<string> {
  const run = Number(process.env.EXECTRAIL_TEST_RUN) || process.ppid;
  postgresTemplateName ??= buildPostgresTemplate(`${templatePrefix}${templateHash('migrated')}_${run}`);
  return postgresTemplateName;
}

async function buildPostgresTemplate(name: string): Promise<string> {
  await withAdminClient(async (client) => {
    await client.query('SELECT pg_advisory_lock(7263550)');
    try {
      const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE '${templatePrefix}%'`);
      if (rows.some((r) => r.datname === name)) return;
      // Templates of test runs that are over (their runner is gone): nobody copies them any more.
      for (const { datname } of rows) {
        const runner = Number(/_(\d+)(?:_building)?$/.exec(datname)?.[1]);
        if (runner > 0 && !processIsAlive(runner)) await client.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
      }
      const building = `${name}_building`;
      await client.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${building}`);
      await (await openDatabase({ databaseUrl: databaseUrlFor(building), dataDir: tmpdir() })).close();
      await client.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    } finally {
      await client.query('SELECT pg_advisory_unlock(7263550)');
    }
  });
  return name;
}
