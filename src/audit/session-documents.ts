/**
 * The documents of a session row, declared once: the `actor`, `source` and `exec_metadata` jsonb columns
 * of `change_events` (src/store/schema.ts types the columns with these). The README's field table is
 * generated from these schemas (session-fields.ts).
 */
import { z } from 'zod';

export const actorSchema = z.looseObject({
  username: z.string().describe('user.username of the request (the impersonator when impersonated_user is set)'),
  uid: z.string().optional().describe('user.uid'),
  groups: z.array(z.string()).optional().describe('user.groups'),
  service_account: z.string().optional().describe('`namespace/name` when the user is a service account (`system:serviceaccount:NS:NAME`)'),
  impersonated_user: z.string().optional().describe('impersonatedUser.username: who the request acted as'),
  impersonated_groups: z.array(z.string()).optional().describe('impersonatedUser.groups'),
  source_ip: z.string().optional().describe('the LAST sourceIPs entry: the only one a client cannot forge (legacy lines: the first)'),
  source_ips: z.array(z.string()).optional().describe('every sourceIPs entry, as logged (earlier ones come from X-Forwarded-For)'),
  extra: z
    .record(z.string(), z.array(z.string()))
    .optional()
    .describe('user.extra, e.g. `authentication.kubernetes.io/pod-name` of the pod whose token was used'),
});

export const sourceSchema = z.looseObject({
  tool: z
    .enum(['kubectl', 'oc', 'k9s', 'lens', 'kubectl-cp', 'controller', 'client-go', 'unknown'])
    .describe('the client: from the user agent, refined by command fingerprints (k9s, Lens and `kubectl cp` run kubectl)'),
  detected_by: z.enum(['user-agent', 'command']).optional().describe('what `tool` rests on; both are client-controlled hints'),
  user_agent: z.string().optional().describe('the request user agent, as logged (apiserver cuts it at 1024 characters)'),
  client_name: z.string().optional().describe('the product in the user agent, e.g. `kubectl`, `kubectl.exe`, `curl`'),
  client_version: z.string().optional().describe('version from the user agent, e.g. `v1.30.2`'),
  client_platform: z.string().optional().describe('`os/arch` from the user agent, e.g. `linux/amd64`'),
});

export const kubeletTargetSchema = z.looseObject({
  namespace: z.string().describe('namespace of the target pod'),
  pod: z.string().describe('name of the target pod'),
  pod_uid: z.string().optional().describe('pod UID when the kubelet path names it'),
  container: z.string().optional().describe('target container (absent for portForward)'),
});

export const ephemeralContainerSchema = z.looseObject({
  name: z.string().describe('the ephemeral container kubectl debug added'),
  image: z.string().optional().describe('its image'),
  target_container: z.string().optional().describe('targetContainerName: whose process namespace it joins'),
});

export const execMetadataSchema = z.looseObject({
  command: z
    .array(z.string())
    .optional()
    .describe('argv: repeated `command=` (form-decoded), kubelet `/run` `cmd=` split on spaces, or the debug container\'s command and args; secrets redacted'),
  container: z.string().optional().describe('`container=` (the first when repeated); for nodes/proxy the kubelet path\'s container; for kubectl debug the ephemeral container'),
  stdin: z.boolean().optional().describe('`stdin=true` (kubelet `input=1`)'),
  stdout: z.boolean().optional().describe('`stdout=true` (kubelet `output=1`)'),
  stderr: z.boolean().optional().describe('`stderr=true` (kubelet `error=1`)'),
  tty: z.boolean().optional().describe('`tty=true` (kubelet `tty=1`): an interactive terminal'),
  ports: z.array(z.string()).optional().describe('`ports=` of a port-forward when the URI has them (kubectl sends them inside the stream)'),
  target_type: z.enum(['pod', 'node']).describe('`pod` for pods/*, `node` for nodes/proxy'),
  node_name: z.string().optional().describe('nodes/proxy: the node, without `:port`'),
  target: kubeletTargetSchema.optional().describe('nodes/proxy: the pod and container the kubelet path names'),
  kubelet_action: z.string().optional().describe('nodes/proxy: first kubelet path segment (`exec`, `run`, `attach`, `portForward`; others with `-node-proxy=all`)'),
  kubelet_path: z.string().optional().describe('nodes/proxy: the kubelet path without its query'),
  ephemeral_container: ephemeralContainerSchema.optional().describe('kubectl debug: the container the patch adds (Request level or above)'),
  subresource: z.string().optional().describe('`exec`, `attach`, `portforward`, `ephemeralcontainers` or `proxy`'),
  verb: z.string().optional().describe('`get` (WebSocket), `create` (SPDY), `patch` (debug)'),
  transport: z.enum(['websocket', 'spdy']).optional().describe('pods exec/attach/portforward: `websocket` for get, `spdy` for create'),
  response_code: z.number().int().optional().describe('responseStatus.code (101 upgraded, 403 forbidden, ...); `allowed` follows it'),
  response_reason: z.string().optional().describe('responseStatus.reason, e.g. `Forbidden`'),
  response_message: z.string().optional().describe('responseStatus.message, e.g. why it was forbidden'),
  decision: z.string().optional().describe('`authorization.k8s.io/decision` annotation (`allow`/`forbid`); may say allow on a 403'),
  reason: z.string().optional().describe('`authorization.k8s.io/reason` annotation'),
  started_at: z.string().describe('requestReceivedTimestamp, UTC with microseconds'),
  ended_at: z.string().nullable().describe('stageTimestamp of ResponseComplete or Panic; null while the session is open'),
  duration_ms: z.number().nullable().describe('ended_at - started_at in milliseconds (microsecond precision)'),
  stages: z.array(z.string()).describe('the audit stages seen for this request, in stage order'),
  audit_id_reused: z
    .boolean()
    .optional()
    .describe('true when another request carried the same auditID: each is its own session (see "Session identity"); a client sets the Audit-ID header, so treat it as a tampering signal'),
  audit_format: z
    .enum(['legacy', 'gke-cloud-audit-log'])
    .optional()
    .describe('`legacy` when read from `--audit-log-format=legacy` text: no end time, no decision; `gke-cloud-audit-log` when rebuilt from a GKE Cloud Audit Logs entry: no command, container, stdin/tty, stage or end time'),
});

export type Actor = z.infer<typeof actorSchema>;
export type Source = z.infer<typeof sourceSchema>;
export type ExecMetadata = z.infer<typeof execMetadataSchema>;
