/**
 * /readyz tells the truth about file sources, and an error that repeats is not logged on every pass:
 * a missing -audit-log-dir in follow mode, and a file the processor may not read, make it 503 with a
 * reason naming them, until they are fixed. Through the real command; the unreadable file needs a
 * user that root's file permissions apply to, so as root the processor runs as nobody (setpriv).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { collect, freePort, projectRoot, startProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';
import { tempDir, waitFor } from './file-support.ts';
import { allStages, execEvent } from './webhook-support.ts';

interface Readiness {
  status: string;
  reasons: string[];
  fileSources: { state: string; failedPasses: number; unreadableFiles: { file: string; error: string }[] }[];
}

async function readiness(port: number): Promise<{ code: number; body: Readiness } | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    return { code: response.status, body: (await response.json()) as Readiness };
  } catch {
    return undefined;
  }
}

const sessionText = (id: string) => allStages.map((stage) => `${JSON.stringify(execEvent(id, stage))}\n`).join('');
const logLines = (stderr: string) => stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: string; msg: string; suppressed?: number });

const isRoot = process.getuid?.() === 0;

/** The processor as user nobody, as a processor deployed without root reads a root-owned 0600 log. */
function startProcessorAsNobody(args: string[]): ChildProcess {
  const command = [process.execPath, '--import', 'tsx', join(projectRoot, 'cmd/audit-processor.ts'), ...args];
  return spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', ...command], {
    cwd: projectRoot,
    env: { ...process.env, DATABASE_URL: '', HOME: '/tmp' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
/** A directory and everything in it (PGlite reads and writes every file of its data directory). */
function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) chownSync(join(entry.parentPath, entry.name), uid, gid);
}
const setprivMissing = isRoot && spawnSync('setpriv', ['--version']).status !== 0;
// As root the processor runs as nobody, who must be able to read the checkout (a clone inside a
// `mktemp -d` directory, mode 700, is not).
const checkoutHiddenFromNobody =
  isRoot && !setprivMissing && spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'test', '-r', join(projectRoot, 'cmd/audit-processor.ts')]).status !== 0;

describe('/readyz and the logs when a file source cannot read', () => {
  // One database per test: an embedded one must belong to the user the processor runs as.
  const targets: TestDatabaseTarget[] = [];
  const newTarget = async () => {
    const target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite');
    targets.push(target);
    return target;
  };
  after(async () => {
    for (const target of targets) await target.destroy();
  });

  it('a missing -audit-log-dir is 503 naming it, said once however often it is retried, and ready once it exists', { timeout: 120_000 }, async () => {
    const target = await newTarget();
    const dir = join(tempDir('missing-dir'), 'audit');
    const port = await freePort();
    const child = startProcessor(['-audit-log-dir', dir, '-http-port', String(port), '-log-repeat-interval', '1h', ...target.flags]);
    const exited = collect(child);
    try {
      let last: { code: number; body: Readiness } | undefined;
      await waitFor('three failed passes in /readyz', async () => {
        last = await readiness(port);
        return (last?.body.fileSources?.[0]?.failedPasses ?? 0) >= 3;
      }, 60_000);
      assert.equal(last!.code, 503);
      assert.equal(last!.body.fileSources[0]!.state, 'failing');
      assert.match(last!.body.reasons.join('\n'), new RegExp(`cannot list ${dir}: it does not exist; check -audit-log-dir`));

      mkdirSync(dir);
      writeFileSync(join(dir, 'audit.log'), sessionText('appeared-0'));
      await waitFor('ready once the directory exists', async () => (await readiness(port))?.code === 200, 60_000);
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    const failures = logLines(result.stderr).filter((l) => l.msg.startsWith('reading log files failed'));
    assert.equal(failures.length, 1, `the failure is logged once within -log-repeat-interval:\n${failures.map((l) => l.msg).join('\n')}`);
    assert.ok(logLines(result.stderr).some((l) => /^reading log files again after [3-9]\d* failed attempts/.test(l.msg)));
  });

  it('a file it may not read is 503 naming the file, logged once per interval with the count held back, ready once readable', { timeout: 120_000, skip: setprivMissing
        ? 'running as root without setpriv: cannot run the processor as a user file permissions apply to'
        : checkoutHiddenFromNobody
          ? `running as root, and user nobody (uid 65534), whom the processor runs as here, cannot read ${projectRoot}: clone into a directory others can read`
          : false }, async () => {
    const target = await newTarget();
    const dir = tempDir('unreadable');
    chmodSync(dir, 0o755);
    writeFileSync(join(dir, 'audit.log'), sessionText('readable-0'), { mode: 0o644 });
    const secret = join(dir, 'audit.log.1');
    writeFileSync(secret, sessionText('unreadable-0'), { mode: 0o600 });
    chmodSync(secret, 0o600);
    // The embedded database's directory must be the processor's user's.
    if (isRoot && target.backend === 'pglite') chownTree(target.dataDir, 65534, 65534);
    const port = await freePort();
    const args = ['-audit-log-dir', dir, '-http-port', String(port), '-log-repeat-interval', '3s', ...target.flags];
    const child = isRoot ? startProcessorAsNobody(args) : startProcessor(args);
    const exited = collect(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      let last: { code: number; body: Readiness } | undefined;
      await waitFor('the unreadable file in /readyz', async () => {
        last = await readiness(port);
        return (last?.body.fileSources?.[0]?.unreadableFiles.length ?? 0) > 0;
      }, 60_000);
      assert.equal(last!.code, 503);
      assert.deepEqual(last!.body.fileSources[0]!.unreadableFiles, [{ file: secret, error: 'permission denied' }]);
      assert.match(last!.body.reasons.join('\n'), new RegExp(`cannot read ${secret}: permission denied`));
      // The first report, then (3 s later, after about three passes) one saying how many were held back.
      await waitFor('a second report with the count held back', () => logLines(stderr).some((l) => l.msg.startsWith(`cannot read ${secret}`) && (l.suppressed ?? 0) > 0), 60_000);
      const reports = logLines(stderr).filter((l) => l.msg.startsWith(`cannot read ${secret}`));
      assert.equal(reports[0]!.level, 'error');
      assert.equal(reports[0]!.suppressed, 0);
      assert.equal(reports.length, 2, reports.map((l) => l.msg).join('\n'));
      assert.match(reports[1]!.msg, /permission denied.*\(failed [1-9]\d* more times since the last report\)/);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const counted = Number(/^exectrail_file_source_errors_total\{error="unreadable"\} (\d+)$/m.exec(metrics)?.[1]);
      assert.ok(counted >= 2 + reports[1]!.suppressed!, `every attempt is counted (${counted})`);

      chmodSync(secret, 0o644);
      await waitFor('ready once the file is readable', async () => (await readiness(port))?.code === 200, 60_000);
      await waitFor('the file said readable again', () => logLines(stderr).some((l) => l.msg.startsWith(`${secret} can be read again`)));
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
  });
});
