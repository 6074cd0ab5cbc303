/**
 * `--audit-log-format=legacy` text lines (k8s.io/apiserver pkg/audit/format.go EventString):
 *
 *   <requestReceivedTimestamp RFC3339Nano> AUDIT: id="..." stage="..." ip="..." method="<verb>" user="..."
 *   groups="\"g1\",\"g2\"" as="<self>" asgroups="<lookup>" user-agent="..." namespace="..." uri="..."
 *   response="<deferred>|<code>"
 *
 * Every value is Go `%q`-quoted. We rebuild the JSON event from it so the same classifier and extractor
 * apply. What the format does not carry stays unknown: no objectRef (derived from uri, as the apiserver
 * does), no stageTimestamp (so no end time), no annotations (so no decision), and `ip` is the FIRST
 * sourceIPs entry, which a client can set (X-Forwarded-For).
 */
import { LEGACY_FORMAT_KEY } from './event.ts';
import { targetFromRequestURI } from './request-uri.ts';

const simpleEscapes: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c, '"': 0x22, "'": 0x27 };

/** Reads a Go-quoted string starting at text[start] === '"'. Returns the value and the index after it. */
export function readGoQuoted(text: string, start: number): { value: string; end: number } | undefined {
  if (text[start] !== '"') return undefined;
  const bytes: number[] = [];
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
    if (ch !== '\\') {
      const code = text.codePointAt(i)!;
      for (const b of Buffer.from(String.fromCodePoint(code), 'utf8')) bytes.push(b);
      i += code > 0xffff ? 2 : 1;
      continue;
    }
    const kind = text[i + 1];
    if (kind === undefined) return undefined;
    const simple = simpleEscapes[kind];
    if (simple !== undefined) {
      bytes.push(simple);
      i += 2;
      continue;
    }
    const width = kind === 'x' ? 2 : kind === 'u' ? 4 : kind === 'U' ? 8 : 0;
    const hex = text.slice(i + 2, i + 2 + width);
    if (width === 0 || !/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) return undefined;
    const value = parseInt(hex, 16);
    if (kind === 'x') bytes.push(value);
    else if (value <= 0x10ffff) for (const b of Buffer.from(String.fromCodePoint(value), 'utf8')) bytes.push(b);
    i += 2 + width;
  }
  return undefined;
}

/** `key="value"` pairs after `AUDIT: `; undefined when the line is not in that form. */
export function legacyFields(line: string): Map<string, string> | undefined {
  const marker = line.indexOf(' AUDIT: ');
  if (marker === -1) return undefined;
  const fields = new Map<string, string>([['time', line.slice(0, marker).trim().replace(/^\uFEFF/, '')]]);
  let i = marker + ' AUDIT: '.length;
  while (i < line.length) {
    while (line[i] === ' ') i++;
    if (i >= line.length || line[i] === '\r' || line[i] === '\n') break;
    const eq = line.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = line.slice(i, eq);
    if (!/^[a-z-]+$/.test(key)) return undefined;
    const quoted = readGoQuoted(line, eq + 1);
    if (!quoted) return undefined;
    fields.set(key, quoted.value);
    i = quoted.end;
  }
  return fields;
}

/**
 * Before 1.8 (OpenShift 3.x's master log too) `method=` held the HTTP method, not the verb: POST for an
 * exec over SPDY. Mapped as the apiserver maps them (a GET may also be list or watch, which are never
 * interactive access, so `get` is the one that matters).
 */
const verbOfHttpMethod: Record<string, string> = { POST: 'create', GET: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** `"a","b"` (auditStringSlice) → ['a', 'b']; `<none>` / `<lookup>` → undefined. */
function stringSlice(text: string | undefined): string[] | undefined {
  if (text === undefined || text.startsWith('<')) return undefined;
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const quoted = readGoQuoted(text, i);
    if (!quoted) return out;
    out.push(quoted.value);
    i = quoted.end;
    if (text[i] === ',') i++;
  }
  return out;
}

/**
 * The JSON-shaped audit event a legacy line describes (to be validated by auditEventSchema), or
 * undefined when the text is not a legacy line.
 */
export function eventFromLegacyLine(line: string): Record<string, unknown> | undefined {
  const fields = legacyFields(line);
  if (!fields) return undefined;
  const uri = fields.get('uri');
  const target = uri ? targetFromRequestURI(uri) : undefined;
  const namespace = fields.get('namespace');
  const username = fields.get('user');
  const as = fields.get('as');
  const response = fields.get('response');
  const ip = fields.get('ip');
  const event: Record<string, unknown> = {
    kind: 'Event',
    auditID: fields.get('id'),
    stage: fields.get('stage'),
    requestURI: uri,
    verb: verbOfHttpMethod[fields.get('method') ?? ''] ?? fields.get('method'),
    user: username && username !== '<none>' ? { username, groups: stringSlice(fields.get('groups')) } : undefined,
    impersonatedUser: as && as !== '<self>' ? { username: as, groups: stringSlice(fields.get('asgroups')) } : undefined,
    sourceIPs: ip && ip !== '<unknown>' ? [ip] : undefined,
    userAgent: fields.get('user-agent') || undefined,
    objectRef: target
      ? {
          resource: target.resource,
          namespace: namespace && namespace !== '<none>' ? namespace : target.namespace,
          name: target.name,
          apiGroup: target.apiGroup || undefined,
          subresource: target.subresource,
        }
      : undefined,
    responseStatus: response && /^\d+$/.test(response) ? { code: Number(response) } : undefined,
    requestReceivedTimestamp: fields.get('time'),
    [LEGACY_FORMAT_KEY]: true,
  };
  for (const key of Object.keys(event)) if (event[key] === undefined) delete event[key];
  return event;
}
