/**
 * What the webhook tests share: audit events shaped as the apiserver writes them, a real HTTP(S)
 * client, test certificates made with openssl, and a webhook started on 127.0.0.1 (port 0).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sessionId } from '../../src/audit/session.ts';
import { createLogger, silentLogger } from '../../src/observe/log.ts';
import { createMetrics, type Metrics } from '../../src/observe/metrics.ts';
import type { Database } from '../../src/store/database.ts';
import { SessionWriter } from '../../src/store/session-writer.ts';
import { startWebhook, type WebhookServer, type WebhookSettings } from '../../src/ingest/webhook.ts';

// ---------------------------------------------------------------------------------------------------
// Audit events

export type Stage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete';
export const allStages: Stage[] = ['RequestReceived', 'ResponseStarted', 'ResponseComplete'];

export interface ExecOptions {
  namespace?: string;
  pod?: string;
  user?: string;
  command?: string[];
  verb?: 'create' | 'get';
  /** responseStatus.code of ResponseStarted/ResponseComplete (101 when allowed). */
  code?: number;
  /** Session start, ISO with microseconds. */
  start?: string;
  /** Seconds the session lasted. */
  seconds?: number;
}

const BASE_MS = Date.parse('2024-05-02T09:00:00Z');

/** ISO UTC with six fractional digits, as the apiserver writes. */
export function auditTime(ms: number, micros = 0): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, (_m, frac: string) => `.${frac}${String(micros).padStart(3, '0')}Z`);
}

/** One stage of a pods/exec request, as kube-apiserver logs it at level Metadata. */
export function execEvent(auditID: string, stage: Stage, options: ExecOptions = {}): Record<string, unknown> {
  const namespace = options.namespace ?? 'shop';
  const pod = options.pod ?? 'web-0';
  const command = options.command ?? ['/bin/sh'];
  const verb = options.verb ?? 'create';
  const code = options.code ?? 101;
  const start = options.start ?? auditTime(BASE_MS, 104);
  const end = auditTime(Date.parse(start) + (options.seconds ?? 30) * 1000, 512);
  const query = new URLSearchParams();
  for (const word of command) query.append('command', word);
  query.append('container', 'app');
  query.append('stdin', 'true');
  query.append('stdout', 'true');
  query.append('tty', 'true');
  const event: Record<string, unknown> = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage,
    requestURI: `/api/v1/namespaces/${namespace}/pods/${pod}/exec?${query.toString()}`,
    verb,
    user: { username: options.user ?? 'alice@example.com', groups: ['system:authenticated'] },
    sourceIPs: ['192.0.2.10'],
    userAgent: 'kubectl/v1.29.3 (linux/amd64) kubernetes/6813625',
    objectRef: { resource: 'pods', namespace, name: pod, apiVersion: 'v1', subresource: 'exec' },
    requestReceivedTimestamp: start,
    stageTimestamp: stage === 'RequestReceived' ? start : stage === 'ResponseStarted' ? auditTime(Date.parse(start) + 20, 7) : end,
  };
  if (stage !== 'RequestReceived') {
    event.responseStatus = code === 101 ? { metadata: {}, code } : { metadata: {}, status: 'Failure', reason: 'Forbidden', code };
    event.annotations = { 'authorization.k8s.io/decision': code === 403 ? 'forbid' : 'allow', 'authorization.k8s.io/reason': '' };
  }
  return event;
}

/** A request that is not interactive access (a ConfigMap named like an exec must stay ignored). */
export function otherEvent(auditID: string, index = 0): Record<string, unknown> {
  const names = ['executor-config', 'web-0', 'attach-policy', 'exec-proxy-settings'];
  const resource = index % 3 === 0 ? 'configmaps' : index % 3 === 1 ? 'pods' : 'secrets';
  const name = names[index % names.length]!;
  const start = auditTime(BASE_MS + index * 7, 1);
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Metadata',
    auditID,
    stage: 'ResponseComplete',
    requestURI: `/api/v1/namespaces/shop/${resource}/${name}`,
    verb: 'get',
    user: { username: 'system:serviceaccount:shop:deployer', groups: ['system:serviceaccounts'] },
    sourceIPs: ['10.0.0.7'],
    userAgent: 'controller/v1.30.0',
    objectRef: { resource, namespace: 'shop', name, apiVersion: 'v1' },
    responseStatus: { metadata: {}, code: 200 },
    requestReceivedTimestamp: start,
    stageTimestamp: start,
  };
}

