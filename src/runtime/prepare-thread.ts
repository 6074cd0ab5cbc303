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
import type { Redaction } from '../audit/redact.ts';
import type { LineRun } from '../ingest/line-splitter.ts';
import { WorkerThread } from '../ingest/worker-thread.ts';
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

export class PrepareThread {
  private readonly thread: WorkerThread<PrepareAnswer>;

  constructor(settings: PrepareSettings, logger: Logger) {
    this.thread = new WorkerThread({
      callerUrl: import.meta.url,
      module: 'prepare-thread-worker',
      title: 'the normalising thread',
      stopped: (message) => new PrepareThreadStopped(message),
      stoppedWarning:
        'the thread that reads KubeArmor lines and feeder messages into rows stopped; they are read on the main thread from now on (nothing is lost, a backlog is slower)',
      logger,
      firstMessage: { type: 'settings', settings } satisfies PrepareRequest,
    });
  }

  /** False once the thread failed: batches are then prepared inline. */
  get usable(): boolean {
    return this.thread.usable;
  }

  async prepareLines(runs: readonly LineRun[], receivedAt: string): Promise<PreparedRuntimeLines> {
    const answer = await this.thread.request(this.thread.running(), (seq) => {
      const { memory, bounds } = packedLines(runs);
      return { message: { type: 'lines', seq, receivedAt, memory, bounds } satisfies PrepareRequest, transfer: [memory, bounds.buffer as ArrayBuffer] };
    });
    return answer.result as PreparedRuntimeLines;
  }

  async prepareMessages(messages: readonly FeederMessage[]): Promise<PreparedFeederMessages> {
    const answer = await this.thread.request(this.thread.running(), (seq) => {
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
      const transfer = [memory, bounds.buffer, kinds.buffer, receivedAtMs.buffer] as ArrayBuffer[];
      return { message: { type: 'messages', seq, memory, bounds, kinds, receivedAtMs } satisfies PrepareRequest, transfer };
    });
    return answer.result as PreparedFeederMessages;
  }

  /** Ends the thread (the source stopped); a batch still waiting fails. */
  close(): Promise<void> {
    return this.thread.close('the source stopped');
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
