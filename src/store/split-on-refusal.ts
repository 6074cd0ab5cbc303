/**
 * One refused value must not fail everything written with it: a batch the database refuses for its
 * content is split in halves, down to the single item at fault, which is reported and skipped. Both
 * writers (sessions, runtime events) store through this.
 */

/**
 * The database refused a batch for what it holds, not for its state: SQLSTATE class 22 (data exception),
 * 23 (integrity; but not 23514 "no partition for the row", which a writer cures by making the partition)
 * or 54 (program limit, e.g. an index entry too large). Connection errors and timeouts are not.
 */
export function isRefusedContent(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)/.test(code) && code !== '23514';
}

/**
 * Stores `items` with `store` (one transaction), splitting on refusal; `refused` is told of each single
 * item still refused, with the SQLSTATE (never the message: it may quote the value). Other errors are thrown.
 */
export async function storeSplitting<T>(items: T[], store: (batch: T[]) => Promise<void>, refused: (item: T, sqlstate: string) => void): Promise<void> {
  try {
    await store(items);
  } catch (error) {
    if (!isRefusedContent(error)) throw error;
    if (items.length === 1) {
      refused(items[0]!, (error as { code: string }).code);
      return;
    }
    const half = Math.ceil(items.length / 2);
    await storeSplitting(items.slice(0, half), store, refused);
    await storeSplitting(items.slice(half), store, refused);
  }
}
