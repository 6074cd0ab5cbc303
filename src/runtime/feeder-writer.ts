/**
 * Stores the queue's batches of feeder messages (queue.ts): each batch is decoded and normalised on the
 * normalising thread (prepare-thread.ts), inline when it is small or the thread stopped, then written by
 * the one writer. What became of each message (received, repaired, refused) is counted and logged once
 * its batch is stored: a batch the database did not take is retried by the queue, and is then prepared
 * again, not counted twice.
 */
import type { Logger } from '../observe/log.ts';
import type { Metrics } from '../observe/metrics.ts';
import type { FeederStreamName } from './feeder-client.ts';
import { prepareFeederMessages, type FeederMessage, type FeederMessageSettings, type PreparedFeederMessages } from './feeder-messages.ts';
import { PrepareThread, PrepareThreadStopped } from './prepare-thread.ts';
import type { BatchWriter } from './queue.ts';
import type { RuntimeEventWriter } from './writer.ts';

/** A batch of at least this many messages is prepared on the thread; fewer (a quiet cluster's trickle) inline. */
export const ON_THREAD_FROM_MESSAGES = 64;

/** A message in the queue: which stream it came from, for the log line of one that is refused. */
export interface QueuedFeederMessage extends FeederMessage {
  labels: { address: string; stream: FeederStreamName };
}

export interface FeederBatchWriterOptions {
  writer: Pick<RuntimeEventWriter, 'writePrepared' | 'operationsKept'>;
  settings: Omit<FeederMessageSettings, 'operations'>;
  metrics: Metrics;
  logger: Logger;
  /** Where batches are prepared: a thread it is given (and does not end), by default one of its own; false: inline. */
  thread?: PrepareThread | false;
}

export class FeederBatchWriter implements BatchWriter<QueuedFeederMessage> {
  private readonly settings: FeederMessageSettings;
  private readonly thread: PrepareThread | undefined;

  constructor(private readonly options: FeederBatchWriterOptions) {
    this.settings = { ...options.settings, operations: options.writer.operationsKept };
    this.thread = options.thread === false ? undefined : (options.thread ?? new PrepareThread(this.settings, options.logger));
  }

  async write(messages: QueuedFeederMessage[]): Promise<void> {
    const result = await this.prepare(messages);
    const { prepared } = result;
    if (prepared.rows.events.length > 0 || Object.keys(prepared.filtered).length > 0) await this.options.writer.writePrepared(prepared);
    this.count(result, messages);
  }

  /** Ends the thread if it started its own. */
  async close(): Promise<void> {
    if (this.options.thread === undefined) await this.thread?.close();
  }

  private async prepare(messages: QueuedFeederMessage[]): Promise<PreparedFeederMessages> {
    if (this.thread?.usable && messages.length >= ON_THREAD_FROM_MESSAGES) {
      try {
        return await this.thread.prepareMessages(messages);
      } catch (error) {
        // The batch still holds its messages: prepare them here (the thread said why, once).
        if (!(error instanceof PrepareThreadStopped)) throw error;
      }
    }
    return prepareFeederMessages(messages, this.settings);
  }

  private count(result: PreparedFeederMessages, messages: readonly QueuedFeederMessage[]): void {
    const { metrics, logger } = this.options;
    metrics.runtimeEventsReceived.inc({ source: 'grpc' }, result.events);
    for (const [reason, n] of Object.entries(result.repaired)) metrics.badInput.inc({ reason }, n);
    for (const { index, reason, detail } of result.rejected) {
      metrics.badInput.inc({ reason });
      logger.warn({ ...messages[index]!.labels, reason, detail }, 'skipped a feeder message that is not a valid event');
    }
  }
}
