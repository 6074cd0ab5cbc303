/**
 * Every manifest under deploy/ parses, has a known kind and API version, is reachable from a
 * kustomization, and asks of the processor only what it really has: each container's args parse with
 * the processor's own flag table, and the processor started with those args answers the probe paths.
 * Renaming a flag or a probe route in the code makes this test fail.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseFlags } from '../../src/config/flags.ts';
import { parseProcessorArgs, serveCommandFlags } from '../../src/config/options.ts';
import { collect, projectRoot, startProcessor, freePort } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';
import { makeTestPki } from '../ingest/webhook-support.ts';

const deployDir = join(projectRoot, 'deploy');

const knownKinds: Record<string, string> = {
  Namespace: 'v1',
  ServiceAccount: 'v1',
  Secret: 'v1',
  Service: 'v1',
  Config: 'v1', // a kubeconfig (the apiserver's webhook config)
  ClusterRole: 'rbac.authorization.k8s.io/v1',
  ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
  Deployment: 'apps/v1',
  DaemonSet: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
  Component: 'kustomize.config.k8s.io/v1alpha1',
  Policy: 'audit.k8s.io/v1',
};

interface Manifest {
  file: string;
  doc: Record<string, any>;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

function loadManifests(): Manifest[] {
  return yamlFiles(deployDir).flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8')).map((document) => {
      assert.deepEqual(document.errors, [], `${relative(projectRoot, file)} parses`);
      return { file, doc: document.toJS() as Record<string, any> };
    }),
  );
}

interface Workload {
  file: string;
  kind: string;
  name: string;
  container: Record<string, any>;
}

function workloads(manifests: Manifest[]): Workload[] {
  return manifests
    .filter(({ doc }) => doc.kind === 'Deployment' || doc.kind === 'DaemonSet')
    .flatMap(({ file, doc }) =>
      (doc.spec.template.spec.containers as Record<string, any>[]).map((container) => ({ file, kind: doc.kind, name: doc.metadata.name, container })),
    );
}

/** The flags of a container's command line: the processor's, or those of `serve` when it is the first word. */
function containerFlags(args: string[]): { 'http-port': number } & Record<string, unknown> {
  if (args[0] === 'serve') return parseFlags(serveCommandFlags, args.slice(1), {}).values;
  return parseProcessorArgs(args, {}).values;
}

/**
 * Probes `url` as the kubelet does, again and again, until it answers 200 or the deadline passes; gives
 * the last answer (a process still starting answers /readyz 503, e.g. before its webhook listens).
 */
