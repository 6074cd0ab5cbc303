/**
 * The shared time helpers: one backoff, one duration formatter, one set of microsecond conversions.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff, sleepUnlessAborted } from '../../src/time/backoff.ts';
import { formatDuration } from '../../src/time/duration.ts';
import { isoMicros, isoToMicros, isRealTimestamp, microsToIso } from '../../src/time/micros.ts';
import { seededRandom } from '../ingest/file-support.ts';

describe('Backoff', () => {
  it('doubles up to the maximum, each delay in the upper half of its ceiling, and starts over after reset', (t) => {
    const seed = 1234;
    t.diagnostic(`seed ${seed}`);
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: seededRandom(seed) });
    const ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
    for (const ceiling of ceilings) {
      const delay = backoff.next();
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} within [${ceiling / 2}, ${ceiling}]`);
    }
    assert.equal(backoff.failures, ceilings.length);
    backoff.reset();
    assert.equal(backoff.failures, 0);
    assert.ok(backoff.next() <= 100);
  });

  it('a sleep ends early when its signal is aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = sleepUnlessAborted(60_000, controller.signal);
    controller.abort();
    await sleeping;
    assert.ok(Date.now() - started < 30_000);
  });
});

describe('formatDuration', () => {
  it('says durations the way people read them', () => {
    assert.equal(formatDuration(250), '250ms');
    assert.equal(formatDuration(1234.5), '1.2s');
    assert.equal(formatDuration(299_900), '4m 59.9s');
    assert.equal(formatDuration(7_380_000), '2h 3m');
  });
});

describe('microsecond times', () => {
  it('round-trips text and microseconds, and knows real calendar times', () => {
    const text = '2025-10-21T09:00:00.100042Z';
    assert.equal(microsToIso(isoToMicros(text)), text);
    assert.equal(isoToMicros('2025-10-21T11:00:00.1+02:00'), isoToMicros('2025-10-21T09:00:00.100000Z'));
    assert.equal(isoMicros(new Date('2025-10-21T09:00:00.123Z')), '2025-10-21T09:00:00.123000Z');
    assert.equal(isRealTimestamp('2024-02-29T00:00:00.000000Z'), true);
    assert.equal(isRealTimestamp('2023-02-30T00:00:00.000000Z'), false);
    assert.throws(() => isoToMicros('yesterday'), /not an RFC 3339 timestamp/);
  });
});
