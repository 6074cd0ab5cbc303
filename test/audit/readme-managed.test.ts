/** The README's "Managed clusters" table names exactly the shapes the tests build and hold to the native rows. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { projectRoot } from '../support/cli.ts';
import { managedShapes, nativeEvents, singleDocumentShapes } from './managed-shapes.ts';

describe('README managed clusters', () => {
  it('every shape the table names is a tested shape, and every tested shape is in the table', () => {
    const readme = readFileSync(`${projectRoot}README.md`, 'utf8');
    const section = readme.split('\n## Managed clusters\n')[1]?.split('\n## ')[0];
    assert.ok(section, 'the README has a "Managed clusters" section');
    const named = [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1]);
    const tested = [...managedShapes(nativeEvents()).map((s) => s.name), ...singleDocumentShapes];
    assert.deepEqual([...named].sort(), [...tested].sort());
  });
});
