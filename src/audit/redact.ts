/**
 * Hiding secrets that command lines carry (`mysql -pS3cret`, `--token=...`): the audit log leaks them
 * (reference "The command lives only in requestURI"), we must not store or log them. Applied to the argv
 * during extraction, before a row exists.
 *
 * `-redact` entries (repeatable, comma-separated):
 *   default        the built-in set (on unless `none` is given)
 *   none           no built-in set (alone: redaction off)
 *   flag:NAME      the value of option NAME: `NAME=v`, `NAME v`, and argv [NAME, v]  (e.g. flag:--api-key)
 *   env:NAME       the value of an environment assignment `NAME=v`                    (e.g. env:VAULT_TOKEN)
 *   re:REGEX       a JavaScript regular expression; its first capturing group is replaced, or the whole
 *                  match when it has none. A comma inside it is written \x2c (commas separate entries).
 */

export const REDACTED = '[REDACTED]';

export interface Redaction {
  /** Rules applied to every argv element (and so to the text of `sh -c "..."`). */
  patterns: RegExp[];
  /** Options whose value is the NEXT argv element when given as [NAME, value]. */
  valueFlags: Set<string>;
  /** Whether mysql's `-p<secret>` is redacted in argv form. */
  mysqlPassword: boolean;
}

export class RedactionSyntaxError extends Error {
  override name = 'RedactionSyntaxError';
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** A value after `=`: quoted, or up to the next space. */
const ASSIGNED = `('[^']*'|"[^"]*"|\\S+)`;
/** A value after a space: the same, but never the next option (`psql --password -h db`). */
const SEPARATE = `('[^']*'|"[^"]*"|[^\\s'"-]\\S*)`;

/** `NAME=v` and `NAME v` (two patterns, as each replaces its first capturing group). */
function flagPatterns(name: string): RegExp[] {
  const at = `(?<![\\w-])${escapeRegExp(name)}`;
  return [new RegExp(`${at}=${ASSIGNED}`, 'dg'), new RegExp(`${at}\\s+${SEPARATE}`, 'dg')];
}

function envPattern(name: string): RegExp {
  return new RegExp(`(?<![\\w])${escapeRegExp(name)}=${ASSIGNED}`, 'dg');
}

const builtinFlags = ['--password', '--passwd', '--token', '--client-secret', '--secret', '--api-key', '--auth-token'];
const builtinEnv = ['PGPASSWORD', 'MYSQL_PWD', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'];
const builtinPatterns = [
  // mysql -pSECRET inside a shell string (the argv form is handled with mysqlPassword).
  /\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^|;&\n]*?\s-p([^\s'"]\S*)/dg,
  /\bAuthorization:\s*(?:Bearer|Basic|Token)\s+([^\s'"]+)/dgi,
  // scheme://user:PASSWORD@host
  /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/\s:@]+:([^/\s@]+)@/dg,
];

/** What the built-in set hides, for the README and -h. */
export const builtinRedactionSummary = `values of ${builtinFlags.join(', ')}; mysql -p<secret>; ${builtinEnv.map((e) => `${e}=`).join(', ')}; Authorization: Bearer|Basic|Token; passwords in URLs`;

export const defaultRedaction: Redaction = {
  patterns: [...builtinFlags.flatMap(flagPatterns), ...builtinEnv.map(envPattern), ...builtinPatterns],
  valueFlags: new Set(builtinFlags),
  mysqlPassword: true,
};

export const noRedaction: Redaction = { patterns: [], valueFlags: new Set(), mysqlPassword: false };

/** Parses `-redact` entries; throws RedactionSyntaxError naming the bad entry and the accepted forms. */
export function parseRedaction(entries: readonly string[]): Redaction {
  const builtin = !entries.includes('none');
  const result: Redaction = builtin
    ? { patterns: [...defaultRedaction.patterns], valueFlags: new Set(defaultRedaction.valueFlags), mysqlPassword: true }
    : { patterns: [], valueFlags: new Set(), mysqlPassword: false };
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '' || entry === 'default' || entry === 'none') continue;
    const colon = entry.indexOf(':');
    const kind = colon === -1 ? '' : entry.slice(0, colon);
    const body = entry.slice(colon + 1);
    if (kind === 'flag' && /^-{1,2}[\w.-]+$/.test(body)) {
      result.patterns.push(...flagPatterns(body));
      result.valueFlags.add(body);
    } else if (kind === 'env' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(body)) {
      result.patterns.push(envPattern(body));
    } else if (kind === 're' && body) {
      try {
        // `\x2c` stands for a comma (commas separate -redact entries); as `,` it also works in `{3,}`.
        result.patterns.push(new RegExp(body.replace(/(?<!\\)((?:\\\\)*)\\x2c/g, '$1,'), 'dg'));
      } catch (error) {
        throw new RedactionSyntaxError(`"${entry}" is not a valid regular expression (${(error as Error).message})`);
      }
    } else {
      throw new RedactionSyntaxError(
        `"${entry}" is not a redaction rule: use default, none, flag:--option, env:VARIABLE or re:REGEX (write a comma inside REGEX as \\x2c)`,
      );
    }
  }
  return result;
}

/** The text with every rule's secret replaced by [REDACTED]. */
export function redactText(text: string, redaction: Redaction): string {
  let out = text;
  for (const pattern of redaction.patterns) {
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    let rebuilt = '';
    let last = 0;
    for (const match of out.matchAll(pattern)) {
      // With capturing groups only the first is the secret; a match where it did not take part is kept.
      const span = match.length > 1 ? match.indices?.[1] : match.indices?.[0];
      if (!span || span[1] === span[0]) continue;
      rebuilt += out.slice(last, span[0]) + REDACTED;
      last = span[1];
    }
    out = rebuilt + out.slice(last);
  }
  return out;
}

const mysqlPrograms = /(^|\/)(mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)$/;

/** An argv with secrets replaced: each element as text, plus [--password, value] pairs and mysql -pX. */
export function redactArgv(argv: readonly string[], redaction: Redaction): string[] {
  if (redaction.patterns.length === 0 && redaction.valueFlags.size === 0 && !redaction.mysqlPassword) return [...argv];
  const isMysql = redaction.mysqlPassword && mysqlPrograms.test(argv[0] ?? '');
  return argv.map((arg, i) => {
    const previous = argv[i - 1];
    if (i > 0 && previous !== undefined && redaction.valueFlags.has(previous) && !arg.startsWith('-')) return REDACTED;
    if (isMysql && /^-p./.test(arg)) return `-p${REDACTED}`;
    return redactText(arg, redaction);
  });
}

/** How many [REDACTED] markers a value holds (merging prefers the more redacted of two versions). */
export function redactionCount(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  let count = 0;
  for (let at = text.indexOf(REDACTED); at !== -1; at = text.indexOf(REDACTED, at + 1)) count++;
  return count;
}
