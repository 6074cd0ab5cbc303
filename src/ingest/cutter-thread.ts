/**
 * LineCutter (line-cutter.ts) on a second thread, for backlogs. Profiled on the 1 GiB bench log, the
 * reader's own thread spent ~0.75 s per GiB cutting lines, checking UTF-8 and searching for the audit
 * markers, of ~1.6 s in all, while the second core sat mostly idle. On the cutting thread that work
 * overlaps the parsing and storing of the chunk before.
 *
 * - A chunk the reader owns is moved to the thread, not copied (its memory is transferred); a chunk it
 *   does not own (a .gz stream's) is copied first. The kept lines are moved back: the chunk itself when
 *   most of it is kept, else a packed copy of them (for a backfill a few KB per chunk, so a batch no
 *   longer holds its whole chunk).
 * - A read of less than ON_THREAD_FROM_BYTES (the appends of a followed file) is cut inline: a round
 *   trip to the thread would cost more. A processor that only follows a live file never starts it, nor
 *   does one whose sink takes every line (open() says why).
 * - The thread holds the process open only while it has work. Should it fail, the reads waiting on it
 *   fail with CutterThreadStopped (the file source reads those lines again from the last saved
 *   position), and every later read is cut inline (said once in the log): slower, nothing lost.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../observe/log.ts';
import { LineCutter, type CutChunk, type LineSelection } from './line-cutter.ts';
import { LineRun } from './line-splitter.ts';
import { WorkerThread } from './worker-thread.ts';

/** Remaining bytes from which a plain file's read is cut on the thread. */
export const ON_THREAD_FROM_BYTES = 1024 * 1024;

/** Cuts the chunks of one read of one file, in order. */
export interface Cutter {
  /** Whether it cuts on the thread (its cuts then resolve later, and are worth queueing). */
  readonly onThread: boolean;
  /** `owned`: the caller never touches `chunk` again, so its memory may be moved to the thread. */
  cut(chunk: Buffer, owned: boolean): CutChunk | Promise<CutChunk>;
  close(): void;
}

/** What the thread is sent. */
export type CutRequest =
  | { type: 'open'; cutter: number; maxLineBytes: number; selection: LineSelection }
  | { type: 'cut'; cutter: number; seq: number; memory: ArrayBuffer; length: number }
  | { type: 'close'; cutter: number };

/** A kept run as the thread moves it back: its lines are `bounds` into the first `length` bytes of `memory`. */
export interface AnsweredRun {
  memory: ArrayBuffer;
  length: number;
  bounds: Int32Array;
}

/** What the thread answers to a cut: the CutChunk, with its runs moved back. */
export interface CutAnswer extends Omit<CutChunk, 'runs'> {
  cutter: number;
  seq: number;
  runs: AnsweredRun[];
}

/** A cut failed because the cutting thread stopped: the read can be made again, cut inline. */
export class CutterThreadStopped extends Error {
  override readonly name = 'CutterThreadStopped';
}

export class CutterThread {
  private readonly thread: WorkerThread<CutAnswer>;
  private nextCutter = 0;

  constructor(logger?: Logger) {
    this.thread = new WorkerThread({
      callerUrl: import.meta.url,
      module: 'cutter-thread-worker',
      title: 'the line cutting thread',
      stopped: (message) => new CutterThreadStopped(message),
      stoppedWarning:
        'the thread that cuts log files into lines stopped; lines are cut on the main thread from now on (the lines it held are read again from the last saved position: nothing is lost, a backfill is slower)',
      logger,
    });
  }

  /**
   * A cutter for one read: on the thread for a `backlog` the selection narrows (and while the thread
   * works), else inline. A sink that takes every line does per line far more than cutting it (KubeArmor
   * lines: ~30 µs each to parse, key and write), so the thread would gain it little, and costs ~20 MB.
   */
  open(maxLineBytes: number, selection: LineSelection, backlog: boolean): Cutter {
    const worker = backlog && selection !== 'all' ? this.thread.running() : undefined;
    if (!worker) return inlineCutter(new LineCutter(maxLineBytes, selection));
    const cutter = this.nextCutter++;
    worker.postMessage({ type: 'open', cutter, maxLineBytes, selection } satisfies CutRequest);
    return {
      onThread: true,
      cut: (chunk, owned) => this.send(worker, cutter, chunk, owned),
      close: () => {
        if (this.thread.isRunning(worker)) worker.postMessage({ type: 'close', cutter } satisfies CutRequest);
      },
    };
  }

  /** Ends the thread (the file source stopped); a cut still waiting fails. */
  close(): Promise<void> {
    return this.thread.close('the file source stopped');
  }

  private async send(worker: Worker, cutter: number, chunk: Buffer, owned: boolean): Promise<CutChunk> {
    const answer = await this.thread.request(worker, (seq) => {
      // Moved whole only when the chunk is all of its memory's use (a read buffer of its own).
      let memory: ArrayBuffer;
      if (owned && chunk.byteOffset === 0 && chunk.buffer instanceof ArrayBuffer) memory = chunk.buffer;
      else {
        const copy = Buffer.allocUnsafeSlow(chunk.length);
        chunk.copy(copy);
        memory = copy.buffer as ArrayBuffer;
      }
      return { message: { type: 'cut', cutter, seq, memory, length: chunk.length } satisfies CutRequest, transfer: [memory] };
    });
    const { runs, cutter: _cutter, seq: _seq, ...rest } = answer;
    return { ...rest, runs: runs.map(({ memory, length, bounds }) => new LineRun(Buffer.from(memory, 0, length), bounds)) };
  }
}

function inlineCutter(cutter: LineCutter): Cutter {
  return { onThread: false, cut: (chunk) => cutter.cut(chunk), close: () => undefined };
}
