/**
 * A file's identity: a hash of its first line, never its name or inode. The same audit log is met
 * under several names (`audit.log`, then `audit-2024-01-20T10-30-00.000.log` after lumberjack renames
 * it, then `audit-...log.gz` once compressed: ../shared/reference/kubernetes-audit.md "The log file
 * backend"), and an inode number is reused once a file is deleted. The first line of an audit log
 * holds an auditID and timestamps, so two different logs do not share it.
 *
 * A file whose first line is not finished yet has no fingerprint: it is looked at again later.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { gunzipFile } from './gunzip-file.ts';

/** At most this many bytes are hashed: a first line longer than this is known by its beginning. */
export const FINGERPRINT_MAX_BYTES = 64 * 1024;
const FIRST_READ_BYTES = 4096;
const NEWLINE = 0x0a;

/** The fingerprint of a file starting with `head`, or undefined while its first line is unfinished. */
export function fingerprintOfHead(head: Buffer): string | undefined {
  const nl = head.indexOf(NEWLINE);
  let end: number;
  if (nl !== -1 && nl < FINGERPRINT_MAX_BYTES) end = nl;
  else if (head.length >= FINGERPRINT_MAX_BYTES) end = FINGERPRINT_MAX_BYTES;
  else return undefined;
  return createHash('sha256').update(head.subarray(0, end)).digest('hex');
}

/** Fingerprint of an open plain file (reads at most FINGERPRINT_MAX_BYTES from its start). */
export async function fingerprintPlainFile(handle: FileHandle): Promise<string | undefined> {
  let want = FIRST_READ_BYTES;
  for (;;) {
    const buffer = Buffer.allocUnsafe(want);
    const { bytesRead } = await handle.read(buffer, 0, want, 0);
    const head = buffer.subarray(0, bytesRead);
    const fingerprint = fingerprintOfHead(head);
    if (fingerprint || bytesRead < want || want >= FINGERPRINT_MAX_BYTES) return fingerprint;
    want = FINGERPRINT_MAX_BYTES;
  }
}

/**
 * Fingerprint of a gzipped file's decompressed content, so `x.log.gz` matches `x.log`. Undefined when
 * the decompressed first line is not complete (a gzip still being written, or a damaged one).
 */
export async function fingerprintGzipFile(handle: FileHandle): Promise<string | undefined> {
  const read = gunzipFile(handle, { readBytes: 16 * 1024 });
  const pieces: Buffer[] = [];
  let length = 0;
  try {
    for await (const chunk of read.output as AsyncIterable<Buffer>) {
      pieces.push(chunk);
      length += chunk.length;
      if (chunk.indexOf(NEWLINE) !== -1 || length >= FINGERPRINT_MAX_BYTES) break;
    }
  } catch {
    // Truncated or not gzip at all: no identity yet; the caller retries and reports if it persists.
  } finally {
    read.close();
  }
  return fingerprintOfHead(Buffer.concat(pieces, length));
}