async function probeHttp(url: string, deadlineMs = 60_000): Promise<Response> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.status === 200 || Date.now() > until) return response;
    } catch (error) {
      if (Date.now() > until) throw error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('deploy/ manifests', () => {
  const manifests = loadManifests();

  it('every document has a known kind with its API version', () => {
    assert.ok(manifests.length >= 10, `found ${manifests.length} documents`);
    for (const { file, doc } of manifests) {
      const where = relative(projectRoot, file);
      assert.ok(doc.kind in knownKinds, `${where}: unexpected kind ${doc.kind}`);
      assert.equal(doc.apiVersion, knownKinds[doc.kind], `${where}: ${doc.kind} apiVersion`);
    }
  });

  it('every kustomization resource exists and every cluster manifest belongs to a kustomization', () => {
    const referenced = new Set<string>();
    const visit = (dir: string) => {
      const kustomization = manifests.find((m) => m.file === join(dir, 'kustomization.yaml'));
      assert.ok(kustomization, `${relative(projectRoot, dir)} has a kustomization.yaml`);
      for (const resource of [...((kustomization.doc.resources as string[] | undefined) ?? []), ...((kustomization.doc.components as string[] | undefined) ?? [])]) {
        const path = resolve(dir, resource);
        if (statSync(path).isDirectory()) visit(path);
        else referenced.add(path);
      }
    };
    for (const overlay of readdirSync(join(deployDir, 'overlays'))) visit(join(deployDir, 'overlays', overlay));
    const clusterFiles = new Set(
      manifests.filter((m) => m.doc.kind !== 'Kustomization' && m.doc.kind !== 'Component' && !m.file.includes(`${deployDir}/apiserver/`)).map((m) => m.file),
    );
    assert.deepEqual([...clusterFiles].filter((f) => !referenced.has(f)).map((f) => relative(projectRoot, f)), []);
  });

  it('has a webhook Deployment with 2 replicas and a file-mode DaemonSet reading the audit log read-only', () => {
    const deployment = manifests.find((m) => m.doc.kind === 'Deployment' && m.doc.metadata.name === 'exectrail-webhook')!.doc;
    assert.equal(deployment.spec.replicas, 2);
    const daemonSet = manifests.find((m) => m.doc.kind === 'DaemonSet')!.doc;
    const mount = daemonSet.spec.template.spec.containers[0].volumeMounts.find((v: any) => v.mountPath === '/var/log/kubernetes/audit');
    assert.equal(mount?.readOnly, true);
    const volume = daemonSet.spec.template.spec.volumes.find((v: any) => v.name === mount.name);
    assert.equal(volume.hostPath.path, '/var/log/kubernetes/audit');
    assert.ok(daemonSet.spec.template.spec.tolerations.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane'));
  });

  it("every container's args are flags the processor has, and its probes use the -http-port", () => {
    const list = workloads(manifests);
    assert.ok(list.length >= 2);
    for (const { file, container } of list) {
      const where = `${relative(projectRoot, file)} ${container.name}`;
      const flags = containerFlags(container.args as string[]); // throws on a renamed flag
      assert.equal(container.image, 'exectrail', `${where}: image is set by the kustomization's images`);
      assert.ok(container.env.some((e: any) => e.name === 'DATABASE_URL' && e.valueFrom?.secretKeyRef), `${where}: DATABASE_URL from a Secret`);
      const ports = new Map((container.ports as any[]).map((p) => [p.name, p.containerPort]));
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        assert.equal(ports.get(probe.httpGet.port), flags['http-port'], `${where}: probe port is -http-port`);
      }
      assert.ok(container.resources?.requests && container.resources?.limits, `${where}: resources`);
      assert.equal(container.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root filesystem`);
    }
  });

  describe('the processor started with each workload args answers its probe paths', () => {
    let target: TestDatabaseTarget;
    let scratch: string;
    before(async () => {
      target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite');
      scratch = mkdtempSync(join(tmpdir(), 'exectrail-manifests-'));
    });
    after(() => target?.destroy());

    for (const { file, kind, name, container } of workloads(loadManifests())) {
      it(`${kind} ${name}`, { timeout: 120_000 }, async () => {
        const httpPort = await freePort();
        const pki = makeTestPki();
        const auditDir = join(scratch, name, 'audit');
        mkdirSync(auditDir, { recursive: true });
        copyFileSync(join(projectRoot, 'examples/audit/audit.log'), join(auditDir, 'audit.log'));
        // The same command line, with the cluster's paths and ports mapped to this machine's.
        const args = (container.args as string[]).map((arg) =>
          arg
            .replace(/^-http-port=\d+$/, `-http-port=${httpPort}`)
            .replace(/^-webhook-port=\d+$/, '-webhook-port=0')
            .replace('/var/log/kubernetes/audit', auditDir)
            .replace('/etc/exectrail/tls/tls.crt', pki.serverCertFile)
            .replace('/etc/exectrail/tls/tls.key', pki.serverKeyFile)
            .replace('/etc/exectrail/tls/client-ca.crt', pki.clientCaFile),
        );
        const env: Record<string, string> = target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {};
        const extra = target.databaseUrl ? [] : target.flags;
        const child = startProcessor([...args, ...extra], env);
        const exited = collect(child);
        try {
          for (const probe of [container.readinessProbe, container.livenessProbe]) {
            const response = await probeHttp(`http://127.0.0.1:${httpPort}${probe.httpGet.path}`);
            assert.equal(response.status, 200, `${relative(projectRoot, file)}: GET ${probe.httpGet.path}`);
          }
        } finally {
          child.kill('SIGTERM');
          const result = await exited;
          assert.equal(result.code, 0, `exits 0 on SIGTERM\n${result.stderr.slice(-2000)}`);
        }
      });
    }
  });
});


/** kubectl on PATH, or why the rendering test cannot run. */
function kubectlMissing(): string | false {
  const found = (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, 'kubectl')));
  if (found) return false;
  if (process.env.REQUIRE_KUBECTL === '1') throw new Error("REQUIRE_KUBECTL=1 but kubectl is not on PATH: .ci/run installs Debian's kubernetes-client");
  return 'skipped: kubectl not found on PATH (Debian: apt-get install kubernetes-client)';
}

