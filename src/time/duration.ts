/**
 * Durations as people write and read them: the one parser (flags, API parameters, time bounds) and the
 * one formatter (session lengths in timelines and reports, backlog times and ETAs, retry delays in log
 * lines).
 */

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `500ms`, `2s`, `1.5h`, `30d` → milliseconds; `0`, `off`, `none` → 0. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '0' || trimmed === 'off' || trimmed === 'none') return 0;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(trimmed);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * durationUnits[match[2]!]!);
}

/** 250 → "250ms", 1234.5 → "1.2s", 299900 → "4m 59.9s", 7380000 → "2h 3m". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${(seconds - minutes * 60).toFixed(1)}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}
