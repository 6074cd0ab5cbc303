/**
 * What correlation works on: exec sessions (from change_events) and runtime events (from runtime_events)
 * reduced to the fields the decision needs, and the links it returns. Times are integer microseconds since
 * the Unix epoch: KubeArmor's UpdatedTime and the audit MicroTime both carry microseconds, a JS Date does
 * not (../shared/reference/kubearmor-feeder.md "Time"); 2^53 µs is year 2255, so a number is exact.
 */

/** How a link was decided; stored in exec_session_links.link_method. */
export type LinkMethod = 'process-tree' | 'window';

/**
 * One session as correlation sees it. `kind`:
 * - `exec`: pods/exec or a nodes/proxy exec/run: its root is a process runc started with the exec argv;
 * - `attach`: pods/attach (or nodes/proxy attach): no process of its own, it talks to the container's
 *   main process;
 * - `debug`: the pods/ephemeralcontainers patch of `kubectl debug`, which creates `container`.
 */
export interface CorrelationSession {
  id: string;
  cluster: string;
  /** The target pod's namespace and name (for nodes/proxy: parsed from the kubelet path). */
  namespace: string;
  pod: string;
  /** The target container; undefined when the request named none (any container of the pod). */
  container?: string;
  kind: 'exec' | 'attach' | 'debug';
  /** argv of the exec (may hold `[REDACTED]` tokens), or of the debug container when known. */
  command: string[];
  /** tty=true was requested. */
  tty: boolean;
  startUs: number;
  /** null while the session is open: it then reaches up to `nowUs`. */
  endUs: number | null;
}

/** One runtime event (a KubeArmor alert or log). Missing fields are undefined: every field is optional on the wire. */
export interface CorrelationEvent {
  /** With event_time, the runtime_events primary key (event_time, event_key). */
  key: string;
  /** event_time as stored, ISO 8601 with microseconds, to write the link back exactly. */
  time: string;
  us: number;
  cluster: string;
  kind: string;
  host?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  containerId?: string;
  pid?: number;
  ppid?: number;
  hostPid?: number;
  hostPpid?: number;
  processName?: string;
  parentProcessName?: string;
  /** The command line for process events. */
  resource?: string;
  operation?: string;
  data?: string;
  tty?: string;
  execId?: string;
}

export interface Link {
  sessionId: string;
  eventKey: string;
  eventTime: string;
  cluster: string;
  method: LinkMethod;
}

export interface CorrelateOptions {
  /** Allowed clock difference between the apiserver and the nodes, widening every session window. */
  skewUs: number;
  /** "Now", the end of open sessions. */
  nowUs: number;
}