/** The body the apiserver's webhook backend sends. */
export function eventList(items: unknown[]): string {
  return JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', metadata: {}, items });
}

/** The row id a session of the default (empty) cluster gets. */
export const rowId = (auditID: string) => sessionId('', auditID);

// ---------------------------------------------------------------------------------------------------
// HTTP(S) client

export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: Record<string, unknown>;
}

export interface PostOptions {
  headers?: Record<string, string>;
  tls?: ClientTls;
  method?: string;
  /** gzip the body and say so in Content-Encoding. */
  gzip?: boolean;
  /** A fresh connection (no keep-alive), e.g. to test TLS handshakes. */
  agent?: http.Agent | false;
}

/** One real HTTP(S) request; resolves with what the server answered. */
export function request(url: string, body: string | Buffer | undefined, options: PostOptions = {}): Promise<Reply> {
  const target = new URL(url);
  const payload = body === undefined ? undefined : options.gzip ? gzipSync(body) : Buffer.from(body);
  const headers: Record<string, string> = { ...options.headers };
  if (payload) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(payload.length);
    if (options.gzip) headers['content-encoding'] = 'gzip';
  }
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      target,
      { method: options.method ?? (payload ? 'POST' : 'GET'), headers, agent: options.agent, ...options.tls },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // not JSON: the caller looks at text
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------------------------------
// Certificates

export interface TestPki {
  dir: string;
  caCert: Buffer;
  serverCertFile: string;
  serverKeyFile: string;
  clientCaFile: string;
  client: { cert: Buffer; key: Buffer };
  /** Signed by another CA with the same subject names. */
  strangerClient: { cert: Buffer; key: Buffer };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Two CAs, a server certificate for 127.0.0.1, a client certificate from each CA. */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'exectrail-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca']) {
    openssl(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=exectrail test ${ca}`], dir);
  }
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const issue = (name: string, ca: string, ext: string, cn: string) => {
    openssl(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', ext], dir);
  };
  issue('server', 'ca', 'server.ext', 'exectrail-webhook');
  issue('client', 'ca', 'client.ext', 'kube-apiserver');
  issue('stranger', 'other-ca', 'client.ext', 'kube-apiserver');
  const read = (name: string) => readFileSync(join(dir, name));
  return {
    dir,
    caCert: read('ca.crt'),
    serverCertFile: join(dir, 'server.crt'),
    serverKeyFile: join(dir, 'server.key'),
    clientCaFile: join(dir, 'ca.crt'),
    client: { cert: read('client.crt'), key: read('client.key') },
    strangerClient: { cert: read('stranger.crt'), key: read('stranger.key') },
  };
}

// ---------------------------------------------------------------------------------------------------
// A webhook on loopback

export interface RunningWebhook {
  server: WebhookServer;
  metrics: Metrics;
  /** http(s)://127.0.0.1:PORT */
  origin: string;
  url: string;
}

export async function startTestWebhook(db: Database, settings: Partial<WebhookSettings> = {}): Promise<RunningWebhook> {
  const metrics = createMetrics();
  const server = await startWebhook(
    { port: 0, host: '127.0.0.1', maxBodyBytes: 16 * 1024 * 1024, writeTimeoutMs: 10_000, ...settings },
    // WEBHOOK_TEST_LOG=warn (or debug) shows the server's log lines while debugging a test.
    { writer: new SessionWriter(db), db, context: { cluster: '' }, metrics, logger: process.env.WEBHOOK_TEST_LOG ? createLogger(process.env.WEBHOOK_TEST_LOG) : silentLogger },
  );
  return { server, metrics, url: server.url, origin: server.url.replace(/\/audit$/, '') };
}

/** Rows of change_events, keyed by id. */
export async function storedSessions(db: Database): Promise<Map<string, Record<string, unknown>>> {
  const { rows } = await db.query<Record<string, unknown>>(`SELECT * FROM change_events WHERE operation = 'EXEC' ORDER BY id`);
  return new Map(rows.map((r) => [r.id as string, r]));
}
