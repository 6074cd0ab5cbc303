/**
 * The pure parts of the file source: cutting bytes into lines, a file's fingerprint, which names in a
 * directory are audit logs and in which order they are read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backupTimeMs, isAuditLogName, isRotatedBackupName, oldestFirst, type FileCandidate } from '../../src/ingest/dir-discovery.ts';
import { FINGERPRINT_MAX_BYTES, fingerprintOfHead } from '../../src/ingest/fingerprint.ts';
import { linesOf } from '../../src/ingest/line-sink.ts';
import { LineSplitter, type SplitResult } from '../../src/ingest/line-splitter.ts';
import { seededRandom } from './file-support.ts';

const text = (split: SplitResult) => linesOf(split).map((l) => l.toString());

describe('line splitter', () => {
  it('keeps a partial last line until its newline arrives, then emits it once', () => {
    const s = new LineSplitter(1024);
    assert.deepEqual(text(s.push(Buffer.from('{"a":1}\n{"b":'))), ['{"a":1}']);
    assert.equal(s.consumed, 8);
    assert.equal(s.pending, 5);
    assert.deepEqual(text(s.push(Buffer.from('2}'))), []);
    assert.deepEqual(text(s.push(Buffer.from('\n'))), ['{"b":2}']);
    assert.equal(s.consumed, 16);
    assert.equal(s.pending, 0);
  });

  it('gives the same lines however the bytes are cut into chunks', () => {
    const random = seededRandom(7);
    const lines = Array.from({ length: 200 }, (_, i) => 'x'.repeat(Math.floor(random() * 300)) + `#${i}`);
    const bytes = Buffer.from(lines.join('\r\n') + '\r\n');
    for (let trial = 0; trial < 20; trial++) {
      const s = new LineSplitter(4096);
      const got: string[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(random() * 700);
        got.push(...text(s.push(bytes.subarray(at, at + size))));
        at += size;
      }
      assert.deepEqual(got, lines);
      assert.equal(s.consumed, bytes.length);
    }
  });

  it('skips a line over the limit without keeping it, reports where it began, and keeps the next line', () => {
    const s = new LineSplitter(100);
    const first = s.push(Buffer.from('short\n' + 'y'.repeat(80)));
    assert.deepEqual(text(first), ['short']);
    const middle = s.push(Buffer.from('y'.repeat(500)));
    assert.deepEqual(middle, { runs: [], tooLong: [] });
    assert.equal(s.pending, 580);
    const last = s.push(Buffer.from('yy\nnext\n'));
    assert.deepEqual(text(last), ['next']);
    assert.deepEqual(last.tooLong, [{ startOffset: 6, bytes: 582 }]);
    assert.equal(s.consumed, 6 + 583 + 5);
  });

  it('accepts a line of exactly the limit and rejects one byte more', () => {
    const s = new LineSplitter(10);
    const r = s.push(Buffer.from('0123456789\n01234567890\n'));
    assert.deepEqual(text(r), ['0123456789']);
    assert.equal(r.tooLong.length, 1);
  });

  it('leaves out empty lines', () => {
    assert.deepEqual(text(new LineSplitter(10).push(Buffer.from('\n\na\n\r\n'))), ['a']);
  });
});

describe('fingerprint', () => {
  it('is the hash of the first line, so appending does not change it', () => {
    const one = fingerprintOfHead(Buffer.from('{"auditID":"1"}\n'));
    assert.ok(one);
    assert.equal(fingerprintOfHead(Buffer.from('{"auditID":"1"}\n{"auditID":"2"}\n')), one);
    assert.notEqual(fingerprintOfHead(Buffer.from('{"auditID":"2"}\n')), one);
  });

  it('waits while the first line is unfinished', () => {
    assert.equal(fingerprintOfHead(Buffer.from('{"auditID":"1"')), undefined);
    assert.equal(fingerprintOfHead(Buffer.alloc(0)), undefined);
  });

  it('knows a file with a very long first line by its beginning', () => {
    const long = Buffer.alloc(FINGERPRINT_MAX_BYTES + 10, 'a');
    assert.ok(fingerprintOfHead(long));
    assert.equal(fingerprintOfHead(Buffer.concat([long, Buffer.from('\n')])), fingerprintOfHead(long));
  });
});

describe('directory discovery', () => {
  it('recognises the live log and lumberjack and logrotate backups, plain and gzipped', () => {
    for (const name of ['audit.log', 'audit-2024-01-20T10-30-00.000.log', 'audit-2024-01-20T10-30-00.000.log.gz', 'audit.log.1', 'audit.log.2.gz'])
      assert.ok(isAuditLogName(name), name);
    for (const name of ['SOURCES.md', 'audit.log.tmp', '.audit.log.swp', 'audit.json']) assert.ok(!isAuditLogName(name), name);
    assert.ok(!isRotatedBackupName('audit.log'));
    assert.ok(isRotatedBackupName('audit-2024-01-20T10-30-00.000.log'));
    assert.ok(isRotatedBackupName('audit.log.3'));
  });

  it('reads the rotation time from a lumberjack name (UTC)', () => {
    assert.equal(backupTimeMs('audit-2024-01-20T10-30-00.000.log.gz'), Date.parse('2024-01-20T10:30:00.000Z'));
    assert.equal(backupTimeMs('audit.log'), undefined);
  });

  it('orders oldest first by the name time for backups, the live file last, a plain backup before its .gz', () => {
    const candidate = (path: string, mtimeMs: number): FileCandidate => ({
      path,
      openPath: path,
      inode: path,
      size: 1,
      mtimeMs,
      gzip: path.endsWith('.gz'),
      backup: isRotatedBackupName(path),
      ageMs: backupTimeMs(path) ?? mtimeMs,
    });
    const now = Date.parse('2024-02-01T00:00:00Z');
    const sorted = oldestFirst([
      candidate('audit.log', now),
      // gzip gives the .gz a recent mtime: the name decides.
      candidate('audit-2024-01-20T10-30-00.000.log.gz', now - 1000),
      candidate('audit-2024-01-21T10-30-00.000.log', now - 5000),
      candidate('audit-2024-01-20T10-30-00.000.log', now - 9000),
    ]).map((c) => c.path);
    assert.deepEqual(sorted, [
      'audit-2024-01-20T10-30-00.000.log',
      'audit-2024-01-20T10-30-00.000.log.gz',
      'audit-2024-01-21T10-30-00.000.log',
      'audit.log',
    ]);
  });
});
