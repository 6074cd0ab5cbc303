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
 *
 * A GKE Cloud Audit Logs entry has no objectRef either: its `methodName` says it
 * (`io.k8s.core.v1.pods.exec.create`, `...nodes.proxy.get`), so a line passes when it holds
 * `.core.v1.` followed by `pods.<word>.` or `nodes.proxy.`. The other envelopes (EKS CloudWatch
 * messages, AKS records, S3 export prefixes) keep the event's own `subresource` key, escaped or not.
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
const cloudAuditCoreMethod = Buffer.from('.core.v1.');
const cloudAuditPods = Buffer.from('pods.');
const cloudAuditNodesProxy = Buffer.from('nodes.proxy.');
const truncatedMark = Buffer.from('[Truncated...]');
/** `2024-05-02T09:15:01.104512Z AUDIT: ` fits well within this many bytes. */
const LEGACY_PREFIX_BYTES = 64;

/** True when the line may hold an interactive-access event; false only when it certainly does not. */
export function mayBeInteractiveAccess(line: Buffer): boolean {
  // Most lines have no subresource at all: one native search decides them.
  for (let at = line.indexOf(subresourceKey); at !== -1; at = line.indexOf(subresourceKey, at + subresourceKey.length)) {
    if (subresourceValueIsMarker(line, at + subresourceKey.length)) return true;
  }
  for (let at = line.indexOf(cloudAuditCoreMethod); at !== -1; at = line.indexOf(cloudAuditCoreMethod, at + cloudAuditCoreMethod.length)) {
    if (cloudAuditMethodIsMarker(line, at + cloudAuditCoreMethod.length)) return true;
  }
  if (!isLegacyLine(line)) return false;
  for (const word of words) if (line.indexOf(word) !== -1) return true;
  return line.indexOf(PERCENT) !== -1;
}

/**
 * The pre-filter and the bad-input check over many lines at once, for a buffer of consecutive lines
 * (a file chunk): one search per marker over the whole buffer instead of several per line. A line must
 * be looked at on its own (cut out and given to the per-line functions above and below) when
 * `mustInspect` says so: it holds a marker hit (`subresource` followed by a marker word, `.core.v1.`
 * followed by a marker method, CloudWatch's `[Truncated...]`), or it does not simply start with `{` and
 * end with `}` (or `[` and `]`): a legacy or export line, a BOM, spaces, garbage. Every other line is
 * one that mayBeInteractiveAccess drops and badInputWithoutParsing passes. The checks read the same
 * bytes as the per-line ones, except that a value check may run on past the line's end into the next
 * line, which can only add hits: the set inspected stays a superset of what the per-line pre-filter keeps
 * (test/audit/prefilter.property.test.ts compares the two).
 */
export class MarkerSearch {
  // Next hit at or after where it was last searched from (text.length: none left).
  private subresource = -1;
  private coreMethod = -1;
  private truncated = -1;
  private cloudAudit: boolean | undefined;

  constructor(private readonly text: Buffer) {}

  /** Whether the line `text[start, end)` must be inspected on its own. Ask for lines in order. */
  mustInspect(start: number, end: number): boolean {
    const text = this.text;
    const first = text[start];
    const last = text[end - 1];
    if (!((first === 0x7b && last === 0x7d) || (first === 0x5b && last === 0x5d))) return true;
    if (this.subresource < start) this.subresource = this.next(subresourceNeedle, start, subresourceValueIsMarker);
    if (this.coreMethod < start) this.coreMethod = this.holdsCloudAuditEntries() ? this.next(cloudAuditCoreMethodNeedle, start, cloudAuditMethodIsMarker) : text.length;
    if (this.truncated < start) this.truncated = this.next(truncatedNeedle, start);
    return this.subresource < end || this.coreMethod < end || this.truncated < end;
  }

  /**
   * A GKE entry is read only from its `protoPayload` (envelopes.ts), so a chunk without one has no
   * `.core.v1.` method to look for: one search for a piece starting with the rare `P` (~7 GB/s) saves
   * the `.core.v1.` one (~3 GB/s) on every other kind of log. A line there that holds the method but
   * is no GKE entry cannot be interactive access; like any well-formed line not inspected, it is not
   * judged as bad input either.
   */
  private holdsCloudAuditEntries(): boolean {
    this.cloudAudit ??= protoPayloadNeedle.find(this.text, 0) !== -1;
    return this.cloudAudit;
  }

  /** The first occurrence at or after `from` whose following bytes pass `isMarker`, or text.length. */
  private next(needle: Needle, from: number, isMarker?: (text: Buffer, after: number) => boolean): number {
    const text = this.text;
    for (let at = needle.find(text, from); at !== -1; at = needle.find(text, at + 1)) {
      if (!isMarker || isMarker(text, at + needle.pattern.length)) return at;
    }
    return text.length;
  }
}

