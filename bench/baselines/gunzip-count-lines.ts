/**
 * Baseline for the backfill-gz row, the `zcat | wc -l` of Node: each .gz file through a gunzip stream,
 * lines counted with Buffer.indexOf, nothing else. Prints {"bytes":<uncompressed>,"lines":..} on stdout.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';

const paths = process.argv.slice(2);
if (paths.length === 0) throw new Error('usage: gunzip-count-lines.ts FILE.gz...');
let lines = 0;
let bytes = 0;
for (const path of paths) {
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 1 << 20 }))) {
    const data = chunk as Buffer;
    bytes += data.length;
    for (let at = data.indexOf(0x0a); at !== -1; at = data.indexOf(0x0a, at + 1)) lines++;
  }
}
process.stdout.write(JSON.stringify({ bytes, lines }) + '\n');
