/**
 * The Kubernetes audit event as we accept it (audit.k8s.io/v1, v1beta1, no apiVersion, legacy
 * `timestamp`): ../shared/reference/kubernetes-audit.md "The event". Lenient on what we do not use,
 * strict on what we do; unknown fields pass through untouched.
 */
import { z } from 'zod';

const stringArray = z.array(z.string());

export const auditUserSchema = z.looseObject({
  username: z.string().optional(),
  uid: z.string().optional(),
  groups: stringArray.optional(),
  extra: z.record(z.string(), stringArray).optional(),
});

export const auditEventSchema = z.looseObject({
  kind: z.literal('Event').optional(),
  apiVersion: z.string().optional(),
  level: z.string().optional(),
  auditID: z.string().min(1),
  stage: z.string().optional(),
  requestURI: z.string().optional(),
  verb: z.string().optional(),
  user: auditUserSchema.optional(),
  impersonatedUser: auditUserSchema.nullish(),
  sourceIPs: stringArray.nullish(),
  userAgent: z.string().optional(),
  objectRef: z
    .looseObject({
      resource: z.string().optional(),
      namespace: z.string().optional(),
      name: z.string().optional(),
      uid: z.string().optional(),
      apiGroup: z.string().optional(),
      apiVersion: z.string().optional(),
      subresource: z.string().optional(),
    })
    .nullish(),
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
  requestReceivedTimestamp: z.string().optional(),
  stageTimestamp: z.string().optional(),
  /** Very old logs carry only this one. */
  timestamp: z.string().optional(),
  annotations: z.record(z.string(), z.string()).nullish(),
});

export type AuditEvent = z.infer<typeof auditEventSchema>;
