/**
 * A session document: the JSON of `GET /api/v1/sessions/:id` (src/timeline/queries.ts findSession, the
 * same function: `session`, `activity`, `processTree`, `truncated`) plus what an export adds:
 *   event       opened | ended | updated (correlation added or changed what the session ran)
 *   deliveryId  unique per document: a receiver that sees one twice has a re-send
 *   sequence    1, 2, ... per session, in the order the changes committed
 */
import type { Queryable } from '../store/database.ts';
import type { SessionChangeEvent } from '../store/session-changes.ts';
import { findSession, type SessionDetail } from '../timeline/queries.ts';

export type SessionDocument = SessionDetail & {
  event: SessionChangeEvent;
  deliveryId: string;
  sequence: number;
};

export interface DocumentHeader {
  sessionId: string;
  event: SessionChangeEvent;
  deliveryId: string;
  sequence: number;
}

/** Puts a document together from the session as it is now; undefined when the session is gone (retention). */
export async function renderDocument(db: Queryable, header: DocumentHeader): Promise<SessionDocument | undefined> {
  const detail = await findSession(db, header.sessionId);
  if (!detail) return undefined;
  return { ...detail, event: header.event, deliveryId: header.deliveryId, sequence: header.sequence };
}
