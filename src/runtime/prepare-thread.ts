/**
 * The normalising thread: a backlog of KubeArmor lines, or a batch of feeder messages, is read into rows
 * on a second thread (line-batch.ts and feeder-messages.ts there, the same functions that run inline),
 * so the main thread only reads the file or the gRPC connection, hands over the bytes and stores what
 * comes back. Profiled on 100k feeder-shaped lines, reading a line into its row took ~25 µs of the
 * ~37 µs the main thread spent per event, and was why it was saturated while the second core was not.
 *
 * - A batch's lines (messages) are copied into memory of their own and moved to the thread (the batch
 *   keeps them, so nothing depends on the thread's answer to be retried). What comes back is the COPY text
 *   (moved, not copied), a summary per event (rows.ts), and what became of each line.
 * - The thread holds the process open only while it has work. Should it fail, the batches waiting on it
 *   fail with PrepareThreadStopped, the sink prepares them inline, and every later batch is prepared
 *   inline (said once in the log): slower, nothing lost.
 */
import type { Worker } from 'node:worker_threads';
import type { Redaction } from '../audit/redact.ts';
import type { LineRun } from '../ingest/line-splitter.ts';
import { startWorkerModule } from '../ingest/worker-module.ts';
import type { Logger } from '../observe/log.ts';
import type { RawKept } from './event.ts';
import type { FeederMessage, PreparedFeederMessages } from './feeder-messages.ts';
import type { PreparedRuntimeLines } from './line-batch.ts';

/** What stays the same for every batch: sent once. */
export interface PrepareSettings {
  cluster: string;
  redaction?: Redaction;
  raw?: RawKept;
  operations?: ReadonlySet<string>;
}

export type PrepareRequest =
  | { type: 'settings'; settings: PrepareSettings }
  | { type: 'lines'; seq: number; receivedAt: string; memory: ArrayBuffer; bounds: Int32Array }
  /** Message i is bytes bounds[2i]..bounds[2i+1] of memory, of kind kinds[i] (1 log, 2 alert), received at receivedAtMs[i]. */
  | { type: 'messages'; seq: number; memory: ArrayBuffer; bounds: Int32Array; kinds: Uint8Array; receivedAtMs: Float64Array };

export interface PrepareAnswer {
  seq: number;
  result: PreparedRuntimeLines | PreparedFeederMessages;
}

/** The thread stopped before it answered: the batch can be prepared inline. */
export class PrepareThreadStopped extends Error {
  override readonly name = 'PrepareThreadStopped';
}

interface Waiting {
  resolve: (result: PreparedRuntimeLines | PreparedFeederMessages) => void;
  reject: (error: Error) => void;
}

export class PrepareThread {
  private worker: Worker | undefined;
  private failed = false;
  private nextSeq = 0;
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly settings: PrepareSettings,
    private readonly logger: Logger,
  ) {}

  /** False once the thread failed: batches are then prepared inline. */
  get usable(): boolean {
    return !this.failed;
  }

  prepareLines(runs: readonly LineRun[], receivedAt: string): Promise<PreparedRuntimeLines> {
    const { memory, bounds } = packedLines(runs);
    return this.send({ type: 'lines', seq: this.nextSeq++, receivedAt, memory, bounds }, [memory, bounds.buffer as ArrayBuffer]) as Promise<PreparedRuntimeLines>;
  }

  prepareMessages(messages: readonly FeederMessage[]): Promise<PreparedFeederMessages> {
    let bytes = 0;
    for (const message of messages) bytes += message.bytes.length;
    const text = Buffer.allocUnsafeSlow(bytes);
    const bounds = new Int32Array(messages.length * 2);
    const kinds = new Uint8Array(messages.length);
    const receivedAtMs = new Float64Array(messages.length);
    let at = 0;
    messages.forEach((message, i) => {
      text.set(message.bytes, at);
      bounds[2 * i] = at;
      at += message.bytes.length;
      bounds[2 * i + 1] = at;
      kinds[i] = message.kind === 'log' ? 1 : 2;
      receivedAtMs[i] = message.receivedAtMs;
    });
    const memory = text.buffer as ArrayBuffer;
    const moved = [memory, bounds.buffer, kinds.buffer, receivedAtMs.buffer] as ArrayBuffer[];
    return this.send({ type: 'messages', seq: this.nextSeq++, memory, bounds, kinds, receivedAtMs }, moved) as Promise<PreparedFeederMessages>;
  }

  private send(request: Extract<PrepareRequest, { seq: number }>, moved: ArrayBuffer[]): Promise<PreparedRuntimeLines | PreparedFeederMessages> {
    if (this.failed) return Promise.reject(new PrepareThreadStopped('the normalising thread stopped earlier'));
    const worker = (this.worker ??= this.start());
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(request.seq, { resolve, reject });
      worker.postMessage(request, moved);
    });
  }

  /** Ends the thread (the source stopped); a batch still waiting fails. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failWaiting(new PrepareThreadStopped('the normalising thread was ended (the source stopped)'));
    await worker?.terminate();
  }

  private start(): Worker {
    const worker = startWorkerModule(import.meta.url, 'prepare-thread-worker');
    worker.unref();
    worker.postMessage({ type: 'settings', settings: this.settings } satisfies PrepareRequest);
    worker.on('message', ({ seq, result }: PrepareAnswer) => {
      const waiting = this.waiting.get(seq);
      if (!waiting) return;
      this.waiting.delete(seq);
      if (this.waiting.size === 0) worker.unref();
      waiting.resolve(result);
    });
    worker.on('error', (error) => this.stopUsing(worker, error));
    worker.on('exit', (code) => this.stopUsing(worker, new Error(`it exited with code ${code}`)));
    return worker;
  }

  private stopUsing(worker: Worker, error: Error): void {
    if (this.worker !== worker) return; // closed on purpose
    this.worker = undefined;
    this.failed = true;
    this.logger.warn(
      { err: error.message },
      'the thread that reads KubeArmor lines and feeder messages into rows stopped; they are read on the main thread from now on (nothing is lost, a backlog is slower)',
    );
    this.failWaiting(new PrepareThreadStopped(`the normalising thread stopped: ${error.message}`));
  }

  private failWaiting(error: Error): void {
    for (const { reject } of this.waiting.values()) reject(error);
    this.waiting.clear();
  }
}

/** The runs' lines one after another in memory of their own (allocUnsafeSlow: a pooled Buffer's memory cannot be moved). */
function packedLines(runs: readonly LineRun[]): { memory: ArrayBuffer; bounds: Int32Array } {
  let bytes = 0;
  let lines = 0;
  for (const run of runs) {
    bytes += run.span().length;
    lines += run.count;
  }
  const text = Buffer.allocUnsafeSlow(bytes);
  const bounds = new Int32Array(lines * 2);
  let at = 0;
  let line = 0;
  for (const run of runs) {
    const span = run.span();
    const shift = at - run.bounds[0]!;
    span.copy(text, at);
    for (let i = 0; i < run.bounds.length; i++) bounds[line * 2 + i] = run.bounds[i]! + shift;
    line += run.count;
    at += span.length;
  }
  return { memory: text.buffer as ArrayBuffer, bounds };
}
