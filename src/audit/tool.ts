/**
 * Which client opened the session: from the user agent, refined by the command it ran
 * (../shared/reference/kubernetes-audit.md "Tool detection"). The user agent is client-controlled, so
 * this is a hint, and `detected_by` says what it rests on.
 *
 * client-go's user agent is `<binary>/<version> (<os>/<arch>) kubernetes/<commit>`; controllers append
 * `/system:serviceaccount:<ns>:<name>`. k9s and Lens run kubectl, so their user agent is kubectl's and only
 * the command tells them apart; so does `kubectl cp`, which runs tar.
 */
export type Tool = 'kubectl' | 'oc' | 'k9s' | 'lens' | 'kubectl-cp' | 'controller' | 'client-go' | 'unknown';

export interface ToolGuess {
  tool: Tool;
  /** 'user-agent' or 'command' (a command fingerprint overrode the user agent). */
  detected_by?: 'user-agent' | 'command';
  client_name?: string;
  client_version?: string;
  client_platform?: string;
}

const clientGoAgent = /^([^/\s]+)\/(\S+?)(?: \(([^/)\s]+\/[^)\s]+)\))?(?: kubernetes\/([^/\s]+))?(\/.*)?$/;
const controllerBinaries = new Set(['kube-controller-manager', 'cloud-controller-manager', 'kube-scheduler', 'hyperkube']);

/** Parses a user agent into the client's name, version and platform. */
export function parseUserAgent(userAgent: string | undefined): Omit<ToolGuess, 'detected_by'> {
  if (!userAgent) return { tool: 'unknown' };
  const match = clientGoAgent.exec(userAgent.trim());
  if (!match) return { tool: /\b(open|free)?lens\b/i.test(userAgent) ? 'lens' : 'unknown' };
  const [, product = '', version, platform, commit, suffix] = match;
  const name = product.toLowerCase().replace(/\.exe$/, '');
  const details = { client_name: product, client_version: version, ...(platform ? { client_platform: platform } : {}) };
  let tool: Tool = 'unknown';
  if (suffix?.startsWith('/system:serviceaccount:') || controllerBinaries.has(name)) tool = 'controller';
  else if (name === 'kubectl') tool = 'kubectl';
  else if (name === 'oc') tool = 'oc';
  else if (name === 'k9s') tool = 'k9s';
  else if (/^(open|free)?lens$/.test(name)) tool = 'lens';
  else if (commit !== undefined || platform !== undefined) tool = 'client-go';
  return { tool, ...details };
}

/** The tool a command line gives away, whatever the user agent says. */
export function toolFromCommand(argv: readonly string[] | undefined): Tool | undefined {
  if (!argv || argv.length === 0) return undefined;
  const [program, first, second] = argv;
  const script = (program === 'sh' || program === '/bin/sh') && first === '-c' ? (second ?? '') : undefined;
  // k9s: sh -c "command -v bash >/dev/null && exec bash || exec sh"
  if (script !== undefined && /^\s*command -v bash\b.*&&\s*exec bash\s*\|\|\s*exec sh\s*$/.test(script)) return 'k9s';
  // Lens / OpenLens: sh -c "clear; (bash || ash || sh)"
  if (script !== undefined && /^\s*clear;\s*\(\s*bash\s*\|\|\s*ash\s*\|\|\s*sh\s*\)\s*$/.test(script)) return 'lens';
  // kubectl cp: `tar cf - SRC` from the pod, `tar -xmf - [-C DIR]` to it; with --retries `sh -c "tar cf - SRC | tail -c+N"`.
  if (program === 'tar' && (first === 'cf' || first === '-xmf' || first === 'xf' || first === '-xf') && second === '-') return 'kubectl-cp';
  if (script !== undefined && /^tar cf - .+ \| tail -c\+\d+$/.test(script)) return 'kubectl-cp';
  return undefined;
}

/** The tool behind a request: the user agent, refined by a command fingerprint when kubectl (or nothing) ran it. */
export function detectTool(userAgent: string | undefined, argv: readonly string[] | undefined): ToolGuess {
  const fromAgent = parseUserAgent(userAgent);
  const fingerprint = toolFromCommand(argv);
  if (fingerprint && (fromAgent.tool === 'kubectl' || fromAgent.tool === 'oc' || fromAgent.tool === 'unknown')) {
    return { ...fromAgent, tool: fingerprint, detected_by: 'command' };
  }
  return fromAgent.tool === 'unknown' ? fromAgent : { ...fromAgent, detected_by: 'user-agent' };
}
