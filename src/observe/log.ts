/**
 * The one logger: structured JSON lines on stderr (pino). stdout is kept for what a command prints on
 * purpose (summaries, query results).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info'): Logger {
  return pino(
    {
      level,
      base: { app: 'exectrail' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Secrets never reach a log line, whatever a caller passes in.
      redact: { paths: ['password', 'token', '*.password', '*.token', 'authorization', '*.authorization'], censor: '[REDACTED]' },
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A URL safe to log: the password (and any token query parameter) replaced. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'REDACTED';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/pass|token|secret/i.test(key)) parsed.searchParams.set(key, 'REDACTED');
    }
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

/** A logger that drops everything, for tests and pure code paths. */
export const silentLogger: Logger = pino({ level: 'silent' });
