/**
 * Every form of command-line secret the built-in rules know, as an exec argv (what the audit log's URI
 * carries) and as KubeArmor's Resource (the same argv joined with spaces, as the node reports it): the
 * secret is gone from both, and the rest of the command is still there to read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultRedaction, redactArgv, redactCommandLine } from '../../src/audit/redact.ts';
import { resourceOf, secretForms } from '../support/secret-forms.ts';

describe('redaction of every known form of command-line secret', () => {
  for (const [argv, secrets, kept] of secretForms) {
    it(argv.join(' '), () => {
      const asArgv = redactArgv(argv, defaultRedaction).join('\u0000');
      const asResource = redactCommandLine(resourceOf(argv), defaultRedaction);
      for (const secret of secrets) {
        assert.ok(!asArgv.includes(secret), `argv still holds ${secret}: ${asArgv}`);
        assert.ok(!asResource.includes(secret), `Resource still holds ${secret}: ${asResource}`);
      }
      assert.ok(asArgv.includes('[REDACTED]') && asResource.includes('[REDACTED]'));
      assert.ok(asArgv.includes(kept) && asResource.includes(kept), `keeps ${kept}: ${asArgv} / ${asResource}`);
    });
  }

  it('leaves commands without secrets as they are', () => {
    for (const argv of [['ls', '-la', '/app'], ['sh', '-c', 'cat /etc/passwd | grep root | wc -l'], ['ps', '-aux'], ['psql', '-W', '-h', 'db'], ['docker', 'run', '-p', '8080:80', 'nginx'], ['cat', '/var/run/secrets/token-file']]) {
      assert.deepEqual(redactArgv(argv, defaultRedaction), argv);
      assert.equal(redactCommandLine(resourceOf(argv), defaultRedaction), resourceOf(argv));
    }
  });
});
