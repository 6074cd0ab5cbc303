/**
 * The thread of prepare-thread.ts: each batch of lines (line-batch.ts) or feeder messages
 * (feeder-messages.ts) → the answer, its COPY text moved back.
 */
import { parentPort } from 'node:worker_threads';
import { LineRun } from '../ingest/line-splitter.ts';
import { prepareFeederMessages, type FeederMessage } from './feeder-messages.ts';
import { RuntimeLinesBatch } from './line-batch.ts';
import type { PrepareAnswer, PrepareRequest, PrepareSettings } from './prepare-thread.ts';

const port = parentPort;
if (!port) throw new Error('prepare-thread-worker.ts runs as the worker thread of prepare-thread.ts');

let settings: PrepareSettings | undefined;

port.on('message', (request: PrepareRequest) => {
  if (request.type === 'settings') {
    settings = request.settings;
    return;
  }
  if (!settings) throw new Error('a batch before the settings');
  const text = Buffer.from(request.memory);
  let result: PrepareAnswer['result'];
  if (request.type === 'lines') {
    const run = new LineRun(text, request.bounds);
    const batch = new RuntimeLinesBatch({ ...settings, receivedAt: request.receivedAt });
    for (let i = 0; i < run.count; i++) batch.add(run.line(i));
    result = batch.finish();
  } else {
    const { bounds, kinds, receivedAtMs } = request;
    const messages: FeederMessage[] = Array.from(kinds, (kind, i) => ({
      kind: kind === 1 ? 'log' : 'alert',
      bytes: text.subarray(bounds[2 * i], bounds[2 * i + 1]),
      receivedAtMs: receivedAtMs[i]!,
    }));
    result = prepareFeederMessages(messages, settings);
  }
  // Moved, not copied: memory of its own (Buffer.from of a short text is a view into a shared pool).
  let copy = result.prepared.rows.copy;
  if (copy.byteOffset !== 0 || copy.byteLength !== copy.buffer.byteLength || !(copy.buffer instanceof ArrayBuffer)) {
    const own = new Uint8Array(copy.length);
    own.set(copy);
    copy = own;
  }
  result.prepared.rows.copy = copy;
  port.postMessage({ seq: request.seq, result } satisfies PrepareAnswer, [copy.buffer as ArrayBuffer]);
});
