/**
 * Checkpoint submission (Vector's checkpointer): lines go to the sink in batches, and a batch's end
 * position is saved in file_checkpoints only once that batch and every one before it are committed
 * (commit-pipeline.ts keeps that order and the backpressure). What the readers call to hand lines on.
 */
import type { Checkpoint, CheckpointStore } from './checkpoints.ts';
import { CommitPipeline } from './commit-pipeline.ts';
import type { FileSourceEvents } from './file-source-events.ts';
import type { LineSink } from './line-sink.ts';
import type { LineRun } from './line-splitter.ts';

/** One read of one file, from a start position to its end. */
export interface Visit {
  path: string;
  fingerprint: string;
  /** End offset of the last batch submitted. */
  submittedEnd: number;
  lines: number;
  bytes: number;
  /** Called with each saved position once its batch is committed. */
  onCommitted?: (offset: number) => void;
}

export function startVisit(path: string, fingerprint: string, offset: number, onCommitted?: (offset: number) => void): Visit {
  return { path, fingerprint, submittedEnd: offset, lines: 0, bytes: 0, onCommitted };
}

export class FileCheckpointer {
  private readonly pipeline: CommitPipeline;
  /** Fingerprints of files lines were read from: the `-once` summary's file count. */
  private readonly readFrom = new Set<string>();

  constructor(
    sink: LineSink,
    private readonly checkpoints: CheckpointStore,
    private readonly events: FileSourceEvents,
    maxBatchesInFlight: number,
  ) {
    this.pipeline = new CommitPipeline(sink, maxBatchesInFlight);
  }

  get filesRead(): number {
    return this.readFrom.size;
  }

  load(): Promise<void> {
    return this.checkpoints.load();
  }

  get(fingerprint: string): Checkpoint | undefined {
    return this.checkpoints.get(fingerprint);
  }

  /** Saves a position now, with no lines before it to wait for (-start-at=end). */
  saveNow(fingerprint: string, checkpoint: Checkpoint): Promise<void> {
    return this.checkpoints.save(fingerprint, checkpoint);
  }

  /**
   * Hands `runs` (the clean lines of `count` lines read, ending at `endOffset`) to the sink; their
   * position is saved once they are committed. Waits while too many batches are outstanding.
   */
  async submit(visit: Visit, runs: LineRun[], count: number, endOffset: number, completed = false): Promise<void> {
    if (count === 0 && endOffset === visit.submittedEnd) return;
    const consumed = Math.max(0, endOffset - visit.submittedEnd);
    visit.submittedEnd = endOffset;
    visit.lines += count;
    visit.bytes += consumed;
    this.events.linesRead(count, consumed);
    if (count > 0) this.readFrom.add(visit.fingerprint);
    const { path, fingerprint, onCommitted } = visit;
    await this.pipeline.submit({ runs, path, fingerprint, endOffset }, async () => {
      await this.checkpoints.save(fingerprint, { path, offset: endOffset, completed });
      this.events.checkpointSaved(path, endOffset, completed);
      onCommitted?.(endOffset);
    });
  }

  /** Saves `offset` as the end of a finished file (after everything before it), unless already saved so. */
  async saveCompleted(path: string, fingerprint: string, offset: number): Promise<void> {
    const saved = this.checkpoints.get(fingerprint);
    if (saved && saved.offset === offset && saved.completed && saved.path === path) return;
    await this.pipeline.submit({ runs: [], path, fingerprint, endOffset: offset }, async () => {
      await this.checkpoints.save(fingerprint, { path, offset, completed: true });
      this.events.checkpointSaved(path, offset, true);
    });
    await this.pipeline.drain();
  }

  /** Waits until everything submitted is committed and saved; throws the first failure. */
  drain(): Promise<void> {
    return this.pipeline.drain();
  }

  /** After a failure: lets what is outstanding settle and starts over. */
  reset(): Promise<void> {
    return this.pipeline.reset();
  }
}
