#!/usr/bin/env node
// `npm test`: the type check and the test files run side by side. The type check alone keeps one core
// busy for about 20 s, and the test files (which wait on child processes and databases much of the
// time) leave room beside them. Fails when either fails; type errors are printed after the test report.
// `npm test -- test/x.test.ts ...` runs only those files (still type-checked).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';

const given = process.argv.slice(2);
const files = given.length
  ? given
  : readdirSync('test', { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.test.ts'))
      .sort()
      .map((name) => `test/${name}`);

const typecheck = spawn(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json', '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] });
let typeErrors = '';
typecheck.stdout.on('data', (chunk) => (typeErrors += chunk));
typecheck.stderr.on('data', (chunk) => (typeErrors += chunk));
const typecheckCode = new Promise((resolve) => typecheck.on('close', (code) => resolve(code ?? 1)));

const tests = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit' });
const testsCode = await new Promise((resolve) => tests.on('close', (code) => resolve(code ?? 1)));

const typesCode = await typecheckCode;
if (typesCode !== 0) process.stderr.write(`\n# the type check failed (npm run typecheck):\n${typeErrors}\n`);
process.exit(testsCode !== 0 || typesCode !== 0 ? 1 : 0);
