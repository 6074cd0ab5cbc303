/**
 * A secret typed on a command line never reaches our tables: every form the redaction knows
 * (test/audit/redact-forms.test.ts), typed through `kubectl exec` (the audit log's URI) and seen by
 * KubeArmor (Resource and the raw event), read by the real processor, then the whole database dumped:
 * `pg_dump` on PostgreSQL, every row of every table on PGlite. No secret appears in it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resourceOf, secretForms } from '../support/secret-forms.ts';
import { execStages, jsonLines } from '../support/audit-event.ts';
import { runProcessor } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, skipReason, type TestDatabaseTarget } from '../support/databases.ts';

/** KubeArmor's process log of one argv, as the relay prints it. */
function kubeArmorEvent(argv: readonly string[], n: number) {
  return {
    Timestamp: 1760884865,
    UpdatedTime: `2025-10-19T14:41:05.${String(200000 + n).padStart(6, '0')}Z`,
    ClusterName: 'default',
    HostName: 'worker-1',
    NamespaceName: 'prod',
    PodName: 'db-0',
    ContainerName: 'main',
    HostPID: 40000 + n,
    HostPPID: 39000,
    PID: 100 + n,
    PPID: 0,
    ParentProcessName: '/usr/bin/runc',
    ProcessName: `/usr/bin/${argv[0]}`,
    Type: 'ContainerLog',
    Source: '/usr/bin/runc',
    Operation: 'Process',
    Resource: resourceOf(argv),
    Data: 'syscall=SYS_EXECVE',
    Result: 'Passed',
    ExecEvent: { ExecID: String(7000 + n), ExecutableName: argv[0] },
    // What an agent in between may add: the same command line in another field.
    Cmdline: argv.join(' '),
  };
}

/** Every row of every table of the public schema, as text (PGlite has no pg_dump binary). */
async function dumpTables(target: TestDatabaseTarget): Promise<string> {
  const db = await target.open();
  try {
    const { rows: tables } = await db.query<{ name: string }>(`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`);
    let out = '';
    for (const { name } of tables) {
      const { rows } = await db.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM "${name}" t`);
      out += rows.map((r) => r.row).join('\n');
    }
    return out;
  } finally {
    await db.close();
  }
}

for (const backend of backends) {
  describe(`secrets typed into sessions, on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      dir = mkdtempSync(join(tmpdir(), 'exectrail-secrets-'));
    });
    after(async () => {
      await target?.destroy();
      rmSync(dir, { recursive: true, force: true });
    });

    it('appear nowhere in a dump of the database', async () => {
      const audit = secretForms.flatMap(([argv], n) => execStages({ auditID: `secret-${n}`, command: argv, received: `2025-10-19T14:41:05.${String(100000 + n).padStart(6, '0')}Z` }));
      writeFileSync(join(dir, 'audit.log'), jsonLines(audit));
      writeFileSync(join(dir, 'kubearmor.jsonl'), jsonLines(secretForms.map(([argv], n) => kubeArmorEvent(argv, n))));
      const run = await runProcessor(['-once', '-audit-log-file', join(dir, 'audit.log'), '-kubearmor-file', join(dir, 'kubearmor.jsonl'), ...target.flags]);
      assert.equal(run.code, 0, run.stderr);

      const dump = backend === 'postgres' ? execFileSync('pg_dump', ['--data-only', target.databaseUrl!], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }) : await dumpTables(target);
      assert.ok(dump.includes('secret-0') && dump.includes('[REDACTED]'), 'the dump holds the sessions, redacted');
      assert.ok(dump.includes('/usr/bin/mysql'), 'and the runtime events');
      for (const [argv, secrets] of secretForms) for (const secret of secrets) assert.ok(!dump.includes(secret), `${secret} (from ${argv[0]}) is in the dump`);
      // Nor in what the processor logged.
      for (const [, secrets] of secretForms) for (const secret of secrets) assert.ok(!run.stderr.includes(secret) && !run.stdout.includes(secret), `${secret} was logged`);
    });
  });
}
