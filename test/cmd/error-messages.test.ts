/**
 * Errors a new user meets in the first hour name the flag and say what is expected, through the real
 * command: a bad number, a database URL that is not one or not PostgreSQL, a host that does not
 * resolve, a missing -audit-log-file with -once (which must not exit 0). And the -once summary keeps
 * audit and KubeArmor counts apart.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { projectRoot, runProcessor } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';

describe('error messages that say what to do', () => {
  it('a number flag given something else names the flag and the expected form', async () => {
    const word = await runProcessor(['-webhook-port=abc']);
    assert.equal(word.code, 2);
    assert.match(word.stderr.split('\n')[0]!, /^audit-processor: flag -webhook-port: "abc" is not a number; expected a whole number from 0 to 65535 \(e\.g\. -webhook-port=8444\)$/);
    const big = await runProcessor(['-http-port', '70000']);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /flag -http-port: 70000 is out of range; expected a whole number from 0 to 65535/);
  });

  it('a -database-url that is not a PostgreSQL URL, or whose host does not resolve, says which flag and what to check', async () => {
    const cases: [string, RegExp][] = [
      ['base', /-database-url \(or DATABASE_URL\) is not a URL; give postgres:\/\/USER:PASSWORD@HOST:5432\/DATABASE/],
      ['mysql://root@localhost/audit', /is a mysql:\/\/ URL; only postgres:\/\/ and postgresql:\/\/ are supported/],
      ['postgres://no-such-host.invalid/audit', /the host "no-such-host\.invalid" in -database-url \(or DATABASE_URL\) does not resolve \((ENOTFOUND|EAI_AGAIN)\); check the host name/],
    ];
    for (const [url, message] of cases) {
      const result = await runProcessor(['-once', '-audit-log-dir', join(projectRoot, 'examples/audit'), '-database-url', url]);
      assert.equal(result.code, 1, url);
      assert.match(result.stderr, message, url);
    }
  });
});

describe('-once over what is there', () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite')));
  after(() => target?.destroy());

  it('exits non-zero, saying so, when -audit-log-file does not exist', async () => {
    const result = await runProcessor(['-once', '-audit-log-file', '/nonexistent/audit.log', ...target.flags]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /audit-processor: -audit-log-file \/nonexistent\/audit\.log does not exist: nothing was read from it; check the path/);
  });

  it('counts audit lines and KubeArmor lines apart in the summary', async () => {
    const kubearmor = join(projectRoot, 'examples/kubearmor/kubearmor.jsonl');
    const both = await runProcessor(['-once', '-audit-log-dir', join(projectRoot, 'examples/audit'), '-kubearmor-file', kubearmor, ...target.flags]);
    assert.equal(both.code, 0, both.stderr.slice(-2000));
    assert.match(both.stdout, /^audit: stored \d+ session rows \(\d+ new sessions\) from 20 session stages \(20 lines read, 20 matched, bad input: none\)/m);
    assert.match(both.stdout, /^KubeArmor: stored 60 runtime events \(0 already stored\) from 60 KubeArmor lines of /m);

    // Another cluster (its own checkpoints), KubeArmor only: no audit counts at all.
    const only = await runProcessor(['-once', '-cluster', 'runtime-only', '-kubearmor-file', kubearmor, ...target.flags]);
    assert.equal(only.code, 0, only.stderr.slice(-2000));
    assert.doesNotMatch(only.stdout, /lines read/, 'no audit line count when no audit source is given');
    assert.match(only.stdout, /^KubeArmor: stored 60 runtime events .* from 60 KubeArmor lines of /m);
  });
});
