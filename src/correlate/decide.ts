/**
 * The correlation decision, pure: sessions and runtime events in, links out. The database side
 * (src/correlate/pod-pass.ts) only loads the candidates and writes what this returns.
 *
 * Per pod (cluster, namespace, pod):
 * 1. Process roots. A root is an exec whose parent is outside the container: KubeArmor reports the host
 *    path of the runtime as the parent (`/usr/bin/runc`, Bottlerocket and k3s paths, or
 *    `containerd-shim-runc-v2` once runc has exited) and PPID 0 (../shared/reference/kubearmor-feeder.md
 *    "interactive exec"). Exec sessions, in start order, each take the earliest root in their container
 *    whose command line matches the exec argv, within ROOT_START_LIMIT_US of the start (TTY must agree
 *    when the container reports TTYs). A `kubectl debug` container's first process is its patch's
 *    episode (owned by the attach sessions to it); an attach also owns a container that started just
 *    before it. Every other root (exec probes, the app's runc-started processes) owns its tree for nobody.
 * 2. Trees. An event belongs to the root its process descends from: by `ExecEvent.ExecID` (inherited by
 *    every child of an exec; unique per node and container, so scoped by both) when the root carries one,
 *    else by walking host PID → the parent its first exec named, on the same node, to any depth (old
 *    KubeArmor has no ExecID and reports a root's PPID as a host PID, so container PIDs are used only
 *    when HostPPID is missing).
 * 3. Windows. A session only takes events between its start and end (open: now, at most 24 h), widened
 *    by the skew allowed between the apiserver's and the node's clocks.
 * 4. An attach session with no tree links by window, and only when nothing else could explain the
 *    container's events: no other session, no event in any root's tree, no activity just before.
 */
import { matchCommandLine } from './command-line.ts';
import type { CorrelateOptions, CorrelationEvent, CorrelationSession, Link } from './model.ts';

/** A session's root starts this soon after the request (kubelet → CRI → runc), before the skew is added. */
export const ROOT_START_LIMIT_US = 10_000_000;
/** A debug container starts this soon after its patch (an image pull included). */
export const DEBUG_START_LIMIT_US = 600_000_000;
/** kubectl attaches as soon as the container it waits for runs: its first process started this recently. */
export const FRESH_CONTAINER_US = 30_000_000;
/** Events of one process are built by user-space goroutines: allow this much disorder around an exec. */
const SAME_PROCESS_TOLERANCE_US = 500_000;
/**
 * A session whose end was never logged (a lost ResponseComplete) reaches to now, but at most this long:
 * without a cap, one such session would make every pass over its pod load the pod's whole history.
 */
export const MAX_OPEN_SESSION_US = 24 * 3_600_000_000;
/** No real process tree is deeper; a longer chain is a PID-reuse loop. */
const MAX_ANCESTRY_DEPTH = 128;

