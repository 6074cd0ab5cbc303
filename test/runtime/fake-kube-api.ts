/**
 * A fake Kubernetes API server: a real HTTP server on loopback answering the JSON the real one does for
 * what discovery uses: list pods and services across namespaces (label and field selectors), and
 * watch pods (`?watch=true`: a chunked response of newline-delimited watch events, starting after the
 * given resourceVersion). Reached through a kubeconfig file written for it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type KubeObject = {
  metadata: { name: string; namespace: string; uid: string; resourceVersion?: string; labels?: Record<string, string>; [field: string]: unknown };
} & Record<string, unknown>;

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  resourceVersion: number;
}

export class FakeKubeApi {
  private readonly pods = new Map<string, KubeObject>();
  private readonly services = new Map<string, KubeObject>();
  private readonly history: WatchEvent[] = [];
  private readonly watchers = new Set<{ res: ServerResponse; selector: string }>();
  private resourceVersion = 1000;
  /** Every request's method, path and query, in order. */
  readonly requests: string[] = [];
  private server!: Server;
  kubeconfigPath = '';

  static async start(): Promise<FakeKubeApi> {
    const api = new FakeKubeApi();
    api.server = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => api.server.listen(0, '127.0.0.1', resolve));
    const { port } = api.server.address() as AddressInfo;
    const dir = mkdtempSync(join(tmpdir(), 'exectrail-kube-'));
    api.kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(
      api.kubeconfigPath,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        '- name: fake',
        '  cluster:',
        `    server: http://127.0.0.1:${port}`,
        // client-node refuses plain http unless told to skip TLS verification (there is no TLS).
        '    insecure-skip-tls-verify: true',
        'users:',
        '- name: exectrail',
        '  user:',
        '    token: test-token',
        'contexts:',
        '- name: fake',
        '  context:',
        '    cluster: fake',
        '    user: exectrail',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return api;
  }

  /** A KubeArmor pod as the API server returns it. */
  static pod(name: string, labels: Record<string, string>, podIP: string, phase = 'Running'): KubeObject {
    return {
      kind: 'Pod',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: 'kubearmor',
        uid: `uid-${name}`,
        labels,
        creationTimestamp: '2026-01-01T00:00:00Z',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kubearmor', uid: 'ds-uid', controller: true }],
      },
      spec: {
        hostNetwork: true,
        nodeName: `node-${name}`,
        containers: [{ name: 'kubearmor', image: 'kubearmor/kubearmor:stable', ports: [{ containerPort: 32767, protocol: 'TCP' }] }],
      },
      status: { phase, hostIP: podIP, podIP, podIPs: [{ ip: podIP }], startTime: '2026-01-01T00:00:01Z' },
    };
  }

  static service(name: string, clusterIP: string, port: number): KubeObject {
    return {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: { name, namespace: 'kubearmor', uid: `uid-svc-${name}`, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: {
        type: 'ClusterIP',
        clusterIP,
        clusterIPs: [clusterIP],
        selector: { 'kubearmor-app': 'kubearmor-relay' },
        ports: [{ port, targetPort: port, protocol: 'TCP' }],
      },
      status: { loadBalancer: {} },
    };
  }

  addPod(pod: KubeObject): void {
    const type = this.pods.has(pod.metadata.name) ? 'MODIFIED' : 'ADDED';
    this.pods.set(pod.metadata.name, this.stamp(pod));
    this.notify(type, pod);
  }

  deletePod(name: string): void {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name}`);
    this.pods.delete(name);
    this.notify('DELETED', this.stamp({ ...pod }));
  }

  addService(service: KubeObject): void {
    this.services.set(service.metadata.name, this.stamp(service));
  }

  /** Ends every open watch, as the API server does when a watch times out. */
  closeWatches(): void {
    for (const watcher of this.watchers) watcher.res.end();
    this.watchers.clear();
  }

  get openWatches(): number {
    return this.watchers.size;
  }

  async stop(): Promise<void> {
    this.closeWatches();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private stamp(object: KubeObject): KubeObject {
    this.resourceVersion++;
    object.metadata.resourceVersion = String(this.resourceVersion);
    return object;
  }

  private notify(type: WatchEvent['type'], object: KubeObject): void {
    const event: WatchEvent = { type, object: structuredClone(object), resourceVersion: this.resourceVersion };
    this.history.push(event);
    for (const watcher of this.watchers) {
      if (matches(object, watcher.selector)) watcher.res.write(JSON.stringify({ type, object: event.object }) + '\n');
    }
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== 'Bearer test-token') return json(res, 401, status(401, 'Unauthorized'));
    const labelSelector = url.searchParams.get('labelSelector') ?? '';
    const fieldSelector = url.searchParams.get('fieldSelector') ?? '';
    if (url.pathname === '/api/v1/pods' && url.searchParams.get('watch') === 'true') {
      const since = Number(url.searchParams.get('resourceVersion') || 0);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      for (const event of this.history) {
        if (event.resourceVersion > since && matches(event.object, labelSelector)) res.write(JSON.stringify({ type: event.type, object: event.object }) + '\n');
      }
      const watcher = { res, selector: labelSelector };
      this.watchers.add(watcher);
      req.on('close', () => this.watchers.delete(watcher));
      return;
    }
    if (url.pathname === '/api/v1/pods') {
      const items = [...this.pods.values()].filter((p) => matches(p, labelSelector));
      return json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.resourceVersion) }, items });
    }
    if (url.pathname === '/api/v1/services') {
      const name = /^metadata\.name=(.+)$/.exec(fieldSelector)?.[1];
      const items = [...this.services.values()].filter((s) => !name || s.metadata.name === name);
      return json(res, 200, { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: String(this.resourceVersion) }, items });
    }
    json(res, 404, status(404, 'the server could not find the requested resource'));
  }
}

function matches(object: KubeObject, selector: string): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return object.metadata.labels?.[key!] === value;
  });
}

function status(code: number, message: string) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: code === 401 ? 'Unauthorized' : 'NotFound', code };
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
