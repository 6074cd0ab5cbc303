/**
 * Finds KubeArmor feeders in the cluster (`-kubearmor-discover`), with @kubernetes/client-node 1.4
 * (2.x crashes on import under Node 20), loaded only when discovery is asked for.
 *
 *  - relay (default): the relay Service `kubearmor` (Helm chart, port 32767) in whatever namespace
 *    holds it, by its cluster IP; without such a Service, every pod labelled
 *    `kubearmor-app=kubearmor-relay`.
 *  - nodes: every node daemon pod labelled `kubearmor-app=kubearmor` (host network: pod IP = node IP),
 *    port 32767, to read each node directly (what the relay itself does).
 * Pods are followed with list + watch: a pod that comes (Running, with an IP) is connected, a pod that
 * goes (deleted, or no longer Running) is disconnected. The watch is re-opened from the last
 * resourceVersion when the API server closes it, and re-listed after 410 Gone or an error (backoff).
 *
 * RBAC: list/watch pods and list services, cluster-wide (or in KubeArmor's namespace).
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from '../observe/log.ts';
import { Backoff } from '../time/backoff.ts';
import { FEEDER_PORT } from './feeder-proto.ts';

export type FeederDiscoveryMode = 'relay' | 'nodes';

export const RELAY_SERVICE_NAME = 'kubearmor';
export const RELAY_POD_SELECTOR = 'kubearmor-app=kubearmor-relay';
export const NODE_POD_SELECTOR = 'kubearmor-app=kubearmor';

export interface FeederDiscoveryOptions {
  mode: FeederDiscoveryMode;
  /** A kubeconfig file (`-kubeconfig`); otherwise in-cluster config, else KUBECONFIG / ~/.kube/config. */
  kubeconfigPath?: string;
  /** Feeder port on pods (default 32767). */
  port?: number;
  logger: Logger;
  /** Called with the full, sorted address list every time it changes. */
  onAddresses: (addresses: string[]) => void;
  retryInitialMs?: number;
  retryMaxMs?: number;
}

