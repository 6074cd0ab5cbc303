/**
 * Sessions received on the audit webhook go out like those read from files: the real command with
 * -enable-webhook and -export-file - (stdout, as a sidecar agent reads it). A session whose stages
 * come in two batches gives `opened` then `ended`; one whose stages come together gives `ended`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { collect, startProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { waitFor } from '../support/wait.ts';
import { allStages, eventList, execEvent, request } from '../ingest/webhook-support.ts';
import { readJsonLines } from './receiver.ts';

describe(`-enable-webhook with -export-file - on ${preferredBackend}`, () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(preferredBackend)));
  after(() => target?.destroy());

  it('writes each session document to stdout as a JSON line', { timeout: 90_000 }, async () => {
    const child = startProcessor(['-enable-webhook', '-webhook-port=0', '-http-port=0', '-export-file', '-', ...target.flags]);
    const done = collect(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    let url = '';
    try {
      await waitFor('the webhook to listen', () => {
        url = /audit webhook listening on (\S+)/.exec(stderr)?.[1]?.replace('localhost', '127.0.0.1') ?? '';
        return url !== '';
      }, 60_000);
      assert.equal((await request(url, eventList(allStages.map((s) => execEvent('whole', s))))).status, 200);
      assert.equal((await request(url, eventList([execEvent('split', 'RequestReceived'), execEvent('split', 'ResponseStarted')]))).status, 200);
      await waitFor('the opened document of the split session', () => readJsonLines(stdout).some((d) => d.session.auditId === 'split'), 30_000);
      assert.equal((await request(url, eventList([execEvent('split', 'ResponseComplete')]))).status, 200);
      await waitFor('three documents', () => readJsonLines(stdout).length >= 3, 30_000);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await done;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const documents = readJsonLines(stdout).map((d) => [d.session.auditId, d.sequence, d.event, d.session.endedAt === null]);
    assert.deepEqual(documents.filter((d) => d[0] === 'whole'), [['whole', 1, 'ended', false]]);
    assert.deepEqual(documents.filter((d) => d[0] === 'split'), [['split', 1, 'opened', true], ['split', 2, 'ended', false]]);
  });
});
