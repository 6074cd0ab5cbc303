/**
 * What the command line prints survives a pipe: `sessions -format json | jq` and `timeline -format
 * markdown | ...` get the same bytes as a redirect to a file, for output well over the 64 KiB a pipe
 * holds, on both backends.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { normalizeRuntimeEvent, type RuntimeEvent } from '../../src/runtime/event.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { execStages } from '../support/audit-event.ts';
import { processorEntry, projectRoot } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { kubeArmorLog } from '../support/hostile-input.ts';

/** Runs the processor through /bin/sh with its stdout piped into cat, then redirected to a file: both outputs. */
function pipedAndRedirected(args: string[], dir: string): { piped: Buffer; redirected: Buffer } {
  const command = [process.execPath, processorEntry(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const piped = join(dir, 'piped.out');
  const redirected = join(dir, 'redirected.out');
  execFileSync('/bin/sh', ['-c', `${command} | cat > '${piped}'`], { cwd: projectRoot, env: { ...process.env, DATABASE_URL: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  execFileSync('/bin/sh', ['-c', `${command} > '${redirected}'`], { cwd: projectRoot, env: { ...process.env, DATABASE_URL: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  return { piped: readFileSync(piped), redirected: readFileSync(redirected) };
}

for (const backend of backends) {
  describe(`command output through a pipe, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      dir = mkdtempSync(join(tmpdir(), 'exectrail-pipes-'));
      const db = await target.open();
      try {
        const stages = Array.from({ length: 2500 }, (_, n) =>
          execStages({ auditID: `pipe-${n}`, pod: 'web-0', namespace: 'shop', command: ['sh', '-c', `echo ${n}`], received: `2025-10-19T14:${String(10 + Math.floor(n / 60) % 50).padStart(2, '0')}:${String(n % 60).padStart(2, '0')}.${String(n).padStart(6, '0')}Z` }),
        ).flat();
        await new SessionWriter(db).write(stages.flatMap((e) => sessionsFromLine(Buffer.from(JSON.stringify(e)), { cluster: '' }).rows));
        const events = Array.from({ length: 6000 }, (_, n) => {
          const outcome = normalizeRuntimeEvent({ ...kubeArmorLog(n, `event-${n}`), NamespaceName: 'shop', PodName: 'web-0', UpdatedTime: `2025-10-19T14:30:${String(n % 60).padStart(2, '0')}.${String(n).padStart(6, '0')}Z` }, { cluster: '' });
          assert.ok(outcome.ok);
          return outcome.event;
        });
        const writer = new RuntimeEventWriter(db, { metrics: createMetrics(), logger: silentLogger });
        for (let i = 0; i < events.length; i += 1000) await writer.write(events.slice(i, i + 1000) as RuntimeEvent[]);
      } finally {
        await db.close();
      }
    });
    after(async () => {
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('sessions -format json gives the same bytes piped as redirected, over 1 MB', () => {
      const { piped, redirected } = pipedAndRedirected(['sessions', '-since', '2025-10-01T00:00:00Z', '-limit', '5000', '-format', 'json', ...target.flags], dir);
      assert.ok(redirected.length > 1024 * 1024, `${redirected.length} bytes`);
      assert.equal(piped.length, redirected.length);
      assert.ok(piped.equals(redirected));
      assert.equal((JSON.parse(piped.toString()) as { sessions: unknown[] }).sessions.length, 2500);
    });

    it('timeline -format markdown gives the same bytes piped as redirected, over 1 MB', () => {
      const { piped, redirected } = pipedAndRedirected(['timeline', '-namespace', 'shop', '-pod', 'web-0', '-from', '2025-10-19T14:00:00Z', '-to', '2025-10-19T15:00:00Z', '-format', 'markdown', ...target.flags], dir);
      assert.ok(redirected.length > 1024 * 1024, `${redirected.length} bytes`);
      assert.ok(piped.equals(redirected), `${piped.length} bytes piped, ${redirected.length} redirected`);
    });
  });
}
