/**
 * Things the tests build once and reuse across test files and runs (a migrated PGlite data directory,
 * the compiled processor): a directory in the OS temp dir named by a hash of what it is made from.
 * Whichever test process needs it first builds it under a lock (mkdir is atomic) and publishes it by an
 * atomic rename, so the directory's presence means it is complete; the others wait for it. A lock whose
 * owner died is taken over.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const cacheRoot = join(tmpdir(), 'exectrail-test-templates');

const STALE_LOCK_MS = 120_000;

/** Builds `dir` with `build` (given the path to fill) unless it exists; async builds. */
export async function builtOnce(dir: string, build: (building: string) => Promise<void>): Promise<string> {
  for (;;) {
    const step = tryToBuild(dir);
    if (step === 'ready') return dir;
    if (step === 'wait') {
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    try {
      await build(step.building);
      renameSync(step.building, dir);
      return dir;
    } finally {
      step.unlock();
    }
  }
}

/** The same for a synchronous build (the test blocks until it is there). */
export function builtOnceSync(dir: string, build: (building: string) => void): string {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const step = tryToBuild(dir);
    if (step === 'ready') return dir;
    if (step === 'wait') {
      Atomics.wait(pause, 0, 0, 100);
      continue;
    }
    try {
      build(step.building);
      renameSync(step.building, dir);
      return dir;
    } finally {
      step.unlock();
    }
  }
}

type Step = 'ready' | 'wait' | { building: string; unlock: () => void };

function tryToBuild(dir: string): Step {
  if (existsSync(dir)) return 'ready';
  mkdirSync(cacheRoot, { recursive: true });
  const lock = `${dir}.lock`;
  try {
    mkdirSync(lock);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    if (lockIsStale(lock)) rmSync(lock, { recursive: true, force: true });
    return 'wait';
  }
  const unlock = () => rmSync(lock, { recursive: true, force: true });
  writeFileSync(join(lock, 'owner'), String(process.pid));
  if (existsSync(dir)) {
    unlock();
    return 'ready';
  }
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  return { building, unlock };
}

function lockIsStale(lock: string): boolean {
  try {
    const owner = Number(readFileSync(join(lock, 'owner'), 'utf8'));
    if (owner > 0 && !processIsAlive(owner)) return true;
    // An owner that has not written its pid yet, or hangs.
    return Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS;
  } catch {
    return false;
  }
}

export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
