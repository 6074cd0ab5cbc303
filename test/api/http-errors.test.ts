/** The README's "HTTP errors" table lists every declared error, with its status, and nothing else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { httpErrors } from '../../src/api/http-errors.ts';
import { readmeTable } from '../support/readme-table.ts';

describe('HTTP errors', () => {
  it('the README lists every declared error with its status, and no other', () => {
    const documented = readmeTable('HTTP errors').map((row) => `${row.key} ${row.cells[0]}`);
    const declared = Object.values(httpErrors).map((spec) => `${spec.code} ${spec.status}`);
    assert.deepEqual([...documented].sort(), [...declared].sort());
  });

  it('each error is declared under its own code', () => {
    for (const [name, spec] of Object.entries(httpErrors)) assert.equal(spec.code, name);
  });
});
