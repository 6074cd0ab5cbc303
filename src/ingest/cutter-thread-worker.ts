/**
 * The thread of cutter-thread.ts: one LineCutter per read, fed that read's chunks in order; each
 * answer moves the kept lines back to the reader's thread.
 */
import { parentPort } from 'node:worker_threads';
import type { AnsweredRun, CutAnswer, CutRequest } from './cutter-thread.ts';
import { LineCutter } from './line-cutter.ts';
import type { LineRun } from './line-splitter.ts';

const port = parentPort;
if (!port) throw new Error('cutter-thread-worker.ts runs as the worker thread of cutter-thread.ts');

const cutters = new Map<number, LineCutter>();

port.on('message', (request: CutRequest) => {
  if (request.type === 'open') cutters.set(request.cutter, new LineCutter(request.maxLineBytes, request.selection));
  else if (request.type === 'close') cutters.delete(request.cutter);
  else {
    const cutter = cutters.get(request.cutter);
    if (!cutter) throw new Error(`chunk for cutter ${request.cutter}, which is not open`);
    const chunk = Buffer.from(request.memory, 0, request.length);
    const { runs, ...rest } = cutter.cut(chunk);
    const answered = runs.map((run) => answerRun(run, chunk));
    const moved = answered.flatMap((run) => [run.memory, run.bounds.buffer as ArrayBuffer]);
    port.postMessage({ ...rest, cutter: request.cutter, seq: request.seq, runs: answered } satisfies CutAnswer, moved);
  }
});

/**
 * A kept run as it goes back. Most of the chunk kept (every line of exec-heavy input, every KubeArmor
 * line): the chunk itself goes back, not a copy. A few lines kept (a backfill's candidates, a line
 * carried over between chunks): they are copied one after another into memory of their own, so a batch
 * does not hold its whole chunk until it commits.
 */
function answerRun(run: LineRun, chunk: Buffer): AnsweredRun {
  let bytes = 0;
  for (let i = 0; i < run.count; i++) bytes += run.bounds[2 * i + 1]! - run.bounds[2 * i]!;
  if (run.text.buffer === chunk.buffer && run.text.byteOffset === 0 && bytes * 2 >= chunk.length) {
    return { memory: chunk.buffer as ArrayBuffer, length: chunk.length, bounds: run.bounds.slice() };
  }
  // allocUnsafeSlow: memory of its own (a pooled Buffer's memory cannot be moved).
  const text = Buffer.allocUnsafeSlow(bytes);
  const bounds = new Int32Array(run.count * 2);
  let at = 0;
  for (let i = 0; i < run.count; i++) {
    const start = run.bounds[2 * i]!;
    const end = run.bounds[2 * i + 1]!;
    run.text.copy(text, at, start, end);
    bounds[2 * i] = at;
    at += end - start;
    bounds[2 * i + 1] = at;
  }
  return { memory: text.buffer as ArrayBuffer, length: bytes, bounds };
}
