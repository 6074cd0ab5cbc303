/**
 * Every manifest under deploy/ parses, has a known kind and API version, is reachable from a
 * kustomization, and asks of the processor only what it really has: each container's args parse with
 * the processor's own flag table, and the processor started with those args answers the probe paths.
 * Renaming a flag or a probe route in the code makes this test fail.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseProcessorArgs } from '../../src/config/options.ts';
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


async function waitForHttp(url: string, deadlineMs = 60_000): Promise<Response> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await fetch(url);
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 250));
    }
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
      for (const resource of kustomization.doc.resources as string[]) {
        const path = resolve(dir, resource);
        if (statSync(path).isDirectory()) visit(path);
        else referenced.add(path);
      }
    };
    for (const overlay of readdirSync(join(deployDir, 'overlays'))) visit(join(deployDir, 'overlays', overlay));
    const clusterFiles = new Set(
      manifests.filter((m) => m.doc.kind !== 'Kustomization' && !m.file.includes(`${deployDir}/apiserver/`)).map((m) => m.file),
    );
    assert.deepEqual([...clusterFiles].filter((f) => !referenced.has(f)).map((f) => relative(projectRoot, f)), []);
  });

  it('has a webhook Deployment with 2 replicas and a file-mode DaemonSet reading the audit log read-only', () => {
    const deployment = manifests.find((m) => m.doc.kind === 'Deployment')!.doc;
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
      const flags = parseProcessorArgs(container.args as string[], {}).values; // throws on a renamed flag
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
            const response = await waitForHttp(`http://127.0.0.1:${httpPort}${probe.httpGet.path}`);
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

