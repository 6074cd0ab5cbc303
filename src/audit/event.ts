/**
 * The Kubernetes audit event as we accept it (audit.k8s.io/v1, v1beta1, no apiVersion, legacy
 * `timestamp`): ../shared/reference/kubernetes-audit.md "The event". Lenient on what we do not use,
 * strict on what we do; unknown fields pass through untouched.
 */
import { z } from 'zod';
import { normalizeTimestamp } from '../time/timestamps.ts';

const stringArray = z.array(z.string());

/** An RFC 3339 time (Go MicroTime or metav1.Time); anything else is a bad field, not a silent drop. */
const auditTime = z.string().refine((text) => normalizeTimestamp(text) !== undefined, { message: 'not an RFC 3339 time' });

export const auditUserSchema = z.looseObject({
  username: z.string().optional(),
  uid: z.string().optional(),
  groups: stringArray.nullish(),
  extra: z.record(z.string(), stringArray).nullish(),
});

export const objectRefSchema = z.looseObject({
  resource: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiGroup: z.string().optional(),
  apiVersion: z.string().optional(),
  subresource: z.string().optional(),
});

export const auditEventSchema = z
  .looseObject({
    kind: z.literal('Event').optional(),
    apiVersion: z.string().optional(),
    level: z.string().optional(),
    // Settable by the client (Audit-ID header): any non-empty text, not necessarily a UUID.
    auditID: z.string().min(1),
    stage: z.string().optional(),
    requestURI: z.string().optional(),
    verb: z.string().optional(),
    user: auditUserSchema.optional(),
    impersonatedUser: auditUserSchema.nullish(),
    sourceIPs: stringArray.nullish(),
    userAgent: z.string().optional(),
    objectRef: objectRefSchema.nullish(),
    responseStatus: z
      .looseObject({
        status: z.string().optional(),
        message: z.string().optional(),
        reason: z.string().optional(),
        code: z.number().int().optional(),
      })
      .nullish(),
    requestObject: z.unknown().optional(),
    responseObject: z.unknown().optional(),
    requestReceivedTimestamp: auditTime.optional(),
    stageTimestamp: auditTime.optional(),
    /** Very old logs (k8s <= 1.8) carry only this one. */
    timestamp: auditTime.optional(),
    annotations: z.record(z.string(), z.string()).nullish(),
  })
  .refine((event) => event.requestReceivedTimestamp ?? event.timestamp ?? event.stageTimestamp, {
    message: 'no requestReceivedTimestamp, stageTimestamp or timestamp',
    path: ['requestReceivedTimestamp'],
  });

export type AuditEvent = z.infer<typeof auditEventSchema>;
export type ObjectRef = z.infer<typeof objectRefSchema>;

/**
 * Marks an event rebuilt from an `--audit-log-format=legacy` text line (see legacy.ts): it has no
 * objectRef of its own, no decision annotation and only the first source IP.
 */
export const LEGACY_FORMAT_KEY = 'exectrailLegacyFormat';

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isOptionalString = (value: unknown) => value === undefined || typeof value === 'string';
const isStringArray = (value: unknown) => Array.isArray(value) && value.every((item) => typeof item === 'string');
const isNullishStringArray = (value: unknown) => value === undefined || value === null || isStringArray(value);

const isAuditTime = (value: unknown) => typeof value === 'string' && normalizeTimestamp(value) !== undefined;
const isOptionalAuditTime = (value: unknown) => value === undefined || isAuditTime(value);

function isUser(value: unknown): boolean {
  if (!isRecord(value)) return false;
  if (!isOptionalString(value.username) || !isOptionalString(value.uid) || !isNullishStringArray(value.groups)) return false;
  const extra = value.extra;
  if (extra === undefined || extra === null) return true;
  if (!isRecord(extra)) return false;
  for (const key in extra) if (!isStringArray(extra[key])) return false;
  return true;
}

/**
 * A fast "yes" to "would auditEventSchema accept this value?", with plain property reads and no copy:
 * the webhook asks it of every event of a batch, and 99.5 % of them are then dropped as not interactive
 * access. It answers true only when the schema would succeed; on false the caller runs the schema, which
 * has the last word (and the message for a bad field). test/audit/fast-validate.test.ts holds the two
 * against each other on mutated events.
 */
export function passesAuditEventSchema(value: unknown): boolean {
  if (!isRecord(value)) return false;
  const v = value;
  if (!(v.kind === undefined || v.kind === 'Event')) return false;
  if (typeof v.auditID !== 'string' || v.auditID.length === 0) return false;
  if (!isOptionalString(v.apiVersion) || !isOptionalString(v.level) || !isOptionalString(v.stage)) return false;
  if (!isOptionalString(v.requestURI) || !isOptionalString(v.verb) || !isOptionalString(v.userAgent)) return false;
  if (!(v.user === undefined || isUser(v.user))) return false;
  if (!(v.impersonatedUser === undefined || v.impersonatedUser === null || isUser(v.impersonatedUser))) return false;
  if (!isNullishStringArray(v.sourceIPs)) return false;
  const ref = v.objectRef;
  if (ref !== undefined && ref !== null) {
    if (!isRecord(ref)) return false;
    if (!isOptionalString(ref.resource) || !isOptionalString(ref.namespace) || !isOptionalString(ref.name) || !isOptionalString(ref.uid)) return false;
    if (!isOptionalString(ref.apiGroup) || !isOptionalString(ref.apiVersion) || !isOptionalString(ref.subresource)) return false;
  }
  const status = v.responseStatus;
  if (status !== undefined && status !== null) {
    if (!isRecord(status)) return false;
    if (!isOptionalString(status.status) || !isOptionalString(status.message) || !isOptionalString(status.reason)) return false;
    if (!(status.code === undefined || Number.isSafeInteger(status.code))) return false;
  }
  if (!isOptionalAuditTime(v.requestReceivedTimestamp) || !isOptionalAuditTime(v.stageTimestamp) || !isOptionalAuditTime(v.timestamp)) return false;
  const annotations = v.annotations;
  if (annotations !== undefined && annotations !== null) {
    if (!isRecord(annotations)) return false;
    for (const key in annotations) if (typeof annotations[key] !== 'string') return false;
  }
  return Boolean(v.requestReceivedTimestamp ?? v.timestamp ?? v.stageTimestamp);
}
