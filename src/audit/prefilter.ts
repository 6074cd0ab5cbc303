/**
 * A byte-level test on the raw line that decides whether JSON parsing is needed at all. It must accept
 * every line the classifier accepts (a strict superset): it looks only for markers that survive Go's
 * JSON escaping (`&` is written `\u0026`, `/` may be `\/`), in any key order and spacing.
 */

// Every interactive-access event names one of these subresources in objectRef, and in requestURI.
const markers = ['exec', 'attach', 'portforward', 'proxy', 'ephemeralcontainers'].map((m) => Buffer.from(m));

/** True when the line may hold an interactive-access event; false only when it certainly does not. */
export function mayBeInteractiveAccess(line: Buffer): boolean {
  for (const marker of markers) if (line.indexOf(marker) !== -1) return true;
  return false;
}
