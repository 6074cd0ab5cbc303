/**
 * deploy/apiserver/: the audit policy records every request the processor keeps as a session (and not
 * other traffic), and the webhook kubeconfig points at what the processor serves by default.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { decodeAuditText } from '../../src/audit/decode.ts';
import type { AuditEvent } from '../../src/audit/event.ts';
import { extractSession } from '../../src/audit/extract.ts';
import { parseProcessorArgs } from '../../src/config/options.ts';
import { projectRoot } from '../support/cli.ts';
import { fixtureUnits } from '../audit/support.ts';
import { policyLevel, shippedAuditPolicy } from './audit-policy.ts';
import { execEvent, otherEvent } from './webhook-support.ts';

const apiserverDir = join(projectRoot, 'deploy', 'apiserver');

/** Every event of our audit fixtures (test/fixtures/audit). */
function fixtureEvents(): AuditEvent[] {
  return fixtureUnits().flatMap((unit) => decodeAuditText(unit.toString()).events);
}

describe('deploy/apiserver/audit-policy.yaml', () => {
  const policy = shippedAuditPolicy();

  it('is an audit.k8s.io/v1 Policy', () => {
    assert.equal(policy.apiVersion, 'audit.k8s.io/v1');
    assert.equal(policy.kind, 'Policy');
  });

  it('records exec, attach and port-forward with verb create (SPDY) and get (WebSocket) at Metadata level', () => {
    for (const subresource of ['exec', 'attach', 'portforward']) {
      for (const verb of ['create', 'get']) {
        const event = { ...execEvent('p', 'ResponseComplete', { verb: verb as 'get' | 'create' }), objectRef: { resource: 'pods', namespace: 'shop', name: 'web-0', subresource } };
        assert.equal(policyLevel(policy.rules, event as AuditEvent), 'Metadata', `${verb} pods/${subresource}`);
      }
    }
    const debug = { ...otherEvent('d'), verb: 'patch', objectRef: { resource: 'pods', namespace: 'shop', name: 'web-0', subresource: 'ephemeralcontainers' } };
    assert.equal(policyLevel(policy.rules, debug as AuditEvent), 'Metadata', 'kubectl debug');
    const nodeProxy = { ...otherEvent('n'), verb: 'get', objectRef: { resource: 'nodes', name: 'node-1', subresource: 'proxy' } };
    assert.equal(policyLevel(policy.rules, nodeProxy as AuditEvent), 'Metadata', 'nodes/proxy');
  });

  it('records every fixture event the processor keeps as a session, even with -node-proxy=all', () => {
    const kept = fixtureEvents().filter((event) => extractSession(event, { cluster: '', nodeProxy: 'all' }));
    assert.ok(kept.length >= 30, `found ${kept.length} interactive-access events in the fixtures`);
    const missed = kept.filter((event) => policyLevel(policy.rules, event) !== 'Metadata');
    assert.deepEqual(missed.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.subresource} ${e.auditID}`), []);
  });

  it('records nothing else by itself (the user adds their own rules before the last one)', () => {
    for (let i = 0; i < 6; i++) assert.equal(policyLevel(policy.rules, otherEvent(`o${i}`, i) as AuditEvent), 'None');
    assert.deepEqual(policy.rules.at(-1), { level: 'None' });
  });
});

describe('deploy/apiserver/webhook-kubeconfig.yaml', () => {
  const kubeconfig = parse(readFileSync(join(apiserverDir, 'webhook-kubeconfig.yaml'), 'utf8')) as Record<string, any>;

  it('points the apiserver at HTTPS, path /audit, on the default -webhook-port, with a CA and a client certificate', () => {
    assert.equal(kubeconfig.kind, 'Config');
    const context = kubeconfig.contexts.find((c: any) => c.name === kubeconfig['current-context']).context;
    const cluster = kubeconfig.clusters.find((c: any) => c.name === context.cluster).cluster;
    const user = kubeconfig.users.find((u: any) => u.name === context.user).user;
    const server = new URL(cluster.server);
    assert.equal(server.protocol, 'https:');
    assert.equal(server.pathname, '/audit');
    assert.equal(Number(server.port), parseProcessorArgs([], {}).values['webhook-port']);
    assert.match(cluster['certificate-authority'], /server-ca\.crt$/, 'the CA make-certs.sh makes for the serving certificate');
    assert.match(user['client-certificate'], /apiserver-client\.crt$/);
    assert.match(user['client-key'], /apiserver-client\.key$/);
  });
});
