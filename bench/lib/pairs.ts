/**
 * Alternating pairs: a row runs its measured command and its baseline one after the other, N times,
 * swapping which goes first in every pair (measured first in pairs 1, 3, ...; baseline first in 2, 4,
 * ...), so neither side always gets the warmer page cache or the quieter moment of a shared machine.
 * The row reports the median of each side and the ratio of the medians; min and max go in the note.
 */

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every value, in run order. */
  values: number[];
}

/** Median (the mean of the middle two for an even count), min and max. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) throw new Error('spread of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, values: [...values] };
}

export interface PairRuns<M, B> {
  measured: M[];
  baseline: B[];
  pairs: number;
}

/**
 * Runs `pairs` alternating pairs. `measured(i)` and `baseline(i)` each do one complete run (start-up
 * included) and return what the row needs from it.
 */
export async function alternatingPairs<M, B>(
  pairs: number,
  measured: (pair: number) => Promise<M>,
  baseline: (pair: number) => Promise<B>,
  log?: (message: string) => void,
): Promise<PairRuns<M, B>> {
  const out: PairRuns<M, B> = { measured: [], baseline: [], pairs };
  for (let i = 0; i < pairs; i++) {
    if (pairs > 1) log?.(`  pair ${i + 1} of ${pairs} (${i % 2 === 0 ? 'measured first' : 'baseline first'})`);
    if (i % 2 === 0) {
      out.measured.push(await measured(i));
      out.baseline.push(await baseline(i));
    } else {
      out.baseline.push(await baseline(i));
      out.measured.push(await measured(i));
    }
  }
  return out;
}

const short = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** "median of 3 pairs (min 1.2, max 1.9)", or "1 run" when there was a single pair. */
export function spreadText(s: Spread, unit = ''): string {
  const u = unit ? ` ${unit}` : '';
  if (s.values.length === 1) return '1 run';
  return `median of ${s.values.length} (min ${short(s.min)}${u}, max ${short(s.max)}${u})`;
}

/** The note part that says how a figure and its baseline were taken. */
export function pairsNote(measured: Spread, baseline: Spread, unit = ''): string {
  if (measured.values.length === 1) return 'one pair (quick run: not a median)';
  return `${measured.values.length} alternating pairs; measured ${spreadText(measured, unit)}, baseline ${spreadText(baseline, unit)}`;
}

/** "CPU-bound" / "waiting" from the processor's own CPU time over its wall time. */
export function boundBy(cpuSeconds: number, wallSeconds: number, waitingOn = 'the database'): string {
  const share = cpuSeconds / Math.max(1e-9, wallSeconds);
  const pct = Math.round(share * 100);
  if (share >= 0.85) return `processor CPU ${pct} % of one core: CPU-bound in the processor`;
  if (share >= 0.5) return `processor CPU ${pct} % of one core: partly CPU-bound, partly waiting on ${waitingOn}`;
  return `processor CPU ${pct} % of one core: mostly waiting (on ${waitingOn})`;
}

/** The run at the median of `key` (the lower middle for an even count): its CPU share and RSS describe a typical run. */
export function medianRun<T>(runs: readonly T[], key: (run: T) => number): T {
  const sorted = [...runs].sort((a, b) => key(a) - key(b));
  return sorted[(sorted.length - 1) >> 1]!;
}
