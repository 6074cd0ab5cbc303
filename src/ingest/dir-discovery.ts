/**
 * Which files to look at, and in which order. A `-audit-log-file` is one path; a `-audit-log-dir` is
 * every audit log in the directory: the live file and the backups kube-apiserver's lumberjack leaves
 * next to it (`audit-2024-01-20T10-30-00.000.log`, later `.log.gz`), and logrotate-style ones
 * (`audit.log.1`, `audit.log.2.gz`).
 *
 * Oldest first: a lumberjack backup is ordered by the UTC time in its name (when it stopped being
 * written; gzip does not keep its mtime), anything else by its modification time.
 *
 * A symbolic link in a directory is read only when it points inside that directory, unless
 * `followSymlinks` (-audit-log-follow-symlinks) says otherwise: whoever can write into the log
 * directory must not make us store `/etc/shadow` (`shadow.log -> /etc/shadow`). A link is opened
 * through its resolved target, and every other file with O_NOFOLLOW, so a link swapped in after the
 * listing is refused too.
 */
import { constants, type Dirent, type Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';

/** Where a source finds its files; `flag` is what named it, for messages (default -audit-log-file / -audit-log-dir). */
export type FileSpec = { file: string; flag?: string } | { dir: string; accept?: (name: string) => boolean; flag?: string };

/** One file found on disk, with what stat said. */
export interface FileCandidate {
  /** The name it was found under (what logs and checkpoints show). */
  path: string;
  /** What to open (with OPEN_NO_FOLLOW): `path`, or the resolved target of a link that may be read. */
  openPath: string;
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

/**
 * What -audit-log-dir reads without -audit-log-dir-pattern: the apiserver's logs and their backups
 * (isAuditLogName), and the names managed clusters' exports get: `*.json` / `*.jsonl` / `*.ndjson`
 * (an AKS storage export, a GKE sink's dated `.jsonl`), plain or gzipped, and any `*.gz` (a CloudWatch
 * export to S3 writes `000000.gz`).
 */
export function isDefaultAuditDirName(name: string): boolean {
  if (name.startsWith('.')) return false;
  return isAuditLogName(name) || /\.(?:json|jsonl|ndjson)$/.test(name) || name.endsWith('.gz');
}

/** What -h shows as the default of -audit-log-dir-pattern. */
export const DEFAULT_AUDIT_DIR_PATTERNS_TEXT = '*.log *.log.N *.json *.jsonl *.ndjson *.gz';

/** A shell glob (`*`, `?`, `[abc]`, `[!a-z]`) on a file name, as a regular expression. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') out += '[^/]*';
    else if (ch === '?') out += '[^/]';
    else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) out += '\\[';
      else {
        const inner = glob.slice(i + 1, close);
        out += `[${inner.startsWith('!') ? '^' + inner.slice(1).replace(/[\\^]/g, '\\$&') : inner.replace(/[\\^]/g, '\\$&')}]`;
        i = close;
      }
    } else out += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** The names a directory spec reads: the default set, or any of the given globs (-audit-log-dir-pattern). */
export function dirNameFilter(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return isDefaultAuditDirName;
  const expressions = patterns.map(globToRegExp);
  return (name) => expressions.some((re) => re.test(name));
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

/** Open flags for every file a source reads: never through a symbolic link (see above). */
export const OPEN_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW;

/** A link in a directory that is not read because it points outside it. */
export interface RefusedLink {
  link: string;
  target: string;
  dir: string;
}

export interface Discovery {
  files: FileCandidate[];
  refusedLinks: RefusedLink[];
  /** Files in a directory whose names the directory's patterns do not take (hidden ones left out). */
  skipped: { dir: string; name: string }[];
}

export interface DiscoveryOptions {
  /** Read links in a directory that point outside it (-audit-log-follow-symlinks). */
  followSymlinks?: boolean;
}

function candidateOf(path: string, openPath: string, stats: Stats): FileCandidate {
  const name = basename(path);
  return {
    path,
    openPath,
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

async function realpathOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await realpath(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A dangling link, or a loop: nothing to read there.
    if (code === 'ENOENT' || code === 'ELOOP') return undefined;
    throw error;
  }
}

/**
 * The files the specs name right now, each inode once, oldest first (plain before its .gz twin), and
 * the links refused. A missing `-audit-log-file` is no error (it may be rotated or not created yet); a
 * missing or unreadable directory is. An `-audit-log-file` that is a link is read wherever it points:
 * the operator named it.
 */
export async function discoverFiles(specs: readonly FileSpec[], options: DiscoveryOptions = {}): Promise<Discovery> {
  const found = new Map<string, FileCandidate>();
  const refusedLinks: RefusedLink[] = [];
  const skipped: Discovery['skipped'] = [];
  const add = (candidate: FileCandidate) => {
    if (!found.has(candidate.inode)) found.set(candidate.inode, candidate);
  };
  for (const spec of specs) {
    if ('file' in spec) {
      const target = await realpathOrUndefined(spec.file);
      const stats = target === undefined ? undefined : await statOrUndefined(target);
      if (stats) {
        const candidate = candidateOf(spec.file, target!, stats);
        // The file itself is live whatever its name.
        candidate.backup = false;
        candidate.ageMs = stats.mtimeMs;
        add(candidate);
      }
      continue;
    }
    let entries: Dirent[];
    try {
      entries = await readdir(spec.dir, { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new Error(
        code === 'EACCES'
          ? `cannot list ${spec.dir}: permission denied; audit logs are mode 0600 in a root-owned directory, run as root or add read permission`
          : code === 'ENOENT'
            ? `cannot list ${spec.dir}: it does not exist; check -audit-log-dir (the apiserver's --audit-log-path directory, mounted into this container?)`
            : `cannot list ${spec.dir}: ${(error as Error).message}; check -audit-log-dir`,
        { cause: error },
      );
    }
    const accept = spec.accept ?? isDefaultAuditDirName;
    let dirReal: string | undefined;
    for (const entry of entries) {
      if (!accept(entry.name)) {
        if (!entry.name.startsWith('.') && (entry.isFile() || entry.isSymbolicLink())) skipped.push({ dir: spec.dir, name: entry.name });
        continue;
      }
      const path = join(spec.dir, entry.name);
      let openPath = path;
      if (entry.isSymbolicLink()) {
        const target = await realpathOrUndefined(path);
        if (target === undefined) continue;
        dirReal ??= await realpath(spec.dir);
        if (!options.followSymlinks && !target.startsWith(dirReal + sep)) {
          refusedLinks.push({ link: path, target, dir: spec.dir });
          continue;
        }
        openPath = target;
      }
      const stats = await statOrUndefined(openPath);
      if (stats) add(candidateOf(path, openPath, stats));
    }
  }
  return { files: oldestFirst([...found.values()]), refusedLinks, skipped };
}

export function oldestFirst(candidates: FileCandidate[]): FileCandidate[] {
  return candidates.sort(
    (a, b) => a.ageMs - b.ageMs || Number(a.gzip) - Number(b.gzip) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
}
