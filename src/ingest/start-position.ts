/**
 * Where reading a file starts, decided in one place for plain files and .gz alike (the loop then does
 * what the decision says). Pure: the caller brings what it knows about the file and its checkpoint.
 *
 * - Content read to its end before (a completed checkpoint) and compressed: a copy, skipped whole.
 * - Content seen before: resume at its checkpoint, unless a plain file is now shorter than that
 *   position (truncated and rewritten with the same first line while we were away): from the start.
 * - Content never seen: from the start, or with `-start-at=end` for files already there at startup,
 *   from the end of its last complete line.
 */
import type { Checkpoint } from './checkpoints.ts';

export type StartDecision =
  /** The same content was read to its end under `same` (a .gz of a backup already read). */
  | { start: 'skip-copy'; same: string }
  /** Read from `offset` (decompressed bytes for .gz). */
  | { start: 'offset'; offset: number; why: 'checkpoint' | 'new' | 'shorter-than-checkpoint' }
  /** -start-at=end for content never seen: the caller finds the end of its last line and saves it. */
  | { start: 'end' };

export interface StartInput {
  gzip: boolean;
  checkpoint: Checkpoint | undefined;
  /** A plain file's size now; undefined for .gz (its decompressed size is not known without reading it). */
  size: number | undefined;
  /** The first pass after startup, when -start-at applies. */
  initial: boolean;
  startAt: 'beginning' | 'end';
}

export function decideStart({ gzip, checkpoint, size, initial, startAt }: StartInput): StartDecision {
  if (checkpoint) {
    if (gzip && checkpoint.completed) return { start: 'skip-copy', same: checkpoint.path };
    if (size !== undefined && checkpoint.offset > size) return { start: 'offset', offset: 0, why: 'shorter-than-checkpoint' };
    return { start: 'offset', offset: checkpoint.offset, why: 'checkpoint' };
  }
  if (initial && startAt === 'end') return { start: 'end' };
  return { start: 'offset', offset: 0, why: 'new' };
}
