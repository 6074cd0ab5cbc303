/**
 * No Docker engine runs here, so the image is checked by reading the Dockerfile and by running the
 * exact command line it runs (ENTRYPOINT + CMD) against the build it copies: `npm run build` output.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { collect, projectRoot, freePort } from '../support/cli.ts';

const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const finalStage = stages.at(-1)!;
const jsonInstruction = (name: string) => JSON.parse(new RegExp(`^${name} (\\[.*\\])$`, 'm').exec(finalStage)![1]!) as string[];


describe('Dockerfile', () => {
  it('is multi-stage on Node 22 slim, installs production dependencies only, runs as non-root', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const stage of stages) assert.match(stage, /^node:22[\w.-]*-slim\b/, 'Node 22 LTS slim base');
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(finalStage, /^USER (node|\d+)/m);
    assert.doesNotMatch(finalStage, /apt-get|build-essential|python3|make|g\+\+/, 'no build tools in the final image');
    assert.match(finalStage, /^COPY .*migrations/m, 'migrations ship with the image');
    assert.match(finalStage, /^VOLUME \["\/data"\]/m, 'data dir is a volume (read-only root filesystem)');
    const ignored = readFileSync(join(projectRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.git', 'dist']) assert.ok(ignored.includes(entry), `.dockerignore has ${entry}`);
  });

  it('its ENTRYPOINT and CMD start the built processor, which serves and stops cleanly on SIGTERM', { timeout: 180_000 }, async () => {
    execFileSync('npm', ['run', 'build'], { cwd: projectRoot, stdio: 'pipe' });
    const [node, script, ...entryArgs] = jsonInstruction('ENTRYPOINT');
    assert.equal(node, 'node');
    const webhookPort = await freePort();
    const httpPort = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'exectrail-image-data-'));
    // The image's paths and ports mapped to this machine's; nothing else changes.
    const args = [...entryArgs, ...jsonInstruction('CMD')].map((arg) =>
      arg.replace(/^-data-dir=\/data$/, `-data-dir=${dataDir}`).replace('-webhook-port=8444', `-webhook-port=${webhookPort}`).replace('-http-port=8080', `-http-port=${httpPort}`),
    );
    const child = spawn(process.execPath, [script!.replace(/^\/app\//, projectRoot), ...args], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'production' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = collect(child);
    try {
      const until = Date.now() + 60_000;
      let health: Response | undefined;
      while (!health) {
        health = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(async () => {
          if (Date.now() > until) throw new Error('processor did not serve /healthz within 60 s');
          await new Promise((r) => setTimeout(r, 250));
          return undefined;
        });
      }
      assert.equal(health.status, 200);
      const body = readFileSync(join(projectRoot, '../shared/fixtures/audit/constructed/c9_webhook_eventlist_body.json'));
      const posted = await fetch(`http://127.0.0.1:${webhookPort}/audit`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      assert.equal(posted.status, 200, await posted.text());
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
  });
});
