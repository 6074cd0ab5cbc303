/**
 * What a committed change did to a session, as the export outbox (src/export/outbox.ts) records it: the
 * session writer reports sessions opened, ended or changed, correlation the sessions whose links changed.
 * The hook runs INSIDE the writer's transaction, so the outbox row commits or rolls back with the change.
 */
import type { Queryable } from './database.ts';

export type SessionChangeEvent = 'opened' | 'ended' | 'updated';

export interface SessionChange {
  sessionId: string;
  event: SessionChangeEvent;
}

/** Called with the transaction of the change; a throw rolls the change back (the writer retries it). */
export type SessionChangeHook = (tx: Queryable, changes: readonly SessionChange[]) => Promise<void>;
