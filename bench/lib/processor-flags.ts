/**
 * Which flags the processor in this tree has (from its own `-h`), so a row can use a flag when it exists
 * (`-http-port 0` keeps a bench run off port 8080) and say clearly when a piece it measures is missing.
 */
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { builtPath } from './build.ts';
import { projectRoot } from './datasets.ts';

let cached: Set<string> | undefined;

export function processorFlagNames(): Set<string> {
  if (cached) return cached;
  const help = execFileSync(process.execPath, [builtPath('cmd/audit-processor.ts'), '-h'], {
    cwd: projectRoot,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: '' },
  });
  cached = new Set([...help.matchAll(/^ {2}-([a-z0-9-]+)/gm)].map((m) => m[1]!));
  return cached;
}

export function hasFlag(name: string): boolean {
  return processorFlagNames().has(name);
}

/** Flags that keep a long-running processor's side ports out of the way: `-http-port 0` when it exists. */
export function quietPorts(): string[] {
  return hasFlag('http-port') ? ['-http-port', '0'] : [];
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
