/**
 * The correlation decision on labelled scenarios: every KubeArmor event attributed to the session that
 * caused it or to none. Each scenario's lines are stored by the real readers and writers (test/correlate/
 * support.ts), read back as the correlation store reads them, and handed to the pure `correlate` in
 * shuffled orders. The same scenarios run through the Correlator and the view in scenarios.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { matchCommandLine } from '../../src/correlate/command-line.ts';
import { correlate, isRootExec } from '../../src/correlate/decide.ts';
import type { CorrelateOptions } from '../../src/correlate/model.ts';
import type { Database } from '../../src/store/database.ts';
import { isoToMicros } from '../../src/time/micros.ts';
import { createTestDatabase, preferredBackend } from '../support/databases.ts';
import { runtimeEventFromLine } from '../../src/runtime/json-lines.ts';
import { kubeArmorFixture, kubeArmorFixtures } from '../runtime/fixtures.ts';
import { at, shuffled, World } from '../../scenarios/correlation.ts';
import { nodeProxyAndDebug, overlappingSessions, samePodTwoNamespaces } from '../../scenarios/correlation-cases.ts';
import { assertCorrelationCopes, correlationInput, score, storeScenario, truthByKey } from './support.ts';

const options = (nowIso = '2025-10-21T12:00:00.000000Z'): CorrelateOptions => ({ skewUs: 2_000_000, nowUs: isoToMicros(nowIso) });

let db: Database;
let close: () => Promise<void>;
before(async () => ({ db, close } = await createTestDatabase(preferredBackend)));
after(() => close?.());

let runs = 0;

/** Stores the world as it is now (in a cluster of its own) and reads it back as the correlation store does. */
async function store(world: World) {
  const cluster = `decision-${++runs}`;
  const lines = world.runtimeLines();
  await storeScenario(db, cluster, world.auditLines(), lines.map((l) => l.line));
  return { cluster, truth: truthByKey(lines, cluster), ...(await correlationInput(db, cluster)) };
}

/** The pure decision over stored rows handed over in a shuffled order. */
function decide(stored: Awaited<ReturnType<typeof store>>, seed = 1, nowIso?: string) {
  const links = correlate(shuffled(stored.sessions, seed), shuffled(stored.events, seed + 1), options(nowIso));
  return { ...stored, links, score: score(links, stored.truth, stored.cluster) };
}

async function run(world: World, seed = 1, nowIso?: string) {
  return decide(await store(world), seed, nowIso);
}

const perfect = (result: Awaited<ReturnType<typeof run>>) => {
  assert.deepEqual(result.score.wrong, [], 'no event linked to the wrong session');
  assert.deepEqual(result.score.missed, [], 'no event of a session left out');
  assert.equal(result.score.precision, 1);
  assert.equal(result.score.recall, 1);
};

