import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flag, formatUsage, parseFlags } from '../../src/config/flags.ts';
import { parseProcessorArgs } from '../../src/config/options.ts';
import { feederStreamsFor } from '../../src/runtime/start.ts';

describe('-kubearmor-* flags', () => {
  it('-kubearmor-discover alone means relay; =nodes, a following nodes|relay word, =false and absence as expected', () => {
    const discover = (...argv: string[]) => parseProcessorArgs(argv, {}).values['kubearmor-discover'];
    assert.equal(discover(), '');
    assert.equal(discover('-kubearmor-discover'), 'relay');
    assert.equal(discover('--kubearmor-discover'), 'relay');
    assert.equal(discover('-kubearmor-discover=nodes'), 'nodes');
    assert.equal(discover('-kubearmor-discover', 'nodes'), 'nodes');
    assert.equal(discover('-kubearmor-discover=relay'), 'relay');
    assert.equal(discover('-kubearmor-discover=false'), '');
    // A following flag is not swallowed as the value.
    const parsed = parseProcessorArgs(['-kubearmor-discover', '-kubearmor-logs'], {});
    assert.equal(parsed.values['kubearmor-discover'], 'relay');
    assert.equal(parsed.values['kubearmor-logs'], true);
    assert.throws(() => parseProcessorArgs(['-kubearmor-discover=pods'], {}), /flag -kubearmor-discover/);
  });

  it('takes -kubearmor-addr repeated or comma-separated, and - as the file for stdin', () => {
    const { values } = parseProcessorArgs(['-kubearmor-addr', 'a:32767', '-kubearmor-addr=b:32767,c:32767', '-kubearmor-file', '-', '-kubeconfig', '/k'], {});
    assert.deepEqual(values['kubearmor-addr'], ['a:32767', 'b:32767', 'c:32767']);
    assert.equal(values['kubearmor-file'], '-');
    assert.equal(values.kubeconfig, '/k');
  });

  it('asks the feeder for exactly the filters it accepts: system logs always, policy alerts or all alerts', () => {
    assert.deepEqual(feederStreamsFor(false), [
      { rpc: 'WatchAlerts', filter: 'policy' },
      { rpc: 'WatchLogs', filter: 'system' },
    ]);
    assert.deepEqual(feederStreamsFor(true), [
      { rpc: 'WatchAlerts', filter: 'all' },
      { rpc: 'WatchLogs', filter: 'system' },
    ]);
  });

  it('shows an optional-value flag as -name[=a|b] in the usage', () => {
    const table = { mode: flag.optionalEnum(['x', 'y'] as const, 'x', 'pick one') };
    assert.match(formatUsage('cmd', table), /^ {2}-mode\[=x\|y\]\n {8}pick one \(alone: x; or =x\|y\)$/m);
    assert.equal(parseFlags(table, ['-mode', 'positional'], {}).positionals[0], 'positional', 'a word that is not a value stays a positional');
  });
});
