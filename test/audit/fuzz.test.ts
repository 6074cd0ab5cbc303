/**
 * Fuzzing the parser (acceptance 5): random bytes, byte-mutated fixture lines, and structurally mutated
 * events (a field replaced by a value of the wrong type) never throw out of the per-line transform, never
 * hit its internal-error guard, and every row they produce is a valid session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAuditText, decodeAuditValue } from '../../src/audit/decode.ts';
import { checkOutcome, contexts, mutateBytes, runEverything } from './robustness.ts';
import { documentOutcome, fixtureUnits, pick, seededRandom, testSeed } from './support.ts';

function weirdValue(random: () => number, depth = 0): unknown {
  switch (Math.floor(random() * 12)) {
    case 0: return null;
    case 1: return Math.floor(random() * 1e6) - 5e5;
    case 2: return random() < 0.5;
    case 3: return '';
    case 4: return 'x'.repeat(Math.floor(random() * 5000));
    case 5: return '2024-13-45T99:99:99Z';
    case 6: return depth < 3 ? [weirdValue(random, depth + 1), weirdValue(random, depth + 1)] : [];
    case 7: return depth < 3 ? { name: weirdValue(random, depth + 1), image: weirdValue(random, depth + 1) } : {};
    case 8: return 1.5;
    case 9: return '/api/v1/nodes/%/proxy/exec/%zz/../?command=%ff&command';
    case 10: return ['ephemeralContainers'];
    default: return '\u0000\uD800';
  }
}

/** Replaces one field somewhere in the object by a value of another type. */
function mutateStructure(random: () => number, value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => (random() < 0.3 ? mutateStructure(random, v, depth + 1) : v));
  if (typeof value !== 'object' || value === null) return random() < 0.5 ? weirdValue(random) : value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(out);
  const key = pick(random, [...keys, 'objectRef', 'requestObject', 'user', 'annotations', 'spec']);
  out[key] = random() < 0.6 || depth > 3 ? weirdValue(random) : mutateStructure(random, out[key], depth + 1);
  if (random() < 0.1) delete out[pick(random, keys)];
  return out;
}

describe('fuzzing the audit parser', () => {
  const seed = testSeed();
  const lines = fixtureUnits();

  it(`random bytes never throw (seed ${seed})`, () => {
    const random = seededRandom(seed);
    for (let i = 0; i < 3000; i++) {
      const length = Math.floor(random() * 400);
      const bytes = Buffer.alloc(length);
      for (let j = 0; j < length; j++) bytes[j] = Math.floor(random() * 256);
      if (random() < 0.5 && length > 0) bytes[0] = pick(random, [0x7b, 0x5b, 0x32, 0xef]);
      runEverything(bytes, `random case ${i}`);
    }
  });

  it(`byte-mutated fixture lines never throw (seed ${seed})`, () => {
    const random = seededRandom(seed + 1);
    for (let i = 0; i < 6000; i++) {
      let line = pick(random, lines);
      for (let n = 1 + Math.floor(random() * 4); n > 0; n--) line = mutateBytes(random, line);
      runEverything(line, `mutation case ${i}`);
    }
  });

  it(`structurally mutated events never throw and still yield valid rows (seed ${seed})`, () => {
    const random = seededRandom(seed + 2);
    const events = lines.flatMap((line) => decodeAuditText(line.toString()).events);
    let rowsSeen = 0;
    for (let i = 0; i < 6000; i++) {
      const mutated = mutateStructure(random, structuredClone(pick(random, events)));
      const text = JSON.stringify(mutated) ?? 'null';
      const outcome = documentOutcome(text, pick(random, contexts));
      rowsSeen += outcome.rows.length;
      checkOutcome(outcome, `structure case ${i}`);
      decodeAuditValue(mutated);
    }
    assert.ok(rowsSeen > 100, 'mutations that keep an event interactive still produce rows');
  });

  it('deeply nested arrays and huge lines are rejected, not thrown', () => {
    runEverything(Buffer.from('['.repeat(100_000) + ']'.repeat(100_000)), 'deep');
    runEverything(Buffer.from('{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000)), 'deep object');
    runEverything(Buffer.from(`{"objectRef":{"subresource":"exec"},"x":"${'y'.repeat(5_000_000)}"}`), 'huge');
  });
});
