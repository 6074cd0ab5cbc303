/**
 * Checks shared by the fuzz and fast-path tests and by the same tests over the real-world corpus
 * (test/shared-corpus): whatever a line holds, the per-line and whole-body transforms never throw, never
 * hit their internal-error guard, and give valid rows; the webhook's fast path decides as the schema does.
 */
import assert from 'node:assert/strict';
import { classifyRequest, type NodeProxyMode } from '../../src/audit/classify.ts';
import { decodeAuditText, decodeAuditValue, decodeInteractiveCandidates } from '../../src/audit/decode.ts';
import type { ExtractContext } from '../../src/audit/extract.ts';
import { sessionsFromLine, type LineOutcome } from '../../src/audit/input.ts';
import { mayBeInteractiveAccess } from '../../src/audit/prefilter.ts';
import { actorSchema, execMetadataSchema, sourceSchema } from '../../src/audit/session-documents.ts';
import { mergeStages } from '../../src/audit/session.ts';
import { documentOutcome, pick } from './support.ts';

export const contexts: ExtractContext[] = [{ cluster: 'fuzz' }, { cluster: 'fuzz', nodeProxy: 'all' }];

export function checkOutcome(outcome: LineOutcome, label: string) {
  for (const bad of outcome.rejected) {
    assert.ok(['not-json', 'not-an-event', 'bad-field'].includes(bad.reason), `${label}: reason ${bad.reason}`);
    assert.doesNotMatch(bad.detail, /internal error/, `${label}: ${bad.detail}`);
  }
  for (const row of mergeStages(outcome.rows)) {
    actorSchema.parse(row.actor);
    sourceSchema.parse(row.source);
    const meta = execMetadataSchema.safeParse(row.execMetadata);
    assert.ok(meta.success, `${label}: exec_metadata ${JSON.stringify(meta.error?.issues)} ${JSON.stringify(row.execMetadata)}`);
    assert.equal(typeof row.allowed, 'boolean');
    assert.ok(row.id.length <= 255, `${label}: id fits VARCHAR(255)`);
  }
}

export function runEverything(line: Buffer, label: string) {
  for (const context of contexts) {
    checkOutcome(sessionsFromLine(line, context), label);
    checkOutcome(documentOutcome(line, context), label);
  }
  mayBeInteractiveAccess(line);
  decodeAuditText(line.toString('latin1'));
}

const interesting = [
  '{', '}', '[', ']', '"', '\\', ':', ',', '\\u0026', '\\u00', 'null', '1e999', '-0', '"exec"', '"proxy"', '\uFEFF',
  '{"kind":"EventList","items":', '{"records":[', '"properties":{"log":"', ' AUDIT: ', '%', '%zz', '\x00', '\xff\xfe',
];

export function mutateBytes(random: () => number, line: Buffer): Buffer {
  const bytes = Buffer.from(line);
  const op = Math.floor(random() * 6);
  const at = Math.floor(random() * Math.max(1, bytes.length));
  if (op === 0) {
    bytes[at] = Math.floor(random() * 256);
    return bytes;
  }
  if (op === 1) return bytes.subarray(0, at);
  if (op === 2) return bytes.subarray(at);
  if (op === 3) return Buffer.concat([bytes.subarray(0, at), Buffer.from(pick(random, interesting), 'latin1'), bytes.subarray(at)]);
  if (op === 4) return Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + Math.floor(random() * 40)))]);
  return Buffer.concat([bytes, bytes.subarray(0, at)]);
}

function slowPath(value: unknown, nodeProxy: NodeProxyMode) {
  const decoded = decodeAuditValue(value);
  const kept = decoded.events.filter((event) => classifyRequest(event, nodeProxy));
  return { events: kept, rejected: decoded.rejected, ignored: decoded.events.length - kept.length };
}

export function sameDecision(value: unknown, nodeProxy: NodeProxyMode, label: string) {
  const fast = decodeInteractiveCandidates(value, nodeProxy);
  const slow = slowPath(value, nodeProxy);
  const fastKept = fast.events.filter((event) => classifyRequest(event, nodeProxy));
  assert.deepEqual(fastKept, slow.events, `${label}: interactive events`);
  assert.deepEqual(fast.rejected, slow.rejected, `${label}: rejections`);
  assert.equal(fast.ignored + fast.events.length - fastKept.length, slow.ignored, `${label}: ignored`);
}

