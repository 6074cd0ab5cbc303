/**
 * Shared by the tests (test/correlate, test/runtime, test/store) and the bench (bench/rows/correlation.ts),
 * so it lives in neither: the bench imports nothing from test/.
 *
 * Labelled correlation scenarios: audit log lines (real audit.k8s.io/v1 events, as kube-apiserver writes
 * them) + KubeArmor events (relay JSON lines, as `karmor logs --json` prints them) + the truth (which
 * session, if any, caused each KubeArmor event).
 *
 * A `World` simulates nodes: processes get host PIDs, container PIDs, parents, TTYs and ExecIDs the way
 * KubeArmor reports them (../shared/reference/kubearmor-feeder.md "interactive exec"): a `kubectl exec`
 * root's parent is the host path of runc with PPID 0 (PPID = HostPPID before Sept 2023), children carry
 * the shell as parent, ExecID is inherited, TTY only for -t sessions. Variants: the node clock off by
 * some time, old KubeArmor fields (no ExecID, no TTY, PPID = HostPPID for roots).
 */
import { createHash } from 'node:crypto';

export interface WorldOptions {
  /** Added to every KubeArmor time: -1500 is a node clock 1.5 s behind the apiserver. */
  nodeClockOffsetMs?: number;
  /** KubeArmor before Sept 2023 / March 2025: no ExecEvent, no TTY, a root's PPID equals its HostPPID. */
  oldKubeArmor?: boolean;
}

export interface Container {
  node: string;
  namespace: string;
  pod: string;
  name: string;
  id: string;
  image: string;
}

/** A process on a node. `truth` is the auditID of the session that caused it, or null. */
export interface Proc {
  container: Container;
  hostPid: number;
  pid: number;
  exe: string;
  tty?: string;
  execId?: string;
  truth: string | null;
  /** Its parent as KubeArmor reports it on every event (pid 0: outside the container). */
  parent?: { hostPid: number; pid: number; exe: string };
}

export interface LabelledEvent {
  event: Record<string, unknown>;
  /** auditID of the session this event belongs to, or null when it belongs to none. */
  truth: string | null;
}

const RUNC = '/usr/bin/runc';
const SHIM = '/usr/bin/containerd-shim-runc-v2';

/** `2025-10-21T09:00:00.000000Z` + offset in milliseconds (fractions allowed) → ISO with microseconds. */
export function at(base: string, offsetMs: number): string {
  const fraction = /\.(\d+)Z$/.exec(base)?.[1] ?? '';
  const us = Date.parse(base.replace(/\.\d+Z$/, 'Z')) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6)) + Math.round(offsetMs * 1000);
  const ms = Math.floor(us / 1000);
  return `${new Date(ms).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, '0')}Z`;
}

export class World {
  readonly audit: Record<string, unknown>[] = [];
  readonly runtime: LabelledEvent[] = [];
  private nextHostPid = new Map<string, number>();
  private nextPid = new Map<string, number>();
  private nextExecId = 824416229130000;

  constructor(private readonly options: WorldOptions = {}) {}

  container(node: string, namespace: string, pod: string, name: string): Container {
    const id = createHash('sha256').update(`${node}/${namespace}/${pod}/${name}`).digest('hex');
    return { node, namespace, pod, name, id, image: `docker.io/library/${name}:latest` };
  }

  private hostPid(node: string): number {
    const next = (this.nextHostPid.get(node) ?? 310_000) + 7;
    this.nextHostPid.set(node, next);
    return next;
  }

  private ttys = new Map<string, number>();
  private nextTty(container: Container): number {
    const n = this.ttys.get(container.id) ?? 0;
    this.ttys.set(container.id, n + 1);
    return n;
  }

  private containerPid(container: Container): number {
    const next = (this.nextPid.get(container.id) ?? 40) + 1;
    this.nextPid.set(container.id, next);
    return next;
  }

