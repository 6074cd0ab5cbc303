/**
 * Which files to look at, and in which order. A `-audit-log-file` is one path; a `-audit-log-dir` is
 * every audit log in the directory: the live file and the backups kube-apiserver's lumberjack leaves
 * next to it (`audit-2024-01-20T10-30-00.000.log`, later `.log.gz`), and logrotate-style ones
 * (`audit.log.1`, `audit.log.2.gz`).
 *
 * Oldest first: a lumberjack backup is ordered by the UTC time in its name (when it stopped being
 * written; gzip does not keep its mtime), anything else by its modification time.
 */
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** Where a source finds its files. */
export type FileSpec = { file: string } | { dir: string; accept?: (name: string) => boolean };

/** One file found on disk, with what stat said. */
export interface FileCandidate {
  path: string;
  /** `dev:ino`: the same open file under a new name (a rename) keeps it. */
  inode: string;
  size: number;
  mtimeMs: number;
  gzip: boolean;
  /** A rotated backup by its name: nobody appends to it any more. */
  backup: boolean;
  /** Sort key, milliseconds: the rotation time in the name, or the mtime. */
  ageMs: number;
}

// lumberjack: <name>-2006-01-02T15-04-05.000<ext>, UTC unless LocalTime (kube-apiserver: UTC).
const lumberjackTime = /-(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\.(\d{3})(?:\.[A-Za-z0-9]+)?(?:\.gz)?$/;
const numberedBackup = /\.\d+(?:\.gz)?$/;

/** Audit logs by name: `*.log`, `*.log.gz`, `*.log.N`, `*.log.N.gz`. */
export function isAuditLogName(name: string): boolean {
  return /\.log(?:\.\d+)?(?:\.gz)?$/.test(name) && !name.startsWith('.');
}

/** The rotation time encoded in a lumberjack backup name, in ms since the epoch. */
export function backupTimeMs(name: string): number | undefined {
  const m = lumberjackTime.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m.map(Number) as number[];
  const time = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!, ms!);
  return Number.isNaN(time) ? undefined : time;
}

export function isRotatedBackupName(name: string): boolean {
  return name.endsWith('.gz') || backupTimeMs(name) !== undefined || numberedBackup.test(name);
}

function candidateOf(path: string, stats: Stats): FileCandidate {
  const name = basename(path);
  return {
    path,
    inode: `${stats.dev}:${stats.ino}`,
    size: stats.size,
    mtimeMs: stats.mtimeMs,
    gzip: name.endsWith('.gz'),
    backup: isRotatedBackupName(name),
    ageMs: backupTimeMs(name) ?? stats.mtimeMs,
  };
}

async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The files the specs name right now, each inode once, oldest first (plain before its .gz twin).
 * A missing `-audit-log-file` is no error (it may be rotated or not created yet); a missing or
 * unreadable directory is.
 */
export async function discoverFiles(specs: readonly FileSpec[]): Promise<FileCandidate[]> {
  const found = new Map<string, FileCandidate>();
  for (const spec of specs) {
    if ('file' in spec) {
      const stats = await statOrUndefined(spec.file);
      if (stats) {
        const candidate = candidateOf(spec.file, stats);
        // The file itself is live whatever its name.
        candidate.backup = false;
        candidate.ageMs = stats.mtimeMs;
        if (!found.has(candidate.inode)) found.set(candidate.inode, candidate);
      }
      continue;
    }
    let names: string[];
    try {
      names = await readdir(spec.dir);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'EACCES'
          ? `cannot list ${spec.dir}: permission denied; audit logs are mode 0600 in a root-owned directory, run as root or add read permission`
          : `cannot list ${spec.dir}: ${(error as Error).message}; check -audit-log-dir`,
        { cause: error },
      );
    }
    const accept = spec.accept ?? isAuditLogName;
    for (const name of names) {
      if (!accept(name)) continue;
      const path = join(spec.dir, name);
      const stats = await statOrUndefined(path);
      if (!stats) continue;
      const candidate = candidateOf(path, stats);
      if (!found.has(candidate.inode)) found.set(candidate.inode, candidate);
    }
  }
  return oldestFirst([...found.values()]);
}

export function oldestFirst(candidates: FileCandidate[]): FileCandidate[] {
  return candidates.sort(
    (a, b) => a.ageMs - b.ageMs || Number(a.gzip) - Number(b.gzip) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}
