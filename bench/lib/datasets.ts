/**
 * Generated data sets on disk under bench/data/ (gitignored), made once and reused while their options
 * match: a sidecar `<file>.meta.json` records the options and what the file holds.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AuditLogGenerator } from './audit-log.ts';

export const benchRoot = fileURLToPath(new URL('../', import.meta.url));
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const dataDir = join(benchRoot, 'data');

export interface AuditLogSpec {
  /** Target size in bytes (the file ends at the first line past it). */
  bytes: number;
  interactiveRatio: number;
  seed?: number;
  maxSessionLines?: number;
}

export interface AuditLogStats {
  path: string;
  bytes: number;
  lines: number;
  interactiveLines: number;
  /** Distinct auditIDs among the interactive lines: the session rows a correct run stores at most. */
  sessions: number;
  minLineBytes: number;
  maxLineBytes: number;
}

const GENERATOR_VERSION = 3;

/** Writes (or reuses) a generated audit log; `progress` is called every ~64 MB. */
export function ensureAuditLog(name: string, spec: AuditLogSpec, progress?: (done: number, total: number) => void): AuditLogStats {
  mkdirSync(dataDir, { recursive: true });
  const path = join(dataDir, name);
  const metaPath = path + '.meta.json';
  const key = JSON.stringify({ v: GENERATOR_VERSION, ...spec });
  if (existsSync(path) && existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { key: string; stats: AuditLogStats };
    if (meta.key === key) return { ...meta.stats, path };
  }
  const stats = writeAuditLog(path, spec, progress);
  writeFileSync(metaPath, JSON.stringify({ key, stats }, null, 2));
  return stats;
}

export function writeAuditLog(path: string, spec: AuditLogSpec, progress?: (done: number, total: number) => void): AuditLogStats {
  mkdirSync(dirname(path), { recursive: true });
  const generator = new AuditLogGenerator({ seed: spec.seed, interactiveRatio: spec.interactiveRatio, maxSessionLines: spec.maxSessionLines });
  const fd = openSync(path, 'w');
  const sessions = new Set<string>();
  let bytes = 0;
  let lines = 0;
  let interactiveLines = 0;
  let minLineBytes = Infinity;
  let maxLineBytes = 0;
  let chunk: string[] = [];
  let chunkBytes = 0;
  let nextProgress = 64 << 20;
  try {
    while (bytes < spec.bytes) {
      const line = generator.next();
      const size = Buffer.byteLength(line.text) + 1;
      bytes += size;
      lines++;
      if (size < minLineBytes) minLineBytes = size;
      if (size > maxLineBytes) maxLineBytes = size;
      if (line.interactive) {
        interactiveLines++;
        sessions.add(line.auditId);
      }
      chunk.push(line.text);
      chunkBytes += size;
      if (chunkBytes >= 4 << 20) {
        writeSync(fd, chunk.join('\n') + '\n');
        chunk = [];
        chunkBytes = 0;
      }
      if (progress && bytes >= nextProgress) {
        progress(bytes, spec.bytes);
        nextProgress += 64 << 20;
      }
    }
    if (chunk.length) writeSync(fd, chunk.join('\n') + '\n');
  } finally {
    closeSync(fd);
  }
  return { path, bytes, lines, interactiveLines, sessions: sessions.size, minLineBytes, maxLineBytes };
}

/** `1g`, `200m`, `512k`, `1000` → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)b?$/i.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a size (use e.g. 200m, 1g)`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * unit);
}
