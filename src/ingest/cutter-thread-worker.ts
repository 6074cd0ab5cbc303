/**
 * The thread of cutter-thread.ts: one LineCutter per read, fed that read's chunks in order; each
 * answer packs the kept lines into one buffer of their own, moved back to the reader's thread.
 */
import { parentPort } from 'node:worker_threads';
import type { CutAnswer, CutRequest } from './cutter-thread.ts';
import { LineCutter, type CutChunk } from './line-cutter.ts';

const port = parentPort;
if (!port) throw new Error('cutter-thread-worker.ts runs as the worker thread of cutter-thread.ts');

const cutters = new Map<number, LineCutter>();

port.on('message', (request: CutRequest) => {
  if (request.type === 'open') cutters.set(request.cutter, new LineCutter(request.maxLineBytes, request.selection));
  else if (request.type === 'close') cutters.delete(request.cutter);
  else {
    const cutter = cutters.get(request.cutter);
    if (!cutter) throw new Error(`chunk for cutter ${request.cutter}, which is not open`);
    const { runs, ...rest } = cutter.cut(Buffer.from(request.memory, 0, request.length));
    const { memory, bounds } = packed(runs);
    const answer: CutAnswer = { ...rest, cutter: request.cutter, seq: request.seq, memory, bounds };
    port.postMessage(answer, memory ? [memory, bounds.buffer as ArrayBuffer] : [bounds.buffer as ArrayBuffer]);
  }
});

/** The lines of `runs`, copied one after another into memory of their own, with their bounds there. */
function packed(runs: CutChunk['runs']): { memory: ArrayBuffer | undefined; bounds: Int32Array } {
  let lines = 0;
  let bytes = 0;
  for (const run of runs) {
    lines += run.count;
    for (let i = 0; i < run.count; i++) bytes += run.bounds[2 * i + 1]! - run.bounds[2 * i]!;
  }
  const bounds = new Int32Array(lines * 2);
  if (lines === 0) return { memory: undefined, bounds };
  // allocUnsafeSlow: memory of its own (a pooled Buffer's memory cannot be moved).
  const text = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  let n = 0;
  for (const run of runs) {
    for (let i = 0; i < run.count; i++) {
      const start = run.bounds[2 * i]!;
      const end = run.bounds[2 * i + 1]!;
      run.text.copy(text, at, start, end);
      bounds[n++] = at;
      at += end - start;
      bounds[n++] = at;
    }
  }
  return { memory: text.buffer as ArrayBuffer, bounds };
}
