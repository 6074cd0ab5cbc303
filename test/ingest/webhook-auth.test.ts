import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createMetrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { startWebhook } from '../../src/ingest/webhook.ts';
import { projectRoot } from '../support/cli.ts';
import { backends, createTestDatabase, skipReason } from '../support/databases.ts';
import { allStages, eventList, execEvent, makeTestPki, request, rowId, startTestWebhook, storedSessions, type RunningWebhook, type TestPki } from './webhook-support.ts';

const TOKEN = 'c2VjcmV0LWF1ZGl0LXRva2VuLWZvci1leGVjdHJhaWw';
const batch = (id: string) => eventList(allStages.map((s) => execEvent(id, s)));

/** A logger whose JSON lines the test can read. */
function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

for (const backend of backends) {
  describe(`audit webhook authentication on ${backend}`, { skip: skipReason(backend) }, () => {
    let db: Database;
    let close: () => Promise<void>;
    let pki: TestPki;
    let tokenFile: string;
    before(async () => {
      ({ db, close } = await createTestDatabase(backend));
      pki = makeTestPki();
      tokenFile = join(pki.dir, 'token');
      writeFileSync(tokenFile, `${TOKEN}\n`);
    });
    after(async () => {
      await close?.();
      if (pki) rmSync(pki.dir, { recursive: true, force: true });
    });

    describe('mTLS (-webhook-client-ca-file)', () => {
      let hook: RunningWebhook;
      before(async () => {
        hook = await startTestWebhook(db, { tlsCertFile: pki.serverCertFile, tlsKeyFile: pki.serverKeyFile, clientCaFile: pki.clientCaFile });
      });
      after(() => hook?.server.stop());

      it('serves HTTPS only', async () => {
        assert.match(hook.url, /^https:\/\/127\.0\.0\.1:\d+\/audit$/);
        await assert.rejects(request(hook.url.replace('https:', 'http:'), batch('plain-http'), { agent: false }));
      });

      it('rejects a call without a client certificate with 401', async () => {
        const reply = await request(hook.url, batch('mtls-none'), { tls: { ca: pki.caCert }, agent: false });
        assert.equal(reply.status, 401);
        assert.match(reply.json.error as string, /client certificate is required/);
      });

      it('rejects a client certificate from another CA with 401', async () => {
        const reply = await request(hook.url, batch('mtls-stranger'), { tls: { ca: pki.caCert, ...pki.strangerClient }, agent: false });
        assert.equal(reply.status, 401);
        assert.match(reply.json.error as string, /client certificate rejected .*-webhook-client-ca-file/);
      });

      it('accepts the right client certificate and stores the batch', async () => {
        const reply = await request(hook.url, batch('mtls-good'), { tls: { ca: pki.caCert, ...pki.client }, agent: false });
        assert.equal(reply.status, 200, reply.text);
        const rows = await storedSessions(db);
        assert.ok(rows.has(rowId('mtls-good')));
        assert.ok(!rows.has(rowId('mtls-none')) && !rows.has(rowId('mtls-stranger')), 'nothing from rejected calls is stored');
      });

      it('answers /healthz and /readyz without a client certificate (kubelet probes have none)', async () => {
        for (const path of ['/healthz', '/readyz']) {
          const reply = await request(`${hook.origin}${path}`, undefined, { tls: { ca: pki.caCert }, agent: false });
          assert.equal(reply.status, 200, `${path}: ${reply.text}`);
        }
      });
    });

    describe('bearer token (-webhook-token-file)', () => {
      let hook: RunningWebhook;
      before(async () => (hook = await startTestWebhook(db, { tokenFile })));
      after(() => hook?.server.stop());

      it('answers 401 with a Bearer challenge when the token is missing', async () => {
        const reply = await request(hook.url, batch('token-missing'));
        assert.equal(reply.status, 401);
        assert.match(reply.headers['www-authenticate'] ?? '', /^Bearer /);
        assert.match(reply.json.error as string, /bearer token is required/);
      });

      it('answers 401 to a wrong token, whatever its length, and to another scheme', async () => {
        for (const wrong of [`Bearer ${TOKEN.slice(0, -1)}x`, 'Bearer short', `Bearer ${TOKEN}${TOKEN}`, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`]) {
          const reply = await request(hook.url, batch('token-wrong'), { headers: { authorization: wrong } });
          assert.equal(reply.status, 401, wrong);
        }
        assert.ok(!(await storedSessions(db)).has(rowId('token-wrong')));
      });

      it('accepts the token from the file (its trailing newline ignored)', async () => {
        const reply = await request(hook.url, batch('token-good'), { headers: { authorization: `Bearer ${TOKEN}` } });
        assert.equal(reply.status, 200, reply.text);
        assert.ok((await storedSessions(db)).has(rowId('token-good')));
      });

      it('does not ask probes for the token', async () => {
        assert.equal((await request(`${hook.origin}/healthz`, undefined)).status, 200);
        assert.equal((await request(`${hook.origin}/readyz`, undefined)).status, 200);
      });
    });

    describe('mTLS and token together', () => {
      let hook: RunningWebhook;
      before(async () => {
        hook = await startTestWebhook(db, { tlsCertFile: pki.serverCertFile, tlsKeyFile: pki.serverKeyFile, clientCaFile: pki.clientCaFile, tokenFile });
      });
      after(() => hook?.server.stop());

      it('needs both: a certificate does not replace the token, nor the token the certificate', async () => {
        const certOnly = await request(hook.url, batch('both-1'), { tls: { ca: pki.caCert, ...pki.client }, agent: false });
        assert.equal(certOnly.status, 401);
        const tokenOnly = await request(hook.url, batch('both-2'), { tls: { ca: pki.caCert }, headers: { authorization: `Bearer ${TOKEN}` }, agent: false });
        assert.equal(tokenOnly.status, 401);
        const both = await request(hook.url, batch('both-3'), { tls: { ca: pki.caCert, ...pki.client }, headers: { authorization: `Bearer ${TOKEN}` }, agent: false });
        assert.equal(both.status, 200, both.text);
      });
    });

    describe('deploy/apiserver/make-certs.sh', () => {
      it('makes certificates with which the apiserver side (client cert, server CA) and the webhook (TLS flags) talk mTLS', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'exectrail-make-certs-'));
        try {
          execFileSync(join(projectRoot, 'deploy/apiserver/make-certs.sh'), [dir, 'IP:127.0.0.1', 'DNS:localhost'], { stdio: 'pipe' });
          const hook = await startTestWebhook(db, { tlsCertFile: join(dir, 'tls.crt'), tlsKeyFile: join(dir, 'tls.key'), clientCaFile: join(dir, 'client-ca.crt') });
          try {
            const read = (name: string) => readFileSync(join(dir, name));
            // What webhook-kubeconfig.yaml gives the apiserver.
            const apiserver = { ca: read('server-ca.crt'), cert: read('apiserver-client.crt'), key: read('apiserver-client.key') };
            const ok = await request(hook.url, batch('make-certs'), { tls: apiserver, agent: false });
            assert.equal(ok.status, 200, ok.text);
            // The serving certificate is not a client certificate of the client CA.
            const wrong = await request(hook.url, batch('make-certs-wrong'), { tls: { ca: apiserver.ca, cert: read('tls.crt'), key: read('tls.key') }, agent: false });
            assert.equal(wrong.status, 401);
          } finally {
            await hook.server.stop();
          }
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });

    describe('start-up', () => {
      const deps = (logger = pino({ level: 'silent' })) => ({ writer: new SessionWriter(db), db, context: { cluster: '' }, metrics: createMetrics(), logger });
      const base = { port: 0, host: '127.0.0.1', maxBodyBytes: 1 << 20, writeTimeoutMs: 5000 };

      it('warns loudly when started without any authentication', async () => {
        const { logger, lines } = capturingLogger();
        const server = await startWebhook(base, deps(logger));
        await server.stop();
        const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string }).find((l) => /WITHOUT AUTHENTICATION/.test(l.msg));
        assert.ok(warning, `no warning in ${lines.join('\n')}`);
        assert.equal(warning.level, 40, 'logged at warn');
        assert.match(warning.msg, /-webhook-token-file/);
      });

      it('refuses settings that cannot work, saying what to do', async () => {
        await assert.rejects(startWebhook({ ...base, clientCaFile: pki.clientCaFile }, deps()), /-webhook-client-ca-file needs -webhook-tls-cert-file/);
        await assert.rejects(startWebhook({ ...base, tlsCertFile: pki.serverCertFile }, deps()), /go together/);
        await assert.rejects(startWebhook({ ...base, writeTimeoutMs: 30_000 }, deps()), /less than 30s/);
        await assert.rejects(startWebhook({ ...base, tokenFile: join(pki.dir, 'missing') }, deps()), /cannot read -webhook-token-file/);
        const empty = join(pki.dir, 'empty-token');
        writeFileSync(empty, '\n');
        await assert.rejects(startWebhook({ ...base, tokenFile: empty }, deps()), /is empty/);
        await assert.rejects(
          startWebhook({ ...base, tlsCertFile: pki.serverCertFile, tlsKeyFile: join(pki.dir, 'client.key') }, deps()),
          /must be PEM files of one key pair/,
        );
      });
    });
  });
}
