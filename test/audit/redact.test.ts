/**
 * Secrets in command lines are replaced by [REDACTED] before a row exists: the built-in set by default,
 * `-redact=none` turns it off, users add flag:, env: and re: rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseProcessorArgs } from '../../src/config/options.ts';
import { sessionsFromLine } from '../../src/audit/input.ts';
import { defaultRedaction, noRedaction, parseRedaction, redactArgv, RedactionSyntaxError } from '../../src/audit/redact.ts';

const R = '[REDACTED]';

function execLine(argv: string[]): Buffer {
  const query = argv.map((a) => `command=${encodeURIComponent(a).replace(/%20/g, '+')}`).join('\\u0026');
  return Buffer.from(
    `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"r-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/db/pods/mysql-0/exec?${query}\\u0026container=mysql","verb":"create",` +
      `"user":{"username":"alice"},"sourceIPs":["192.0.2.10"],"objectRef":{"resource":"pods","namespace":"db","name":"mysql-0","apiVersion":"v1","subresource":"exec"},` +
      `"responseStatus":{"metadata":{},"code":101},"requestReceivedTimestamp":"2025-01-01T00:00:00.000001Z","stageTimestamp":"2025-01-01T00:01:00.000001Z"}`,
  );
}

describe('redaction of secrets in commands', () => {
  it('hides the built-in secrets by default', () => {
    const cases: [string[], string[]][] = [
      [['mysql', '-uroot', '-pS3cret', 'shop'], ['mysql', '-uroot', `-p${R}`, 'shop']],
      [['/usr/bin/mysqldump', '-pS3cret'], ['/usr/bin/mysqldump', `-p${R}`]],
      [['sh', '-c', 'mysql -uroot -pS3cret -e "select 1"'], ['sh', '-c', `mysql -uroot -p${R} -e "select 1"`]],
      [['vault', 'login', '--token=s.abc123'], ['vault', 'login', `--token=${R}`]],
      [['app', '--password', 'hunter2', '--verbose'], ['app', '--password', R, '--verbose']],
      [['psql', '--password', '-h', 'db'], ['psql', '--password', '-h', 'db']],
      [['sh', '-c', 'PGPASSWORD=hunter2 psql -h db'], ['sh', '-c', `PGPASSWORD=${R} psql -h db`]],
      [['env', 'AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG', 'aws', 's3', 'ls'], ['env', `AWS_SECRET_ACCESS_KEY=${R}`, 'aws', 's3', 'ls']],
      [['curl', '-H', 'Authorization: Bearer eyJhbGciOi.x.y', 'https://api'], ['curl', '-H', `Authorization: Bearer ${R}`, 'https://api']],
      [['sh', '-c', "curl -H 'authorization: bearer abc' https://x"], ['sh', '-c', `curl -H 'authorization: bearer ${R}' https://x`]],
      [['psql', 'postgres://app:s3cr3t@db:5432/shop'], ['psql', `postgres://app:${R}@db:5432/shop`]],
      [['ls', '-p', '--token-file=/var/run/token'], ['ls', '-p', '--token-file=/var/run/token']],
    ];
    for (const [argv, want] of cases) assert.deepEqual(redactArgv(argv, defaultRedaction), want, argv.join(' '));
  });

  it('redacts before the row exists, and the stored row never holds the secret', () => {
    const [row] = sessionsFromLine(execLine(['mysql', '-uroot', '-pS3cret']), { cluster: 'c' }).rows;
    assert.deepEqual(row!.execMetadata.command, ['mysql', '-uroot', `-p${R}`]);
    assert.ok(!JSON.stringify(row).includes('S3cret'));
    const [plain] = sessionsFromLine(execLine(['mysql', '-uroot', '-pS3cret']), { cluster: 'c', redaction: parseRedaction(['none']) }).rows;
    assert.deepEqual(plain!.execMetadata.command, ['mysql', '-uroot', '-pS3cret'], '-redact=none keeps commands verbatim');
  });

  it('takes user rules: flag:, env:, re: (with \\x2c for a comma), on top of the built-in set unless none', () => {
    const user = parseRedaction(['flag:--api-key', 'env:VAULT_TOKEN', 're:secret-([a-z]{3\\x2c})']);
    assert.deepEqual(redactArgv(['app', '--api-key', 'k1', '--api-key=k2', '-pX'], user), ['app', '--api-key', R, `--api-key=${R}`, '-pX']);
    assert.deepEqual(redactArgv(['sh', '-c', 'VAULT_TOKEN=s.1 vault read secret-abcd; mysql -pS3cret'], user), ['sh', '-c', `VAULT_TOKEN=${R} vault read secret-${R}; mysql -p${R}`]);
    const only = parseRedaction(['none', 'flag:--api-key']);
    assert.deepEqual(redactArgv(['app', '--api-key=k', '--token=t'], only), ['app', `--api-key=${R}`, '--token=t']);
    assert.deepEqual(redactArgv(['app', '--token=t'], noRedaction), ['app', '--token=t']);
    assert.deepEqual(redactArgv(['app', '--token=t'], parseRedaction(['default'])), ['app', `--token=${R}`]);
  });

  it('is idempotent: redacting a redacted command changes nothing', () => {
    const once = redactArgv(['sh', '-c', 'mysql -pX --password=Y PGPASSWORD=Z'], defaultRedaction);
    assert.deepEqual(redactArgv(once, defaultRedaction), once);
  });

  it('rejects a bad rule with a message that says what to write', () => {
    assert.throws(() => parseRedaction(['re:(']), RedactionSyntaxError);
    assert.throws(() => parseRedaction(['password']), /use default, none, flag:--option, env:VARIABLE or re:REGEX/);
    assert.throws(() => parseProcessorArgs(['-redact', 'flag:']), /flag -redact: "flag:" is not a redaction rule/);
    assert.deepEqual(parseProcessorArgs(['-redact', 'none', '-node-proxy', 'all']).values.redact, ['none']);
    assert.equal(parseProcessorArgs([]).values['node-proxy'], 'interactive');
    assert.throws(() => parseProcessorArgs(['-node-proxy=some']), /node-proxy/);
  });
});
