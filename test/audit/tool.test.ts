/** Which client opened a session: the user agent, refined by command fingerprints. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectTool, parseUserAgent } from '../../src/audit/tool.ts';

describe('tool detection', () => {
  it('reads client-go user agents', () => {
    assert.deepEqual(parseUserAgent('kubectl/v1.30.2 (linux/amd64) kubernetes/abc1234'), { tool: 'kubectl', client_name: 'kubectl', client_version: 'v1.30.2', client_platform: 'linux/amd64' });
    assert.equal(parseUserAgent('kubectl.exe/v1.29.0 (windows/amd64) kubernetes/abc1234').tool, 'kubectl');
    assert.equal(parseUserAgent('oc/4.15.0 (darwin/arm64) kubernetes/abc1234').tool, 'oc');
    assert.equal(parseUserAgent('hyperkube/v1.15.10 (linux/amd64) kubernetes/059c666/system:serviceaccount:kube-system:generic-garbage-collector').tool, 'controller');
    assert.equal(parseUserAgent('kube-controller-manager/v1.29.0 (linux/amd64) kubernetes/3f7a50f').tool, 'controller');
    assert.equal(parseUserAgent('argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format').tool, 'client-go');
    assert.equal(parseUserAgent('k9s/v0.32.5 (darwin/arm64) kubernetes/$Format').tool, 'k9s');
    assert.equal(parseUserAgent('OpenLens/6.5.2').tool, 'lens');
    assert.equal(parseUserAgent('Go-http-client/1.1').tool, 'unknown');
    assert.equal(parseUserAgent('curl/8.5.0').client_name, 'curl');
    assert.deepEqual(parseUserAgent(undefined), { tool: 'unknown' });
  });

  it('tells k9s, Lens and kubectl cp apart from kubectl by their commands', () => {
    const ua = 'kubectl/v1.34.1 (linux/amd64) kubernetes/93248f9';
    assert.equal(detectTool(ua, ['sh', '-c', 'command -v bash >/dev/null && exec bash || exec sh']).tool, 'k9s');
    assert.equal(detectTool(ua, ['sh', '-c', 'clear; (bash || ash || sh)']).tool, 'lens');
    assert.equal(detectTool(ua, ['tar', 'cf', '-', '/app']).tool, 'kubectl-cp');
    assert.equal(detectTool(ua, ['tar', '-xmf', '-']).tool, 'kubectl-cp');
    assert.equal(detectTool(ua, ['sh', '-c', 'tar cf - /data | tail -c+1024']).tool, 'kubectl-cp');
    assert.deepEqual(detectTool(ua, ['bash']), { tool: 'kubectl', detected_by: 'user-agent', client_name: 'kubectl', client_version: 'v1.34.1', client_platform: 'linux/amd64' });
    assert.equal(detectTool(ua, ['tar', 'czf', 'backup.tgz', '/data']).tool, 'kubectl', 'a tar that is not kubectl cp');
    // A controller running tar is still a controller.
    assert.equal(detectTool('kube-controller-manager/v1.29.0 (linux/amd64) kubernetes/3f7a50f', ['tar', 'cf', '-', '/x']).tool, 'controller');
  });
});
