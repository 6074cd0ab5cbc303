/**
 * The README's session field table is the one generated from the zod schemas: a field added to
 * session.ts without its documentation fails here. `UPDATE_README=1` rewrites the table.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { sessionFieldTable } from '../../src/audit/session-fields.ts';
import { projectRoot } from '../support/cli.ts';

const start = '<!-- session-fields:start -->';
const end = '<!-- session-fields:end -->';

describe('README session fields', () => {
  it('documents every field of actor, source and exec_metadata, as the schemas declare them', () => {
    const path = `${projectRoot}README.md`;
    const readme = readFileSync(path, 'utf8');
    const from = readme.indexOf(start);
    const to = readme.indexOf(end);
    assert.ok(from !== -1 && to > from, `README.md needs the markers ${start} ... ${end}`);
    const current = readme.slice(from + start.length, to).trim();
    const table = sessionFieldTable();
    if (process.env.UPDATE_README === '1' && current !== table) {
      writeFileSync(path, `${readme.slice(0, from + start.length)}\n${table}\n${readme.slice(to)}`);
      return;
    }
    assert.equal(current, table, 'README field table is stale: run UPDATE_README=1 node --import tsx --test test/audit/readme-fields.test.ts');
  });
});
