/**
 * Model-based experiments (after Vector's file_watcher tests): random sequences of write, half-line
 * write, rotate, truncate, delete, gzip, restart and read passes are applied to real files on disk
 * read by the real FileSource (checkpoints in the real database), and to a tiny in-memory model of
 * what a correct reader must have read by then. After every pass the lines the sink received must
 * equal the model's. A failure prints the seed and the operations, so it can be replayed.
 *
 * Passes are driven by hand (FileSource.poll), so each interleaving is deterministic; the watcher
 * and timer that trigger passes in production are covered by file-follow.test.ts.
 */
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { CheckpointStore } from '../../src/ingest/checkpoints.ts';
import { FileSource, type FileSpec } from '../../src/ingest/file-source.ts';
import { linesOf, type LineBatch, type LineSink } from '../../src/ingest/line-sink.ts';
import type { Database } from '../../src/store/database.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { lumberjackName, seededRandom, tempDir } from './file-support.ts';

const FILE_EXPERIMENTS = 25;
const DIR_EXPERIMENTS = 15;
const OPS_PER_EXPERIMENT = 70;

/**
 * A sink that keeps the lines in the order it is handed them, committing after a random short delay
 * (batches overlap: the source may hand over the next batch before this one commits, and the order
 * asserted is the order of hand-over, which the LineSink contract fixes, not of commits).
 */
function collectingSink(random: () => number): LineSink & { received: string[] } {
  const received: string[] = [];
  return {
    received,
    async write(batch: LineBatch) {
      received.push(...linesOf(batch).map((l) => l.toString()));
      if (random() < 0.5) await new Promise((r) => setImmediate(r));
    },
  };
}

/** Writes unique lines of random length (so lines straddle the tiny read chunks). */
class LineWriter {
  private n = 0;
  constructor(
    private readonly random: () => number,
    private readonly tag: string,
  ) {}
  next(): string {
    return `{"n":${this.n++},"tag":"${this.tag}","pad":"${'x'.repeat(Math.floor(this.random() * 300))}"}`;
  }
}

interface Harness {
  source: FileSource;
  sink: ReturnType<typeof collectingSink>;
}

function newSource(db: Database, cluster: string, files: FileSpec[], random: () => number): Harness {
  const sink = collectingSink(random);
  const source = new FileSource({
    files,
    sink,
    checkpoints: new CheckpointStore(db, cluster, 'audit'),
    metrics: createMetrics(),
    logger: silentLogger,
    readChunkBytes: 256,
    maxBatchesInFlight: 2,
  });
  return { source, sink };
}

