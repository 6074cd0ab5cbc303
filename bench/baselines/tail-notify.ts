/**
 * Tail-latency baseline: the least a follower that commits each line can do. Watches FILE with fs.watch,
 * reads what was appended, and for each complete line commits `pg_notify(CHANNEL, auditID)` on Postgres.
 *
 *   tail-notify.ts FILE DATABASE_URL CHANNEL
 *
 * Prints "ready" once it follows the file.
 */
import { openSync, readSync, statSync, watch } from 'node:fs';
import pg from 'pg';

const [file, url, channel] = process.argv.slice(2) as [string, string, string];
const client = new pg.Client({ connectionString: url });
await client.connect();
const fd = openSync(file, 'r');
let offset = statSync(file).size;
let carry = '';
let busy = false;
let again = false;

async function drain(): Promise<void> {
  if (busy) {
    again = true;
    return;
  }
  busy = true;
  do {
    again = false;
    const size = statSync(file).size;
    if (size <= offset) continue;
    const buffer = Buffer.alloc(size - offset);
    const read = readSync(fd, buffer, 0, buffer.length, offset);
    offset += read;
    const lines = (carry + buffer.toString('utf8', 0, read)).split('\n');
    carry = lines.pop() ?? '';
    for (const line of lines) {
      const id = /"auditID":"([^"]+)"/.exec(line)?.[1];
      if (id) await client.query('SELECT pg_notify($1, $2)', [channel, id]);
    }
  } while (again);
  busy = false;
}

watch(file, () => void drain());
process.stdout.write('ready\n');
process.on('SIGTERM', () => void client.end().finally(() => process.exit(0)));
