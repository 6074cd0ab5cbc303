/**
 * Baseline (a), the physical limit here: read the file and count its lines, nothing else.
 * Prints {"bytes":..,"lines":..} on stdout.
 */
import { forEachLine } from './lines.ts';

const path = process.argv[2];
if (!path) throw new Error('usage: count-lines.ts FILE');
let lines = 0;
const bytes = forEachLine(path, () => {
  lines++;
});
process.stdout.write(JSON.stringify({ bytes, lines }) + '\n');