/**
 * The numbers of the lines of `text` (line i is `text[bounds[2i], bounds[2i+1])`) that MarkerSearch says
 * must be inspected, in order: calling sessionsFromLine (input.ts) on those alone gives what calling it
 * on every line gives. Pure, so it runs on the file reader's cutting thread too.
 */
export function linesToInspect(text: Buffer, bounds: ArrayLike<number>): Int32Array {
  const markers = new MarkerSearch(text);
  const lines: number[] = [];
  for (let i = 0; i < bounds.length; i += 2) if (markers.mustInspect(bounds[i]!, bounds[i + 1]!)) lines.push(i >> 1);
  return Int32Array.from(lines);
}

/**
 * A marker searched for by a short piece of it that begins with a byte rare in audit JSON, then compared
 * whole. Node's Buffer.indexOf searches a needle under 7 bytes with memchr on its first byte (3-9 GB/s on
 * the bench log), but `subresource` or `.core.v1.` themselves at ~1.6 GB/s: those two searches and the
 * `[Truncated...]` one were most of a backfill's CPU time.
 */
class Needle {
  readonly piece: Buffer;

  constructor(
    readonly pattern: Buffer,
    private readonly offset: number,
    length: number,
  ) {
    this.piece = pattern.subarray(offset, offset + length);
  }

  /** Where the first whole pattern at or after `from` starts, or -1. */
  find(text: Buffer, from: number): number {
    for (let hit = text.indexOf(this.piece, from + this.offset); hit !== -1; hit = text.indexOf(this.piece, hit + 1)) {
      if (startsWithAt(text, this.pattern, hit - this.offset)) return hit - this.offset;
    }
    return -1;
  }
}

// `bres`, `.v1.`, `[Trunc`, `Payloa`: `b`, `.`, `[` and `P` are among the rarest bytes of the pattern in audit JSON.
const subresourceNeedle = new Needle(subresourceKey, 2, 4);
const cloudAuditCoreMethodNeedle = new Needle(cloudAuditCoreMethod, 5, 4);
const truncatedNeedle = new Needle(truncatedMark, 0, 6);
const protoPayloadNeedle = new Needle(Buffer.from('protoPayload'), 5, 6);

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

/** After `.core.v1.` in a GKE methodName: `pods.<word>.` or `nodes.proxy.`. */
function cloudAuditMethodIsMarker(line: Buffer, at: number): boolean {
  if (startsWithAt(line, cloudAuditNodesProxy, at)) return true;
  if (!startsWithAt(line, cloudAuditPods, at)) return false;
  const i = at + cloudAuditPods.length;
  for (const word of words) if (startsWithAt(line, word, i) && line[i + word.length] === 0x2e /* . */) return true;
  return false;
}

function startsWithAt(line: Buffer, word: Buffer, at: number): boolean {
  return at + word.length <= line.length && line.compare(word, 0, word.length, at, at + word.length) === 0;
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

/** Index after the last byte that is not ASCII whitespace. */
function contentEnd(line: Buffer): number {
  let end = line.length;
  while (end > 0) {
    const b = line[end - 1]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a) break;
    end--;
  }
  return end;
}

/** `2024-10-29T12:21:44.189Z {`: a CloudWatch S3 export line (digits, a time without spaces, one space). */
function isExportLine(line: Buffer, start: number): boolean {
  const space = line.indexOf(0x20, start);
  return space !== -1 && space - start <= 40 && (line[space + 1] === 0x7b || line[space + 1] === 0x5b) && line[start + 4] === 0x2d /* - */;
}

/**
 * For a line the pre-filter dropped: is it bad input? Decided from its first and last bytes and one
 * search, so normal non-interactive lines are never parsed:
 * - blank: nothing;
 * - anything holding CloudWatch's `[Truncated...]` mark: `truncated` (an oversized event, maybe inside
 *   an envelope's message);
 * - not starting with `{` or `[` (after an optional BOM and whitespace), and neither a legacy-format
 *   line nor an S3 export line: `not-json`;
 * - starting with `{` but not ending with `}`, or `[` but not `]`: `not-json` (a cut line).
 * A dropped line that is well-formed at both ends but invalid inside is not counted: the README says so.
 */
export function badInputWithoutParsing(line: Buffer): BadInputReason | undefined {
  const start = firstContentByte(line);
  let first = line[start];
  if (first === undefined) return undefined;
  if (line.indexOf(truncatedMark, start) !== -1) return 'truncated';
  let from = start;
  if (first !== 0x7b /* { */ && first !== 0x5b /* [ */) {
    if (isLegacyLine(line)) return undefined;
    if (first < 0x30 || first > 0x39 || !isExportLine(line, start)) return 'not-json';
    from = line.indexOf(0x20, start) + 1;
    first = line[from]!;
  }
  const last = line[contentEnd(line) - 1];
  if (first === 0x7b && last !== 0x7d /* } */) return 'not-json';
  if (first === 0x5b && last !== 0x5d /* ] */) return 'not-json';
  return undefined;
}
