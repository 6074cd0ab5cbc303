/**
 * Read positions of files, in table `file_checkpoints`, keyed by (cluster, fingerprint). A position is
 * saved only after everything read before it has been committed by the sink, so after a crash reading
 * resumes where the committed data ends (at worst re-reading the last batch, which the sinks store
 * idempotently).
 *
 * The stored fingerprint is prefixed with a scope (`audit:`, `kubearmor:`) so two sources reading
 * the same bytes for different purposes keep separate positions.
 */
import type { Queryable } from '../store/database.ts';

export interface Checkpoint {
  /** The path the file had when the position was last saved (for people; identity is the fingerprint). */
  path: string;
  /** Bytes of the file (decompressed for .gz) whose lines are committed. */
  offset: number;
  /** The file is finished and read to its end (a gzipped backup, a drained backup): do not reread it. */
  completed: boolean;
}

export class CheckpointStore {
  private readonly known = new Map<string, Checkpoint>();

  constructor(
    private readonly db: Queryable,
    private readonly cluster: string,
    private readonly scope: string,
  ) {}

  /** Loads every saved position of this cluster and scope. */
  async load(): Promise<void> {
    const { rows } = await this.db.query<{ fingerprint: string; path: string; offset: number; completed: boolean }>(
      `SELECT fingerprint, path, "offset", completed FROM file_checkpoints WHERE cluster = $1 AND starts_with(fingerprint, $2)`,
      [this.cluster, `${this.scope}:`],
    );
    this.known.clear();
    for (const row of rows) {
      this.known.set(row.fingerprint.slice(this.scope.length + 1), { path: row.path, offset: Number(row.offset), completed: row.completed });
    }
  }

  get(fingerprint: string): Checkpoint | undefined {
    return this.known.get(fingerprint);
  }

  /**
   * Saves a position. The offset may move backwards: a file truncated and rewritten with the same first
   * line keeps its fingerprint and is read again from 0.
   */
  async save(fingerprint: string, checkpoint: Checkpoint): Promise<void> {
    await this.db.query(
      `INSERT INTO file_checkpoints (cluster, fingerprint, path, "offset", completed, updated_at)
       VALUES ($1, $2, $3, $4, $5, now())
       ON CONFLICT (cluster, fingerprint) DO UPDATE
       SET path = EXCLUDED.path, "offset" = EXCLUDED."offset", completed = EXCLUDED.completed, updated_at = now()`,
      [this.cluster, `${this.scope}:${fingerprint}`, checkpoint.path, checkpoint.offset, checkpoint.completed],
    );
    this.known.set(fingerprint, { ...checkpoint });
  }
}