for (const backend of backends) {
  describe(`file source experiments on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    before(async () => ({ db, close } = await createTestDatabase(backend)));
    after(() => close?.());

    it(`-audit-log-file: ${FILE_EXPERIMENTS} random sequences of write/rotate/truncate/delete/restart read what the model reads`, async (t) => {
      const ops = new Map<string, number>();
      for (let seed = 1; seed <= FILE_EXPERIMENTS; seed++) await fileExperiment(db, seed, ops);
      t.diagnostic(`operations: ${describeCounts(ops)}`);
    });

    it(`-audit-log-dir: ${DIR_EXPERIMENTS} random sequences of write/rotate/copytruncate/gzip/delete/restart read every line exactly once`, async (t) => {
      const ops = new Map<string, number>();
      for (let seed = 1; seed <= DIR_EXPERIMENTS; seed++) await dirExperiment(db, seed, ops);
      t.diagnostic(`operations: ${describeCounts(ops)}`);
    });
  });
}

/**
 * The model for one followed path. A file is a list of complete lines (a trailing half line is not
 * one). A file's content has an identity (what the fingerprint tells): it survives a rename, and a
 * truncation or a new file starts a new one. The reader holds at most one file open; checkpoints
 * record, per content, how many lines were committed.
 */
async function fileExperiment(db: Database, seed: number, ops: Map<string, number>): Promise<void> {
  const random = seededRandom(seed);
  const dir = tempDir(`exp-file-${seed}`);
  const path = join(dir, 'audit.log');
  const cluster = `${db.backend}-file-${seed}`;
  const writer = new LineWriter(random, cluster);
  const log: string[] = [];

  interface ModelFile {
    lines: string[];
    content: number;
    truncatedSincePass: boolean;
  }
  let nextContent = 1;
  let current: ModelFile | undefined; // the file at `path`
  let held: { file: ModelFile; read: number } | undefined; // the file the reader has open
  const checkpoints = new Map<number, number>(); // content → lines committed
  const expected: string[] = [];
  let rotations = 0;
  // A line whose first half is in the file.
  let half: string | undefined;

  let h = newSource(db, cluster, [{ file: path }], random);
  const fail = (message: string) => `seed ${seed}: ${message}\noperations:\n  ${log.join('\n  ')}`;

  const modelPass = () => {
    if (held && (held.file !== current || held.file.truncatedSincePass)) {
      if (held.file.truncatedSincePass) held.read = 0;
      if (held.file !== current) {
        // Renamed away or deleted: drained through the open handle.
        expected.push(...held.file.lines.slice(held.read));
        checkpoints.set(held.file.content, held.file.lines.length);
        held = undefined;
      }
    }
    if (current && !held) held = { file: current, read: checkpoints.get(current.content) ?? 0 };
    if (held) {
      expected.push(...held.file.lines.slice(held.read));
      held.read = held.file.lines.length;
      if (held.read > 0) checkpoints.set(held.file.content, held.read);
    }
    if (current) current.truncatedSincePass = false;
    if (held) held.file.truncatedSincePass = false;
  };

  for (let step = 0; step < OPS_PER_EXPERIMENT; step++) {
    const roll = random();
    if (roll < 0.35) {
      const count = 1 + Math.floor(random() * 5);
      const lines = Array.from({ length: count }, () => writer.next());
      let text = lines.map((l) => l + '\n').join('');
      if (!current) current = { lines: [], content: nextContent++, truncatedSincePass: false };
      if (half !== undefined) {
        text = half.slice(Math.floor(half.length / 2)) + '\n' + text;
        current.lines.push(half);
        half = undefined;
      }
      appendFileSync(path, text);
      current.lines.push(...lines);
      log.push(`write ${count}`);
    } else if (roll < 0.45 && half === undefined) {
      half = writer.next();
      if (!current) current = { lines: [], content: nextContent++, truncatedSincePass: false };
      appendFileSync(path, half.slice(0, Math.floor(half.length / 2)));
      log.push('write half a line');
    } else if (roll < 0.53) {
      if (current) {
        renameSync(path, join(dir, `audit.log.${++rotations}`));
        current = undefined;
        dropHalf();
        if (random() < 0.5) {
          writeFileSync(path, '');
          current = { lines: [], content: nextContent++, truncatedSincePass: false };
        }
        log.push('rotate (rename and recreate)');
      }
    } else if (roll < 0.6) {
      if (current) {
        truncateSync(path, 0);
        dropHalf();
        current.lines = [];
        current.content = nextContent++;
        current.truncatedSincePass = true;
        log.push('truncate');
      }
    } else if (roll < 0.65) {
      if (current) {
        unlinkSync(path);
        current = undefined;
        dropHalf();
        log.push('delete');
      }
    } else if (roll < 0.7) {
      // A restart: the open file is let go; positions come back from the database.
      await h.source.stop();
      const received = h.sink.received;
      h = newSource(db, cluster, [{ file: path }], random);
      h.sink.received.push(...received);
      held = undefined;
      log.push('restart');
    } else {
      await h.source.poll();
      modelPass();
      log.push('pass');
      assert.deepEqual(h.sink.received, expected, fail('lines read differ from the model'));
    }
  }
  await h.source.poll();
  modelPass();
  assert.deepEqual(h.sink.received, expected, fail('lines read differ from the model at the end'));
  countOperations(log, ops, h.sink.received.length);
  await h.source.stop();
  rmSync(dir, { recursive: true, force: true });

  function dropHalf() {
    // The writer's half line stays behind, unfinished, in a file it no longer writes to.
    half = undefined;
  }
}

/**
 * The model for a directory: rotated backups stay readable (renamed, then gzipped, then the plain
 * one deleted), so no line may be lost and none read twice. Backups are deleted only once read or
 * once gzipped, as the apiserver does with --audit-log-compress.
 */
async function dirExperiment(db: Database, seed: number, ops: Map<string, number>): Promise<void> {
  const random = seededRandom(1000 + seed);
  const dir = tempDir(`exp-dir-${seed}`);
  const live = join(dir, 'audit.log');
  const cluster = `${db.backend}-dir-${seed}`;
  const writer = new LineWriter(random, cluster);
  const log: string[] = [];
  const written: string[] = [];
  let half: string | undefined;
  let clock = Date.parse('2024-01-01T00:00:00Z');
  const plainBackups: string[] = [];
  const gzipped = new Set<string>();
  let copies = 0;
  let copyPendingTruncate = false;

  let h = newSource(db, cluster, [{ dir }], random);
  const fail = (message: string) => `seed ${seed}: ${message}\noperations:\n  ${log.join('\n  ')}`;
  const check = (when: string) => {
    const received = [...h.sink.received].sort();
    assert.equal(new Set(received).size, received.length, fail(`a line was read twice (${when})`));
    assert.deepEqual(received, [...written].sort(), fail(`lines read differ from the lines written (${when})`));
    // The lines of one file arrive in the order they were written.
    const byFile = new Map<number, number[]>();
    for (const line of h.sink.received) {
      const n = lineNumber(line);
      const file = fileOf.get(n)!;
      if (!byFile.has(file)) byFile.set(file, []);
      byFile.get(file)!.push(n);
    }
    for (const [file, numbers] of byFile)
      assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), fail(`lines of file ${file} out of order (${when})`));
  };
  const lineNumber = (line: string) => Number(/"n":(\d+)/.exec(line)![1]);
  const fileOf = new Map<number, number>(); // line number → file generation (a rotation starts a new one)
  let generation = 0;

  for (let step = 0; step < OPS_PER_EXPERIMENT; step++) {
    const roll = random();
    if (roll < 0.4 && !copyPendingTruncate) {
      const lines = Array.from({ length: 1 + Math.floor(random() * 6) }, () => writer.next());
      let text = lines.map((l) => l + '\n').join('');
      if (half !== undefined) {
        text = half.slice(Math.floor(half.length / 2)) + '\n' + text;
        written.push(half);
        half = undefined;
      }
      appendFileSync(live, text);
      for (const l of lines) fileOf.set(lineNumber(l), generation);
      written.push(...lines);
      log.push(`write ${lines.length}`);
    } else if (roll < 0.48 && half === undefined && !copyPendingTruncate) {
      half = writer.next();
      fileOf.set(lineNumber(half), generation);
      appendFileSync(live, half.slice(0, Math.floor(half.length / 2)));
      log.push('write half a line');
    } else if (roll < 0.58) {
      if (existsSync(live) && half === undefined && !copyPendingTruncate) {
        clock += 60_000;
        const backup = join(dir, lumberjackName(new Date(clock)));
        renameSync(live, backup);
        plainBackups.push(backup);
        generation++;
        log.push(`rotate to ${lumberjackName(new Date(clock))}`);
      }
    } else if (roll < 0.66) {
      const backup = plainBackups.find((b) => !gzipped.has(b));
      if (backup) {
        writeFileSync(`${backup}.gz`, gzipSync(readFileSync(backup)));
        gzipped.add(backup);
        if (random() < 0.7) {
          unlinkSync(backup);
          plainBackups.splice(plainBackups.indexOf(backup), 1);
          log.push(`gzip and delete the plain ${backup.split('/').pop()}`);
        } else log.push(`gzip ${backup.split('/').pop()}`);
      }
    } else if (roll < 0.7) {
      const backup = plainBackups.find((b) => gzipped.has(b));
      if (backup) {
        unlinkSync(backup);
        plainBackups.splice(plainBackups.indexOf(backup), 1);
        log.push(`delete the plain ${backup.split('/').pop()} (its .gz stays)`);
      }
    } else if (roll < 0.73) {
      // logrotate copytruncate, in two steps with passes allowed in between (the copy and the live
      // file then hold the same content); the writer waits meanwhile, so no line is lost.
      if (copyPendingTruncate) {
        truncateSync(live, 0);
        copyPendingTruncate = false;
        generation++;
        log.push('truncate (copytruncate)');
      } else if (existsSync(live) && half === undefined) {
        copyFileSync(live, join(dir, `audit.log.${++copies}`));
        copyPendingTruncate = true;
        log.push(`copy to audit.log.${copies} (copytruncate)`);
      }
    } else if (roll < 0.78) {
      await h.source.stop();
      const received = h.sink.received;
      h = newSource(db, cluster, [{ dir }], random);
      h.sink.received.push(...received);
      log.push('restart');
    } else {
      await h.source.poll();
      log.push('pass');
      check(`after pass ${step}`);
    }
  }
  if (half !== undefined) {
    appendFileSync(live, half.slice(Math.floor(half.length / 2)) + '\n');
    written.push(half);
  }
  await h.source.poll();
  check('at the end');
  countOperations(log, ops, h.sink.received.length);
  await h.source.stop();
  rmSync(dir, { recursive: true, force: true });
}

function countOperations(log: string[], ops: Map<string, number>, linesRead: number): void {
  for (const entry of log) {
    const kind = entry.replace(/ \d+$| to .*| audit\.log\.\d+.*|-\d{4}.*| \(its .*| the plain .*/g, '').trim();
    ops.set(kind, (ops.get(kind) ?? 0) + 1);
  }
  ops.set('lines read', (ops.get('lines read') ?? 0) + linesRead);
}

function describeCounts(ops: Map<string, number>): string {
  return [...ops].map(([k, v]) => `${k}: ${v}`).join(', ');
}
