// exectrail web page: sessions with filters, one session's timeline, one pod's timeline.
// Every value shown comes from audit and runtime events an attacker can shape (command lines, user
// agents, paths), so the DOM is built with createElement/textContent only (dom.js): no innerHTML anywhere.
import { h } from './dom.js';
import { markKind, swimlanes } from './swimlanes.js';

const app = document.getElementById('app');

// ------------------------------------------------------------------------------------------- helpers

/** argv as a shell would need it typed (same rule as the CLI). */
function shellJoin(argv) {
  return argv.map((a) => (a !== '' && /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function formatDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${(s - m * 60).toFixed(1)}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

const accessNames = { exec: 'exec', attach: 'attach', portforward: 'port-forward', ephemeralcontainers: 'debug container', proxy: 'node exec (nodes/proxy)' };
const accessKind = (s) => `${s.tty ? 'interactive ' : ''}${accessNames[s.subresource] ?? s.subresource ?? 'exec'}`;
const targetOf = (s) => {
  const pod = `${s.namespace}/${s.pod ?? '?'}`;
  const where = s.targetType === 'node' ? `node ${s.node ?? '?'}${s.pod ? ` → ${pod}` : ''}` : pod;
  return s.container ? `${where} container ${s.container}` : where;
};
const toolOf = (s) => (s.clientVersion ? `${s.tool} ${s.clientVersion}` : s.tool);
const outcomeOf = (s) => {
  if (!s.allowed) return `denied${s.responseCode ? ` ${s.responseCode}` : ''}${s.reason ? `: ${s.reason}` : ''}`;
  if (s.endedAt === null) return 'still open';
  return s.durationMs === null ? 'ended' : `ended after ${formatDuration(s.durationMs)}`;
};
/** The outcome cell: a short badge for a refusal, with the apiserver's reason beside it. */
const outcomeNode = (s) =>
  s.allowed
    ? outcomeOf(s)
    : h('span', {}, h('span', { class: 'badge denied' }, `denied${s.responseCode ? ` ${s.responseCode}` : ''}`), s.reason ? h('span', { class: 'reason' }, ` ${s.reason}`) : null);
const isBlock = (e) => e.kind === 'alert' && /^block$/i.test(e.action ?? '');
const count = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const sessionHref = (id) => `#/session/${encodeURIComponent(id)}`;
const timelineHref = (params) => `#/timeline?${new URLSearchParams(params)}`;
const time = (t) => h('time', { datetime: t, class: 'ts' }, t);

/** A time `minutes` before (negative) or after an ISO time, to the microsecond of the original. */
function shiftIso(iso, minutes) {
  const d = new Date(Date.parse(iso) + minutes * 60_000);
  return `${d.toISOString().slice(0, 19)}.${iso.slice(20, 26) || '000000'}Z`;
}

// --------------------------------------------------------------------------------------------- API

class Unauthorized extends Error {}

async function api(path, params = {}) {
  const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ''));
  const headers = { Accept: 'application/json' };
  const token = sessionStorage.getItem('exectrail-token');
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`api/v1/${path}${query.size ? `?${query}` : ''}`, { headers });
  if (response.status === 401) throw new Unauthorized();
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
  return body;
}

function tokenForm() {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', 'aria-label': 'API token' });
  return h(
    'form',
    {
      class: 'card',
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem('exectrail-token', input.value.trim());
        route();
      },
    },
    h('p', {}, 'This server asks for the API token (the content of its -api-token-file).'),
    input,
    ' ',
    h('button', { type: 'submit' }, 'Use token'),
  );
}

function show(...nodes) {
  app.replaceChildren(...nodes.filter(Boolean));
}

// --------------------------------------------------------------------------------------- sessions