  /** A long-running process that started before anything we see (the app's PID 1): no event of its own. */
  existing(container: Container, exe: string, pid = 1): Proc {
    return { container, hostPid: this.hostPid(container.node), pid, exe, truth: null, parent: this.shim(container.node) };
  }

  private shim(node: string) {
    return { hostPid: this.shimHostPid(node), pid: 0, exe: SHIM };
  }

  /**
   * runc starting a process in a container: `kubectl exec` (with tty for -t), an exec probe, or (for an
   * ephemeral container, `init: true`) the container's own first process, whose parent is the shim.
   */
  runcExec(
    container: Container,
    time: string,
    argv: string[],
    options: { tty?: boolean; truth: string | null; init?: boolean },
  ): Proc {
    const runtimeHostPid = this.hostPid(container.node);
    const proc: Proc = {
      container,
      hostPid: this.hostPid(container.node),
      pid: options.init ? 1 : this.containerPid(container),
      exe: argv[0]!,
      tty: options.tty ? `pts${this.nextTty(container)}` : undefined,
      // setns by runc gives an exec (not a container's init) its ExecID.
      execId: options.init ? undefined : String(this.nextExecId++),
      truth: options.truth,
    };
    this.emitExec(proc, { hostPid: runtimeHostPid, pid: 0, exe: options.init ? SHIM : RUNC }, time, argv, true);
    // runc exits right after: the process is re-parented to the shim for everything it does later.
    proc.parent = this.shim(container.node);
    return proc;
  }

  /** A process forked and exec'd by `parent` (a command typed in a shell, a pipeline stage). */
  spawn(parent: Proc, time: string, argv: string[], truth: string | null = parent.truth): Proc {
    const proc: Proc = {
      container: parent.container,
      hostPid: this.hostPid(parent.container.node),
      pid: this.containerPid(parent.container),
      exe: argv[0]!,
      tty: parent.tty,
      execId: parent.execId,
      truth,
      parent: { hostPid: parent.hostPid, pid: parent.pid, exe: parent.exe },
    };
    this.emitExec(proc, parent, time, argv, false);
    return proc;
  }

  private emitExec(proc: Proc, parent: { hostPid: number; pid: number; exe: string }, time: string, argv: string[], root: boolean): void {
    const old = this.options.oldKubeArmor;
    this.emit(proc, time, {
      ParentProcessName: parent.exe,
      HostPPID: parent.hostPid,
      // Since Sept 2023 a parent outside the container is PPID 0; before, PPID was the host PID.
      PPID: root ? (old ? parent.hostPid : 0) : parent.pid,
      Type: 'ContainerLog',
      Source: parent.exe,
      Operation: 'Process',
      Resource: [proc.exe, ...argv.slice(1)].join(' '),
      Data: 'syscall=SYS_EXECVE',
      Result: 'Passed',
    });
  }

  /**
   * `exec bash` in a shell runc started: the same process (PID, ExecID) becomes another program; runc has
   * exited by then, so the parent is the shim.
   */
  execInPlace(proc: Proc, time: string, argv: string[], reparentedTo?: Proc): Proc {
    const parent = reparentedTo ? { hostPid: reparentedTo.hostPid, pid: reparentedTo.pid, exe: reparentedTo.exe } : this.shim(proc.container.node);
    const replaced: Proc = { ...proc, exe: argv[0]!, parent };
    this.emitExec(replaced, parent, time, argv, !reparentedTo);
    return replaced;
  }

  private shims = new Map<string, number>();
  private shimHostPid(node: string): number {
    if (!this.shims.has(node)) this.shims.set(node, this.hostPid(node));
    return this.shims.get(node)!;
  }

  /** A policy alert about a file a process touched (eBPF monitor, Audit or Block). */
  fileAlert(proc: Proc, time: string, path: string, policy: string, action: 'Audit' | 'Block', syscall = 'SYS_UNLINKAT'): void {
    this.emit(proc, time, {
      PolicyName: policy,
      Severity: '3',
      Type: 'MatchedPolicy',
      Source: proc.exe,
      Operation: 'File',
      Resource: path,
      Data: `syscall=${syscall}`,
      Enforcer: 'eBPF Monitor',
      Action: action,
      Result: action === 'Block' ? 'Permission denied' : 'Passed',
    });
  }

