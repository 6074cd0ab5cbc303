/**
 * A real HTTP collector on 127.0.0.1 for the export tests: records every request it read (headers and the
 * documents in its body), and can misbehave the ways collectors do: answer 503 to its first requests, be
 * slow, or read a request and drop the connection without answering (a lost acknowledgement).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  /** Arrival order. */
  n: number;
  headers: IncomingMessage['headers'];
  /** The documents of the body (a JSON array, ndjson, or one object). */
  documents: Record<string, any>[];
  /** What the receiver did with it. */
  answer: number | 'dropped';
}

export interface ReceiverBehaviour {
  /** Answer 503 to this many first requests. */
  failFirst?: number;
  /** Drop the connection, unanswered, after reading these requests (1-based arrival numbers). */
  dropRequests?: number[];
  /** Answer 2xx after this long. */
  delayMs?: number;
  /** Answer this status to every request (after failFirst). */
  status?: number;
}

export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Documents of the requests answered 2xx, in arrival order. */
  accepted(): Record<string, any>[];
  close(): Promise<void>;
}

export function parseBody(text: string): Record<string, any>[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as Record<string, any>[];
  return trimmed.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
}

export async function startReceiver(behaviour: ReceiverBehaviour = {}): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length + 1;
      const request: ReceivedRequest = { n, headers: req.headers, documents: parseBody(Buffer.concat(chunks).toString('utf8')), answer: 200 };
      requests.push(request);
      if (behaviour.dropRequests?.includes(n)) {
        request.answer = 'dropped';
        req.socket.destroy();
        return;
      }
      if (n <= (behaviour.failFirst ?? 0)) {
        request.answer = 503;
        res.writeHead(503).end('busy');
        return;
      }
      const status = behaviour.status ?? 200;
      request.answer = status;
      setTimeout(() => res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"text":"Success","code":0}'), behaviour.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/collector/raw`,
    requests,
    accepted: () => requests.filter((r) => typeof r.answer === 'number' && r.answer < 300).flatMap((r) => r.documents),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The documents of an -export-file, in file order. */
export function readJsonLines(text: string): Record<string, any>[] {
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, any>);
}

export type Doc = Record<string, any>;

/** The documents of each session, in arrival order. */
export function bySession(documents: readonly Doc[]): Map<string, Doc[]> {
  const out = new Map<string, Doc[]>();
  for (const d of documents) out.set(d.session.id, [...(out.get(d.session.id) ?? []), d]);
  return out;
}

export const lastOf = (docs: readonly Doc[]) => docs.reduce((a, b) => (b.sequence > a.sequence ? b : a));
export const activityKeys = (doc: Doc) => (doc.activity as Doc[]).map((e) => `${e.eventKey}@${e.time}`).sort();

/** Sequence order, and repeats only as the same deliveryId with the same content. */
export function assertOrderedAndDeduplicated(name: string, documents: readonly Doc[]): void {
  const byId = new Map<string, string>();
  for (const d of documents) {
    const text = JSON.stringify(d);
    const seen = byId.get(d.deliveryId);
    if (seen !== undefined) assert.equal(text, seen, `${name}: a repeat of ${d.deliveryId} differs from the first`);
    byId.set(d.deliveryId, text);
  }
  for (const [session, docs] of bySession(documents)) {
    const sequences = docs.map((d) => d.sequence as number);
    for (let i = 1; i < sequences.length; i++) {
      assert.ok(sequences[i]! >= sequences[i - 1]!, `${name}: ${session} documents out of order: ${sequences.join(',')}`);
      if (sequences[i] === sequences[i - 1]) assert.equal(docs[i]!.deliveryId, docs[i - 1]!.deliveryId, `${name}: two documents with sequence ${sequences[i]} for ${session}`);
    }
    const distinct = [...new Set(sequences)];
    assert.deepEqual(distinct, distinct.map((_, i) => i + 1), `${name}: ${session} has sequences ${sequences.join(',')}, not 1..n`);
  }
}

