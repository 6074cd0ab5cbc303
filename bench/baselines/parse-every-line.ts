/**
 * Baseline (b), the naive approach: JSON.parse every line, then ask the processor's own classifier
 * (src/audit/classify.ts) whether it is interactive access. No pre-filter, no storage.
 * Prints {"bytes":..,"lines":..,"matched":..,"bad":..} on stdout.
 */
import { classifyRequest } from '../../src/audit/classify.ts';
import type { AuditEvent } from '../../src/audit/event.ts';
import { forEachLine } from './lines.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: parse-every-line.ts FILE');
let lines = 0;
let matched = 0;
let bad = 0;
const bytes = forEachLine(path, (data, start, end) => {
  lines++;
  let event: AuditEvent;
  try {
    event = JSON.parse(data.toString('utf8', start, end)) as AuditEvent;
  } catch {
    bad++;
    return;
  }
  if (classifyRequest(event)) matched++;
});
process.stdout.write(JSON.stringify({ bytes, lines, matched, bad }) + '\n');
