/**
 * No Docker engine runs here, so the image is checked by reading the Dockerfile and by following its
 * stages in a temporary directory: each COPY copies what it names from the checkout, `npm run build`
 * runs as the build stage runs it, and the final stage's ENTRYPOINT + CMD start the result. Nothing is
 * written into the working tree. `npm ci` is the one step not repeated (no registry here): the
 * checkout's installed node_modules stands in for it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { describe, it } from 'node:test';
import { collect, freePort, projectRoot } from '../support/cli.ts';

const dockerfile = readFileSync(join(projectRoot, 'Dockerfile'), 'utf8');
const stages = dockerfile.split(/^FROM /m).slice(1);
const finalStage = stages.at(-1)!;
const jsonInstruction = (name: string) => JSON.parse(new RegExp(`^${name} (\\[.*\\])$`, 'm').exec(finalStage)![1]!) as string[];

interface Stage {
  name: string;
  /** Where the stage's WORKDIR (/app) is on this machine. */
  dir: string;
}

/** Instructions of a stage, continuation lines joined. */
function instructions(stage: string): [keyword: string, rest: string][] {
  return stage
    .replace(/\\\n/g, ' ')
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return [keyword!, rest.join(' ')];
    });
}

/** Follows every stage of the Dockerfile under `root`; returns each stage's /app. */
function buildStages(root: string): Map<string, Stage> {
  const built = new Map<string, Stage>();
  stages.forEach((text, index) => {
    const name = /^\S+(?:\s+AS\s+(\S+))?/i.exec(text)![1] ?? String(index);
    const stage = { name, dir: join(root, name) };
    mkdirSync(stage.dir, { recursive: true });
    let workdir = '/app';
    for (const [keyword, rest] of instructions(text)) {
      if (keyword === 'WORKDIR') workdir = rest;
      else if (keyword === 'COPY') copy(stage, workdir, rest, built);
      else if (keyword === 'RUN') run(stage, rest);
    }
    built.set(name, stage);
  });
  return built;
}

const local = (stage: Stage, workdir: string, path: string) => join(stage.dir, posix.relative('/app', posix.resolve(workdir, path)));

function copy(stage: Stage, workdir: string, rest: string, built: Map<string, Stage>): void {
  const words = rest.split(/\s+/);
  const from = words[0]!.startsWith('--from=') ? built.get(words.shift()!.slice('--from='.length)) : undefined;
  const target = words.pop()!;
  for (const source of words) {
    const sourcePath = from ? local(from, '/app', source) : join(projectRoot, source);
    // `COPY a b ./` puts a and b into the directory; `COPY src ./src` names the copy.
    const destination = target.endsWith('/') ? join(local(stage, workdir, target), posix.basename(source)) : local(stage, workdir, target);
    mkdirSync(dirname(destination), { recursive: true });
    // A stage's node_modules is the checkout's (see above): link it instead of copying 200 MB.
    if (source.endsWith('node_modules')) symlinkSync(join(projectRoot, 'node_modules'), destination);
    else cpSync(sourcePath, destination, { recursive: true });
  }
}

function run(stage: Stage, command: string): void {
  for (const step of command.split('&&').map((s) => s.trim())) {
    if (/^npm ci\b/.test(step)) symlinkSync(join(projectRoot, 'node_modules'), join(stage.dir, 'node_modules'));
    else if (step === 'npm run build') execFileSync('npm', ['run', 'build'], { cwd: stage.dir, stdio: 'pipe' });
    else if (/^npm cache clean\b/.test(step)) continue;
    // The data directory is mapped to a temporary one below; what the image does to /data does not apply here.
    else if (/^(mkdir|chown|chmod)\b.*\s\/data\b/.test(step)) continue;
    else assert.fail(`test/deploy/dockerfile.test.ts does not know how to follow "RUN ${step}"; teach it`);
  }
}

