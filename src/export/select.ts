/**
 * Which sessions are exported (-export-namespaces, -export-denied, -export-alerts): one selection for
 * every output. Pure. Judged on each document as it is rendered, so a session that gains an alert
 * after it ended is exported from that document on.
 */
import type { SessionSummary } from '../timeline/records.ts';

export interface ExportSelection {
  /** Globs (`*` any run of characters, `?` one); empty: every namespace. */
  namespaces: readonly string[];
  /** Only denied attempts. */
  deniedOnly: boolean;
  /** Only sessions with at least one KubeArmor alert (Block or Audit) linked. */
  alertsOnly: boolean;
}

export const everything: ExportSelection = { namespaces: [], deniedOnly: false, alertsOnly: false };

/** A namespace glob as an anchored regular expression; everything but `*` and `?` is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

export function compileSelection(selection: ExportSelection): (session: SessionSummary) => boolean {
  const patterns = selection.namespaces.map(globToRegExp);
  return (session) => {
    if (patterns.length > 0 && !patterns.some((p) => p.test(session.namespace))) return false;
    if (selection.deniedOnly && session.allowed) return false;
    if (selection.alertsOnly && session.alertCount === 0) return false;
    return true;
  };
}
