/**
 * Does a KubeArmor process event's command line belong to an exec's argv?
 *
 * KubeArmor's `Resource` for an execve is the executable's path followed by the arguments joined with
 * single spaces (`/bin/sh -c cat /run/secrets/...` for argv `["sh", "-c", "cat /run/secrets/..."]`), so
 * argv[0] is compared by its last path element (`sh` runs `/bin/sh`, `bash` runs `/usr/bin/bash`) and the
 * rest as text. Two details need care:
 * - either side may have redacted secrets (`[REDACTED]`, src/audit/redact.ts): the audit side redacts
 *   the argv element by element, the runtime side the joined line as a shell would split it, so the two
 *   may cut different stretches; a redacted stretch on either side matches anything;
 * - the BPF side copies a bounded number of argument bytes, so a long command line can arrive cut short:
 *   a strict prefix of the argv still matches, with a lower score.
 */

const REDACTED = '[REDACTED]';

/** How well a command line matches: 0 no, 1 truncated prefix, 2 the same program and arguments. */
export type CommandMatch = 0 | 1 | 2;

const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Below this many characters a "prefix" says too little to count (`/bin/sh` is a prefix of everything). */
const MIN_TRUNCATED_LENGTH = 64;

export function matchCommandLine(argv: readonly string[], commandLine: string | undefined, processName?: string): CommandMatch {
  if (argv.length === 0 || !commandLine) return 0;
  const line = commandLine.trim();
  const firstSpace = line.indexOf(' ');
  const program = firstSpace === -1 ? line : line.slice(0, firstSpace);
  const rest = firstSpace === -1 ? '' : line.slice(firstSpace + 1);
  const wanted = basename(argv[0]!);
  if (basename(program) !== wanted && (!processName || basename(processName) !== wanted)) return 0;

  const args = argv.slice(1).join(' ');
  if (!args.includes(REDACTED) && !rest.includes(REDACTED)) {
    if (rest === args) return 2;
    return rest.length >= MIN_TRUNCATED_LENGTH && args.startsWith(rest) ? 1 : 0;
  }
  return matchesWithWildcards(args, rest) || matchesWithWildcards(rest, args) ? 2 : 0;
}

/** `text` matches `pattern` where each [REDACTED] in the pattern stands for any stretch. */
function matchesWithWildcards(pattern: string, text: string): boolean {
  if (!pattern.includes(REDACTED)) return false;
  return new RegExp(`^${pattern.split(REDACTED).map(escapeRegExp).join('.*?')}$`, 's').test(text);
}