describe('Dockerfile', () => {
  it('is multi-stage on Node 20 slim, installs production dependencies only, runs as non-root', () => {
    assert.ok(stages.length >= 2, 'multi-stage');
    // package.json's engines is >=20.19 and the machines that test it run Node 20: the image runs the same line.
    assert.match(readFileSync(join(projectRoot, 'package.json'), 'utf8'), /"node": ">=20\.19"/);
    for (const stage of stages) assert.match(stage, /^node:20[\w.-]*-slim\b/, 'Node 20 slim base');
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(finalStage, /^USER (node|\d+)/m);
    assert.doesNotMatch(finalStage, /apt-get|build-essential|python3|make|g\+\+/, 'no build tools in the final image');
    assert.match(finalStage, /^COPY .*migrations/m, 'migrations ship with the image');
    assert.match(finalStage, /^VOLUME \["\/data"\]/m, 'data dir is a volume (read-only root filesystem)');
    // /data exists and belongs to the runtime user before the volume is declared, so a fresh volume is writable by it.
    const lines = finalStage.split('\n');
    const at = (pattern: RegExp) => lines.findIndex((line) => pattern.test(line));
    const user = /^USER (\S+)/m.exec(finalStage)![1]!;
    assert.ok(at(/^RUN .*mkdir -p \/data\b/) !== -1, 'RUN mkdir -p /data');
    assert.ok(at(new RegExp(`^RUN .*chown ${user}(:${user})? /data\\b`)) !== -1, `/data is chowned to ${user}`);
    assert.ok(at(/chown .*\/data/) < at(/^USER /), 'chown before USER (it needs root)');
    assert.ok(at(/^USER /) < at(/^VOLUME /), 'VOLUME after USER and the chown');
    const ignored = readFileSync(join(projectRoot, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', '.git', 'dist']) assert.ok(ignored.includes(entry), `.dockerignore has ${entry}`);
  });

  it('its stages build the processor, and its ENTRYPOINT and CMD start it: it serves and stops cleanly on SIGTERM', { timeout: 180_000 }, async () => {
    const root = mkdtempSync(join(tmpdir(), 'exectrail-image-'));
    try {
      const image = [...buildStages(root).values()].at(-1)!;
      const [node, script, ...entryArgs] = jsonInstruction('ENTRYPOINT');
      assert.equal(node, 'node');
      const webhookPort = await freePort();
      const httpPort = await freePort();
      const dataDir = join(root, 'data');
      mkdirSync(dataDir);
      // The image's paths and ports mapped to this machine's; nothing else changes.
      const args = [...entryArgs, ...jsonInstruction('CMD')].map((arg) =>
        arg.replace(/^-data-dir=\/data$/, `-data-dir=${dataDir}`).replace('-webhook-port=8444', `-webhook-port=${webhookPort}`).replace('-http-port=8080', `-http-port=${httpPort}`),
      );
      const child = spawn(process.execPath, [script!.replace(/^\/app\//, `${image.dir}/`), ...args], {
        cwd: image.dir,
        env: { ...process.env, DATABASE_URL: '', NODE_ENV: 'production' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = collect(child);
      try {
        const until = Date.now() + 60_000;
        // What Kubernetes waits for before it routes the apiserver's batches here: /readyz on -http-port.
        for (;;) {
          const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined);
          if (ready?.status === 200) break;
          if (Date.now() > until) throw new Error(`processor was not ready within 60 s: ${ready ? await ready.text() : 'no answer'}`);
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.equal((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).status, 200);
        const body = readFileSync(join(projectRoot, 'test/fixtures/audit/webhook-eventlist-body.json'));
        const posted = await fetch(`http://127.0.0.1:${webhookPort}/audit`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
        const answer = await posted.text();
        assert.equal(posted.status, 200, answer);
        assert.equal((JSON.parse(answer) as { sessions: number }).sessions, 2, 'both sessions of the EventList stored');
      } finally {
        child.kill('SIGTERM');
      }
      const result = await exited;
      assert.equal(result.code, 0, result.stderr.slice(-2000));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
