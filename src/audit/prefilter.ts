/**
 * A byte-level test on the raw line that decides whether JSON parsing is needed at all: the hot path of
 * a multi-GB backfill, so it allocates nothing and only calls Buffer.indexOf.
 *
 * It must accept every line the classifier accepts (a strict superset, proved by
 * test/audit/prefilter.property.test.ts). Every interactive-access event has objectRef.subresource equal
 * to one of exec, attach, portforward, ephemeralcontainers, proxy. In the line that value is a JSON
 * string: the word with a quote right before it and, right after it, either the closing quote or (when
 * the event is itself inside a JSON string, as in AKS `properties.log`) the backslash of `\"`. Such
 * markers survive Go's escaping (`&` as `\u0026`, `/` as `\/`), any key order and any spacing, and they
 * skip the words inside other names (`kube-proxy`, `volumeattachments`, `executor-config`). Encoders
 * never write ASCII letters as `\u00xx`, which is the one assumption made here.
 *
 * `--audit-log-format=legacy` lines carry no objectRef: the subresource is only in `uri="..."`, possibly
 * percent-encoded, so such a line passes when it holds a bare marker word or any `%`.
 */
import type { BadInputReason } from './decode.ts';

const markers = ['exec', 'attach', 'portforward', 'ephemeralcontainers', 'proxy'].map((word) => ({
  quoted: Buffer.from(`"${word}`),
  bare: Buffer.from(word),
  length: word.length + 1,
}));

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const legacyMarker = Buffer.from(' AUDIT: ');
/** `2024-05-02T09:15:01.104512Z AUDIT: ` fits well within this many bytes. */
const LEGACY_PREFIX_BYTES = 64;

/** True when the line may hold an interactive-access event; false only when it certainly does not. */
export function mayBeInteractiveAccess(line: Buffer): boolean {
  for (const marker of markers) {
    for (let at = line.indexOf(marker.quoted); at !== -1; at = line.indexOf(marker.quoted, at + 1)) {
      const next = line[at + marker.length];
      if (next === QUOTE || next === BACKSLASH) return true;
    }
  }
  if (!isLegacyLine(line)) return false;
  for (const marker of markers) if (line.indexOf(marker.bare) !== -1) return true;
  return line.indexOf(PERCENT) !== -1;
}

/** Index of the first byte after an optional UTF-8 BOM and ASCII whitespace. */
export function firstContentByte(line: Buffer): number {
  let i = line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf ? 3 : 0;
  while (i < line.length) {
    const b = line[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) break;
    i++;
  }
  return i;
}

/** An `--audit-log-format=legacy` line: `<RFC 3339 time> AUDIT: id="..." ...`. */
export function isLegacyLine(line: Buffer): boolean {
  const start = firstContentByte(line);
  const first = line[start];
  if (first === undefined || first < 0x30 || first > 0x39) return false;
  const at = line.indexOf(legacyMarker, start);
  return at !== -1 && at - start <= LEGACY_PREFIX_BYTES;
}

/**
 * For a line the pre-filter dropped: is it bad input? Decided from its first bytes only, so normal
 * non-interactive lines are never parsed. A line that does not start with `{` or `[` (after an optional
 * BOM and whitespace) and is not a legacy-format line is `not-json`; blank lines are nothing.
 */
export function badInputWithoutParsing(line: Buffer): BadInputReason | undefined {
  const start = firstContentByte(line);
  const first = line[start];
  if (first === undefined || first === 0x7b /* { */ || first === 0x5b /* [ */) return undefined;
  if (isLegacyLine(line)) return undefined;
  return 'not-json';
}
