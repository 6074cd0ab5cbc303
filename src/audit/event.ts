/**
 * The Kubernetes audit event as we accept it (audit.k8s.io/v1, v1beta1, no apiVersion, legacy
 * `timestamp`): ../shared/reference/kubernetes-audit.md "The event". Lenient on what we do not use,
 * strict on what we do; unknown fields pass through untouched.
 */
import { z } from 'zod';
import { normalizeTimestamp } from './time.ts';

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
