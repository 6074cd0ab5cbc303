/**
 * A new embedded database (PGlite's initdb) is created in a short-lived child process.
 *
 * PGlite's initdb grows its WebAssembly memory to about 850 MB, and WebAssembly never gives memory
 * back: done in the processor, the processor held it for its whole life. Measured with a 256 MB
 * backfill into a fresh -data-dir: 870-920 MB peak RSS in one process, against 437 MB for the same
 * run after the child made the data directory (the child itself peaks at ~850 MB for the few seconds
 * initdb takes, then exits). The processor then opens and migrates it like any existing one.
 *
 * Run as a script (`node pglite-initdb.js DIR`), this file is that child.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** PostgreSQL writes PG_VERSION into every data directory it creates (PGlite decides to run initdb by its absence). */
export function isPgliteDataDir(location: string): boolean {
  return existsSync(join(location, 'PG_VERSION'));
}

/** Creates the database cluster in `location` in a child process; resolves when the child has exited cleanly. */
export async function createPgliteDataDir(location: string): Promise<void> {
  // This same file, as .ts under tsx (`npm start`, the tests) or as .js when built; execArgv carries tsx's loader.
  const script = fileURLToPath(import.meta.url);
  // A debugger's port is the parent's: the child must not try to take it too.
  const execArgv = process.execArgv.filter((arg) => !arg.startsWith('--inspect'));
  const child = spawn(process.execPath, [...execArgv, script, location], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    if (stderr.length < 4096) stderr += text;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (exitCode, signal) => resolve(signal ? null : exitCode));
  });
  if (code !== 0) {
    throw new Error(`creating the embedded database failed (${code === null ? 'the child process was killed' : `exit code ${code}`})${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''}`);
  }
}

async function runAsChild(location: string): Promise<void> {
  // A path that cannot be a directory fails here, before PGlite's WebAssembly is loaded.
  mkdirSync(location, { recursive: true });
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite(location);
  await db.waitReady;
  await db.close();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const location = process.argv[2];
  if (!location) {
    process.stderr.write('usage: pglite-initdb DIR\n');
    process.exit(2);
  }
  runAsChild(location).catch((error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  });
}
