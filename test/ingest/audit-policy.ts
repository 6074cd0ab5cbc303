/**
 * The level kube-apiserver gives an event under deploy/apiserver/audit-policy.yaml, for the tests that
 * check the policy records every request the processor keeps as a session.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { AuditEvent } from '../../src/audit/event.ts';
import { projectRoot } from '../support/cli.ts';

export interface AuditPolicy {
  apiVersion: string;
  kind: string;
  rules: PolicyRule[];
}

export function shippedAuditPolicy(): AuditPolicy {
  return parse(readFileSync(join(projectRoot, 'deploy', 'apiserver', 'audit-policy.yaml'), 'utf8')) as AuditPolicy;
}

export interface PolicyRule {
  level: string;
  verbs?: string[];
  resources?: { group?: string; resources?: string[] }[];
  users?: unknown;
  userGroups?: unknown;
  namespaces?: unknown;
  nonResourceURLs?: unknown;
}

/**
 * The level kube-apiserver gives an event under a policy: the first rule that matches decides
 * (k8s.io/apiserver pkg/audit/policy/checker.go), for the rule fields our policy uses.
 */
export function policyLevel(rules: PolicyRule[], event: AuditEvent): string {
  for (const rule of rules) {
    assert.ok(!rule.users && !rule.userGroups && !rule.namespaces && !rule.nonResourceURLs, 'the evaluator knows only verbs and resources');
    if (rule.verbs && !rule.verbs.includes(event.verb ?? '')) continue;
    if (rule.resources) {
      const ref = event.objectRef;
      if (!ref?.resource) continue;
      const name = ref.subresource ? `${ref.resource}/${ref.subresource}` : ref.resource;
      const matches = rule.resources.some(
        (r) => (r.group ?? '') === (ref.apiGroup ?? '') && (!r.resources || r.resources.includes(name) || r.resources.includes('*') || r.resources.includes(`${ref.resource}/*`)),
      );
      if (!matches) continue;
    }
    return rule.level;
  }
  return 'None';
}

