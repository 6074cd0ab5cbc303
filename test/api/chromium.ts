/**
 * Real headless Chromium for the page tests: Debian's `chromium` package driven by playwright-core.
 * When /usr/bin/chromium is missing it is installed (apt-get, as .ci/run does); the tests are skipped,
 * with the reason printed, only when that install fails.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = '/usr/bin/chromium';

const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** false when Chromium is there (installing it if needed), else why the browser tests cannot run. */
export function chromiumSkipReason(): string | false {
  if (existsSync(chromiumPath)) return false;
  process.stderr.write(`${chromiumPath} is missing: installing Debian's chromium (apt-get) for the page tests\n`);
  const install = spawnSync('sh', ['-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium'], {
    stdio: ['ignore', 'inherit', 'pipe'],
    encoding: 'utf8',
  });
  if (existsSync(chromiumPath)) return false;
  const why = (install.stderr ?? install.error?.message ?? '').trim().split('\n').slice(-3).join(' / ');
  return `Chromium is not installed and apt-get could not install it (${why || `exit ${install.status}`}); install the Debian package chromium to run the page tests`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
}
