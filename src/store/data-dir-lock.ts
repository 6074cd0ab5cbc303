/**
 * The embedded database's data directory serves one process at a time: PGlite has no locking of its
 * own, and two processes writing one -data-dir corrupt it. So whoever opens it (the processor, the
 * `timeline` and `sessions` commands) holds `exectrail.lock` in it, a JSON file saying who: pid, the
 * process's start time, host, command and, once known, its HTTP port. A second opener is refused with
 * a message saying what to do instead.
 *
 * A lock whose process is gone (killed, a crashed container) is stale and taken over. Gone means: no
 * such pid on this host, or a pid that now belongs to another process (its start time differs: pids
 * are reused, and a restarted container's processor is pid 1 again). A holder on another host (a new
 * pod on the volume of one that was killed) cannot be asked, so the holder touches the file every
 * 10 s and a lock from another host untouched for 30 s is stale. The check between reading a
 * stale lock and replacing it is not atomic; two processes taking over the same stale lock within
 * microseconds could both win, which a lock file cannot exclude.
 */
import { readFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

export const LOCK_FILE = 'exectrail.lock';
/** How often the holder touches the lock, and after how long untouched a lock from another host is stale. */
const HEARTBEAT_MS = 10_000;
const STALE_ELSEWHERE_MS = 30_000;

interface LockHolder {
  pid: number;
  /** /proc/<pid>/stat field 22 (clock ticks since boot), when there is a /proc. */
  startTicks: string | null;
  host: string;
  command: string;
  since: string;
  httpPort?: number;
}

export interface DataDirLock {
  path: string;
  /** The stale holder taken over, if any (for a log line). */
  tookOverFrom?: { pid: number; command: string };
  /** Records the HTTP port, so a second opener can be told where to ask instead. */
  noteHttpPort(port: number): void;
  release(): void;
}

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
}

/** The start time of a process, from /proc; null where there is no /proc or no such process. */
function startTicksOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isRunning(holder: LockHolder): boolean {
  // Our own pid in a lock we do not hold yet: a previous life of this container (pid 1 again), or this
  // process opening the directory twice (allowed, as before).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = startTicksOf(holder.pid);
  return holder.startTicks === null || now === null || now === holder.startTicks;
}

function mtimeMs(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    // Unreadable or half-written: treated as held by nobody we can name.
    return { pid: 0, startTicks: null, host: '', command: 'unknown', since: '' };
  }
}

function refusal(holder: LockHolder, dataDir: string): string {
  const who = `another ${holder.command} (pid ${holder.pid}${holder.host && holder.host !== hostname() ? ` on ${holder.host}` : ''})`;
  const ask =
    holder.httpPort !== undefined
      ? `ask its HTTP port instead (curl localhost:${holder.httpPort}/api/v1/sessions, or the page at http://localhost:${holder.httpPort}/)`
      : holder.command === 'audit-processor'
        ? 'ask its HTTP port instead (curl localhost:8080/api/v1/sessions, or its -http-port)'
        : 'wait for it to finish';
  return `${who} is using -data-dir ${dataDir}: the embedded database serves one process at a time; ${ask}, or stop it, or use PostgreSQL (-database-url) for several processes`;
}

/** Takes the lock on `dataDir` for this process, or throws DataDirLockedError saying who holds it and what to do. */
export function lockDataDir(dataDir: string, command: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  const me: LockHolder = { pid: process.pid, startTicks: startTicksOf(process.pid), host: hostname(), command, since: new Date().toISOString() };
  let tookOverFrom: DataDirLock['tookOverFrom'];
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(me), { flag: 'wx', mode: 0o644 });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
    }
    const holder = readHolder(path);
    if (!holder) continue; // released meanwhile
    // A holder on another host cannot be asked: it is alive while it keeps touching the lock.
    const elsewhere = holder.host !== '' && holder.host !== me.host;
    const alive = elsewhere ? Date.now() - mtimeMs(path) < STALE_ELSEWHERE_MS : holder.pid !== 0 && isRunning(holder);
    if (alive) {
      throw new DataDirLockedError(
        elsewhere ? `${refusal(holder, dataDir)} (if that host is gone, the lock is taken over once untouched for ${STALE_ELSEWHERE_MS / 1000} s)` : refusal(holder, dataDir),
      );
    }
    if (holder.pid === 0) throw new DataDirLockedError(`${path} cannot be read; if no other process uses -data-dir ${dataDir}, remove it`);
    // Stale: replace it, unless someone else did first.
    if (JSON.stringify(readHolder(path)) !== JSON.stringify(holder)) continue;
    unlinkSync(path);
    tookOverFrom = { pid: holder.pid, command: holder.command };
  }
  let released = false;
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // The directory went away: nothing to keep.
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return {
    path,
    tookOverFrom,
    noteHttpPort(port) {
      if (released) return;
      me.httpPort = port;
      writeFileSync(path, JSON.stringify(me));
    },
    release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Only our own lock: a process that took it over (we were thought gone) keeps its.
      if (readHolder(path)?.pid === me.pid) unlinkSync(path);
    },
  };
}