  file(proc: Proc, time: string, path: string, truth: string | null = proc.truth): void {
    this.emit(
      proc,
      time,
      { Type: 'ContainerLog', Source: proc.exe, Operation: 'File', Resource: path, Data: 'syscall=SYS_OPENAT fd=-100 flags=O_RDONLY', Result: 'Passed' },
      truth,
    );
  }

  network(proc: Proc, time: string, resource: string): void {
    this.emit(proc, time, { Type: 'ContainerLog', Source: proc.exe, Operation: 'Network', Resource: resource, Data: 'kprobe=tcp_connect', Result: 'Passed' });
  }

  /** A BPF-LSM Block alert for an exec the shell tried: the enforcer puts the host parent PID in PPID. */
  blockedExec(parent: Proc, time: string, argv: string[], policy: string, truth: string | null = parent.truth): void {
    const child: Proc = { ...parent, hostPid: this.hostPid(parent.container.node), pid: this.containerPid(parent.container), exe: argv[0]!, truth };
    this.emit(
      child,
      time,
      {
        ParentProcessName: parent.exe,
        HostPPID: parent.hostPid,
        PPID: parent.hostPid,
        PolicyName: policy,
        Severity: '5',
        Type: 'MatchedPolicy',
        Source: parent.exe,
        Operation: 'Process',
        Resource: argv.join(' '),
        Data: 'lsm=SECURITY_BPRM_CHECK',
        Enforcer: 'BPFLSM',
        Action: 'Block',
        Result: 'Permission denied',
      },
      truth,
    );
  }

  private emit(proc: Proc, time: string, fields: Record<string, unknown>, truth: string | null = proc.truth): void {
    const old = this.options.oldKubeArmor;
    const shifted = at(time, this.options.nodeClockOffsetMs ?? 0);
    const { container } = proc;
    const event: Record<string, unknown> = {
      Timestamp: Math.floor(Date.parse(shifted) / 1000),
      UpdatedTime: shifted,
      ClusterName: 'default',
      HostName: container.node,
      NamespaceName: container.namespace,
      PodName: container.pod,
      ContainerID: container.id,
      ContainerName: container.name,
      ContainerImage: container.image,
      HostPID: proc.hostPid,
      PID: proc.pid,
      UID: 0,
      ProcessName: proc.exe,
      ...(proc.parent && {
        ParentProcessName: proc.parent.exe,
        HostPPID: proc.parent.hostPid,
        PPID: proc.parent.pid === 0 && old ? proc.parent.hostPid : proc.parent.pid,
      }),
      ...fields,
    };
    if (!old) {
      event.Cwd = '/';
      if (proc.tty) event.TTY = proc.tty;
      event.ExecEvent = { ExecID: proc.execId ?? '0', ExecutableName: basename(proc.exe).slice(0, 15) };
    }
    this.runtime.push({ event, truth });
  }

  /** The audit stages of one pods/exec (WebSocket, as kubectl >= 1.30 sends it). */
  podExec(options: {
    auditId: string;
    user: string;
    namespace: string;
    pod: string;
    container: string;
    command: string[];
    tty?: boolean;
    start: string;
    end: string | null;
    subresource?: 'exec' | 'attach';
  }): void {
    const query = new URLSearchParams();
    for (const arg of options.subresource === 'attach' ? [] : options.command) query.append('command', arg);
    query.set('container', options.container);
    query.set('stdin', 'true');
    query.set('stdout', 'true');
    if (options.tty) query.set('tty', 'true');
    else query.set('stderr', 'true');
    const subresource = options.subresource ?? 'exec';
    const uri = `/api/v1/namespaces/${options.namespace}/pods/${options.pod}/${subresource}?${query.toString()}`;
    this.auditStages(options.auditId, options.user, uri, 'get', { resource: 'pods', namespace: options.namespace, name: options.pod, subresource }, options.start, options.end);
  }

