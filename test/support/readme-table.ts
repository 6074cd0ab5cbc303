/** The rows of a table in README.md under a `## Heading`: the first column's `code` and the other cells. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function readmeTable(heading: string): { key: string; cells: string[] }[] {
  const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start === -1) throw new Error(`README.md has no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const rows: { key: string; cells: string[] }[] = [];
  for (const line of section.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const key = /^`([^`]+)`$/.exec(cells[0] ?? '')?.[1];
    if (key) rows.push({ key, cells: cells.slice(1) });
  }
  return rows;
}
