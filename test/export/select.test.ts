/** Which sessions are exported: -export-namespaces globs, -export-denied, -export-alerts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileSelection, everything, globToRegExp } from '../../src/export/select.ts';
import type { SessionSummary } from '../../src/timeline/records.ts';

const session = (namespace: string, allowed: boolean, alertCount: number) => ({ namespace, allowed, alertCount }) as SessionSummary;

describe('the export selection', () => {
  it('matches namespace globs whole, with * and ? only', () => {
    assert.ok(globToRegExp('prod-*').test('prod-eu'));
    assert.ok(!globToRegExp('prod-*').test('preprod-eu'));
    assert.ok(globToRegExp('team-?').test('team-a'));
    assert.ok(!globToRegExp('team-?').test('team-ab'));
    assert.ok(!globToRegExp('a.b').test('axb'), 'a dot is a dot');
    assert.ok(globToRegExp('(x)+[y]').test('(x)+[y]'), 'regex characters are literal');
  });

  it('exports every session by default, and each filter narrows it', () => {
    const sessions = [session('prod-eu', true, 0), session('prod-eu', false, 0), session('staging', true, 2), session('', false, 0)];
    const pick = (selection: Parameters<typeof compileSelection>[0]) => sessions.filter(compileSelection(selection));
    assert.equal(pick(everything).length, 4);
    assert.deepEqual(pick({ ...everything, namespaces: ['prod-*', 'stag*'] }).map((s) => s.namespace), ['prod-eu', 'prod-eu', 'staging']);
    assert.deepEqual(pick({ ...everything, deniedOnly: true }).map((s) => s.namespace), ['prod-eu', '']);
    assert.deepEqual(pick({ ...everything, alertsOnly: true }).map((s) => s.namespace), ['staging']);
    assert.deepEqual(pick({ namespaces: ['prod-*'], deniedOnly: true, alertsOnly: false }).map((s) => [s.namespace, s.allowed]), [['prod-eu', false]]);
  });
});