/** Where a pod's feeder listens, or undefined while it cannot be reached (pending, terminating, no IP). */
export function feederAddressOfPod(pod: Pick<V1Pod, 'metadata' | 'status'>, port: number): string | undefined {
  if (pod.metadata?.deletionTimestamp) return undefined;
  if (pod.status?.phase !== 'Running') return undefined;
  const ip = pod.status.podIP;
  if (!ip) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

export class FeederDiscovery {
  private kubeConfig: KubeConfig | undefined;
  private readonly pods = new Map<string, string>();
  private current: string[] = [];
  private stopped = false;
  private abort: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly retry: Backoff;
  private resourceVersion = '';
  private readonly port: number;

  constructor(private readonly options: FeederDiscoveryOptions) {
    this.port = options.port ?? FEEDER_PORT;
    this.retry = new Backoff({ initialMs: options.retryInitialMs ?? 1000, maxMs: options.retryMaxMs ?? 60_000 });
  }

  /** Feeder addresses known now. */
  addresses(): string[] {
    return [...this.current];
  }

  /** Loads the kubeconfig (throws with what to do if there is none) and starts looking. */
  async start(): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    const { kubeconfigPath } = this.options;
    try {
      if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
      else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
      else kc.loadFromDefault();
    } catch (error) {
      throw new Error(`cannot load Kubernetes credentials for -kubearmor-discover${kubeconfigPath ? ` from ${kubeconfigPath}` : ''}: ${(error as Error).message}; give -kubeconfig or run in the cluster`, { cause: error });
    }
    if (!kc.getCurrentCluster()) throw new Error('-kubearmor-discover: the kubeconfig has no current cluster; give -kubeconfig or run in the cluster');
    this.kubeConfig = kc;
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    try {
      if (this.options.mode === 'relay' && (await this.useRelayService())) return;
      await this.listPods();
      this.retry.reset();
      await this.watchPods();
    } catch (error) {
      this.retryLater(error);
    }
  }

  private get selector(): string {
    return this.options.mode === 'nodes' ? NODE_POD_SELECTOR : RELAY_POD_SELECTOR;
  }

  /** The relay Service's cluster IP, when there is one: stable across relay restarts. */
  private async useRelayService(): Promise<boolean> {
    const k8s = await import('@kubernetes/client-node');
    const api = this.kubeConfig!.makeApiClient(k8s.CoreV1Api);
    const list = await api.listServiceForAllNamespaces({ fieldSelector: `metadata.name=${RELAY_SERVICE_NAME}` });
    for (const service of list.items) {
      const ip = service.spec?.clusterIP;
      if (!ip || ip === 'None') continue;
      const ports = service.spec?.ports ?? [];
      const port = ports.find((p) => p.port === FEEDER_PORT)?.port ?? ports[0]?.port ?? FEEDER_PORT;
      const address = ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
      this.options.logger.info({ namespace: service.metadata?.namespace, address }, `discovered the KubeArmor relay Service ${service.metadata?.namespace}/${RELAY_SERVICE_NAME} at ${address}`);
      this.publish([address]);
      return true;
    }
    this.options.logger.info({ selector: RELAY_POD_SELECTOR }, `no Service "${RELAY_SERVICE_NAME}" with a cluster IP; following relay pods (${RELAY_POD_SELECTOR})`);
    return false;
  }

  private async listPods(): Promise<void> {
    const k8s = await import('@kubernetes/client-node');
    const api = this.kubeConfig!.makeApiClient(k8s.CoreV1Api);
    const list = await api.listPodForAllNamespaces({ labelSelector: this.selector });
    this.pods.clear();
    for (const pod of list.items) this.applyPod('ADDED', pod);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    this.options.logger.info({ selector: this.selector, pods: list.items.length }, `listed ${list.items.length} KubeArmor pods (${this.selector})`);
    this.publishPods();
  }

  private async watchPods(): Promise<void> {
    if (this.stopped) return;
    const k8s = await import('@kubernetes/client-node');
    const watch = new k8s.Watch(this.kubeConfig!);
    let gone = false;
    let events = 0;
    this.abort = await watch.watch(
      '/api/v1/pods',
      { labelSelector: this.selector, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (type: string, object: V1Pod & { code?: number; message?: string }) => {
        events++;
        if (type === 'ERROR') {
          // A Status object; 410 Gone: our resourceVersion is too old, list again.
          if (object.code === 410) gone = true;
          this.options.logger.info({ code: object.code, message: object.message }, 'pod watch error from the API server; listing again');
          return;
        }
        if (object.metadata?.resourceVersion) this.resourceVersion = object.metadata.resourceVersion;
        if (type === 'BOOKMARK') return;
        this.applyPod(type, object);
        this.publishPods();
      },
      (error: unknown) => {
        if (this.stopped) return;
        if (error && (error as Error).name !== 'AbortError') return this.retryLater(error);
        // The API server ends watches routinely; carry on from where we were, or re-list after 410.
        if (gone) this.resourceVersion = '';
        if (events > 0) this.retry.reset();
        const delay = events > 0 ? 100 : this.retry.next();
        this.timer = setTimeout(() => void (this.resourceVersion ? this.watchPods().catch((e) => this.retryLater(e)) : this.run()), delay);
      },
    );
  }

  private applyPod(type: string, pod: V1Pod): void {
    const key = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const address = type === 'DELETED' ? undefined : feederAddressOfPod(pod, this.port);
    if (address) this.pods.set(key, address);
    else this.pods.delete(key);
  }

  private publishPods(): void {
    this.publish([...new Set(this.pods.values())]);
  }

  private publish(addresses: string[]): void {
    const sorted = [...addresses].sort();
    if (sorted.length === this.current.length && sorted.every((a, i) => a === this.current[i])) return;
    this.current = sorted;
    this.options.logger.info({ addresses: sorted }, `KubeArmor feeders: ${sorted.join(', ') || 'none'}`);
    this.options.onAddresses(sorted);
  }

  private retryLater(error: unknown): void {
    if (this.stopped) return;
    const delay = this.retry.next();
    const status = (error as { code?: number; statusCode?: number }).code ?? (error as { statusCode?: number }).statusCode;
    const hint = status === 401 || status === 403 ? ': the service account needs list/watch on pods and list on services' : '';
    this.options.logger.warn({ err: (error as Error).message, status, retryInMs: delay }, `KubeArmor discovery failed (${(error as Error).message})${hint}; retrying in ${(delay / 1000).toFixed(1)}s`);
    this.resourceVersion = '';
    this.timer = setTimeout(() => void this.run(), delay);
  }
}
