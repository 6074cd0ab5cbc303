/**
 * Baseline for JSON-lines input (the runtime-file row): JSON.parse every line of the files, nothing else.
 * Prints {"bytes":..,"lines":..,"bad":..} on stdout.
 */
import { forEachLine } from './lines.ts';

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: json-parse-lines.ts FILE...');
let lines = 0;
let bad = 0;
let bytes = 0;
for (const path of paths) {
  bytes += forEachLine(path, (data, start, end) => {
    lines++;
    try {
      JSON.parse(data.toString('utf8', start, end));
    } catch {
      bad++;
    }
  });
}
process.stdout.write(JSON.stringify({ bytes, lines, bad }) + '\n');
