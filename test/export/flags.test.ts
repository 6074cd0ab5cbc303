/** -export-* flags through the real command: wrong outputs are start-up errors that say what to fix; Retry-After is read. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRetryAfter } from '../../src/export/outputs/output.ts';
import { projectRoot, runProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';

describe(`-export-* at start-up on ${preferredBackend}`, () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(preferredBackend)));
  after(() => target?.destroy());
  const run = (...flags: string[]) => runProcessor(['-once', '-audit-log-dir', join(projectRoot, 'examples/audit'), ...flags, ...target.flags]);

  it('refuses an -export-file it cannot open, a URL that is not http(s), and an unreadable header file', { timeout: 60_000 }, async () => {
    const file = await run('-export-file', '/nonexistent-dir/sessions.jsonl');
    assert.equal(file.code, 1);
    assert.match(file.stderr, /-export-file \/nonexistent-dir\/sessions.jsonl cannot be opened for appending \(ENOENT\); check that its directory exists/);
    const url = await run('-export-url', 'ftp://collector.example.com/x');
    assert.equal(url.code, 1);
    assert.match(url.stderr, /-export-url must be an http:\/\/ or https:\/\/ URL, not ftp:\/\//);
    const header = await run('-export-url', 'http://127.0.0.1:9/x', '-export-header', 'Authorization: Splunk @/nonexistent/token');
    assert.equal(header.code, 1);
    assert.match(header.stderr, /-export-header Authorization: cannot read \/nonexistent\/token \(ENOENT\)/);
  });
});

describe('Retry-After', () => {
  it('is read as seconds or an HTTP date, and capped at a minute', () => {
    const now = Date.parse('2025-10-19T14:00:00Z');
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter('Sun, 19 Oct 2025 14:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('86400', now), 60_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });
});
