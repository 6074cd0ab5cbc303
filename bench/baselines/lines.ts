/**
 * The line reader both baselines share: the file in 1 MiB reads (the processor's chunk size), lines found
 * with Buffer.indexOf. Synchronous on purpose: nothing else runs in a baseline process.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const NEWLINE = 0x0a;

/** Calls onLine(buffer, start, end) for every complete line; returns bytes read. */
export function forEachLine(path: string, onLine: (data: Buffer, start: number, end: number) => void, chunkBytes = 1 << 20): number {
  const fd = openSync(path, 'r');
  let total = 0;
  try {
    let buffer = Buffer.allocUnsafe(chunkBytes);
    let carried = 0;
    for (;;) {
      if (carried === buffer.length) {
        // A line longer than the buffer: grow it.
        const bigger = Buffer.allocUnsafe(buffer.length * 2);
        buffer.copy(bigger, 0, 0, carried);
        buffer = bigger;
      }
      const read = readSync(fd, buffer, carried, buffer.length - carried, null);
      if (read === 0) break;
      total += read;
      const end = carried + read;
      let start = 0;
      for (let nl = buffer.indexOf(NEWLINE, 0); nl !== -1 && nl < end; nl = buffer.indexOf(NEWLINE, start)) {
        onLine(buffer, start, nl);
        start = nl + 1;
      }
      carried = end - start;
      buffer.copy(buffer, 0, start, end);
    }
  } finally {
    closeSync(fd);
  }
  return total;
}
