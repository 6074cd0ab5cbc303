/**
 * Timelines and session lists as text (a terminal), JSON (scripts; the same document the HTTP API
 * returns) and Markdown (pasted into an incident report). Pure.
 *
 * Everything shown here is attacker-influenced (command lines, user agents, user names, paths), so text
 * output escapes control and bidirectional-override characters (an ESC sequence in a command line must
 * not drive the reader's terminal, U+202E must not reorder what they read) and Markdown output escapes
 * what would otherwise become markup, links or a broken table.
 */
import type { OutputFormat } from '../config/options.ts';
import { formatDuration } from '../time/duration.ts';
import type { Timeline, TimelineEntry } from './assemble.ts';
import type { Page } from './queries.ts';
import { isBlockAlert, type RuntimeEventRecord, type SessionSummary } from './records.ts';

// C0 and C1 controls, DEL, and the Unicode bidi marks and overrides.
const unsafeChars = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const namedEscapes: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Text safe to print: control and bidi characters shown as escapes (`\x1b`, `\u202e`). */
export function visible(text: string): string {
  return text.replace(unsafeChars, (c) => {
    const named = namedEscapes[c];
    if (named) return named;
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** argv as a shell would need it typed, so `sh -c 'a | b'` reads as one argument. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((arg) => (arg !== '' && /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

const accessNames: Record<string, string> = {
  exec: 'exec',
  attach: 'attach',
  portforward: 'port-forward',
  ephemeralcontainers: 'debug container',
  proxy: 'node exec (nodes/proxy)',
};

/** "interactive exec", "attach", "debug container"... */
export function accessKind(session: SessionSummary): string {
  const name = accessNames[session.subresource ?? ''] ?? session.subresource ?? 'exec';
  return session.tty ? `interactive ${name}` : name;
}

/** "shop/web-0 container web", "node worker-1 → shop/web-0 container web" (nodes/proxy). */
export function targetOf(session: SessionSummary): string {
  const pod = `${session.namespace}/${session.pod ?? '?'}`;
  const where = session.targetType === 'node' ? `node ${session.node ?? '?'}${session.pod ? ` → ${pod}` : ''}` : pod;
  return session.container ? `${where} container ${session.container}` : where;
}

export function toolOf(session: SessionSummary): string {
  return session.clientVersion ? `${session.tool} ${session.clientVersion}` : session.tool;
}

/** "ended after 4m 59.9s", "still open", "denied (403 ...)". */
export function outcomeOf(session: SessionSummary): string {
  if (!session.allowed) return `denied${session.responseCode ? ` ${session.responseCode}` : ''}${session.reason ? `: ${session.reason}` : ''}`;
  if (session.endedAt === null) return 'still open';
  return session.durationMs === null ? 'ended' : `ended after ${formatDuration(session.durationMs)}`;
}

/** What an alert says: action, policy, severity, result. */
function alertDetail(event: RuntimeEventRecord): string {
  const parts = [event.action ?? event.type ?? 'alert'];
  if (event.policyName) parts.push(`policy ${event.policyName}`);
  if (event.severity) parts.push(`severity ${event.severity}`);
  const detail = parts.join(', ');
  const said = [event.message, event.result].filter(Boolean).join('; ');
  return said ? `${detail}: ${said}` : detail;
}

/** What ran or was touched: the command line for a process, the path or address otherwise. */
function eventSubject(event: RuntimeEventRecord): string {
  const subject = event.resource || event.processName || event.operation || '?';
  return event.operation && event.operation !== 'Process' ? `${event.operation} ${subject}` : subject;
}

function summaryLine(timeline: Timeline): string {
  const s = timeline.summary;
  const count = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  return [
    `${count(s.sessions, 'session')} (${s.interactive} interactive)`,
    count(s.denied, 'denied attempt'),
    count(s.processes, 'process', 'processes'),
    `${count(s.alerts, 'alert')} (${s.blocked} Block)`,
  ].join(', ');
}

function podName(timeline: Timeline): string {
  const t = timeline.target;
  return `${t.cluster ? `${t.cluster}:` : ''}${t.namespace}/${t.pod}`;
}

const truncationNote = 'more runtime events than the limit: the list stops early; narrow the window to see them all';

// ---------------------------------------------------------------------------------------------- text

const textLabels: Record<TimelineEntry['kind'], string> = {
  'session-start': 'SESSION',
  'session-end': 'END',
  denied: 'DENIED',
  process: 'PROCESS',
  alert: 'ALERT',
  event: 'EVENT',
};

function textEntry(entry: TimelineEntry, sessions: Map<string, SessionSummary>): string {
  const label = textLabels[entry.kind].padEnd(8);
  if (!('event' in entry)) {
    const s = sessions.get(entry.sessionId)!;
    const via = `from ${s.sourceIp ?? 'unknown address'} with ${toolOf(s)}`;
    if (entry.kind === 'session-end') return `${entry.time}  ${label}  ${s.user}'s ${accessKind(s)} ${outcomeOf(s)} (${s.id})`;
    if (entry.kind === 'denied')
      return `${entry.time}  ${label}  ${s.user} tried ${accessKind(s)} into ${targetOf(s)} ${via}: ${shellJoin(s.command)} — ${outcomeOf(s)} (${s.id})`;
    return `${entry.time}  ${label}  ${s.user} opened ${accessKind(s)} into ${targetOf(s)} ${via}: ${shellJoin(s.command)} (${s.id})`;
  }
  const who = entry.sessionId ? sessions.get(entry.sessionId)?.user ?? '?' : '(no session)';
  const indent = '  '.repeat(entry.depth);
  const line = `${entry.time}  ${label}  ${who}  ${indent}${eventSubject(entry.event)}`;
  return entry.kind === 'alert' ? `${line}  [${isBlockAlert(entry.event) ? 'BLOCKED: ' : ''}${alertDetail(entry.event)}]` : line;
}

function timelineText(timeline: Timeline): string {
  const t = timeline.target;
  const sessions = new Map(timeline.sessions.map((s) => [s.id, s]));
  const lines = [
    `Timeline of pod ${podName(timeline)} from ${t.from} to ${t.to} (UTC)`,
    summaryLine(timeline),
    '',
    ...(timeline.entries.length
      ? timeline.entries.map((e) => textEntry(e, sessions))
      : ['no sessions, denied attempts or alerts in this window (widen it with -since or -from/-to)']),
  ];
  if (timeline.truncated) lines.push('', truncationNote);
  return lines.map(visible).join('\n');
}

/** Columns padded to their widest cell; cells longer than `cap` are cut with …, except the `uncut` columns. */
function columns(header: string[], rows: string[][], uncut: readonly string[], cap = 48): string {
  const fit = (cell: string, i: number) => (!uncut.includes(header[i]!) && cell.length > cap ? `${cell.slice(0, cap - 1)}…` : cell);
  const all = [header, ...rows].map((row) => row.map((cell, i) => fit(visible(cell), i)));
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

// The command goes last: it is the longest cell and the only one never cut.
const sessionHeader = ['STARTED (UTC)', 'USER', 'ACCESS', 'TARGET', 'FROM', 'TOOL', 'OUTCOME', 'PROCS', 'ALERTS', 'ID', 'COMMAND'];

function sessionCells(s: SessionSummary): string[] {
  const alerts = s.blockCount ? `${s.alertCount} (${s.blockCount} Block)` : String(s.alertCount);
  return [s.startedAt, s.user, accessKind(s), targetOf(s), s.sourceIp ?? '', toolOf(s), outcomeOf(s), String(s.processCount), alerts, s.id, shellJoin(s.command)];
}

function sessionsText(page: Page<SessionSummary>): string {
  if (page.items.length === 0) return 'no exec sessions match (widen -since or drop a filter)';
  const more = page.nextCursor ? '\n\nmore sessions than -limit: raise -limit or narrow -since' : '';
  return columns(sessionHeader, page.items.map(sessionCells), ['ID', 'COMMAND']) + more;
}

// ------------------------------------------------------------------------------------------ markdown

/** Plain text for a Markdown table cell: markup characters escaped, one line. */
export function mdText(text: string): string {
  return visible(text)
    .replace(/&/g, '&amp;')
    .replace(/[\\`*_[\]<>|~#!{}]/g, (c) => `\\${c}`);
}

/** Literal text as a Markdown code span inside a table cell, whatever backticks or pipes it holds. */
export function mdCode(text: string): string {
  const body = visible(text).replace(/\|/g, '\\|');
  if (body === '') return '';
  const longestRun = Math.max(0, ...(body.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  // A code span that starts or ends with a backtick needs a space of padding (CommonMark 6.1).
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body}${pad}${fence}`;
}

function mdTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function mdSessionRows(sessions: readonly SessionSummary[]): string[][] {
  return sessions.map((s) => [
    s.startedAt,
    mdText(s.user),
    mdText(accessKind(s)),
    mdText(targetOf(s)),
    mdText(s.sourceIp ?? ''),
    mdText(toolOf(s)),
    s.allowed ? mdText(outcomeOf(s)) : `**${mdText(outcomeOf(s))}**`,
    String(s.processCount),
    s.blockCount ? `**${s.alertCount} (${s.blockCount} Block)**` : String(s.alertCount),
    mdCode(shellJoin(s.command)),
    mdCode(s.id),
  ]);
}

const mdSessionHeader = ['Started (UTC)', 'User', 'Access', 'Target', 'From', 'Tool', 'Outcome', 'Processes', 'Alerts', 'Command', 'Session'];

function mdEntry(entry: TimelineEntry, sessions: Map<string, SessionSummary>): string[] {
  if (!('event' in entry)) {
    const s = sessions.get(entry.sessionId)!;
    if (entry.kind === 'session-end') return [entry.time, 'session ended', mdText(s.user), mdText(outcomeOf(s))];
    const what = `${mdText(accessKind(s))} into ${mdText(targetOf(s))} from ${mdText(s.sourceIp ?? 'unknown address')} with ${mdText(toolOf(s))}: ${mdCode(shellJoin(s.command))}`;
    if (entry.kind === 'denied') return [entry.time, '**denied attempt**', mdText(s.user), `${what} — **${mdText(outcomeOf(s))}**`];
    return [entry.time, 'session opened', mdText(s.user), what];
  }
  const who = entry.sessionId ? mdText(sessions.get(entry.sessionId)?.user ?? '?') : '_no session_';
  const indent = entry.depth > 0 ? `${'&emsp;'.repeat(entry.depth)}↳ ` : '';
  const subject = `${indent}${mdCode(eventSubject(entry.event))}`;
  if (entry.kind === 'alert') {
    const label = isBlockAlert(entry.event) ? '**ALERT: Block**' : `**ALERT: ${mdText(entry.event.action ?? 'alert')}**`;
    return [entry.time, label, who, `${subject} — ${mdText(alertDetail(entry.event))}`];
  }
  return [entry.time, entry.kind === 'process' ? 'process' : mdText(entry.event.operation ?? 'event'), who, subject];
}

function timelineMarkdown(timeline: Timeline): string {
  const t = timeline.target;
  const s = timeline.summary;
  const sessions = new Map(timeline.sessions.map((x) => [x.id, x]));
  const parts = [
    `### Exec timeline: pod ${mdCode(podName(timeline))}`,
    '',
    mdTable(
      ['', ''],
      [
        ['Window (UTC)', `${t.from} – ${t.to}`],
        ['Cluster', t.cluster ? mdText(t.cluster) : 'all'],
        ['Sessions', `${s.sessions} (${s.interactive} interactive)`],
        ['Denied attempts', String(s.denied)],
        ['Processes run in sessions', String(s.processes)],
        ['Alerts', s.blocked ? `${s.alerts} (**${s.blocked} Block**)` : String(s.alerts)],
      ],
    ),
    '',
    '#### Sessions',
    '',
    timeline.sessions.length ? mdTable(mdSessionHeader, mdSessionRows(timeline.sessions)) : '_none in this window_',
    '',
    '#### What happened, in order',
    '',
    timeline.entries.length
      ? mdTable(['Time (UTC)', 'Event', 'User', 'Detail'], timeline.entries.map((e) => mdEntry(e, sessions)))
      : '_nothing in this window_',
  ];
  if (timeline.truncated) parts.push('', `_${truncationNote}_`);
  parts.push('', `_Generated by exectrail from the Kubernetes audit log and KubeArmor runtime events; times are UTC with microseconds._`);
  return parts.join('\n');
}

function sessionsMarkdown(page: Page<SessionSummary>): string {
  if (page.items.length === 0) return '_No exec sessions match._';
  const table = mdTable(mdSessionHeader, mdSessionRows(page.items));
  return page.nextCursor ? `${table}\n\n_More sessions than the limit: narrow the filters._` : table;
}

// ---------------------------------------------------------------------------------------------- all

export function formatTimeline(timeline: Timeline, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(timeline, null, 2);
  return format === 'markdown' ? timelineMarkdown(timeline) : timelineText(timeline);
}

export function formatSessions(page: Page<SessionSummary>, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify({ sessions: page.items, nextCursor: page.nextCursor }, null, 2);
  return format === 'markdown' ? sessionsMarkdown(page) : sessionsText(page);
}
