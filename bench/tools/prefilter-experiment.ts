/**
 * Experiment behind the "where the time goes" notes in bench/README.md: the cost of the audit
 * pre-filter on the realistic log, against a candidate that scans each line once.
 *
 *   node --import tsx bench/tools/prefilter-experiment.ts FILE
 *
 * Prints ns/line and MB/s for: one full scan of each line (the floor of any byte test), the current
 * src/audit/prefilter.ts mayBeInteractiveAccess, and the five-marker version it replaced.
 */
import { mayBeInteractiveAccess } from '../../src/audit/prefilter.ts';
import { forEachLine } from '../baselines/lines.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: prefilter-experiment.ts FILE');

// The pre-filter before commit 3aeeb8d: five quoted markers, each searched in every line.
const quotedMarkers = ['exec', 'attach', 'portforward', 'ephemeralcontainers', 'proxy'].map((w) => ({ quoted: Buffer.from(`"${w}`), length: w.length + 1 }));
function fiveQuotedMarkers(line: Buffer): boolean {
  for (const marker of quotedMarkers) {
    for (let at = line.indexOf(marker.quoted); at !== -1; at = line.indexOf(marker.quoted, at + 1)) {
      const next = line[at + marker.length];
      if (next === 0x22 || next === 0x5c) return true;
    }
  }
  return false;
}

const lines: Buffer[] = [];
forEachLine(path, (data, start, end) => lines.push(Buffer.from(data.subarray(start, end))));
const bytes = lines.reduce((n, l) => n + l.length + 1, 0);

function time(name: string, fn: (line: Buffer) => boolean): void {
  let hits = 0;
  for (let round = 0; round < 2; round++) {
    hits = 0;
    const t = performance.now();
    for (const line of lines) if (fn(line)) hits++;
    const ms = performance.now() - t;
    if (round === 1)
      process.stdout.write(`${name.padEnd(44)} ${((ms * 1e6) / lines.length).toFixed(0).padStart(6)} ns/line ${(bytes / 1048576 / (ms / 1000)).toFixed(0).padStart(6)} MB/s  ${hits} lines pass\n`);
  }
}

process.stdout.write(`${lines.length} lines, ${(bytes / 1048576).toFixed(0)} MB\n`);
time('newline search only (floor)', (l) => l.indexOf(0x0a) !== -1);
time('src/audit/prefilter.ts mayBeInteractiveAccess', mayBeInteractiveAccess);
time('five quoted markers (before 3aeeb8d)', fiveQuotedMarkers);
time('src/audit/prefilter.ts, again (order effects)', mayBeInteractiveAccess);