// basename of the parent when the process was started from outside the container.
const runtimeParent = /^(runc|runc:\[.*|crun|runsc|youki|conmon|kata-runtime|containerd-shim(-.*)?)$/;

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** The parent of this exec is the container runtime (or, with no name, PID 0: outside the container). */
export function isRootExec(event: CorrelationEvent): boolean {
  if (!isExec(event) || event.hostPid === undefined) return false;
  const parent = event.parentProcessName?.trim();
  if (parent) return runtimeParent.test(basename(parent));
  return event.ppid === 0;
}

/**
 * A container's own first process (runc create → the entrypoint), not an exec into it: no ExecID (no
 * setns), and PID 1 in the container, or the shim as parent (an ephemeral container sharing the target's
 * process namespace has another PID).
 */
export function isContainerInit(event: CorrelationEvent): boolean {
  if (!isRootExec(event) || hasExecId(event)) return false;
  return event.pid === 1 || /^containerd-shim/.test(basename(event.parentProcessName?.trim() ?? ''));
}

function isExec(event: CorrelationEvent): boolean {
  return event.operation?.toLowerCase() === 'process';
}

const hasExecId = (event: CorrelationEvent) => !!event.execId && event.execId !== '0';
const processKey = (host: string | undefined, pid: number) => `${host ?? ''}\u0000${pid}`;
const execGroupKey = (event: CorrelationEvent) => `${event.host ?? ''}\u0000${event.containerId ?? ''}\u0000${event.execId}`;
const podKey = (cluster: string, namespace: string | undefined, pod: string | undefined) => `${cluster}\u0000${namespace ?? ''}\u0000${pod ?? ''}`;

/** Who owns a process root. */
type Owner = { type: 'session'; session: CorrelationSession } | { type: 'debug'; episode: DebugEpisode } | { type: 'other' };

interface Claim {
  us: number;
  owner: Owner;
  root: CorrelationEvent;
}

/** A `kubectl debug` patch, the attach sessions to the container it created, and that container's first process. */
interface DebugEpisode {
  patch: CorrelationSession;
  attaches: CorrelationSession[];
  fromUs: number;
  toUs: number;
}

/** What is known of one host PID: its execs in time order, and the parent its first event named. */
interface ProcessInfo {
  firstParent?: number;
  execs: { us: number; hostPpid?: number; rootExec: boolean; execId?: string }[];
}

/** The time range a session may take events from. */
export interface SessionWindow {
  fromUs: number;
  toUs: number;
}

/** When a session ended, or for an open one, now (at most MAX_OPEN_SESSION_US after its start). */
export function endOf(session: CorrelationSession, options: CorrelateOptions): number {
  return session.endUs ?? Math.min(options.nowUs, session.startUs + MAX_OPEN_SESSION_US);
}

/** The time range a session takes events from: start to end, widened by the skew on both sides. */
export function windowOf(session: CorrelationSession, options: CorrelateOptions): SessionWindow {
  const end = endOf(session, options);
  return { fromUs: session.startUs - options.skewUs, toUs: Math.max(end, session.startUs) + options.skewUs };
}

/**
 * The windows a pass needs events for, debug episodes stretched over their attaches; the store loads the
 * union of these.
 */
export function reachOf(sessions: readonly CorrelationSession[], options: CorrelateOptions): Map<string, SessionWindow> {
  const reach = new Map<string, SessionWindow>();
  for (const session of sessions) {
    const window = windowOf(session, options);
    // An attach may own a container that started just before it (see decidePod).
    reach.set(session.id, session.kind === 'attach' ? { ...window, fromUs: window.fromUs - FRESH_CONTAINER_US } : window);
  }
  for (const episode of debugEpisodes(sessions, options)) {
    reach.set(episode.patch.id, { fromUs: episode.fromUs, toUs: episode.toUs });
  }
  return reach;
}

function debugEpisodes(sessions: readonly CorrelationSession[], options: CorrelateOptions): DebugEpisode[] {
  const patches = sessions.filter((s) => s.kind === 'debug' && s.container).sort(byStart);
  return patches.map((patch, i) => {
    // An ephemeral container's name is unique in its pod; a later patch with the same name is a new pod incarnation.
    const next = patches.slice(i + 1).find((p) => sameTarget(p, patch) && p.container === patch.container);
    const attaches = sessions
      .filter(
        (s) =>
          s.kind === 'attach' &&
          sameTarget(s, patch) &&
          s.container === patch.container &&
          s.startUs >= patch.startUs - options.skewUs &&
          (!next || s.startUs < next.startUs),
      )
      .sort(byStart);
    const patchEnd = endOf(patch, options) + DEBUG_START_LIMIT_US;
    const lastAttachEnd = Math.max(...attaches.map((a) => Math.max(endOf(a, options), a.startUs)), Number.NEGATIVE_INFINITY);
    return {
      patch,
      attaches,
      fromUs: patch.startUs - options.skewUs,
      toUs: Math.max(attaches.length ? lastAttachEnd : patchEnd, patch.startUs) + options.skewUs,
    };
  });
}

const sameTarget = (a: CorrelationSession, b: CorrelationSession) =>
  a.cluster === b.cluster && a.namespace === b.namespace && a.pod === b.pod;

const byStart = (a: CorrelationSession, b: CorrelationSession) => a.startUs - b.startUs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const byTime = (a: CorrelationEvent, b: CorrelationEvent) => a.us - b.us || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Links every event to the session whose process tree it is in (or, for attach, whose window it is in). */
export function correlate(sessions: readonly CorrelationSession[], events: readonly CorrelationEvent[], options: CorrelateOptions): Link[] {
  const sessionsByPod = groupBy(sessions, (s) => podKey(s.cluster, s.namespace, s.pod));
  const eventsByPod = groupBy(events, (e) => podKey(e.cluster, e.namespace, e.pod));
  const links: Link[] = [];
  for (const [key, podSessions] of sessionsByPod) {
    const podEvents = eventsByPod.get(key);
    if (podEvents) links.push(...decidePod(podSessions, podEvents, options));
  }
  return links.sort((a, b) => cmp(a.sessionId, b.sessionId) || cmp(a.eventTime, b.eventTime) || cmp(a.eventKey, b.eventKey));
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function decidePod(sessions: CorrelationSession[], unsorted: CorrelationEvent[], options: CorrelateOptions): Link[] {
  const events = [...unsorted].sort(byTime);
  const processes = indexProcesses(events);
  const claims = new Map<string, Claim[]>();
  const addClaim = (root: CorrelationEvent, owner: Owner) => {
    const key = processKey(root.host, root.hostPid!);
    const list = claims.get(key) ?? [];
    list.push({ us: root.us, owner, root });
    list.sort((a, b) => a.us - b.us);
    claims.set(key, list);
  };

  const roots = distinctRoots(events);
  const claimed = new Set<CorrelationEvent>();

  // Exec sessions first, in start order, each taking its best-matching root near its start.
  const ttyContainers = new Set(events.filter((e) => e.tty && e.kind !== 'alert').map((e) => e.container ?? ''));
  for (const session of sessions.filter((s) => s.kind === 'exec').sort(byStart)) {
    const from = session.startUs - options.skewUs;
    const to = Math.min(endOf(session, options), session.startUs + ROOT_START_LIMIT_US) + options.skewUs;
    let best: { root: CorrelationEvent; score: number } | undefined;
    for (const root of roots) {
      if (root.us < from) continue;
      if (root.us > to) break;
      if (claimed.has(root)) continue;
      if (session.container !== undefined && root.container !== session.container) continue;
      // TTY is reported (monitor events since Jan 2024): a -t session's shell has one, a probe's has none.
      if (ttyContainers.has(root.container ?? '') && root.kind !== 'alert' && Boolean(root.tty) !== session.tty) continue;
      const score = matchCommandLine(session.command, root.resource, root.processName);
      // Roots come in time order: the first of the best score wins. Earliest, not nearest: sessions are
      // taken in start order, so two sessions running the same command get the roots in the same order
      // even when the node's clock is off by more than the time between them.
      if (score > (best?.score ?? 0)) best = { root, score };
    }
    if (best) {
      claimed.add(best.root);
      addClaim(best.root, { type: 'session', session });
    }
  }

  // A debug container's own first process roots its episode.
  const episodes = debugEpisodes(sessions, options);
  for (const episode of episodes) {
    const root = roots.find(
      (r) =>
        !claimed.has(r) &&
        r.container === episode.patch.container &&
        r.us >= episode.fromUs &&
        r.us <= endOf(episode.patch, options) + DEBUG_START_LIMIT_US + options.skewUs,
    );
    if (root) {
      claimed.add(root);
      addClaim(root, { type: 'debug', episode });
    }
  }

  // An attach to a container that started just before it owns that container's first process tree:
  // `kubectl debug -it` under a Metadata-level audit policy (the patch then names no container) and
  // `kubectl run -it`. The latest such start before the attach is the one it waited for.
  const attached = new Set(episodes.flatMap((e) => e.attaches));
  for (const attach of sessions.filter((s) => s.kind === 'attach' && s.container !== undefined && !attached.has(s)).sort(byStart)) {
    const root = roots
      .filter(
        (r) =>
          !claimed.has(r) &&
          r.container === attach.container &&
          isContainerInit(r) &&
          r.us >= attach.startUs - FRESH_CONTAINER_US - options.skewUs &&
          r.us <= attach.startUs + options.skewUs,
      )
      .at(-1);
    if (!root) continue;
    claimed.add(root);
    const episode: DebugEpisode = { patch: attach, attaches: [attach], fromUs: root.us, toUs: windowOf(attach, options).toUs };
    episodes.push(episode);
    addClaim(root, { type: 'debug', episode });
  }

  // Every other root (exec probes, processes runc starts for the app) explains its tree, for nobody.
  for (const root of roots) if (!claimed.has(root)) addClaim(root, { type: 'other' });

  // ExecID groups: the owner of the root that carries the ExecID owns every event with it.
  const execOwners = new Map<string, Owner>();
  for (const list of claims.values())
    for (const claim of list) if (hasExecId(claim.root) && !execOwners.has(execGroupKey(claim.root))) execOwners.set(execGroupKey(claim.root), claim.owner);

  const ownerOf = (event: CorrelationEvent): Owner | undefined => {
    if (hasExecId(event)) {
      const owner = execOwners.get(execGroupKey(event));
      if (owner) return owner;
    }
    return ownerByAncestry(event, claims, processes);
  };

  const links: Link[] = [];
  const owned = new Set<CorrelationEvent>();
  for (const event of events) {
    const owner = ownerOf(event);
    if (!owner) continue;
    owned.add(event);
    const session = sessionFor(owner, event, options);
    if (session) links.push({ sessionId: session.id, eventKey: event.key, eventTime: event.time, cluster: session.cluster, method: 'process-tree' });
  }

  links.push(...windowLinks(sessions, events, episodes, owned, roots, options));
  return links;
}

/**
 * Root execs in time order, once per process. An exec by a process already seen is the same process
 * going on, not a new root: `exec bash` in a shell after runc exited, or an orphan re-parented to the
 * shim that execs something else (its parent now looks like the runtime). A different ExecID says the
 * PID was reused by a new exec.
 */
function distinctRoots(events: CorrelationEvent[]): CorrelationEvent[] {
  const seen = new Map<string, CorrelationEvent>();
  const roots: CorrelationEvent[] = [];
  for (const event of events) {
    if (!isExec(event) || event.hostPid === undefined) continue;
    const key = processKey(event.host, event.hostPid);
    const earlier = seen.get(key);
    const sameProcess = earlier && (!hasExecId(earlier) || !hasExecId(event) || earlier.execId === event.execId);
    if (sameProcess) continue;
    seen.set(key, event);
    if (isRootExec(event)) roots.push(event);
  }
  return roots;
}

function indexProcesses(events: CorrelationEvent[]): Map<string, ProcessInfo> {
  const hostPids = new Set<string>();
  const byContainerPid = new Map<string, number>();
  for (const event of events) {
    if (event.hostPid === undefined) continue;
    hostPids.add(processKey(event.host, event.hostPid));
    if (event.pid !== undefined && event.containerId) byContainerPid.set(`${event.containerId}\u0000${event.pid}`, event.hostPid);
  }
  // Events come sorted by time, so both lists are in time order.
  const index = new Map<string, ProcessInfo>();
  for (const event of events) {
    if (event.hostPid === undefined) continue;
    const key = processKey(event.host, event.hostPid);
    let info = index.get(key);
    if (!info) index.set(key, (info = { execs: [] }));
    const hostPpid = parentHostPid(event, hostPids, byContainerPid);
    if (info.firstParent === undefined) info.firstParent = hostPpid;
    if (isExec(event)) info.execs.push({ us: event.us, hostPpid, rootExec: isRootExec(event), execId: hasExecId(event) ? event.execId : undefined });
  }
  return index;
}

/**
 * The host PID of an event's parent: HostPPID. Without it (very old KubeArmor, fixture
 * kubearmor-interactive-shell-alerts line 4; hand-trimmed samples) PPID is used: as a host PID when a
 * process with that host PID is known on the node (the BPF-LSM enforcer reports the host parent PID in
 * PPID), else as a PID inside the same container.
 */
function parentHostPid(event: CorrelationEvent, hostPids: Set<string>, byContainerPid: Map<string, number>): number | undefined {
  if (event.hostPpid !== undefined && event.hostPpid > 0) return event.hostPpid;
  if (event.ppid === undefined || event.ppid <= 0) return undefined;
  if (hostPids.has(processKey(event.host, event.ppid))) return event.ppid;
  return event.containerId ? byContainerPid.get(`${event.containerId}\u0000${event.ppid}`) : undefined;
}

/** The claim in force for a process at a time: the latest one before it, unless the PID was reused since. */
function claimAt(claims: Map<string, Claim[]>, processes: Map<string, ProcessInfo>, key: string, us: number): Claim | undefined {
  const list = claims.get(key);
  if (!list) return undefined;
  let found: Claim | undefined;
  for (const claim of list) if (claim.us <= us + SAME_PROCESS_TOLERANCE_US) found = claim;
  if (!found) return undefined;
  // A later exec of the same PID by an ordinary parent is another process that reused the PID.
  const reused = processes.get(key)?.execs.some((p) => !p.rootExec && p.us > found.us + SAME_PROCESS_TOLERANCE_US && p.us <= us);
  return reused ? undefined : found;
}

/**
 * The parent that started a process, as of a time: the parent named by the first exec of the process
 * alive then. Later execs of the same process (`exec` in place) may name another parent because the
 * process was re-parented (to the shim, or to the container's init) when its parent exited; a new ExecID
 * marks a new process that reused the PID.
 */
function parentAt(processes: Map<string, ProcessInfo>, key: string, us: number): number | undefined {
  const info = processes.get(key);
  if (!info) return undefined;
  let latest = -1;
  while (latest + 1 < info.execs.length && info.execs[latest + 1]!.us <= us + SAME_PROCESS_TOLERANCE_US) latest++;
  if (latest === -1) return info.firstParent;
  const current = info.execs[latest]!;
  const first = info.execs.find((e, i) => i <= latest && (!e.execId || !current.execId || e.execId === current.execId) && e.hostPpid !== undefined);
  return first?.hostPpid ?? info.firstParent;
}

function ownerByAncestry(event: CorrelationEvent, claims: Map<string, Claim[]>, processes: Map<string, ProcessInfo>): Owner | undefined {
  let pid = event.hostPid;
  if (pid === undefined) return undefined;
  const seen = new Set<number>();
  for (let depth = 0; depth < MAX_ANCESTRY_DEPTH; depth++) {
    const key = processKey(event.host, pid);
    const claim = claimAt(claims, processes, key, event.us);
    if (claim) return claim.owner;
    seen.add(pid);
    const parent = parentAt(processes, key, event.us);
    if (parent === undefined || parent <= 0 || seen.has(parent)) return undefined;
    pid = parent;
  }
  return undefined;
}

/** The session an owned event is linked to, if the event is inside that session's window. */
function sessionFor(owner: Owner, event: CorrelationEvent, options: CorrelateOptions): CorrelationSession | undefined {
  if (owner.type === 'other') return undefined;
  if (owner.type === 'session') {
    const window = windowOf(owner.session, options);
    return event.us >= window.fromUs && event.us <= window.toUs ? owner.session : undefined;
  }
  const { episode } = owner;
  if (event.us < episode.fromUs || event.us > episode.toUs) return undefined;
  // The person attached last before the event typed it; what ran before the first attach (the container's
  // own first process) belongs to the first; with no attach at all, to the patch.
  let session: CorrelationSession | undefined = episode.attaches[0];
  for (const attach of episode.attaches) if (attach.startUs - options.skewUs <= event.us) session = attach;
  return session ?? episode.patch;
}

function windowLinks(
  sessions: CorrelationSession[],
  events: CorrelationEvent[],
  episodes: DebugEpisode[],
  owned: Set<CorrelationEvent>,
  roots: CorrelationEvent[],
  options: CorrelateOptions,
): Link[] {
  const inEpisode = new Set(episodes.flatMap((e) => e.attaches));
  const links: Link[] = [];
  for (const attach of sessions.filter((s) => s.kind === 'attach' && !inEpisode.has(s))) {
    const window = windowOf(attach, options);
    const inContainer = (container: string | undefined) => attach.container === undefined || container === attach.container;
    const candidates = events.filter((e) => inContainer(e.container) && e.us >= window.fromUs && e.us <= window.toUs);
    if (candidates.length === 0) continue;
    // Without a container name the pod must have one container, or the window cannot say which.
    if (attach.container === undefined && new Set(candidates.map((e) => e.container)).size > 1) continue;
    const otherSession = sessions.some((s) => {
      if (s === attach || (s.container !== undefined && attach.container !== undefined && s.container !== attach.container)) return false;
      const other: SessionWindow = (s.kind === 'debug' && episodes.find((e) => e.patch === s)) || windowOf(s, options);
      return other.fromUs <= window.toUs && other.toUs >= window.fromUs;
    });
    if (otherSession) continue;
    const explained = candidates.some((e) => owned.has(e)) || roots.some((r) => inContainer(r.container) && r.us >= window.fromUs && r.us <= window.toUs);
    if (explained) continue;
    // A container that was busy just before the attach runs something of its own (the application):
    // what it does during the window cannot be told from what the attached person did.
    const busyBefore = events.some((e) => inContainer(e.container) && e.us < window.fromUs && e.us >= window.fromUs - FRESH_CONTAINER_US);
    if (busyBefore) continue;
    for (const event of candidates)
      links.push({ sessionId: attach.id, eventKey: event.key, eventTime: event.time, cluster: attach.cluster, method: 'window' });
  }
  return links;
}
