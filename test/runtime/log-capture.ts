/** A real pino logger whose JSON lines are kept in memory, to assert on what an operator would read. */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export function captureLogger(level = 'debug'): { logger: Logger; lines: () => LogLine[] } {
  const captured: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) if (text) captured.push(JSON.parse(text) as LogLine);
      callback();
    },
  });
  return { logger: pino({ level }, sink), lines: () => [...captured] };
}
