/**
 * A byte-level test on the raw line that decides whether JSON parsing is needed at all: the hot path of
 * a multi-GB backfill, so it allocates nothing and only calls Buffer.indexOf.
 *
 * It must accept every line the classifier accepts (a strict superset, proved by
 * test/audit/prefilter.property.test.ts). Every interactive-access event has an objectRef whose
 * `subresource` is exec, attach, portforward, ephemeralcontainers or proxy. So the line must hold the key
 * `subresource` followed by such a value: after the key come its closing quote, spaces, a colon, the
 * value's opening quote (each maybe backslash-escaped when the event is itself inside a JSON string, as
 * in AKS `properties.log`), then the word, then a quote or a backslash. That survives Go's escaping
 * (`&` as `\u0026`, `/` as `\/`), any key order and any spacing, and it skips the words inside other
 * names (`kube-proxy`, `volumeattachments`, `executor-config`). Encoders never write ASCII letters as
 * `\u00xx`, which is the one assumption made here.
 *
 * `--audit-log-format=legacy` lines carry no objectRef: the subresource is only in `uri="..."`, possibly
 * percent-encoded, so such a line passes when it holds a bare marker word or any `%`.
 */
import type { BadInputReason } from './decode.ts';

const words = ['exec', 'attach', 'portforward', 'ephemeralcontainers', 'proxy'].map((word) => Buffer.from(word));
/** First bytes of the words, to reject most values with one comparison. */
const firstBytes = new Set(words.map((w) => w[0]!));
const subresourceKey = Buffer.from('subresource');

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const PERCENT = 0x25;
const legacyMarker = Buffer.from(' AUDIT: ');
/** `2024-05-02T09:15:01.104512Z AUDIT: ` fits well within this many bytes. */
const LEGACY_PREFIX_BYTES = 64;

/** True when the line may hold an interactive-access event; false only when it certainly does not. */
export function mayBeInteractiveAccess(line: Buffer): boolean {
  // Most lines have no subresource at all: one native search decides them.
  for (let at = line.indexOf(subresourceKey); at !== -1; at = line.indexOf(subresourceKey, at + subresourceKey.length)) {
    if (subresourceValueIsMarker(line, at + subresourceKey.length)) return true;
  }
  if (!isLegacyLine(line)) return false;
  for (const word of words) if (line.indexOf(word) !== -1) return true;
  return line.indexOf(PERCENT) !== -1;
}

/**
 * Whether the value after a `subresource` key is one of the words, read from the bytes after the key:
 * its closing quote (escaped or not), spaces, the colon and the opening quote are skipped, then the word
 * must end with a quote or the backslash of an escaped quote.
 */
function subresourceValueIsMarker(line: Buffer, from: number): boolean {
  let i = from;
  for (;;) {
    const b = line[i];
    if (b === QUOTE || b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a || b === 0x3a /* : */) i++;
    else if (b === BACKSLASH) {
      const next = line[i + 1];
      // An escaped quote or backslash, or \n \t \r whitespace inside a JSON string.
      i += next === 0x6e || next === 0x74 || next === 0x72 ? 2 : 1;
    } else break;
    if (i - from > 64) return false;
  }
  const first = line[i];
  if (first === undefined || !firstBytes.has(first)) return false;
  for (const word of words) {
    if (line[i] !== word[0] || i + word.length >= line.length) continue;
    if (line.compare(word, 0, word.length, i, i + word.length) !== 0) continue;
    const after = line[i + word.length];
    if (after === QUOTE || after === BACKSLASH) return true;
  }
  return false;
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
