import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Database } from '../../src/store/database.ts';
import { collect, runProcessor, startProcessor, type CliResult } from '../support/cli.ts';
import { createTestDatabaseTarget, preferredBackend, type TestDatabaseTarget } from '../support/databases.ts';
import { isKnownDuplicate, kubeArmorFixtures } from './fixtures.ts';

/** The relay's own zap log lines, as `kubectl logs` of kubearmor-relay shows them between events. */
const zap = (level: string, msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level, ts: 1705058469.1234567, caller: 'server/relayServer.go:512', msg, ...extra });

/**
 * A `kubectl logs` capture of the relay: every timed fixture event (an event with a protojson string
 * Timestamp and one with float PIDs among them, relay-old-renders.jsonl), the relay's log lines between them.
 */
function relayCapture(): { text: string; events: number; distinct: number } {
  const timed = kubeArmorFixtures().filter((f) => 'Timestamp' in f.object || 'UpdatedTime' in f.object);
  assert.ok(timed.some((f) => typeof f.object.Timestamp === 'string' && !('UpdatedTime' in f.object)), 'a protojson render is in the capture');
  assert.ok(timed.some((f) => f.text.includes('"PID":1.048601e+06')), 'an old render with float PIDs is in the capture');
  const lines = [zap('info', 'Initialized the relay server'), zap('info', 'Started to monitor alerts', { host: 'kubearmor-x' })];
  timed.forEach((f, i) => {
    lines.push(f.text);
    if (i % 7 === 3) lines.push(zap('warn', 'Failed to send an alert', { error: 'rpc error: code = Unavailable' }));
  });
  lines.push(zap('error', 'stream closed'), '');
  const duplicates = timed.filter((f) => isKnownDuplicate(f)).length;
  return { text: lines.join('\n') + '\n', events: timed.length, distinct: timed.length - duplicates };
}

/** The real command with standard input fed from `input`. */
function runWithStdin(args: string[], input: string): Promise<CliResult> {
  const child = startProcessor(args, {}, 'pipe');
  child.stdin!.end(input);
  return collect(child);
}

// The command line is under test; the KubeArmor writer runs on both backends in writer.test.ts and feeder.test.ts.
{
  const backend = preferredBackend;
  describe(`-kubearmor-file into ${backend}`, () => {
    let target: TestDatabaseTarget;
    let dir: string;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      dir = mkdtempSync(join(tmpdir(), 'exectrail-kubearmor-file-'));
    });
    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await target?.destroy();
    });

    async function query<Row>(text: string): Promise<Row[]> {
      const db: Database = await target.open();
      try {
        return (await db.query<Row>(text)).rows;
      } finally {
        await db.close();
      }
    }

    it('stores exactly the events of a relay kubectl logs capture, skipping its own log lines', async () => {
      const capture = relayCapture();
      const path = join(dir, 'relay.log');
      writeFileSync(path, capture.text);
      const result = await runProcessor(['-kubearmor-file', path, '-once', '-cluster', 'capture', ...target.flags]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`stored ${capture.distinct} runtime events \\(1 already stored\\) from \\d+ KubeArmor lines of ${path} \\(${capture.events} events, \\d+ relay log or blank lines skipped, 0 bad\\)`));
      const rows = await query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'capture'`);
      assert.equal(rows[0]!.n, capture.distinct);
      const [fromString] = await query<{ t: string; pod: string }>(
        `SELECT to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t, pod FROM runtime_events WHERE cluster = 'capture' AND event_time = to_timestamp(1687246900)`,
      );
      assert.deepEqual(fromString, { t: '2023-06-20T07:41:40.000000Z', pod: 'ledger-0' });
      const [fromFloat] = await query<{ pid: number; host_pid: number; host_ppid: number }>(
        `SELECT pid, host_pid, host_ppid FROM runtime_events WHERE cluster = 'capture' AND event_time = '2023-06-20T07:41:50.250413Z'`,
      );
      assert.deepEqual(fromFloat, { pid: 1048601, host_pid: 1048601, host_ppid: 2208001 });

      // Read again: the checkpoint says it is read, and nothing changes.
      const again = await runProcessor(['-kubearmor-file', path, '-once', '-cluster', 'capture', ...target.flags]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'capture'`))[0]!.n, capture.distinct);
    });

    it('reads standard input with -kubearmor-file -; the same capture piped twice is stored once; a bad line is reported and skipped', async () => {
      const capture = relayCapture();
      const withBadLine = capture.text.replace('\n', '\n{"Timestamp":1705058469,"HostName":\n');
      for (let round = 0; round < 2; round++) {
        const result = await runWithStdin(['-kubearmor-file', '-', '-once', '-cluster', 'stdin', ...target.flags], withBadLine);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, /of stdin \(\d+ events, \d+ relay log or blank lines skipped, 1 bad\)/);
        assert.match(result.stderr, /skipped a line of stdin that is not a KubeArmor event \(runtime-bad-json/);
      }
      assert.equal((await query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'stdin'`))[0]!.n, capture.distinct);
    });

    it('follows the file as the relay appends to it', async () => {
      const path = join(dir, 'follow.log');
      const fixtures = kubeArmorFixtures().filter((f) => f.file === 'relay-exec-session.jsonl');
      writeFileSync(path, `${zap('info', 'started')}\n${fixtures[0]!.text}\n`);
      // The fixture events are months old: without this, the 30-day retention prunes them as they land.
      const child = startProcessor(['-kubearmor-file', path, '-cluster', 'follow', '-http-port', '0', '-retention-runtime', 'off', ...target.flags]);
      const done = collect(child);
      let stderr = '';
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      try {
        // Watched as an operator would (PGlite admits one process): the stored-events counter on /metrics.
        const stored = async () => {
          const port = /HTTP on port (\d+)/.exec(stderr)?.[1];
          if (!port) return -1;
          const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
          return [...text.matchAll(/^exectrail_runtime_events_stored_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
        };
        const waitForStored = async (n: number) => {
          // Generous: the processor starts (tsx, PGlite, migrations) on 2 cores shared by parallel tests.
          const deadline = Date.now() + 90_000;
          while ((await stored()) !== n) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} stored events (have ${await stored()}); stderr:\n${stderr}`);
            await new Promise((r) => setTimeout(r, 100));
          }
        };
        await waitForStored(1);
        appendFileSync(path, fixtures.slice(1).map((f) => f.text).join('\n') + '\n' + zap('info', 'more') + '\n');
        await waitForStored(fixtures.length);
      } finally {
        child.kill('SIGTERM');
      }
      const result = await done;
      assert.equal(result.code, 0, result.stderr);
      assert.equal((await query<{ n: number }>(`SELECT count(*)::int AS n FROM runtime_events WHERE cluster = 'follow'`))[0]!.n, fixtures.length);
    });
  });
}
