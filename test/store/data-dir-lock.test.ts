/**
 * The embedded database's -data-dir serves one process at a time: a second processor, or a CLI
 * command, on a directory in use exits non-zero at once saying who holds it and what to do; a lock
 * left by a process that is gone (SIGKILL, or its pid now another process's) is taken over. With two
 * real processes. (PostgreSQL serves many processes and has no such lock.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { collect, freePort, projectRoot, runProcessor, startProcessor } from '../support/cli.ts';

async function untilReady(port: number, deadlineMs = 90_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while ((await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`port ${port} not ready within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs a second command to its end, failing the test if it does not end within `deadlineMs`. */
async function runWithin(args: string[], deadlineMs: number) {
  const started = Date.now();
  const result = await Promise.race([
    runProcessor(args),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${args.join(' ')} did not exit within ${deadlineMs} ms`)), deadlineMs).unref()),
  ]);
  return { ...result, ms: Date.now() - started };
}

describe('the embedded -data-dir is locked', () => {
  it('a second processor and a CLI command are refused with what to do; a lock of a killed processor is taken over', { timeout: 240_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'exectrail-lock-'));
    const examples = join(projectRoot, 'examples/audit');
    const port = await freePort();
    const first = startProcessor(['-audit-log-dir', examples, '-http-port', String(port), '-data-dir', dataDir]);
    const firstExit = collect(first);
    await untilReady(port);

    const second = await runWithin(['-audit-log-dir', examples, '-http-port', String(await freePort()), '-data-dir', dataDir], 60_000);
    t.diagnostic(`second processor refused after ${second.ms} ms (start-up of node and tsx included)`);
    assert.equal(second.code, 1, second.stderr.slice(-2000));
    assert.match(
      second.stderr,
      new RegExp(
        `another audit-processor \\(pid ${first.pid}\\) is using -data-dir ${dataDir}: the embedded database serves one process at a time; ` +
          `ask its HTTP port instead \\(curl localhost:${port}/api/v1/sessions, or the page at http://localhost:${port}/\\), or stop it, or use PostgreSQL`,
      ),
    );
    const cli = await runWithin(['sessions', '-data-dir', dataDir], 60_000);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, new RegExp(`another audit-processor \\(pid ${first.pid}\\) is using -data-dir`));
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200, 'the first one is undisturbed');

    // Killed without a chance to clean up: its lock stays, and the next processor takes it over.
    first.kill('SIGKILL');
    await firstExit;
    assert.ok(existsSync(join(dataDir, 'exectrail.lock')));
    const nextPort = await freePort();
    const next = startProcessor(['-audit-log-dir', examples, '-http-port', String(nextPort), '-data-dir', dataDir]);
    const nextExit = collect(next);
    await untilReady(nextPort);
    next.kill('SIGTERM');
    const ended = await nextExit;
    assert.equal(ended.code, 0, ended.stderr.slice(-2000));
    assert.match(ended.stderr, new RegExp(`took over the lock on -data-dir ${dataDir} left by audit-processor \\(pid ${first.pid}\\), which is gone`));
    assert.ok(!existsSync(join(dataDir, 'exectrail.lock')), 'released on a clean stop');

    // The sessions command then reads it.
    const after = await runWithin(['sessions', '-data-dir', dataDir, '-since', '36500d', '-format', 'json'], 60_000);
    assert.equal(after.code, 0, after.stderr);
  });

  it('a lock whose pid now belongs to another process is stale', { timeout: 120_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'exectrail-lock-'));
    // A live process that is not the holder: same pid, another start time.
    const other = spawn('sleep', ['120'], { stdio: 'ignore' });
    try {
      writeFileSync(
        join(dataDir, 'exectrail.lock'),
        JSON.stringify({ pid: other.pid, startTicks: '1', host: (await import('node:os')).hostname(), command: 'audit-processor', since: '2020-01-01T00:00:00Z' }),
      );
      const result = await runWithin(['sessions', '-data-dir', dataDir], 90_000);
      assert.equal(result.code, 0, result.stderr);
      assert.ok(!existsSync(join(dataDir, 'exectrail.lock')) || !readFileSync(join(dataDir, 'exectrail.lock'), 'utf8').includes(String(other.pid)));
    } finally {
      other.kill();
    }
  });
});