  /** `GET /api/v1/nodes/NODE/proxy/exec/NS/POD/CONTAINER?command=...` (kubelet API through the apiserver). */
  nodeProxyExec(options: { auditId: string; user: string; node: string; namespace: string; pod: string; container: string; command: string[]; start: string; end: string }): void {
    const query = options.command.map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const uri = `/api/v1/nodes/${options.node}/proxy/exec/${options.namespace}/${options.pod}/${options.container}?${query}&output=1&error=1`;
    this.auditStages(options.auditId, options.user, uri, 'get', { resource: 'nodes', name: options.node, subresource: 'proxy' }, options.start, options.end);
  }

  /** `kubectl debug -it --image busybox`: the ephemeralcontainers patch (Request level), then the attach. */
  kubectlDebug(options: { patchAuditId: string; attachAuditId: string; user: string; namespace: string; pod: string; name: string; target: string; patchAt: string; attachAt: string; end: string; metadataLevel?: boolean }): void {
    const uri = `/api/v1/namespaces/${options.namespace}/pods/${options.pod}/ephemeralcontainers`;
    const ref = { resource: 'pods', namespace: options.namespace, name: options.pod, subresource: 'ephemeralcontainers' };
    const requestObject = {
      spec: {
        ephemeralContainers: [
          { image: 'busybox:1.36', name: options.name, resources: {}, stdin: true, targetContainerName: options.target, terminationMessagePolicy: 'File', tty: true },
        ],
      },
    };
    const patch = this.auditEvent(options.patchAuditId, options.user, uri, 'patch', ref, options.patchAt, at(options.patchAt, 40), 'ResponseComplete', 200);
    // At Metadata level (a common audit policy for pods/*) the patch body, and so the container's name, is not logged.
    this.audit.push(options.metadataLevel ? patch : { ...patch, level: 'Request', requestObject });
    this.podExec({
      auditId: options.attachAuditId,
      user: options.user,
      namespace: options.namespace,
      pod: options.pod,
      container: options.name,
      command: [],
      tty: true,
      start: options.attachAt,
      end: options.end,
      subresource: 'attach',
    });
  }

  private auditStages(auditId: string, user: string, uri: string, verb: string, ref: Record<string, string>, start: string, end: string | null): void {
    this.audit.push(this.auditEvent(auditId, user, uri, verb, ref, start, at(start, 30), 'ResponseStarted', 101));
    if (end) this.audit.push(this.auditEvent(auditId, user, uri, verb, ref, start, end, 'ResponseComplete', 101));
  }

  private auditEvent(auditId: string, user: string, uri: string, verb: string, ref: Record<string, string>, start: string, stageTime: string, stage: string, code: number) {
    return {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: 'Metadata',
      auditID: auditId,
      stage,
      requestURI: uri,
      verb,
      user: { username: user, groups: ['system:authenticated'] },
      sourceIPs: ['192.0.2.10'],
      userAgent: 'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9',
      objectRef: { ...ref, apiVersion: 'v1' },
      responseStatus: { metadata: {}, code },
      requestReceivedTimestamp: start,
      stageTimestamp: stageTime,
      annotations: { 'authorization.k8s.io/decision': 'allow', 'authorization.k8s.io/reason': 'RBAC: allowed' },
    };
  }

  /** The audit log as JSON lines. */
  auditLines(): string[] {
    return this.audit.map((e) => JSON.stringify(e));
  }

  /** KubeArmor JSON lines with their truth. */
  runtimeLines(): { line: string; truth: string | null }[] {
    return this.runtime.map(({ event, truth }) => ({ line: JSON.stringify(event), truth }));
  }
}

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);

/** Fisher-Yates with a seeded generator, so a failing order can be replayed. */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
