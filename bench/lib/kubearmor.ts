/**
 * Realistic synthetic KubeArmor event streams (../shared/reference/kubearmor-feeder.md): Log and Alert
 * objects with the feeder's PascalCase field names (what `karmor logs --json` and the relay print, and
 * what @grpc/proto-loader with keepCase serialises to the wire).
 *
 * The mix is a node fleet's container telemetry with `kubearmor-visibility: process,file,network`:
 * workload processes (an nginx worker, a Python app, exec probes run through runc), file opens under
 * /etc, /proc and the app's data, network connects/accepts and DNS, and now and then an interactive
 * `kubectl exec` session: runc starts a shell with a TTY and an ExecID, commands typed in it follow with
 * the shell as parent. About 4 % are policy alerts (MatchedPolicy, Audit or Block). Stream order is not
 * event order: neighbouring events are written a few microseconds out of order, as the feeder does.
 */
import { Random, weighted } from './random.ts';

export type FeederEvent = Record<string, unknown>;

interface Container {
  namespace: string;
  pod: string;
  container: string;
  containerId: string;
  image: string;
  node: string;
  labels: string;
  owner: { Ref: string; Name: string; Namespace: string };
  app: 'nginx' | 'python' | 'redis' | 'java';
  mainHostPid: number;
}

export interface KubeArmorOptions {
  seed?: number;
  /** Number of pods (one container each) spread over `nodes` nodes. */
  pods?: number;
  nodes?: number;
  /** Microseconds since the epoch of the first event. */
  startMicros?: number;
  /** Mean microseconds between two events (the fleet's event rate). */
  meanGapMicros?: number;
  cluster?: string;
}

const NAMESPACES = ['shop', 'payments', 'checkout', 'catalog', 'search', 'auth', 'billing', 'web', 'data', 'analytics'];
const APPS: Container['app'][] = ['nginx', 'python', 'redis', 'java'];
const IMAGES: Record<Container['app'], string> = {
  nginx: 'docker.io/library/nginx:1.25.4@sha256:6db391d1c0cfb30588ba0bf72ea999404f2764febf0f1f196acd5867ac7efa7e',
  python: 'registry.example.com/api:5.3.0@sha256:af296b188c7b7df99ba960ca614439c99cb7cf252ed7bbc23e90cfda59092305',
  redis: 'docker.io/library/redis:7.2.4-alpine@sha256:c5a607fb6e1bb15d32bbcf14db22787d19e428d59e31a5da67511b49bb0f1ccc',
  java: 'registry.example.com/orders:3.1.2@sha256:553f64aecdc31b5bf944521731cd70e35da4faed96b2b7548a3d8e2598c52a42',
};
const PROCESS: Record<Container['app'], string> = { nginx: '/usr/sbin/nginx', python: '/usr/local/bin/python3.12', redis: '/usr/local/bin/redis-server', java: '/opt/java/openjdk/bin/java' };
const FILES = ['/etc/hosts', '/etc/resolv.conf', '/etc/passwd', '/etc/ssl/certs/ca-certificates.crt', '/proc/self/stat', '/proc/meminfo', '/var/cache/nginx/proxy_temp', '/app/config/settings.yaml', '/tmp/healthy', '/usr/lib/x86_64-linux-gnu/libssl.so.3'];
const TYPED = ['ls -la', 'cat /etc/os-release', 'env', 'ps aux', 'cat /run/secrets/kubernetes.io/serviceaccount/token', 'curl -s http://10.96.0.1:443/version', 'apt-get update', 'id', 'netstat -tlnp', 'exit'];

export class KubeArmorGenerator {
  private readonly random: Random;
  private readonly containers: Container[];
  private readonly cluster: string;
  private readonly meanGap: number;
  private now: number;
  private nextHostPid = 200_000;
  private sequence = 0;
  /** Queued events of an interactive session in progress (typed commands). */
  private readonly session: FeederEvent[] = [];

  constructor(options: KubeArmorOptions = {}) {
    this.random = new Random(options.seed ?? 31);
    this.cluster = options.cluster ?? 'default';
    this.meanGap = options.meanGapMicros ?? 200;
    this.now = options.startMicros ?? Date.UTC(2026, 0, 20, 3, 0, 0) * 1000;
    const nodes = Array.from({ length: options.nodes ?? 40 }, (_, i) => `ip-10-0-${Math.floor(i / 8) + 1}-${(i * 37) % 250}`);
    this.containers = Array.from({ length: options.pods ?? 400 }, (_, i) => {
      const app = APPS[i % APPS.length]!;
      const namespace = NAMESPACES[i % NAMESPACES.length]!;
      const deployment = `${app}-${(i % 37).toString(36)}`;
      return {
        namespace,
        pod: `${deployment}-${this.random.hex(9)}-${this.random.hex(5)}`,
        container: app,
        containerId: this.random.hex(64),
        image: IMAGES[app],
        node: this.random.pick(nodes),
        labels: `app=${deployment},team=${namespace}`,
        owner: { Ref: 'Deployment', Name: deployment, Namespace: namespace },
        app,
        mainHostPid: this.pid(),
      };
    });
  }

