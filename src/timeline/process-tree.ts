/**
 * The commands of a session as a process tree, from its linked runtime events.
 *
 * A process is identified by (HostName, HostPID) and its parent by (HostName, HostPPID): in-container
 * PIDs repeat across containers and enforcer alerts put the host parent PID in PPID
 * (../shared/reference/kubearmor-feeder.md "interactive exec"). PIDs are reused, so a parent is the
 * LATEST process with that host PID that started no later than the child. A process that exec()s keeps
 * its PID and parent (`sh -c 'exec bash'`): the new image is drawn as a child of the old one.
 * File, network and other non-exec events hang under the process that made them.
 */
import type { RuntimeEventRecord } from './records.ts';

export interface ProcessTreeNode {
  event: RuntimeEventRecord;
  children: ProcessTreeNode[];
}

const identity = (host: string | null, pid: number | null) => (pid === null ? undefined : `${host ?? ''}\u0000${pid}`);

/** Events in time order (microsecond text sorts), then host PID for events of the same microsecond. */
export function compareEvents(a: RuntimeEventRecord, b: RuntimeEventRecord): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return (a.hostPid ?? 0) - (b.hostPid ?? 0) || (a.eventKey < b.eventKey ? -1 : a.eventKey > b.eventKey ? 1 : 0);
}

/** The process tree of a set of events (one session's), roots and children in time order. */
export function buildProcessTree(events: readonly RuntimeEventRecord[]): ProcessTreeNode[] {
  const roots: ProcessTreeNode[] = [];
  /** Process nodes by (host, host PID), in time order. */
  const byPid = new Map<string, ProcessTreeNode[]>();
  const latestBefore = (key: string | undefined, time: string, self?: ProcessTreeNode) => {
    const nodes = key === undefined ? undefined : byPid.get(key);
    if (!nodes) return undefined;
    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      if (node !== self && node.event.time <= time) return node;
    }
    return undefined;
  };

  for (const event of [...events].sort(compareEvents)) {
    const node: ProcessTreeNode = { event, children: [] };
    const own = identity(event.hostName, event.hostPid);
    let parent: ProcessTreeNode | undefined;
    if (event.operation === 'Process') {
      // exec() in place (dash runs the last command of `sh -c` this way): the same process ran an
      // earlier image. Same parent: certainly. Parent unknown (a shell re-parented to the shim once runc
      // exits): when the ExecIDs do not tell them apart. Otherwise the PID was reused.
      const earlierImage = latestBefore(own, event.time);
      const sameExec = earlierImage !== undefined && (earlierImage.event.execId ?? '') === (event.execId ?? '');
      parent =
        earlierImage && earlierImage.event.hostPpid === event.hostPpid
          ? earlierImage
          : (latestBefore(identity(event.hostName, event.hostPpid), event.time) ?? (sameExec ? earlierImage : undefined));
      if (own !== undefined) {
        const list = byPid.get(own);
        if (list) list.push(node);
        else byPid.set(own, [node]);
      }
    } else {
      parent = latestBefore(own, event.time);
    }
    (parent ? parent.children : roots).push(node);
  }
  return roots;
}

/** Each event's depth in the tree (0 for roots). */
export function depthsOf(roots: readonly ProcessTreeNode[]): Map<RuntimeEventRecord, number> {
  const depths = new Map<RuntimeEventRecord, number>();
  const walk = (nodes: readonly ProcessTreeNode[], depth: number) => {
    for (const node of nodes) {
      depths.set(node.event, depth);
      walk(node.children, depth + 1);
    }
  };
  walk(roots, 0);
  return depths;
}
