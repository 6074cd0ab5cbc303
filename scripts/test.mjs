#!/usr/bin/env node
// `npm test`: the type check and the test files run side by side. The type check alone keeps one core
// busy for about 20 s, and the test files (which wait on child processes and databases much of the
// time) leave room beside them. Fails when either fails; type errors are printed after the test report.
// `npm test -- test/x.test.ts ...` runs only those files (still type-checked).
// With TEST_DATABASE_URL, the run's template database (test/support/databases.ts) is dropped at the end.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';

const given = process.argv.slice(2);
const files = given.length
  ? given
  : readdirSync('test', { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.test.ts'))
      .sort()
      .map((name) => `test/${name}`);

const typecheck = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] });
let typeErrors = '';
typecheck.stdout.on('data', (chunk) => (typeErrors += chunk));
typecheck.stderr.on('data', (chunk) => (typeErrors += chunk));
const typecheckCode = new Promise((resolve) => typecheck.on('close', (code) => resolve(code ?? 1)));

// The test files name this run (for its template database) by this process's pid.
const run = String(process.pid);
// --liftoff-only: a test process is short-lived, and V8's optimizing tier spends about a second of CPU in
// each one compiling PGlite's WebAssembly, which it never gets back (measured: 1.5-2 s less CPU per test
// file). Only the test processes get it; the processor the command-line tests start runs as users run it.
const tests = spawn(process.execPath, ['--liftoff-only', '--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, EXECTRAIL_TEST_RUN: run },
});
const testsCode = await new Promise((resolve) => tests.on('close', (code) => resolve(code ?? 1)));
await dropTemplateOfThisRun();

const typesCode = await typecheckCode;
if (typesCode !== 0) process.stderr.write(`\n# the type check failed (npm run typecheck):\n${typeErrors}\n`);
process.exit(testsCode !== 0 || typesCode !== 0 ? 1 : 0);

async function dropTemplateOfThisRun() {
  if (!process.env.TEST_DATABASE_URL) return;
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  try {
    await client.connect();
    const { rows } = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE 'exectrail\\_template\\_%\\_' || $1`, [run]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } catch (error) {
    process.stderr.write(`# could not drop this run's template database: ${error.message}\n`);
  } finally {
    await client.end().catch(() => undefined);
  }
}
