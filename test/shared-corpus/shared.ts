/**
 * The extra suite over the real-world corpus in ../shared (beside the checkout; CI has it, a user's
 * clone does not). Its tests skip with exactly "skipped: ../shared/fixtures not found" when the folder
 * is missing, and REQUIRE_SHARED_FIXTURES=1 (set by .ci/run) turns a missing folder into a failure, so
 * CI cannot silently run without the corpus.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** ../shared/fixtures/ (with a trailing slash), beside the project root. */
export const sharedFixturesDir = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));
/** ../shared/reference/ (with a trailing slash). */
export const sharedReferenceDir = fileURLToPath(new URL('../../../shared/reference/', import.meta.url));

const present = existsSync(sharedFixturesDir);

if (!present && process.env.REQUIRE_SHARED_FIXTURES === '1') {
  throw new Error(`REQUIRE_SHARED_FIXTURES=1 but ../shared/fixtures is not beside the checkout (looked for ${sharedFixturesDir})`);
}

/** node:test `skip` value for every test of the extra suite. */
export const sharedSkip: string | false = present ? false : 'skipped: ../shared/fixtures not found';
