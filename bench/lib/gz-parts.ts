/**
 * A directory of rotated, gzipped audit logs, as the apiserver's log rotation leaves them
 * (`audit-<time>.log.gz`): the realistic log cut at line boundaries into N parts of about equal size,
 * each gzipped (level 6, gzip's default). Made once under bench/data and reused while its source matches.
 */
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, type Gzip } from 'node:zlib';
import type { AuditLogStats } from './datasets.ts';

export interface GzDirectory {
  dir: string;
  files: string[];
  compressedBytes: number;
  uncompressedBytes: number;
  lines: number;
}

/** `audit-2026-01-20T03-00-00.000.log.gz`, an hour apart: the rotation's backup names, oldest first. */
const partName = (i: number) => `audit-2026-01-20T${String(3 + i).padStart(2, '0')}-00-00.000.log.gz`;

export async function ensureGzDirectory(log: AuditLogStats, parts: number): Promise<GzDirectory> {
  const dir = log.path.replace(/\.log$/, '') + `-gz${parts}`;
  const metaPath = dir + '.meta.json';
  const key = JSON.stringify({ source: log.path, bytes: log.bytes, lines: log.lines, parts });
  if (existsSync(metaPath) && existsSync(dir)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { key: string; files: string[]; compressedBytes: number };
    if (meta.key === key) return { dir, files: meta.files.map((f) => join(dir, f)), compressedBytes: meta.compressedBytes, uncompressedBytes: log.bytes, lines: log.lines };
  }
  const building = dir + '.tmp';
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const partBytes = Math.ceil(log.bytes / parts);
  const names: string[] = [];
  const fd = openSync(log.path, 'r');
  let gz: Gzip | undefined;
  let done: Promise<void> | undefined;
  let inPart = 0;
  const open = () => {
    names.push(partName(names.length));
    gz = createGzip({ level: 6 });
    done = pipeline(gz, createWriteStream(join(building, names.at(-1)!)));
    inPart = 0;
  };
  const write = async (data: Buffer) => {
    if (data.length === 0) return;
    inPart += data.length;
    if (!gz!.write(data)) await once(gz!, 'drain');
  };
  try {
    open();
    const buffer = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null);
      if (read === 0) break;
      let chunk = Buffer.from(buffer.subarray(0, read));
      while (names.length < parts && inPart + chunk.length >= partBytes) {
        const cut = chunk.indexOf(0x0a, Math.max(0, partBytes - inPart - 1));
        if (cut === -1) break;
        await write(chunk.subarray(0, cut + 1));
        gz!.end();
        await done;
        chunk = chunk.subarray(cut + 1);
        open();
      }
      await write(chunk);
    }
    gz!.end();
    await done;
  } finally {
    closeSync(fd);
  }
  const files = names.filter((n) => statSync(join(building, n)).size > 20); // an empty last part is dropped
  for (const n of names) if (!files.includes(n)) rmSync(join(building, n));
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  const compressedBytes = files.reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  writeFileSync(metaPath, JSON.stringify({ key, files, compressedBytes }, null, 2));
  return { dir, files: files.map((f) => join(dir, f)), compressedBytes, uncompressedBytes: log.bytes, lines: log.lines };
}
