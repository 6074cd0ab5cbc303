/**
 * Moved to src/time/micros.ts. Kept only until src/correlate/store.ts imports it from there; then this
 * file goes away.
 */
export { isoMicrosSql } from '../time/micros.ts';