  /** Every pod the stream talks about (namespace/pod), e.g. to pick one for a timeline query. */
  get pods(): { namespace: string; pod: string; container: string }[] {
    return this.containers.map(({ namespace, pod, container }) => ({ namespace, pod, container }));
  }

  private pid(): number {
    this.nextHostPid += this.random.int(1, 9);
    return this.nextHostPid;
  }

  private time(): { Timestamp: number; UpdatedTime: string } {
    // The feeder pushes from goroutines: the stream is a few microseconds out of order.
    const micros = this.now + this.random.int(-8, 8);
    const iso = new Date(Math.floor(micros / 1000)).toISOString();
    return { Timestamp: Math.floor(micros / 1_000_000), UpdatedTime: iso.slice(0, 23) + String(((micros % 1000) + 1000) % 1000).padStart(3, '0') + 'Z' };
  }

  private base(c: Container): FeederEvent {
    return {
      ...this.time(),
      ClusterName: this.cluster,
      HostName: c.node,
      NamespaceName: c.namespace,
      Owner: c.owner,
      PodName: c.pod,
      Labels: c.labels,
      ContainerID: c.containerId,
      ContainerName: c.container,
      ContainerImage: c.image,
    };
  }

  /** The next event, in stream order: a Log (Type ContainerLog) or, about 4 % of the time, an Alert. */
  next(): { kind: 'log' | 'alert'; event: FeederEvent } {
    this.now += Math.max(1, Math.round(-Math.log(1 - this.random.next()) * this.meanGap));
    this.sequence++;
    const queued = this.session.shift();
    if (queued) return { kind: 'log', event: { ...queued, ...this.time() } };
    const c = this.random.pick(this.containers);
    const what = weighted(this.random, [
      ['process', 22],
      ['file', 44],
      ['network', 25],
      ['probe', 5],
      ['alert', 4],
      ['session', 0.05],
    ] as const);
    switch (what) {
      case 'process':
        return { kind: 'log', event: this.processEvent(c) };
      case 'file':
        return { kind: 'log', event: this.fileEvent(c) };
      case 'network':
        return { kind: 'log', event: this.networkEvent(c) };
      case 'probe':
        return { kind: 'log', event: this.probeEvent(c) };
      case 'alert':
        return { kind: 'alert', event: this.alertEvent(c) };
      case 'session':
        return { kind: 'log', event: this.startSession(c) };
    }
  }

  private processEvent(c: Container): FeederEvent {
    const hostPid = this.pid();
    const name = c.app === 'python' ? '/usr/local/bin/python3.12' : c.app === 'nginx' ? '/usr/sbin/nginx' : '/bin/sh';
    return {
      ...this.base(c),
      ParentProcessName: PROCESS[c.app],
      ProcessName: name,
      HostPPID: c.mainHostPid,
      HostPID: hostPid,
      PPID: 1,
      PID: this.random.int(20, 400),
      UID: 101,
      Type: 'ContainerLog',
      Source: PROCESS[c.app],
      Operation: 'Process',
      Resource: c.app === 'nginx' ? '/usr/sbin/nginx -g daemon off;' : `${name} -m worker --queue jobs-${this.random.int(1, 8)}`,
      Data: 'syscall=SYS_EXECVE',
      Result: 'Passed',
      Cwd: '/',
      ExecEvent: { ExecID: '0', ExecutableName: name.split('/').pop()!.slice(0, 15) },
    };
  }

  private fileEvent(c: Container): FeederEvent {
    const file = this.random.pick(FILES);
    return {
      ...this.base(c),
      ParentProcessName: '/usr/bin/containerd-shim-runc-v2',
      ProcessName: PROCESS[c.app],
      HostPPID: c.mainHostPid - 3,
      HostPID: c.mainHostPid,
      PPID: 0,
      PID: 1,
      UID: 101,
      Type: 'ContainerLog',
      Source: PROCESS[c.app],
      Operation: 'File',
      Resource: file,
      Data: `syscall=SYS_OPENAT fd=-100 flags=${this.random.pick(['O_RDONLY|O_CLOEXEC', 'O_WRONLY|O_CREAT|O_TRUNC', 'O_RDONLY'])}`,
      Result: this.random.chance(0.03) ? 'No such file or directory' : 'Passed',
      Cwd: '/',
      ExecEvent: { ExecID: '0', ExecutableName: PROCESS[c.app].split('/').pop()!.slice(0, 15) },
    };
  }

