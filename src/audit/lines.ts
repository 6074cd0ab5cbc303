/**
 * The per-line transform: raw bytes of one audit log line → the session stages it holds. Pure; the
 * pre-filter keeps JSON.parse off the ~99 % of lines that are not interactive access.
 */
import { decodeAuditText, type BadInputReason } from './decode.ts';
import { extractSession, type ExtractContext } from './extract.ts';
import { mayBeInteractiveAccess } from './prefilter.ts';
import type { SessionRow } from './session.ts';

export interface LineOutcome {
  rows: SessionRow[];
  rejected: { reason: BadInputReason; detail: string }[];
}

const nothing: LineOutcome = { rows: [], rejected: [] };

export function sessionsFromLine(line: Buffer, context: ExtractContext): LineOutcome {
  if (!mayBeInteractiveAccess(line)) return nothing;
  const decoded = decodeAuditText(line.toString('utf8'));
  const rows: SessionRow[] = [];
  for (const event of decoded.events) {
    const row = extractSession(event, context);
    if (row) rows.push(row);
  }
  return { rows, rejected: decoded.rejected };
}
