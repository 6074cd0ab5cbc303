/**
 * Runs the real `audit-processor` command and captures what a user sees: exit code, stdout, stderr.
 *
 * The command is the compiled JavaScript the image runs (`npm run build`'s output, `node
 * dist/cmd/audit-processor.js`), built once per version of the sources into the OS temp dir, never into
 * the working tree. Compiled once, a process starts in about half the time it takes through tsx, and the
 * suite starts dozens. The build skips the type check (`npm run typecheck`, part of `npm test`, does it).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtOnceSync, cacheRoot } from './built-once.ts';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** What the build is made from: a change to any of it (or another checkout) makes a new build. */
function sourcesHash(): string {
  const hash = createHash('sha256').update(projectRoot);
  const files = ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/copy-assets.mjs', ...filesUnder('cmd'), ...filesUnder('src')];
  for (const file of files) hash.update(`${file}\n`).update(readFileSync(join(projectRoot, file)));
  return hash.digest('hex').slice(0, 16);
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(projectRoot.length))
    .sort();
}

let entry: string | undefined;

/** dist/cmd/audit-processor.js of a build laid out as the image's /app: dist/, migrations/, node_modules/, package.json. */
export function processorEntry(): string {
  entry ??= join(
    builtOnceSync(join(cacheRoot, `processor-${sourcesHash()}`), (building) => {
      mkdirSync(building, { recursive: true });
      execFileSync(process.execPath, [join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', join(projectRoot, 'tsconfig.build.json'), '--noCheck', '--outDir', join(building, 'dist')], {
        cwd: projectRoot,
        stdio: 'pipe',
      });
      // The build script copies the run-time assets from src/ to dist/ relative to where it runs.
      symlinkSync(join(projectRoot, 'src'), join(building, 'src'));
      execFileSync(process.execPath, [join(projectRoot, 'scripts/copy-assets.mjs')], { cwd: building, stdio: 'pipe' });
      rmSync(join(building, 'src'));
      symlinkSync(join(projectRoot, 'migrations'), join(building, 'migrations'));
      symlinkSync(join(projectRoot, 'node_modules'), join(building, 'node_modules'));
      copyFileSync(join(projectRoot, 'package.json'), join(building, 'package.json'));
    }),
    'dist/cmd/audit-processor.js',
  );
  return entry;
}

/** Starts the processor; the caller decides when it ends. */
export function startProcessor(args: string[], env: Record<string, string> = {}, stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  return spawn(process.execPath, [processorEntry(), ...args], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: '', ...env },
    stdio: [stdin, 'pipe', 'pipe'],
  });
}

/** Runs the processor to its end. */
export function runProcessor(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = startProcessor(args, env);
  return collect(child);
}

export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A TCP port free on 127.0.0.1 right now, for a processor's -http-port or -webhook-port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the first stderr line of the child that matches `pattern` (its JSON logs). */
export function waitForLogLine(child: ChildProcess, pattern: RegExp, deadlineMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no log line matching ${pattern} within ${deadlineMs} ms:\n${seen.slice(-2000)}`)), deadlineMs);
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const line = seen.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}
