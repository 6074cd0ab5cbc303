/**
 * Cutting chunks into lines on the cutting thread gives exactly what cutting them inline gives (the lines
 * kept, the counts, the positions, the garbage and over-long lines reported) for the audit pre-filter's
 * selection; and a thread that fails costs the waiting reads, not the process.
 * A real worker thread, fed seeded chunks with garbage, CRLF, over-long lines and lines split across chunks.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CutterThread } from '../../src/ingest/cutter-thread.ts';
import { LineCutter, type CutChunk } from '../../src/ingest/line-cutter.ts';
import { captureLogger } from '../runtime/log-capture.ts';
import { execEvent } from './webhook-support.ts';
import { seededRandom } from '../support/random.ts';

const MAX_LINE = 4096;

/**
 * A seeded stream cut into uneven chunks: audit lines (a share `execShare` of them exec sessions, the
 * rest not interactive), garbage, blank and over-long lines.
 */
function chunksOf(seed: number, execShare: number): Buffer[] {
  const random = seededRandom(seed);
  const parts: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    const r = random();
    if (r < execShare) parts.push(Buffer.from(JSON.stringify(execEvent(`s-${i}`, 'ResponseComplete'))));
    else if (r < execShare + 0.03) parts.push(Buffer.from([0, 0, 0, 0x7b, 0x7d]));
    else if (r < execShare + 0.06) parts.push(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    else if (r < execShare + 0.08) parts.push(Buffer.alloc(MAX_LINE + 10, 0x61));
    else if (r < execShare + 0.1) parts.push(Buffer.from('not json at all'));
    else parts.push(Buffer.from(JSON.stringify({ kind: 'Event', auditID: `x-${i}`, verb: 'get', objectRef: { resource: 'configmaps', subresource: 'status' } })));
    parts.push(Buffer.from(random() < 0.2 ? '\r\n' : '\n'));
  }
  const text = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < text.length; ) {
    const size = 1 + Math.floor(random() * 20_000);
    chunks.push(Buffer.from(text.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

/** What a cut says, with its lines as text (where they sit in memory differs by design). */
const seen = (cut: CutChunk) => ({
  lines: cut.runs.flatMap((run) => Array.from({ length: run.count }, (_, i) => run.line(i).toString('latin1'))),
  count: cut.count,
  consumed: cut.consumed,
  pending: cut.pending,
  tooLong: cut.tooLong,
  garbage: cut.garbage,
});

describe('line cutting on the cutting thread', () => {
  // A backfill keeps a few lines of a chunk (they come back copied), exec-heavy input nearly all (the
  // chunk itself comes back).
  for (const [input, execShare] of [['a backfill', 0.1], ['exec-heavy input', 0.9]] as const) {
    it(`gives what inline cutting gives, ${input}`, async () => {
      const threads = new CutterThread();
      try {
        const inline = new LineCutter(MAX_LINE, 'auditMarkers');
        const remote = threads.open(MAX_LINE, 'auditMarkers', true);
        assert.equal(remote.onThread, true);
        let kept = 0;
        let exec = 0;
        for (const chunk of chunksOf(7, execShare)) {
          const expected = seen(inline.cut(chunk));
          // Owned: its memory is moved to the thread (so it is cut inline from a copy made before).
          const got = seen(await remote.cut(Buffer.from(chunk), true));
          assert.deepEqual(got, expected);
          kept += got.lines.length;
          exec += got.lines.filter((line) => line.includes('"subresource":"exec"')).length;
        }
        remote.close();
        assert.ok(exec > 3000 * execShare * 0.8, 'exec lines are kept');
        assert.ok(kept < exec + 3000 * 0.1, 'the lines that cannot be interactive access are left out');
      } finally {
        await threads.close();
      }
    });
  }

  it('a sink that takes every line is cut inline, backlog or not', () => {
    const threads = new CutterThread();
    assert.equal(threads.open(MAX_LINE, 'all', true).onThread, false);
  });

  it('a thread that fails fails the reads waiting on it, says so once, and later reads are cut inline', async () => {
    const capture = captureLogger();
    const threads = new CutterThread(capture.logger);
    try {
      const cutter = threads.open(MAX_LINE, 'auditMarkers', true);
      const [chunk] = chunksOf(3, 0.1);
      assert.ok(chunk);
      await cutter.cut(Buffer.from(chunk), false);
      // A chunk for a cutter the thread no longer has: the thread throws and ends.
      cutter.close();
      await assert.rejects(Promise.resolve(cutter.cut(Buffer.from(chunk), false)), /line cutting thread stopped/);
      const warnings = capture.lines().filter((line) => /thread that cuts log files into lines stopped/.test(String(line.msg)));
      assert.equal(warnings.length, 1);
      const after = threads.open(MAX_LINE, 'auditMarkers', true);
      assert.equal(after.onThread, false, 'cut inline');
      const cut = after.cut(Buffer.from(chunk), false);
      assert.ok(!(cut instanceof Promise));
      assert.deepEqual(seen(cut), seen(new LineCutter(MAX_LINE, 'auditMarkers').cut(chunk)));
    } finally {
      await threads.close();
    }
  });
});
