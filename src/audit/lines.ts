/**
 * The per-line transform: raw bytes of one audit log line → the session stages it holds. Pure; the
 * pre-filter keeps JSON.parse off the ~99 % of lines that are not interactive access, and bad input is
 * judged from the first bytes of a dropped line, without parsing it.
 */
import { decodeAuditText, type Rejected } from './decode.ts';
import type { AuditEvent } from './event.ts';
import { extractSession, type ExtractContext } from './extract.ts';
import { badInputWithoutParsing, mayBeInteractiveAccess } from './prefilter.ts';
import type { SessionRow } from './session.ts';

export interface LineOutcome {
  rows: SessionRow[];
  rejected: Rejected[];
}

// Shared, never mutated: the dropped-line path allocates nothing.
const nothing: LineOutcome = Object.freeze({ rows: [], rejected: [] }) as unknown as LineOutcome;
const notJson: LineOutcome = Object.freeze({
  rows: [],
  rejected: [Object.freeze({ reason: 'not-json', detail: 'not a JSON object or array, nor a legacy-format audit line' })],
}) as unknown as LineOutcome;

/** The session stages in one line of an audit log (JSON lines, any envelope, or legacy text). */
export function sessionsFromLine(line: Buffer, context: ExtractContext): LineOutcome {
  if (!mayBeInteractiveAccess(line)) return badInputWithoutParsing(line) ? notJson : nothing;
  return sessionsFromText(line.toString('utf8'), context);
}

/**
 * The session stages in a whole document: a webhook body, a pretty-printed event or AKS record, a JSON
 * array. No pre-filter (a document is parsed once anyway).
 */
export function sessionsFromDocument(body: Buffer | string, context: ExtractContext): LineOutcome {
  return sessionsFromText(typeof body === 'string' ? body : body.toString('utf8'), context);
}

function sessionsFromText(text: string, context: ExtractContext): LineOutcome {
  try {
    const decoded = decodeAuditText(text);
    const rows = sessionsFromEvents(decoded.events, context);
    return rows.length === 0 && decoded.rejected.length === 0 ? nothing : { rows, rejected: decoded.rejected };
  } catch (error) {
    // Not expected (the fuzz tests look for it): a defect here must cost one line, not the ingestion.
    return { rows: [], rejected: [{ reason: 'bad-field', detail: `internal error: ${(error as Error).message}` }] };
  }
}

/** The session stages among decoded events (the webhook decodes its body itself). */
export function sessionsFromEvents(events: readonly AuditEvent[], context: ExtractContext): SessionRow[] {
  const rows: SessionRow[] = [];
  for (const event of events) {
    const row = extractSession(event, context);
    if (row) rows.push(row);
  }
  return rows;
}
