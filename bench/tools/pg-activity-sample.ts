/**
 * Samples pg_stat_activity of one database while something runs against it and tells which statements
 * the server is busy with (or waiting on): the database side of "where the time goes".
 *
 *   node --import tsx bench/tools/pg-activity-sample.ts DATABASE_URL SECONDS
 */
import pg from 'pg';

const [url, secondsText] = process.argv.slice(2);
const client = new pg.Client({ connectionString: url });
await client.connect();
const db = (await client.query<{ d: string }>('SELECT current_database() AS d')).rows[0]!.d;
const counts = new Map<string, number>();
let samples = 0;
const end = performance.now() + Number(secondsText ?? 30) * 1000;
while (performance.now() < end) {
  const { rows } = await client.query<{ state: string; wait: string | null; query: string }>(
    `SELECT state, wait_event_type || ':' || wait_event AS wait, query FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'`,
    [db],
  );
  samples++;
  for (const r of rows) {
    const key = `${r.state} ${r.wait ?? 'cpu'} | ${r.query.replace(/\s+/g, ' ').slice(0, 140)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  await new Promise((r) => setTimeout(r, 50));
}
process.stdout.write(`${samples} samples\n`);
for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 20)) process.stdout.write(`${((n / samples) * 100).toFixed(0).padStart(4)} %  ${key}\n`);
await client.end();