describe('every overlay rendered with kubectl kustomize', { skip: kubectlMissing() }, () => {
  const version = (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version;
  const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
  const finalStage = dockerfile.split(/^FROM /m).at(-1)!;
  const exposed = new Set(/^EXPOSE (.+)$/m.exec(finalStage)![1]!.trim().split(/\s+/).map(Number));
  const volumes = (JSON.parse(/^VOLUME (\[.*\])$/m.exec(finalStage)![1]!) as string[]);

  for (const overlay of readdirSync(join(deployDir, 'overlays'))) {
    it(overlay, () => {
      // The overlays use kustomize `components` and `labels` (kubectl 1.21+); Debian bookworm's
      // kubernetes-client is 1.20: say so rather than fail on kustomize's own message.
      const client = JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' })) as { clientVersion: { major: string; minor: string } };
      const minor = Number.parseInt(client.clientVersion.minor, 10);
      assert.ok(Number(client.clientVersion.major) > 1 || minor >= 21, `kubectl 1.${minor} is too old to render deploy/ (components need kubectl 1.21+): install a newer kubectl`);
      const rendered = execFileSync('kubectl', ['kustomize', join(deployDir, 'overlays', overlay)], { encoding: 'utf8' });
      const docs = parseAllDocuments(rendered).map((d) => d.toJS() as Record<string, any>);
      const pods = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet');
      assert.ok(pods.length >= 1, `${overlay} renders a workload`);
      for (const workload of pods) {
        const pod = workload.spec.template.spec;
        for (const container of pod.containers as Record<string, any>[]) {
          const where = `${overlay}: ${workload.kind} ${workload.metadata.name}`;
          // registry host (with a dot) / path : the package version; never docker.io/library/exectrail.
          assert.match(container.image, /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?\/[a-z0-9._/-]+:[\w.-]+$/, `${where}: fully qualified image`);
          assert.equal(container.image.split(':').at(-1), version, `${where}: the image tag is package.json's version`);

          const flags = containerFlags(container.args as string[]);
          const ports = new Map((container.ports as any[]).map((p) => [p.name, p.containerPort as number]));
          assert.equal(ports.get('http'), flags['http-port'], `${where}: port http is -http-port`);
          if (flags['enable-webhook']) assert.equal(ports.get('webhook'), flags['webhook-port'], `${where}: port webhook is -webhook-port`);
          for (const port of ports.values()) assert.ok(exposed.has(port), `${where}: port ${port} is EXPOSEd by the Dockerfile (${[...exposed]})`);
          for (const probe of [container.readinessProbe, container.livenessProbe]) {
            assert.ok(['/readyz', '/healthz'].includes(probe.httpGet.path), `${where}: probe path ${probe.httpGet.path}`);
            assert.equal(ports.get(probe.httpGet.port), flags['http-port'], `${where}: probes ask -http-port`);
          }

          const podVolumes = new Set((pod.volumes as any[]).map((v) => v.name));
          const mounts = (container.volumeMounts as any[]) ?? [];
          for (const mount of mounts) assert.ok(podVolumes.has(mount.name), `${where}: mount ${mount.name} has a volume`);
          const mounted = (path: string) => mounts.some((m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));
          // Every file or directory a flag names is on a mount (the root filesystem is read-only).
          for (const name of ['audit-log-dir', 'audit-log-file', 'webhook-tls-cert-file', 'webhook-tls-key-file', 'webhook-client-ca-file', 'webhook-token-file', 'api-token-file', 'kubearmor-ca-file']) {
            const path = flags[name];
            if (typeof path === 'string' && path) assert.ok(mounted(path), `${where}: -${name} ${path} is on a volume mount`);
          }
          assert.equal(container.securityContext.readOnlyRootFilesystem, true);
          assert.ok(mounted('/tmp'), `${where}: /tmp is writable (read-only root filesystem)`);
          // Without DATABASE_URL the embedded database would need the image's data volume mounted.
          const hasDatabaseUrl = (container.env as any[]).some((e) => e.name === 'DATABASE_URL');
          assert.ok(hasDatabaseUrl || volumes.every((v) => mounted(v)), `${where}: the image's VOLUME ${volumes} is mounted when no DATABASE_URL is set`);
          // The Dockerfile's USER node is uid 1000 in the node images; root only where it must read root's files.
          const uid = pod.securityContext?.runAsUser;
          assert.ok(uid === 1000 || (uid === 0 && flags['audit-log-dir']), `${where}: runs as the image's user (uid 1000), root only to read the apiserver's audit log`);
        }
      }
    });
  }
});

describe('docs and deploy files', () => {
  it('link nothing outside the repository (no ../shared)', () => {
    const files = [...yamlFiles(deployDir), ...readdirSync(join(projectRoot, 'docs')).map((f) => join(projectRoot, 'docs', f)), join(projectRoot, 'Dockerfile')];
    const offenders = files.filter((file) => readFileSync(file, 'utf8').includes('../shared')).map((f) => relative(projectRoot, f));
    assert.deepEqual(offenders, []);
  });
});