describe('correlation decision', () => {
  it('tells two overlapping sessions, an exec probe and the app apart (precision and recall 100 %)', async () => {
    const world = new World();
    overlappingSessions(world);
    const result = await run(world);
    perfect(result);
    assert.ok(result.score.expected >= 20, `the scenario has ${result.score.expected} attributable events`);
    assert.ok(result.links.every((l) => l.method === 'process-tree'));
    // Not a trivial scenario: events of nobody (probes, the app) fall inside both sessions' windows.
    for (const session of result.sessions) {
      const inWindow = result.events.filter((e) => result.truth.get(e.key) === null && e.us >= session.startUs && e.us <= session.endUs!);
      assert.ok(inWindow.length >= 2, `${inWindow.length} events of nobody inside ${session.id}`);
    }
  });

  it('gives the same links whatever order sessions and events come in', async () => {
    const world = new World();
    overlappingSessions(world);
    const stored = await store(world);
    const first = decide(stored, 1).links;
    for (const seed of [7, 42, 1234]) assert.deepEqual(decide(stored, seed).links, first);
  });

  it('never links across namespaces when two pods share a name', async () => {
    const world = new World();
    samePodTwoNamespaces(world);
    perfect(await run(world));
  });

  it('allows for a node clock 1.5 s behind the apiserver', async () => {
    const world = new World({ nodeClockOffsetMs: -1_500 });
    overlappingSessions(world);
    perfect(await run(world));
  });

  it('attributes old KubeArmor events (no ExecID, no TTY, PPID = HostPPID) by host PID ancestry', async () => {
    const world = new World({ oldKubeArmor: true });
    overlappingSessions(world);
    const result = await run(world);
    assert.ok(world.runtime.every(({ event }) => !('ExecEvent' in event) && !('TTY' in event)));
    perfect(result);
  });

  it('follows a nodes/proxy exec and a kubectl debug attach into their target containers', async () => {
    const world = new World();
    const { D, P } = nodeProxyAndDebug(world);
    const result = await run(world);
    perfect(result);
    assert.ok(!result.links.some((l) => l.sessionId.endsWith(P)), 'the debug container belongs to the attach that used it');
    assert.ok(result.links.some((l) => l.sessionId.endsWith(D)));
  });

  it('gives a debug container to its attach when the audit policy logged no patch body (Metadata level)', async () => {
    const world = new World();
    const { D } = nodeProxyAndDebug(world, { metadataLevel: true });
    const result = await run(world);
    perfect(result);
    assert.ok(result.links.some((l) => l.sessionId.endsWith(D)));
  });

  it('links an attach to a container by window only when nothing else runs there', async () => {
    const world = new World();
    const c = world.container('worker-3', 'tools', 'toolbox-0', 'shell');
    const t0 = '2025-10-21T10:00:00.000000Z';
    const shell = world.existing(c, '/bin/bash');
    world.podExec({ auditId: 'ffffffff-0000-4000-8000-00000000000f', user: 'frank', namespace: 'tools', pod: 'toolbox-0', container: 'shell', command: [], tty: true, start: t0, end: '2025-10-21T10:01:00.000000Z', subresource: 'attach' });
    const top = world.spawn(shell, '2025-10-21T10:00:10.000000Z', ['/usr/bin/top', '-b', '-n', '1'], 'ffffffff-0000-4000-8000-00000000000f');
    world.file(top, '2025-10-21T10:00:10.000100Z', '/proc/stat');
    const alone = await run(world);
    perfect(alone);
    assert.ok(alone.links.every((l) => l.method === 'window'));

    // An exec probe in the same window: the container has another root, so the window proves nothing.
    world.runtime.forEach((e) => (e.truth = null));
    const probed = world.runtime.length;
    world.runcExec(c, '2025-10-21T10:00:30.000000Z', ['/bin/sh', '-c', 'true'], { truth: null });
    assert.equal((await run(world)).links.length, 0);

    // Without the probe, but with the container busy just before the attach (its application at work).
    world.runtime.length = probed;
    assert.equal((await run(world)).links.length, 2, 'quiet container: linked by window');
    world.file(shell, '2025-10-21T09:59:50.000000Z', '/var/lib/app/state');
    assert.equal((await run(world)).links.length, 0);
  });

  it('tells apart two sessions running the same shell 300 ms apart on a node 1.5 s behind', async () => {
    const world = new World({ nodeClockOffsetMs: -1_500 });
    const c = world.container('worker-1', 'shop', 'web-2', 'web');
    const [first, second] = ['13131313-0000-4000-8000-000000000013', '14141414-0000-4000-8000-000000000014'];
    for (const [i, id] of [first, second].entries()) {
      const start = at('2025-10-21T09:00:00.000000Z', i * 300);
      world.podExec({ auditId: id, user: `user-${i}`, namespace: 'shop', pod: 'web-2', container: 'web', command: ['bash'], tty: true, start, end: at(start, 60_000) });
      const bash = world.runcExec(c, at(start, 45), ['/bin/bash'], { tty: true, truth: id });
      world.spawn(bash, at(start, 10_000 + i), ['/usr/bin/whoami']);
    }
    perfect(await run(world));
  });

  it("keeps a session's orphan that was re-parented to the app and then exec'd something else", async () => {
    // With ExecID the orphan keeps the session's; without (old KubeArmor) its first parent says it.
    for (const oldKubeArmor of [false, true]) await orphanScenario(oldKubeArmor);
  });

  async function orphanScenario(oldKubeArmor: boolean) {
    const world = new World({ oldKubeArmor });
    const c = world.container('worker-1', 'shop', 'web-3', 'web');
    const app = world.existing(c, '/app/server');
    const id = '15151515-0000-4000-8000-000000000015';
    world.podExec({ auditId: id, user: 'alice', namespace: 'shop', pod: 'web-3', container: 'web', command: ['bash'], tty: true, start: '2025-10-21T09:00:00.000000Z', end: '2025-10-21T09:10:00.000000Z' });
    const bash = world.runcExec(c, '2025-10-21T09:00:00.040000Z', ['/bin/bash'], { tty: true, truth: id });
    // (sleep 30; exec curl ...) & from a subshell that exits at once: the orphan's parent becomes PID 1.
    const subshell = world.spawn(bash, '2025-10-21T09:01:00.000000Z', ['/bin/bash']);
    const orphan = world.spawn(subshell, '2025-10-21T09:01:00.001000Z', ['/bin/sleep', '30']);
    const curl = world.execInPlace(orphan, '2025-10-21T09:01:30.001000Z', ['/usr/bin/curl', '-s', 'http://203.0.113.9/'], app);
    world.network(curl, '2025-10-21T09:01:30.050000Z', 'remoteip=203.0.113.9 port=80 protocol=TCP');
    world.spawn(app, '2025-10-21T09:02:00.000000Z', ['/bin/sh', '-c', 'date'], null);
    perfect(await run(world));
  }

  it('ignores denied sessions and events outside the session window', async () => {
    const world = new World();
    overlappingSessions(world);
    // A second probe-like exec with the session's own command, long after it ended: not the session's.
    const c = world.container('worker-1', 'shop', 'web-0', 'web');
    world.runcExec(c, '2025-10-21T09:30:00.000000Z', ['/bin/sh', '-c', 'tar czf /tmp/config.tgz /app/config && ls /tmp'], { truth: null });
    const result = await run(world);
    perfect(result);
    // The same requests refused (403): stored as denied attempts, never correlated.
    const denied = new World();
    overlappingSessions(denied);
    denied.audit.forEach((event) => (event.responseStatus = { metadata: {}, status: 'Failure', reason: 'Forbidden', code: 403 }));
    const refused = await run(denied);
    const { rows } = await db.query<{ allowed: boolean }>('SELECT allowed FROM change_events WHERE cluster = $1', [refused.cluster]);
    assert.deepEqual(rows.map((r) => r.allowed), [false, false], 'both attempts are stored, as denied');
    assert.deepEqual(refused.sessions, [], 'a denied attempt reached no container');
    assert.deepEqual(refused.links, []);
  });

  it('keeps an open session open until now', async () => {
    const world = new World();
    const c = world.container('worker-1', 'shop', 'web-1', 'web');
    const id = '99999999-0000-4000-8000-000000000009';
    world.podExec({ auditId: id, user: 'alice', namespace: 'shop', pod: 'web-1', container: 'web', command: ['bash'], tty: true, start: '2025-10-21T09:00:00.000000Z', end: null });
    const bash = world.runcExec(c, '2025-10-21T09:00:00.050000Z', ['/bin/bash'], { tty: true, truth: id });
    world.spawn(bash, '2025-10-21T11:00:00.000000Z', ['/usr/bin/whoami']);
    perfect(await run(world, 1, '2025-10-21T12:00:00.000000Z'));
    // Before the command ran, "now" ends the window: the later event is not yet in it.
    const early = await run(world, 1, '2025-10-21T10:00:00.000000Z');
    assert.equal(early.score.missed.length, 1);
    assert.deepEqual(early.score.wrong, []);
  });
});

