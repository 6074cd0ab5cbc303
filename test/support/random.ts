/**
 * Seeded randomness for tests: every random choice comes from seededRandom(seed), and the seed is in the
 * test's name or failure message, so a failure can be replayed with TEST_SEED=<seed>.
 */

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed in the first of these environment variables that holds one, else a fresh seed (the caller prints it). */
export function seedFromEnv(...names: string[]): number {
  for (const name of names) {
    const fromEnv = Number(process.env[name]);
    if (Number.isInteger(fromEnv) && fromEnv > 0) return fromEnv;
  }
  return Math.floor(Math.random() * 2 ** 31) + 1;
}

/** TEST_SEED (or the older AUDIT_TEST_SEED) when set, else a fresh seed. */
export function testSeed(): number {
  return seedFromEnv('TEST_SEED', 'AUDIT_TEST_SEED');
}