  private networkEvent(c: Container): FeederEvent {
    const dns = this.random.chance(0.3);
    return {
      ...this.base(c),
      ParentProcessName: '/usr/bin/containerd-shim-runc-v2',
      ProcessName: PROCESS[c.app],
      HostPPID: c.mainHostPid - 3,
      HostPID: c.mainHostPid,
      PPID: 0,
      PID: 1,
      UID: 101,
      Type: 'ContainerLog',
      Source: PROCESS[c.app],
      Operation: 'Network',
      Resource: dns ? 'sa_family=AF_INET sin_port=53' : `remoteip=10.96.${this.random.int(0, 255)}.${this.random.int(1, 254)} port=${this.random.pick([5432, 6379, 443, 8080])} protocol=TCP`,
      Data: dns ? `kfunc=UDP_SENDMSG,domain=${c.app}.${c.namespace}.svc.cluster.local,daddr=10.96.0.10,qtype=A` : this.random.pick(['kprobe=tcp_connect', 'kprobe=tcp_accept']),
      Result: 'Passed',
      Cwd: '/',
      ExecEvent: { ExecID: '0', ExecutableName: PROCESS[c.app].split('/').pop()!.slice(0, 15) },
    };
  }

  /** An exec probe: runc starts `sh -c redis-cli ping` in the container (an ExecID, no TTY). */
  private probeEvent(c: Container): FeederEvent {
    return {
      ...this.base(c),
      ParentProcessName: '/usr/bin/runc',
      ProcessName: '/bin/sh',
      HostPPID: this.pid(),
      HostPID: this.pid(),
      PPID: 0,
      PID: this.random.int(400, 9000),
      UID: 0,
      Type: 'ContainerLog',
      Source: '/usr/bin/runc',
      Operation: 'Process',
      Resource: c.app === 'redis' ? '/bin/sh -c redis-cli ping' : '/bin/sh -c test -f /tmp/healthy',
      Data: 'syscall=SYS_EXECVE',
      Result: 'Passed',
      Cwd: '/',
      ExecEvent: { ExecID: String(1_078_000_000_000_000 + this.sequence), ExecutableName: 'sh' },
    };
  }

  private alertEvent(c: Container): FeederEvent {
    const block = this.random.chance(0.3);
    const file = this.random.pick(['/etc/shadow', '/run/secrets/kubernetes.io/serviceaccount/token', '/root/.ssh/authorized_keys']);
    return {
      ...this.base(c),
      ParentProcessName: '/bin/bash',
      ProcessName: '/bin/cat',
      HostPPID: c.mainHostPid + 11,
      HostPID: this.pid(),
      PPID: 41,
      PID: this.random.int(50, 900),
      UID: 0,
      PolicyName: `${c.namespace}-protect-secrets`,
      Severity: String(this.random.int(3, 9)),
      Tags: 'MITRE,MITRE_T1552_unsecured_credentials',
      ATags: ['MITRE', 'MITRE_T1552_unsecured_credentials'],
      Message: 'Credentials access detected',
      Type: 'MatchedPolicy',
      Source: '/bin/cat ' + file,
      Operation: 'File',
      Resource: file,
      Data: 'lsm=FILE_OPEN',
      Enforcer: 'BPFLSM',
      Action: block ? 'Block' : 'Audit',
      Result: block ? 'Permission denied' : 'Passed',
      Cwd: '/',
      TTY: 'pts0',
      ExecEvent: { ExecID: String(1_078_688_820_741_427 + this.sequence), ExecutableName: 'cat' },
    };
  }

  /** `kubectl exec -it POD -- bash`: runc starts bash with a TTY; typed commands follow. */
  private startSession(c: Container): FeederEvent {
    const runcPid = this.pid();
    const shellPid = this.pid();
    const execId = String(1_078_688_820_000_000 + this.sequence);
    const shell: FeederEvent = {
      ...this.base(c),
      ParentProcessName: '/usr/bin/runc',
      ProcessName: '/bin/bash',
      HostPPID: runcPid,
      HostPID: shellPid,
      PPID: 0,
      PID: 41,
      UID: 0,
      Type: 'ContainerLog',
      Source: '/usr/bin/runc',
      Operation: 'Process',
      Resource: '/bin/bash',
      Data: 'syscall=SYS_EXECVE',
      Result: 'Passed',
      Cwd: '/',
      TTY: 'pts0',
      ExecEvent: { ExecID: execId, ExecutableName: 'bash' },
    };
    for (const typed of this.random.pick([TYPED.slice(0, 4), TYPED.slice(3, 8), TYPED])) {
      const program = typed.split(' ')[0]!;
      this.session.push({
        ...shell,
        ParentProcessName: '/bin/bash',
        ProcessName: `/usr/bin/${program}`,
        HostPPID: shellPid,
        HostPID: this.pid(),
        PPID: 41,
        PID: this.random.int(42, 400),
        Source: '/bin/bash',
        Resource: `/usr/bin/${typed}`,
        ExecEvent: { ExecID: execId, ExecutableName: program.slice(0, 15) },
      });
    }
    return shell;
  }
}
