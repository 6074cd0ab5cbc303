/**
 * -webhook-max-inflight-bytes: the bytes of request bodies held at once are bounded across requests.
 * Past the bound a batch gets 429 with Retry-After, before its body is read when it declares its
 * length, and as soon as it passes the bound when it is chunked. Through the real command; the
 * processor's peak RSS (VmHWM) is reported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { collect, freePort, startProcessor, waitForLogLine } from '../support/cli.ts';
import { createTestDatabaseTarget, testDatabaseUrl, type TestDatabaseTarget } from '../support/databases.ts';
import { waitFor } from './file-support.ts';
import { allStages, eventList, execEvent, otherEvent } from './webhook-support.ts';

const MAX_BODY = 8 * 1024 * 1024;
/** What the default bound is: four full-size bodies. */
const IN_FLIGHT = 4 * MAX_BODY;
const CLIENTS = 24;

/** An EventList of about `mib` MiB: one exec session and many ordinary requests, as a busy apiserver sends. */
function largeBatch(mib: number): Buffer {
  const items: unknown[] = allStages.map((stage) => execEvent('inflight-0', stage));
  for (let i = 0; Buffer.byteLength(JSON.stringify(items)) < mib * 1024 * 1024; i++) {
    for (let k = 0; k < 500; k++) items.push(otherEvent(`inflight-other-${i}-${k}`, k));
  }
  return Buffer.from(eventList(items));
}

/** Peak resident memory of a process, in MB (Linux). */
function peakRssMb(pid: number): number {
  const kb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 1024);
}

interface Posting {
  req: http.ClientRequest;
  status: Promise<{ status: number; retryAfter?: string; code?: string }>;
  answered: boolean;
}

/** Starts a POST and writes `first` bytes of the body; the rest is written by the caller. */
function startPost(url: string, body: Buffer, first: number, declareLength: boolean): Posting {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (declareLength) headers['content-length'] = String(body.length);
  const req = http.request(url, { method: 'POST', headers, agent: false });
  const posting: Posting = {
    req,
    answered: false,
    status: new Promise((resolve, reject) => {
      req.on('response', (res) => {
        posting.answered = true;
        const chunks: Buffer[] = [];
        const settle = () => {
          let code: string | undefined;
          try {
            code = (JSON.parse(Buffer.concat(chunks).toString() || '{}') as { code?: string }).code;
          } catch {
            // cut short by the reset that ends a lingering close: the status is what counts
          }
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, code });
        };
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', settle);
        res.on('close', settle);
        res.on('error', () => undefined);
      });
      // Writing the rest of a body the server refused ends in EPIPE/ECONNRESET once it answered; a
      // client still sending 2 s after the answer (a loaded machine) may lose the answer to the reset
      // that ends the server's lingering close: status 0, a refusal.
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (posting.answered) return;
        if (error.code === 'EPIPE' || error.code === 'ECONNRESET') resolve({ status: 0 });
        else reject(error);
      });
    }),
  };
  // Awaited later; a failure must fail the test there, not as an unhandled rejection meanwhile.
  posting.status.catch(() => undefined);
  req.write(body.subarray(0, first));
  return posting;
}

async function writeRest(posting: Posting, body: Buffer, from: number, pieceBytes: number): Promise<void> {
  for (let at = from; at < body.length && !posting.answered; at += pieceBytes) {
    // Reset by the server (the end of a lingering close): nothing more can be sent, and no event is to come.
    if (posting.req.destroyed) return;
    const ok = posting.req.write(body.subarray(at, Math.min(body.length, at + pieceBytes)));
    if (!ok && !posting.req.destroyed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          posting.req.off('drain', done).off('error', done).off('close', done);
          resolve();
        };
        posting.req.on('drain', done).on('error', done).on('close', done);
      });
    }
  }
  if (!posting.req.destroyed) posting.req.end();
}

