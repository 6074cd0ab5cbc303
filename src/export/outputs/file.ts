/**
 * -export-file PATH: one session document per line (JSON lines), appended; `-` writes to stdout. What
 * Fluentd, Fluent Bit, Vector and the cloud agents tail. A batch counts as delivered once it is written
 * and flushed to the disk (fdatasync), so a crash after that loses nothing; a crash between the write
 * and the outbox update re-writes those lines (same deliveryId) on restart.
 */
import { open } from 'node:fs/promises';
import type { SessionDocument } from '../document.ts';
import { describeSendError, type Batching, type ExportOutput, type SendResult } from './output.ts';

export class FileOutput implements ExportOutput {
  readonly id: string;
  readonly batching: Batching = { size: 500, delayMs: 0, onePerSession: false };

  constructor(private readonly path: string) {
    this.id = `file:${path}`;
  }

  wants(): boolean {
    return true;
  }

  async send(documents: readonly SessionDocument[]): Promise<SendResult> {
    const text = documents.map((d) => `${JSON.stringify(d)}\n`).join('');
    try {
      if (this.path === '-') {
        await new Promise<void>((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
        return { outcome: 'delivered' };
      }
      // Opened per batch: after logrotate renames the file, the next batch goes to a new one at PATH.
      const handle = await open(this.path, 'a');
      try {
        await handle.write(text);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      return { outcome: 'delivered' };
    } catch (error) {
      return { outcome: 'retry', error: describeSendError(error) };
    }
  }

  async close(): Promise<void> {}
}
