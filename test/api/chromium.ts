/**
 * Real headless Chromium for the page tests: Debian's `chromium` package driven by playwright-core.
 * Tests never install anything: without /usr/bin/chromium the page tests are skipped with the reason
 * printed, and with REQUIRE_BROWSER=1 (set by .ci/run, which installs the package) a missing browser is
 * a failure, so CI cannot silently skip them.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** false when Chromium is there, else why the browser tests cannot run. */
export function chromiumSkipReason(): string | false {
  if (existsSync(chromiumPath)) return false;
  const reason = `Chromium not found at ${chromiumPath}; install Debian's chromium package to run the page tests`;
  if (process.env.REQUIRE_BROWSER === '1') throw new Error(`REQUIRE_BROWSER=1 but ${reason}`);
  return reason;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}
