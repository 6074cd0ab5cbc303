/**
 * The one door into the audit domain: every source hands its input here (Falco's source.go: the file
 * reader and the web server end in the same function). A log line goes to sessionsFromLine, a whole
 * document (a webhook body, a pretty-printed file) to sessionsFromBody; both decode, classify, extract,
 * sanitise and identify, and report what they skipped or repaired. Pure.
 *
 * The line path's pre-filter keeps JSON.parse off the ~99 % of lines that are not interactive access,
 * and bad input is judged from the first and last bytes of a dropped line, without parsing it. A file
 * chunk is searched whole for the markers first (linesToInspect in prefilter.ts, run by
 * src/ingest/line-cutter.ts), and only the lines it cannot rule out come here.
 */
import { decodeAuditText, decodeInteractiveCandidates, jsonErrorDetail, type Rejected } from './decode.ts';
import { extractStage, type ExtractContext } from './extract.ts';
import { badInputWithoutParsing, firstContentByte, mayBeInteractiveAccess } from './prefilter.ts';
import type { SanitizeReason } from './sanitize.ts';
import type { SessionRow } from './session.ts';

export interface LineOutcome {
  /** The session stages, storable (sanitised) and identified. */
  rows: SessionRow[];
  /** Events skipped, each with its reason. */
  rejected: Rejected[];
  /** Events kept after a repair (src/audit/sanitize.ts): one entry per reason per event. */
  repaired: SanitizeReason[];
}

export interface BodyOutcome extends LineOutcome {
  /** Events in the body, valid or not. */
  events: number;
  /** Valid events that are not interactive access (nothing to store). */
  ignored: number;
}

/** A body that is not a batch of events at all: the webhook answers 400 with `message`. */
export interface BodyRefused {
  reason: 'not-json' | 'not-an-event';
  message: string;
}

// Shared, never mutated: the dropped-line path allocates nothing.
const nothing: LineOutcome = Object.freeze({ rows: [], rejected: [], repaired: [] }) as unknown as LineOutcome;
const droppedAs = (reason: Rejected['reason'], detail: string): LineOutcome =>
  Object.freeze({ rows: [], rejected: [Object.freeze({ reason, detail })], repaired: [] }) as unknown as LineOutcome;
const notJson = droppedAs('not-json', 'not a JSON object or array, nor a legacy-format audit line');
const cutLine = droppedAs('not-json', 'starts a JSON object or array but does not end it (a cut line?)');
const truncated = droppedAs('truncated', 'ends in [Truncated...] (CloudWatch cuts messages over 256 KiB)');

/** The session stages in one line of an audit log (JSON lines, any envelope of envelopes.ts, or legacy text). */
export function sessionsFromLine(line: Buffer, context: ExtractContext): LineOutcome {
  if (!mayBeInteractiveAccess(line)) {
    const bad = badInputWithoutParsing(line);
    if (bad === undefined) return nothing;
    if (bad === 'truncated') return truncated;
    const first = line[firstContentByte(line)];
    return first === 0x7b || first === 0x5b ? cutLine : notJson;
  }
  try {
    const decoded = decodeAuditText(line.toString('utf8'));
    const outcome: LineOutcome = { rows: [], rejected: decoded.rejected, repaired: [] };
    for (const event of decoded.events) {
      const stage = extractStage(event, context);
      if (!stage) continue;
      outcome.rows.push(stage.row);
      for (const reason of stage.repaired) outcome.repaired.push(reason);
    }
    return outcome.rows.length === 0 && outcome.rejected.length === 0 ? nothing : outcome;
  } catch (error) {
    return internalError(error);
  }
}

/**
 * The session stages in a whole document: a webhook body (an EventList, a bare Event, a JSON array, an
 * AKS `records` batch, a CloudWatch subscription document, a `gcloud logging read` array, a Pub/Sub
 * push), plain or with a BOM. No pre-filter (a document is parsed once anyway); events
 * that pass a cheap check and are not interactive access are only counted, not copied by the schema.
 */
export function sessionsFromBody(body: Buffer | string, context: ExtractContext): BodyOutcome | BodyRefused {
  const raw = typeof body === 'string' ? body : body.toString('utf8');
  // The apiserver never sends a BOM, but AKS exports and hand-made files can.
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { reason: 'not-json', message: `the body is not JSON (${jsonErrorDetail(text, error)})` };
  }
  if (typeof value !== 'object' || value === null) {
    return { reason: 'not-an-event', message: `the body is JSON ${value === null ? 'null' : typeof value}, not an object or array of audit events` };
  }
  try {
    const decoded = decodeInteractiveCandidates(value, context.nodeProxy ?? 'interactive');
    const outcome: BodyOutcome = { rows: [], rejected: decoded.rejected, repaired: [], events: 0, ignored: decoded.ignored };
    for (const event of decoded.events) {
      const stage = extractStage(event, context);
      if (!stage) {
        outcome.ignored++;
        continue;
      }
      outcome.rows.push(stage.row);
      for (const reason of stage.repaired) outcome.repaired.push(reason);
    }
    outcome.events = decoded.events.length + decoded.ignored + decoded.rejected.length;
    return outcome;
  } catch (error) {
    return { ...internalError(error), events: 1, ignored: 0 };
  }
}

/** Whether sessionsFromBody refused the body as a whole. */
export const isBodyRefused = (result: BodyOutcome | BodyRefused): result is BodyRefused => 'message' in result;

/** Not expected (the fuzz tests look for it): a defect here must cost one input, not the ingestion. */
function internalError(error: unknown): LineOutcome {
  return { rows: [], rejected: [{ reason: 'bad-field', detail: `internal error: ${(error as Error).name}` }], repaired: [] };
}
