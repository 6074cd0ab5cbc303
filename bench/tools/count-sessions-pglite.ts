/**
 * Counts the EXEC rows in a PGlite data directory (PGlite allows one process per directory, so the
 * bench asks from a child once the processor has exited). Prints the number.
 */
import { PGlite } from '@electric-sql/pglite';

const db = new PGlite(process.argv[2]!);
const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM change_events WHERE operation = 'EXEC'`);
process.stdout.write(`${rows[0]!.n}\n`);
await db.close();