// Newest first whatever their age: a default window would show an empty page over an older backfill.
const sinceChoices = [
  ['', 'any time'],
  ['1h', 'last hour'],
  ['24h', 'last 24 hours'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
];

function filterForm(values) {
  const field = (name, label) =>
    h('label', {}, label, h('input', { name, value: values.get(name) ?? '', placeholder: 'any', autocomplete: 'off' }));
  const select = (name, label, choices) =>
    h(
      'label',
      {},
      label,
      h('select', { name }, choices.map(([value, text]) => h('option', { value, selected: (values.get(name) ?? '') === value }, text))),
    );
  return h(
    'form',
    {
      class: 'filters',
      id: 'filters',
      onsubmit: (event) => {
        event.preventDefault();
        const data = new URLSearchParams();
        for (const [k, v] of new FormData(event.target)) if (v !== '') data.set(k, String(v));
        location.hash = `#/?${data}`;
      },
    },
    field('user', 'User'),
    field('namespace', 'Namespace'),
    field('pod', 'Pod'),
    select('allowed', 'Outcome', [
      ['', 'allowed and denied'],
      ['true', 'allowed'],
      ['false', 'denied'],
    ]),
    select('since', 'Started', sinceChoices),
    h('button', { type: 'submit' }, 'Show'),
  );
}

/** A table cell with its column name, which the narrow layout shows beside the value (style.css). */
const cell = (label, attrs, ...children) => h('td', { ...attrs, 'data-label': label }, ...children);

const sessionColumns = ['Started (UTC)', 'User', 'Access', 'Target', 'From', 'Tool', 'Outcome', 'Processes', 'Alerts', 'Command'];

function sessionRow(s) {
  const [started, user, access, target, from, tool, outcome, processes, alerts, command] = sessionColumns;
  return h(
    'tr',
    { class: s.allowed ? (s.blockCount ? 'blocked' : '') : 'denied', 'data-session-id': s.id },
    cell(started, {}, h('a', { href: sessionHref(s.id) }, time(s.startedAt))),
    cell(user, {}, s.user),
    cell(access, {}, accessKind(s)),
    cell(target, {}, s.pod ? h('a', { href: timelineHref({ namespace: s.namespace, pod: s.pod, from: shiftIso(s.startedAt, -15), to: shiftIso(s.endedAt ?? s.startedAt, 15) }) }, targetOf(s)) : targetOf(s)),
    cell(from, {}, s.sourceIp ?? ''),
    cell(tool, {}, toolOf(s)),
    cell(outcome, { class: 'outcome' }, outcomeNode(s), s.auditIdReused ? h('span', { class: 'badge reused', title: 'another request used the same Audit-ID' }, 'Audit-ID reused') : null),
    cell(processes, { class: 'num' }, String(s.processCount)),
    cell(alerts, { class: 'num' }, s.blockCount ? h('span', { class: 'badge block' }, `${s.alertCount} (${s.blockCount} Block)`) : String(s.alertCount)),
    cell(command, {}, h('code', {}, shellJoin(s.command))),
  );
}

async function sessionsView(params) {
  const values = new URLSearchParams(params);
  const query = Object.fromEntries(values);
  const body = h('tbody', {});
  const more = h('button', { type: 'button', class: 'more', hidden: true }, 'More sessions');
  const table = h(
    'table',
    { class: 'sessions' },
    h('thead', {}, h('tr', {}, sessionColumns.map((t) => h('th', {}, t)))),
    body,
  );
  const status = h('p', { class: 'muted' });
  show(h('h1', {}, 'Exec sessions'), filterForm(values), table, more, status);
  let cursor;
  const load = async () => {
    const page = await api('sessions', { ...query, cursor });
    body.append(...page.sessions.map(sessionRow));
    cursor = page.nextCursor ?? undefined;
    more.hidden = !cursor;
    status.textContent = body.children.length ? '' : 'No exec sessions match these filters.';
  };
  more.addEventListener('click', () => load().catch(showError));
  await load();
}

// ---------------------------------------------------------------------------------------- session

/** One runtime event; `inRow` leaves out the time and badge a timeline row already shows. */
function eventLine(event, { inRow = false } = {}) {
  const alert = event.kind === 'alert';
  const why = [event.policyName && `policy ${event.policyName}`, event.severity && `severity ${event.severity}`, event.message, event.result].filter(Boolean).join(' · ');
  const parts = [
    !inRow && time(event.time),
    alert && !inRow && h('span', { class: `badge ${isBlock(event) ? 'block' : 'audit'}` }, `ALERT ${event.action ?? event.type ?? ''}`),
    event.operation && event.operation !== 'Process' && h('span', { class: 'op' }, event.operation),
    h('code', { class: 'cmd' }, event.resource || event.processName || event.operation || '?'),
    event.hostPid !== null && h('span', { class: 'pid' }, `pid ${event.hostPid}`),
    alert && why && h('span', { class: 'why' }, why),
  ].filter(Boolean);
  // Spaces between the parts, so that copied text reads as a line.
  return h('div', { class: `event ${alert ? (isBlock(event) ? 'alert block' : 'alert') : ''}`, 'data-event': event.eventKey }, parts.flatMap((part, i) => (i ? [' ', part] : [part])));
}

function processTree(nodes, activity) {
  if (!nodes.length) return h('p', { class: 'muted' }, 'No runtime events are linked to this session (no KubeArmor telemetry for its container, or not correlated yet).');
  const render = (list) =>
    h(
      'ul',
      { class: 'tree' },
      list.map((node) => h('li', {}, eventLine(activity[node.event]), node.children.length ? render(node.children) : null)),
    );
  return render(nodes);
}

function facts(rows) {
  return h(
    'dl',
    { class: 'facts' },
    rows.filter(([, value]) => value !== null && value !== undefined && value !== '').flatMap(([label, value]) => [h('dt', {}, label), h('dd', {}, value)]),
  );
}

/** One session's lane: its bar from start to end, its processes and alerts as marks. */
function sessionLane(s, marks, { current = false } = {}) {
  return { id: s.id, label: `${s.user} · ${accessKind(s)}`, href: sessionHref(s.id), start: s.startedAt, end: s.endedAt, denied: !s.allowed, current, marks };
}

/** The window a session's chart spans: its start to its end or last event, with a little room either side. */
function sessionWindow(s, activity) {
  const start = Date.parse(s.startedAt);
  const end = Math.max(Date.parse(s.endedAt ?? s.startedAt), ...activity.map((e) => Date.parse(e.time)));
  const pad = Math.max((end - start) * 0.03, 500);
  return { from: new Date(start - pad).toISOString(), to: new Date(end + pad).toISOString() };
}

async function sessionView(id) {
  const detail = await api(`sessions/${encodeURIComponent(id)}`);
  const s = detail.session;
  const alerts = detail.activity.filter((e) => e.kind === 'alert');
  const blocks = alerts.filter(isBlock).length;
  const context = h('section', { id: 'pod-context' }, h('p', { class: 'muted' }, 'Loading the pod timeline…'));
  show(
    h('p', {}, h('a', { href: '#/' }, '← all sessions')),
    h('h1', { class: s.allowed ? '' : 'denied-title' }, `${s.user} — ${accessKind(s)} into ${targetOf(s)}`),
    s.auditIdReused
      ? h('p', { class: 'warning', role: 'alert' }, `Warning: another request used the same Audit-ID (${s.auditId}). A client sets that header, so this may be an attempt to hide or overwrite a session; each request is kept as its own session.`)
      : null,
    facts([
      ['Outcome', outcomeNode(s)],
      ['Started (UTC)', time(s.startedAt)],
      ['Ended (UTC)', s.endedAt ? time(s.endedAt) : 'still open'],
      ['User', s.user],
      ['Groups', s.groups.join(', ')],
      ['Impersonated user', s.impersonatedUser],
      ['From', s.sourceIp],
      ['Tool', toolOf(s)],
      ['User agent', s.userAgent],
      ['Target', targetOf(s)],
      ['Command', h('code', {}, shellJoin(s.command))],
      ['Terminal', s.tty ? 'yes (interactive)' : 'no'],
      ['Session', h('code', {}, s.id)],
    ]),
    h(
      'p',
      { class: 'summary' },
      `${count(s.processCount, 'process', 'processes')}, ${count(alerts.length, 'alert')}`,
      blocks ? h('span', { class: 'badge block' }, `${blocks} Block`) : null,
    ),
    h('section', { class: 'chart' }, h('h2', {}, 'Over time'), swimlanes({ ...sessionWindow(s, detail.activity), lanes: [sessionLane(s, detail.activity, { current: true })] })),
    // Every linked event once: processes as a tree, files, network and alerts under the process that made them.
    h('section', { id: 'activity' }, h('h2', {}, 'What ran, as a process tree, with what each process did'), processTree(detail.processTree, detail.activity)),
    detail.truncated ? h('p', { class: 'warn' }, 'More events than the page shows: use /api/v1/runtime-events to page through them.') : null,
    context,
  );
  if (s.pod) {
    const window = { namespace: s.namespace, pod: s.pod, from: shiftIso(s.startedAt, -15), to: shiftIso(s.endedAt ?? new Date().toISOString(), 15) };
    const timeline = await api('timeline', window);
    context.replaceChildren(
      h('h2', {}, `Around it in pod ${s.namespace}/${s.pod} (15 minutes either side)`),
      h('p', { class: 'muted' }, 'Other sessions, denied attempts and alerts; this session\'s own events are above.'),
      timelineTable(timeline, { current: s.id }),
      h('p', {}, h('a', { href: timelineHref(window) }, 'Open the pod timeline')),
    );
  } else context.replaceChildren();
}

// --------------------------------------------------------------------------------------- timeline

const timelineColumns = ['Time (UTC)', 'Event', 'User', 'Detail'];

/** The pod's entries as a table; with `current`, that session's runtime events are left out (shown above). */
function timelineTable(timeline, { current } = {}) {
  const sessions = new Map(timeline.sessions.map((s) => [s.id, s]));
  const [when, what, who, detailColumn] = timelineColumns;
  const entries = timeline.entries.filter((entry) => !(current && entry.event && entry.sessionId === current));
  const rows = entries.map((entry) => {
    if (!entry.event) {
      const s = sessions.get(entry.sessionId);
      const link = h('a', { href: sessionHref(s.id) }, s.user);
      const label = { 'session-start': 'session opened', 'session-end': 'session ended', denied: 'DENIED attempt' }[entry.kind];
      const detail =
        entry.kind === 'session-end'
          ? outcomeOf(s)
          : [`${accessKind(s)} into ${targetOf(s)} from ${s.sourceIp ?? 'unknown address'} with ${toolOf(s)}: `, h('code', {}, shellJoin(s.command)), entry.kind === 'denied' ? ` — ${outcomeOf(s)}` : ''];
      return h(
        'tr',
        { class: `${entry.kind}${s.id === current ? ' current' : ''}` },
        cell(when, {}, time(entry.time)),
        cell(what, {}, entry.kind === 'denied' ? h('span', { class: 'badge denied' }, label) : label),
        cell(who, {}, link),
        cell(detailColumn, {}, detail),
      );
    }
    const s = entry.sessionId ? sessions.get(entry.sessionId) : undefined;
    return h(
      'tr',
      { class: `${entry.kind}${isBlock(entry.event) ? ' block' : ''}` },
      cell(when, {}, time(entry.time)),
      cell(what, {}, entry.kind === 'alert' ? h('span', { class: `badge ${isBlock(entry.event) ? 'block' : 'audit'}` }, `ALERT ${entry.event.action ?? ''}`) : entry.kind),
      cell(who, {}, s ? h('a', { href: sessionHref(s.id) }, s.user) : h('span', { class: 'muted' }, 'no session')),
      // Indentation by class: the page's CSP allows no inline style attributes.
      cell(detailColumn, { class: `depth-${Math.min(entry.depth, 8)}` }, eventLine(entry.event, { inRow: true })),
    );
  });
  if (!rows.length) return h('p', { class: 'muted' }, current ? 'Nothing else in this pod around it.' : 'No sessions, denied attempts or alerts in this window.');
  return h('table', { class: 'timeline' }, h('thead', {}, h('tr', {}, timelineColumns.map((t) => h('th', {}, t)))), h('tbody', {}, rows));
}

/** The pod's sessions as swimlanes; alerts no session explains get a lane of their own. */
function podLanes(timeline) {
  const marks = new Map(timeline.sessions.map((s) => [s.id, []]));
  const unattributed = [];
  for (const entry of timeline.entries) {
    if (!entry.event || !markKind(entry.event)) continue;
    if (entry.sessionId && marks.has(entry.sessionId)) marks.get(entry.sessionId).push(entry.event);
    else if (entry.kind === 'alert') unattributed.push(entry.event);
  }
  return swimlanes({
    from: timeline.target.from,
    to: timeline.target.to,
    lanes: timeline.sessions.map((s) => sessionLane(s, marks.get(s.id))),
    extraLane: { label: 'alerts no session explains', marks: unattributed },
  });
}

/** Pod, namespace and window of the pod timeline; times as RFC 3339 or a duration before now. */
function timelineForm(values) {
  const field = (name, label, placeholder) => h('label', {}, label, h('input', { name, value: values.get(name) ?? '', placeholder, autocomplete: 'off', required: name === 'namespace' || name === 'pod' }));
  return h(
    'form',
    {
      class: 'filters',
      id: 'timeline-filters',
      onsubmit: (event) => {
        event.preventDefault();
        const data = new URLSearchParams();
        for (const [k, v] of new FormData(event.target)) if (String(v).trim() !== '') data.set(k, String(v).trim());
        location.hash = `#/timeline?${data}`;
      },
    },
    field('namespace', 'Namespace', 'shop'),
    field('pod', 'Pod', 'web-0'),
    field('from', 'From', '1h, 7d or 2025-10-19T14:00:00Z'),
    field('to', 'To', 'now'),
    h('button', { type: 'submit' }, 'Show'),
  );
}

/** The same length of window just before or after this one. */
function shiftedWindow(target, direction) {
  const from = Date.parse(target.from);
  const to = Date.parse(target.to);
  const span = to - from;
  const at = (ms) => new Date(ms).toISOString();
  return { namespace: target.namespace, pod: target.pod, from: at(from + direction * span), to: at(to + direction * span) };
}

async function timelineView(params) {
  const values = new URLSearchParams(params);
  if (!values.get('namespace') || !values.get('pod')) {
    show(h('h1', {}, 'Pod timeline'), timelineForm(values), h('p', { class: 'muted' }, 'Give the namespace and the pod; the window is the last hour unless you give From (and To).'));
    return;
  }
  const timeline = await api('timeline', Object.fromEntries(values));
  const t = timeline.target;
  const s = timeline.summary;
  show(
    h('p', {}, h('a', { href: '#/' }, '← all sessions')),
    h('h1', {}, `Pod ${t.namespace}/${t.pod}`),
    timelineForm(values),
    h(
      'p',
      { class: 'window' },
      h('a', { href: timelineHref(shiftedWindow(t, -1)), class: 'earlier' }, '← earlier'),
      ' ',
      h('span', { class: 'muted' }, `${t.from} – ${t.to} (UTC)`),
      ' ',
      h('a', { href: timelineHref(shiftedWindow(t, 1)), class: 'later' }, 'later →'),
    ),
    h(
      'p',
      { class: 'summary' },
      `${count(s.sessions, 'session')} (${s.interactive} interactive), ${count(s.denied, 'denied attempt')}, ${count(s.processes, 'process', 'processes')}, ${count(s.alerts, 'alert')}`,
      s.blocked ? h('span', { class: 'badge block' }, `${s.blocked} Block`) : null,
    ),
    timeline.sessions.length || s.alerts ? h('section', { class: 'chart' }, podLanes(timeline)) : null,
    timelineTable(timeline),
    timeline.truncated ? h('p', { class: 'warn' }, 'More runtime events than the limit: narrow the window to see them all.') : null,
  );
}

// ----------------------------------------------------------------------------------------- routing

function showError(error) {
  if (error instanceof Unauthorized) show(tokenForm());
  else show(h('p', { class: 'error' }, `Could not load: ${error.message}`), h('p', {}, h('a', { href: '#/' }, 'Back to the sessions')));
}

async function route() {
  const hash = location.hash.slice(1) || '/';
  const [path, params = ''] = hash.split('?');
  try {
    if (path.startsWith('/session/')) await sessionView(decodeURIComponent(path.slice('/session/'.length)));
    else if (path === '/timeline') await timelineView(params);
    else await sessionsView(params);
    document.body.dataset.ready = 'true';
  } catch (error) {
    showError(error);
    document.body.dataset.ready = 'true';
  }
}

window.addEventListener('hashchange', () => {
  document.body.dataset.ready = 'false';
  route();
});
route();
