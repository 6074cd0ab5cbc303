/** The README's "Bad input" table lists every bad_input reason the code can count, and nothing else. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { badInputReasons } from '../../src/observe/bad-input.ts';
import { readmeTable } from '../support/readme-table.ts';

describe('bad_input reasons', () => {
  it('the README lists exactly the declared reasons', () => {
    const documented = readmeTable('Bad input').map((row) => row.key);
    assert.deepEqual([...documented].sort(), Object.keys(badInputReasons).sort());
  });
});
