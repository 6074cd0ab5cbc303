/**
 * The one duration formatter, for everything people read: session lengths in timelines and reports,
 * backlog times and ETAs, retry delays in log lines.
 */

/** 250 → "250ms", 1234.5 → "1.2s", 299900 → "4m 59.9s", 7380000 → "2h 3m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${(seconds - minutes * 60).toFixed(1)}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}
