import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/config/flags.ts';
import { parseDuration } from '../../src/time/duration.ts';
import { parseProcessorArgs, processorFlags, processorUsage } from '../../src/config/options.ts';
import { runProcessor } from '../support/cli.ts';

describe('command-line flags', () => {
  it('accepts every Go and GNU form kubechronicle users type', () => {
    for (const argv of [
      ['-audit-log-file=/x'],
      ['-audit-log-file', '/x'],
      ['--audit-log-file', '/x'],
      ['--audit-log-file=/x'],
    ]) {
      assert.equal(parseProcessorArgs(argv, {}).values['audit-log-file'], '/x', argv.join(' '));
    }
  });

  it('takes booleans alone or with =true/=false', () => {
    assert.equal(parseProcessorArgs(['-once'], {}).values.once, true);
    assert.equal(parseProcessorArgs(['-once=false'], {}).values.once, false);
    assert.equal(parseProcessorArgs([], {}).values.once, false);
    assert.throws(() => parseProcessorArgs(['-once=maybe'], {}), /not a boolean/);
  });

  it('reads DATABASE_URL when -database-url is absent, and the flag wins over it', () => {
    assert.equal(parseProcessorArgs([], { DATABASE_URL: 'postgres://a/b' }).values['database-url'], 'postgres://a/b');
    assert.equal(parseProcessorArgs(['-database-url=postgres://c/d'], { DATABASE_URL: 'postgres://a/b' }).values['database-url'], 'postgres://c/d');
  });

  it('rejects unknown flags, missing values and bad enum values with a one-line message', () => {
    assert.throws(() => parseProcessorArgs(['-no-such-flag'], {}), (e: Error) => e instanceof UsageError && /unknown flag -no-such-flag/.test(e.message));
    assert.throws(() => parseProcessorArgs(['-audit-log-file'], {}), /needs a value/);
    assert.throws(() => parseProcessorArgs(['-log-level=loud'], {}), /-log-level/);
  });

  it('parses durations', () => {
    assert.equal(parseDuration('2s'), 2000);
    assert.equal(parseDuration('30d'), 30 * 86_400_000);
    assert.equal(parseDuration('off'), 0);
    assert.equal(parseDuration('soon'), undefined);
  });

  it('lists every flag with its default in the usage', () => {
    const usage = processorUsage();
    for (const name of Object.keys(processorFlags)) assert.match(usage, new RegExp(`^  -${name}\\b`, 'm'), name);
    assert.match(usage, /\(default \.\/exectrail-data\)/);
  });
});

describe('audit-processor command line', () => {
  it('exits 2 with a clear message on an unknown flag', async () => {
    const result = await runProcessor(['-no-such-flag']);
    assert.equal(result.code, 2);
    assert.match(result.stderr.split('\n')[0]!, /^audit-processor: unknown flag -no-such-flag$/);
    assert.match(result.stderr, /Usage: audit-processor/);
  });

  it('prints every flag for -h and --help', async () => {
    for (const flag of ['-h', '--help']) {
      const result = await runProcessor([flag]);
      assert.equal(result.code, 0);
      for (const name of Object.keys(processorFlags)) assert.match(result.stdout, new RegExp(`-${name}\\b`));
    }
  });
});

describe("README's flag table", () => {
  /** The flags named in the first column of the README's "## Flags" table (a row may name two). */
  function readmeFlagNames(): Set<string> {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.split('\n## Flags\n')[1]!.split('\n## ')[0]!;
    const names = section
      .split('\n')
      .filter((line) => line.startsWith('| `-'))
      .flatMap((line) => [...line.split('|')[1]!.matchAll(/`-([a-z][a-z0-9-]*)/g)].map((m) => m[1]!));
    return new Set(names);
  }

  it('has a row for every flag `audit-processor -h` prints, and no other', async () => {
    const help = await runProcessor(['-h']);
    assert.equal(help.code, 0);
    const printed = [...help.stdout.matchAll(/^ {2}-([a-z][a-z0-9-]*)/gm)].map((m) => m[1]!);
    assert.ok(printed.length >= 30, `-h printed ${printed.length} flags`);
    const documented = readmeFlagNames();
    assert.deepEqual(printed.filter((name) => !documented.has(name)), [], 'flags -h prints that the README table lacks');
    assert.deepEqual([...documented].filter((name) => !printed.includes(name)), [], 'flags in the README table that -h does not print');
  });
});