describe('webhook: bytes of bodies in flight are bounded across requests', () => {
  let target: TestDatabaseTarget;
  before(async () => (target = await createTestDatabaseTarget(testDatabaseUrl ? 'postgres' : 'pglite')));
  after(() => target?.destroy());

  it('answers 429 with Retry-After for the excess of many concurrent large bodies, and their memory stays bounded', { timeout: 180_000 }, async (t) => {
    const body = largeBatch(7.5);
    // Chunked bodies are refused part way: kept under the 4 MiB the server drains after answering early
    // (lingering close), so the client, still sending, does not lose the answer to a reset.
    const chunkedBody = largeBatch(3);
    const [webhookPort, httpPort] = [await freePort(), await freePort()];
    const child = startProcessor(['-enable-webhook', '-webhook-port', String(webhookPort), '-http-port', String(httpPort), '-webhook-max-body', String(MAX_BODY), ...target.flags]);
    const exited = collect(child);
    const url = `http://127.0.0.1:${webhookPort}/audit`;
    try {
      await waitForLogLine(child, /audit webhook listening/);
      const idleMb = peakRssMb(child.pid!);

      // Declared lengths: every request sends its headers and a first piece; the server takes as many
      // as fit in the bound and answers the others at once, before reading their bodies.
      const declared = Array.from({ length: CLIENTS }, () => startPost(url, body, 64 * 1024, true));
      const fit = Math.floor(IN_FLIGHT / body.length);
      await waitFor(`${CLIENTS - fit} requests answered before their bodies were sent`, () => declared.filter((p) => p.answered).length >= CLIENTS - fit, 60_000);
      const refusedEarly = await Promise.all(declared.filter((p) => p.answered).map((p) => p.status));
      assert.ok(refusedEarly.every((r) => r.status === 429 && r.retryAfter === '10' && r.code === 'TOO_MANY_BYTES_IN_FLIGHT'), JSON.stringify(refusedEarly));
      await Promise.all(declared.filter((p) => !p.answered).map((p) => writeRest(p, body, 64 * 1024, 1024 * 1024)));
      const statuses = (await Promise.all(declared.map((p) => p.status))).map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 429).length, CLIENTS - fit, `statuses: ${statuses.join(' ')}`);
      assert.equal(statuses.filter((s) => s === 200).length, fit, `statuses: ${statuses.join(' ')}`);
      const declaredMb = peakRssMb(child.pid!);

      // Chunked bodies (no Content-Length) are counted as they arrive. Every client sends a first part
      // and waits: the parts cannot all be held, so those that would pass the bound are refused, at
      // once, while their senders are still waiting; then the others send the rest.
      const part = 2 * 1024 * 1024 + 1024;
      const chunkedFit = Math.floor(IN_FLIGHT / part);
      const chunked = Array.from({ length: CLIENTS }, () => startPost(url, chunkedBody, part, false));
      await waitFor(`at least ${CLIENTS - chunkedFit} chunked bodies refused part way`, () => chunked.filter((p) => p.answered).length >= CLIENTS - chunkedFit, 60_000);
      const refusedPartWay = await Promise.all(chunked.filter((p) => p.answered).map((p) => p.status));
      assert.ok(refusedPartWay.every((r) => r.status === 429 && r.code === 'TOO_MANY_BYTES_IN_FLIGHT'), JSON.stringify(refusedPartWay));
      await Promise.all(chunked.filter((p) => !p.answered).map((p) => writeRest(p, chunkedBody, part, 256 * 1024)));
      const chunkedStatuses = (await Promise.all(chunked.map((p) => p.status))).map((r) => r.status);
      assert.ok(chunkedStatuses.every((s) => s === 200 || s === 429 || s === 0), `statuses: ${chunkedStatuses.join(' ')}`);
      const peakMb = peakRssMb(child.pid!);
      t.diagnostic(
        `${CLIENTS} clients × ${(body.length / 1e6).toFixed(1)} MB (chunked: ${(chunkedBody.length / 1e6).toFixed(1)} MB), bound ${IN_FLIGHT / 1024 / 1024} MiB: ` +
          `peak RSS ${idleMb} MB idle, ${declaredMb} MB after the declared-length round, ${peakMb} MB after the chunked round ` +
          `(chunked: ${chunkedStatuses.filter((s) => s === 200).length} stored, ${chunkedStatuses.filter((s) => s === 429).length} refused, ` +
          `${chunkedStatuses.filter((s) => s === 0).length} reset while still sending)`,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      assert.match(metrics, /^exectrail_webhook_body_bytes_in_flight 0$/m, 'every reservation released');
    } finally {
      child.kill('SIGTERM');
    }
    const result = await exited;
    assert.equal(result.code, 0, result.stderr.slice(-2000));
  });
});
