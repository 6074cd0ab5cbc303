/**
 * -export-slack-url URL: one human message per session to a Slack- or Mattermost-compatible incoming
 * webhook (`{"text": ...}`): who, where, the command, the first processes and any Block alert, and a
 * link to the session's page when -public-url is set. Sent for the first exported document of the
 * session once it is over (ended, or refused): a session still open sends nothing yet; with
 * -export-alerts, the document that brings the first alert after the end; an alert linked after the
 * message does not send another.
 *
 * Everything in the message but our own words comes from the audit log or KubeArmor: commands are typed
 * by the person being audited. So every such value goes in a code span (no bold, links or mentions
 * inside), with `&`, `<` and `>` escaped as Slack asks (its only escapes), backticks replaced (one
 * would close the span) and control and bidirectional characters shown as \\u escapes (a terminal
 * escape or a right-to-left override must not redraw the message).
 */
import type { SessionDocument } from '../document.ts';
import { isBlockAlert, type RuntimeEventRecord } from '../../timeline/records.ts';
import { postBody } from './http.ts';
import { urlOutputId, type Batching, type ExportOutput, type SendResult } from './output.ts';

/** Processes listed in a message; the rest are counted. */
const FIRST_PROCESSES = 10;
/** Longest value shown; the page has the rest. */
const MAX_VALUE = 300;

/** A value from the input, safe inside a Slack code span. */
export function slackCode(value: string): string {
  const shortened = value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}…` : value;
  const shown = shortened
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    // U+02CB MODIFIER LETTER GRAVE ACCENT looks like a backtick and does not end the span.
    .replace(/`/g, '\u02cb')
    .replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `\`${shown === '' ? ' ' : shown}\``;
}

const commandOf = (words: readonly string[]) => words.join(' ');

/** The process's command line as KubeArmor reported it (resource), else its executable. */
const processLine = (event: RuntimeEventRecord) => event.resource || event.processName || '?';

export function slackMessage(document: SessionDocument, publicUrl = ''): { text: string } {
  const s = document.session;
  const where = s.targetType === 'node' ? `node ${slackCode(s.node ?? '')}${s.pod ? ` (pod ${slackCode(`${s.namespace}/${s.pod}`)})` : ''}` : `pod ${slackCode(`${s.namespace}/${s.pod ?? ''}`)}`;
  const what = s.subresource ?? 'exec';
  const lines = [
    s.allowed
      ? `:computer: ${slackCode(s.user)} ran ${what} into ${where}${s.container ? ` container ${slackCode(s.container)}` : ''}${s.cluster ? ` on cluster ${slackCode(s.cluster)}` : ''}`
      : `:no_entry_sign: ${slackCode(s.user)} was denied ${what} into ${where}${s.cluster ? ` on cluster ${slackCode(s.cluster)}` : ''}${s.reason ? `: ${slackCode(s.reason)}` : ''}`,
  ];
  if (s.command.length) lines.push(`Command: ${slackCode(commandOf(s.command))}${s.tty ? ' (interactive)' : ''}`);
  lines.push(`From ${slackCode(s.sourceIp ?? 'unknown')} with ${slackCode(s.tool)}, ${s.startedAt}${s.endedAt ? ` to ${s.endedAt}` : ''}`);
  const processes = document.activity.filter((e) => e.kind === 'log' && e.operation === 'Process');
  if (processes.length) {
    lines.push(`Processes (${processes.length}):`);
    for (const event of processes.slice(0, FIRST_PROCESSES)) lines.push(`• ${slackCode(processLine(event))}`);
    if (processes.length > FIRST_PROCESSES) lines.push(`… and ${processes.length - FIRST_PROCESSES} more`);
  }
  for (const alert of document.activity.filter(isBlockAlert)) {
    lines.push(`:rotating_light: Blocked by ${slackCode(alert.policyName ?? 'a policy')}: ${slackCode(alert.resource ?? alert.processName ?? '')}`);
  }
  const audits = document.activity.filter((e) => e.kind === 'alert' && !isBlockAlert(e)).length;
  if (audits) lines.push(`${audits} audit alert${audits === 1 ? '' : 's'}`);
  if (publicUrl) lines.push(`<${publicUrl.replace(/\/+$/, '')}/#/session/${encodeURIComponent(s.id)}|Open the session>`);
  return { text: lines.join('\n') };
}

export interface SlackOutputOptions {
  url: string;
  publicUrl: string;
  timeoutMs: number;
}

export class SlackOutput implements ExportOutput {
  readonly id: string;
  readonly batching: Batching = { size: 1, delayMs: 0, onePerSession: true };

  constructor(private readonly options: SlackOutputOptions) {
    this.id = urlOutputId('slack', options.url);
  }

  wants(document: SessionDocument, deliveredBefore: boolean): boolean {
    return !deliveredBefore && (document.session.endedAt !== null || !document.session.allowed);
  }

  async send(documents: readonly SessionDocument[]): Promise<SendResult> {
    for (const document of documents) {
      const result = await postBody(this.options.url, JSON.stringify(slackMessage(document, this.options.publicUrl)), { 'Content-Type': 'application/json' }, this.options.timeoutMs);
      if (result.outcome !== 'delivered') return result;
    }
    return { outcome: 'delivered' };
  }

  async close(): Promise<void> {}
}
