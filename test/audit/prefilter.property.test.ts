/**
 * The byte-level pre-filter never drops a line the classifier accepts (acceptance 4): 18,000 generated
 * lines (interactive requests and traps; reordered keys, spaces after colons, `\u0026` and `\/`
 * escapes, `\uXXXX` non-ASCII, v1/v1beta1/no apiVersion/legacy timestamp; bare, EventList, array, AKS
 * records with properties.log as a JSON string or object, legacy text lines, EKS CloudWatch log events and
 * subscription documents, S3 export lines, GKE Cloud Audit Logs entries alone and in a `gcloud` array;
 * with and without a BOM). The oracle
 * decodes every line without the pre-filter and classifies with -node-proxy=all, the widest mode.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyRequest } from '../../src/audit/classify.ts';
import { decodeAuditText } from '../../src/audit/decode.ts';
import { sessionsFromLine, type LineOutcome } from '../../src/audit/input.ts';
import { badInputWithoutParsing, mayBeInteractiveAccess } from '../../src/audit/prefilter.ts';
import { LineCutter } from '../../src/ingest/line-cutter.ts';
import { LineSplitter } from '../../src/ingest/line-splitter.ts';
import { generateEvent, randomStyle, serializeLine, type Envelope } from './generate.ts';
import { pick, seededRandom, testSeed } from './support.ts';

const CASES = 18_000;
const CHUNK_CASES = 6_000;
const envelopes: Envelope[] = [
  'bare', 'bare', 'bare', 'EventList', 'array', 'aks-records', 'aks-record', 'aks-record-object', 'legacy',
  'eks-log-event', 'eks-subscription', 's3-export', 'gke', 'gke-array',
];

describe('byte-level pre-filter', () => {
  it(`accepts every line the classifier accepts (${CASES} generated cases)`, () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    let positives = 0;
    let negativesPassed = 0;
    let negatives = 0;
    const envelopeSeen = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      const envelope = pick(random, envelopes);
      const single: Envelope[] = ['bare', 'legacy', 'aks-record', 'aks-record-object', 'eks-log-event', 's3-export', 'gke'];
      const count = single.includes(envelope) ? 1 : 1 + Math.floor(random() * 3);
      const generated = Array.from({ length: count }, () => generateEvent(random));
      const line = serializeLine(random, generated.map((g) => g.event), envelope, randomStyle(random));

      const decoded = decodeAuditText(line.toString('utf8'));
      assert.equal(decoded.rejected.length, 0, `seed ${seed} case ${i}: generated line must decode: ${JSON.stringify(decoded.rejected)}\n${line}`);
      assert.equal(decoded.events.length, count, `seed ${seed} case ${i}: every event decodes`);
      const accepted = decoded.events.some((event) => classifyRequest(event, 'all') !== undefined);
      // The classifier itself: interactive exactly when the generator built an interactive request.
      for (const [k, event] of decoded.events.entries()) {
        assert.equal(classifyRequest(event, 'interactive') !== undefined, generated[k]!.request.interactive, `seed ${seed} case ${i}: ${generated[k]!.request.requestURI} ${generated[k]!.request.verb}`);
      }
      const passed = mayBeInteractiveAccess(line);
      if (accepted) {
        positives++;
        envelopeSeen.set(envelope, (envelopeSeen.get(envelope) ?? 0) + 1);
        assert.ok(passed, `seed ${seed} case ${i}: FALSE NEGATIVE: the pre-filter dropped an interactive line:\n${line}`);
      } else {
        negatives++;
        if (passed) negativesPassed++;
        // A dropped, well-formed line is never counted as bad input.
        if (!passed) assert.equal(badInputWithoutParsing(line), undefined, `seed ${seed} case ${i}`);
      }
    }
    assert.ok(positives > CASES * 0.3, `enough interactive cases (${positives})`);
    for (const envelope of new Set(envelopes)) assert.ok((envelopeSeen.get(envelope) ?? 0) > 100, `interactive cases in envelope ${envelope}`);
    // The traps are mostly dropped without parsing (a few pass: nodes/proxy scraping, pods/exec with odd verbs).
    assert.ok(negativesPassed < negatives, `some traps are dropped (${negativesPassed}/${negatives} passed)`);
  });

  it(`over a chunk of lines gives what it gives line by line (${CHUNK_CASES} generated lines, garbage between them)`, () => {
    const seed = testSeed();
    const random = seededRandom(seed);
    // Lines the chunk search must still hand to the per-line path: bad input of every kind, BOM and
    // spaces, CRLF, blank lines, the CloudWatch cut inside an envelope, a marker word split across lines.
    const oddities = [
      'not json at all',
      '{"kind":"Event","auditID":"cut"',
      '[{"kind":"Event"}',
      '\uFEFF{"kind":"Event","verb":"get"}',
      '   {"kind":"Event","verb":"get"}  ',
      '',
      '\r',
      '{"message":"{\\"kind\\":\\"Event\\",\\"objectRef\\":{\\"subresource\\":\\"exec\\"}[Truncated...]"}',
      '{"message":"{\\"kind\\":\\"Event\\",\\"verb\\":\\"get\\",\\"requestURI\\":\\"/api/v1/pods[Truncated...]"}',
      '{"objectRef":{"subresource":',
      '"exec"}}',
      '2024-05-02 something else',
    ];
    const lines: Buffer[] = [];
    for (let i = 0; i < CHUNK_CASES; i++) {
      if (random() < 0.15) {
        lines.push(Buffer.from(pick(random, oddities)));
        continue;
      }
      const envelope = pick(random, envelopes);
      const count = envelope === 'EventList' || envelope === 'array' || envelope === 'eks-subscription' || envelope === 'gke-array' ? 1 + Math.floor(random() * 3) : 1;
      lines.push(serializeLine(random, Array.from({ length: count }, () => generateEvent(random).event), envelope, randomStyle(random)));
    }
    const text = Buffer.concat(lines.flatMap((line) => [line, Buffer.from(random() < 0.2 ? '\r\n' : '\n')]));
    const expected: LineOutcome[] = [];
    const got: LineOutcome[] = [];
    const splitter = new LineSplitter(text.length);
    const outcomesOf = (runs: { count: number; line(i: number): Buffer }[], into: LineOutcome[]) => {
      for (const run of runs) {
        for (let i = 0; i < run.count; i++) {
          const outcome = sessionsFromLine(run.line(i), { cluster: 'c' });
          if (outcome.rows.length || outcome.rejected.length || outcome.repaired.length) into.push(outcome);
        }
      }
    };
    outcomesOf(splitter.push(text).runs, expected);
    // The file reader's path: the chunk searched once, and only the lines it keeps looked at.
    outcomesOf(new LineCutter(text.length, 'auditMarkers').cut(text).runs, got);
    assert.ok(expected.some((o) => o.rows.length > 0) && expected.some((o) => o.rejected.length > 0), `seed ${seed}: both kinds of outcome occur`);
    assert.deepEqual(got, expected, `seed ${seed}`);
  });

  it('drops look-alike words inside other names without parsing', () => {
    const lines = [
      '{"kind":"Event","auditID":"a","verb":"watch","user":{"username":"system:kube-proxy"},"userAgent":"kube-proxy/v1.29.0","objectRef":{"resource":"endpointslices"}}',
      '{"kind":"Event","auditID":"b","verb":"get","objectRef":{"resource":"volumeattachments","name":"csi-attacher"}}',
      '{"kind":"Event","auditID":"c","verb":"update","requestURI":"/api/v1/namespaces/x/configmaps/executor-config","objectRef":{"resource":"configmaps","name":"executor-config"}}',
    ];
    for (const line of lines) assert.equal(mayBeInteractiveAccess(Buffer.from(line)), false, line);
  });

  it('keeps subresource markers whatever the escaping around them', () => {
    const lines = [
      '{"objectRef":{"subresource":"exec"}}',
      '{"objectRef" : { "subresource" : "attach" }}',
      '{"records":[{"properties":{"log":"{\\"objectRef\\":{\\"subresource\\":\\"portforward\\"}}"}}]}',
      '\uFEFF{"objectRef":{"subresource":"ephemeralcontainers"}}',
      '{"objectRef":{"resource":"nodes","subresource":"proxy"}}',
      '{"requestObject":{"spec":{"resourceAttributes":{"subresource":"status"}}},"objectRef":{"subresource":"exec"}}',
      '{"records":[{"properties":{"log":"{\\n  \\"objectRef\\": {\\n    \\"subresource\\":\\n      \\"exec\\"\\n  }\\n}"}}]}',
      '2024-05-02T09:15:01.104512Z AUDIT: id="x" uri="/api/v1/namespaces/a/pods/b/%65xec?command=sh" response="101"',
    ];
    for (const line of lines) assert.equal(mayBeInteractiveAccess(Buffer.from(line)), true, line);
  });

  it('counts garbage from its first bytes only', () => {
    assert.equal(badInputWithoutParsing(Buffer.from('hello world')), 'not-json');
    assert.equal(badInputWithoutParsing(Buffer.from('\x00\x01\x02binary')), 'not-json');
    assert.equal(badInputWithoutParsing(Buffer.from('   {"kind":"Event"}')), undefined);
    assert.equal(badInputWithoutParsing(Buffer.from('\uFEFF[{"kind":"Event"}]')), undefined);
    assert.equal(badInputWithoutParsing(Buffer.from('')), undefined, 'a blank line is nothing');
    assert.equal(badInputWithoutParsing(Buffer.from('\r')), undefined, 'a CRLF blank line is nothing');
    assert.equal(badInputWithoutParsing(Buffer.from('2024-05-02T09:15:01Z AUDIT: id="x" stage="ResponseComplete" uri="/healthz"')), undefined, 'a legacy line');
    assert.equal(badInputWithoutParsing(Buffer.from('2024-05-02 something else')), 'not-json');
  });
});