describe('incomplete events', () => {
  it('attributes an alert without HostPPID through the container PID of its parent (KubeArmor v0.3)', async () => {
    const world = new World();
    overlappingSessions(world);
    const alert = world.runtime.find(({ event }) => event.Action === 'Block')!;
    const shell = world.runtime.find(({ event }) => event.HostPID === alert.event.HostPPID)!;
    // v0.3 sent neither HostPPID nor ExecEvent: only PPID, the shell's PID inside the container.
    delete alert.event.HostPPID;
    delete alert.event.ExecEvent;
    alert.event.PPID = shell.event.PID;
    perfect(await run(world));
  });

  it('never throws on any KubeArmor fixture, whatever fields it lacks', async () => {
    // The hand-trimmed sample without any time (relay-old-renders.jsonl:5) is counted, not stored.
    const lines = kubeArmorFixtures().map((f) => f.text);
    const timed = lines.filter((line) => runtimeEventFromLine(line, { cluster: 'fixtures' }).kind === 'event');
    assert.deepEqual(lines.filter((line) => !timed.includes(line)), [kubeArmorFixture('relay-old-renders.jsonl', 5).text]);
    await assertCorrelationCopes(db, timed, 'fixtures');
  });
});

describe('root processes', () => {
  it('recognises runc-started processes in the KubeArmor fixtures (Bottlerocket path, old PPID form)', async () => {
    // relay-old-renders.jsonl: `sh -c pg_dump ...` started by Bottlerocket's runc (PPID = HostPPID, before
    // Sept 2023), and the pg_dump it ran.
    const lines = kubeArmorFixtures().filter((f) => f.file === 'relay-old-renders.jsonl' && f.line <= 2).map((f) => f.text);
    await storeScenario(db, 'runc-chain', [], lines);
    const { events } = await correlationInput(db, 'runc-chain');
    assert.deepEqual(events.map((e) => [e.processName, isRootExec(e)]), [['/bin/sh', true], ['/usr/bin/pg_dump', false]]);
    assert.equal(matchCommandLine(['sh', '-c', 'pg_dump -U ledger ledger'], events[0]!.resource), 2);
  });

  it('matches command lines by program name, redacted secrets and truncation', async () => {
    assert.equal(matchCommandLine(['bash'], '/usr/bin/bash'), 2);
    assert.equal(matchCommandLine(['/bin/sh', '-c', 'id'], '/bin/sh -c id'), 2);
    assert.equal(matchCommandLine(['sh', '-c', 'id'], '/bin/sh -c ls'), 0);
    assert.equal(matchCommandLine(['bash'], '/bin/sh'), 0);
    assert.equal(matchCommandLine(['mysql', '-p[REDACTED]', '-e', 'select 1'], '/usr/bin/mysql -phunter2 -e select 1'), 2);
    const long = `echo ${'x'.repeat(300)}`;
    assert.equal(matchCommandLine(['sh', '-c', long], `/bin/sh -c ${long.slice(0, 200)}`), 1);
    assert.equal(matchCommandLine(['sh', '-c', long], '/bin/sh -c echo'), 0);
  });
});
