/**
 * Hiding the secrets that command lines carry, wherever a command line is stored: exec argv (the audit
 * log leaks it in the URI), the text of `sh -c "..."`, and KubeArmor's Resource, Source and Data (the
 * node saw the same command). One set of rules, applied before a row exists; the secret is replaced by
 * [REDACTED] and the rest is kept so that the command stays readable and correlation can still match it.
 *
 * The built-in rules (each a family of forms seen in real command lines):
 *   secret-named options   any option whose name says pass, secret, token, key, credential, auth...,
 *                          one or two dashes, any case: `--password=x`, `-password=x`, `--DB-PASSWORD x`
 *   short password options `-p<secret>` for the mysql family (`-p"x"` too), `-a x` for redis-cli,
 *                          `-p x` for sshpass, the mongo shells and `docker login`, `-u user:x` for curl,
 *                          `-k x` for openssl
 *   env assignments        `NAME=x` whose name says PASS, SECRET, TOKEN, KEY, CREDENTIAL, PWD or AUTH
 *   secret-named key=value `--set db.password=x`, `--from-literal=api_token=x`, `"password": "x"`
 *   auth headers           `Authorization: Bearer x` (any scheme), Cookie, X-API-Key, any header whose
 *                          name says token, secret, key or session
 *   URLs                   `scheme://user:x@host`, a token-like user alone (`https://ghp_...@github.com`),
 *                          secret-named query parameters (`?access_token=x`)
 *
 * `-redact` entries (repeatable, comma-separated) change the set:
 *   default        the built-in set (on unless `none` is given)
 *   none           no built-in set (alone: redaction off)
 *   flag:NAME      the value of option NAME: `NAME=v`, `NAME v`  (e.g. flag:--api-key)
 *   env:NAME       the value of an environment assignment `NAME=v` (e.g. env:VAULT_ADDR)
 *   re:REGEX       a JavaScript regular expression; its first capturing group is replaced, or the whole
 *                  match when it has none. A comma inside it is written \x2c (commas separate entries).
 */
import { quoteShellWord, shellCommands, type ShellWord } from './shell-words.ts';

export const REDACTED = '[REDACTED]';

export interface Redaction {
  builtin: boolean;
  /** flag: rules, exact option names. */
  flags: Set<string>;
  /** env: rules, exact variable names. */
  envNames: Set<string>;
  /** re: rules. */
  patterns: RegExp[];
}

export class RedactionSyntaxError extends Error {
  override name = 'RedactionSyntaxError';
}

/** What the built-in set hides, for the README and -h. */
export const builtinRedactionSummary =
  'secret-named options (password, token, secret, key, credential, auth...), mysql -p<secret>, redis-cli -a, sshpass/mongosh -p, curl -u user:pass, openssl pass:, ' +
  'NAME=value when NAME says PASS/SECRET/TOKEN/KEY/CREDENTIAL, Authorization/Cookie/API-key headers, passwords and tokens in URLs';

export const defaultRedaction: Redaction = { builtin: true, flags: new Set(), envNames: new Set(), patterns: [] };
export const noRedaction: Redaction = { builtin: false, flags: new Set(), envNames: new Set(), patterns: [] };

/** Parses `-redact` entries; throws RedactionSyntaxError naming the bad entry and the accepted forms. */
export function parseRedaction(entries: readonly string[]): Redaction {
  const result: Redaction = { builtin: !entries.includes('none'), flags: new Set(), envNames: new Set(), patterns: [] };
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '' || entry === 'default' || entry === 'none') continue;
    const colon = entry.indexOf(':');
    const kind = colon === -1 ? '' : entry.slice(0, colon);
    const body = entry.slice(colon + 1);
    if (kind === 'flag' && /^-{1,2}[\w.-]+$/.test(body)) result.flags.add(body);
    else if (kind === 'env' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(body)) result.envNames.add(body);
    else if (kind === 're' && body) {
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

const isOff = (r: Redaction) => !r.builtin && r.flags.size === 0 && r.envNames.size === 0 && r.patterns.length === 0;

// ---- the built-in rules on words ----------------------------------------------------------------

/** A name that says it holds a secret (options, variables, keys, headers). */
const secretName = /pass(?:wd|word|phrase)?|secret|token|api[-_.]?key|apikey|access[-_.]?key|private[-_.]?key|credential|auth|bearer|pwd|session[-_.]?key/i;
/** Variables: the same, upper-case words of it (`DB_PASSWORD`, `GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`). */
const secretVariable = /PASS|SECRET|TOKEN|KEY|CREDENTIAL|PWD|AUTH/i;
/** Options whose name says "password" but that take no value (they make the program ask). */
const promptOptions: Record<string, RegExp> = {
  psql: /^(?:-W|--password)$/,
  pg_dump: /^(?:-W|--password)$/,
  pg_dumpall: /^(?:-W|--password)$/,
  pg_restore: /^(?:-W|--password)$/,
  createdb: /^(?:-W|--password)$/,
  mysql: /^--password$/,
};
const mysqlFamily = /^(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump|mariadb-admin|mysqlsh)$/;
const mongoFamily = /^mongo/;
/** The programs whose options the rules below know; the last one named in a command sets the rules (KubeArmor joins `sh -c 'mysql -p...'` into one line). */
const knownProgram = /^(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mariadb|mariadb-dump|mariadb-admin|mysqlsh|mongosh|mongo|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop|redis-cli|sshpass|curl|wget|openssl|docker|podman|nerdctl|helm|psql|pg_dump|pg_dumpall|pg_restore|createdb)$/;
/** Names that point at a secret rather than hold one (`--token-file=/run/token`, `DB_PASSWORD_FILE=...`, the shell's `PWD`). */
const secretReference = /[-_.](?:file|path|dir|directory|sock|socket|url|ttl|length|len|size|type|name|prompt|env|id)$|^(?:OLD)?PWD$/i;

const basename = (word: string) => word.slice(word.lastIndexOf('/') + 1).toLowerCase();
const isOptionLike = (word: string | undefined) => word === undefined || (word.startsWith('-') && word.length > 1);

/** A secret found in a word: its value from `from` to the end is replaced. */
interface Secret {
  word: number;
  from: number;
}

/** The built-in and user word rules over one simple command's words (values only). */
function secretsInWords(words: readonly string[], redaction: Redaction): Secret[] {
  const secrets: Secret[] = [];
  let program = basename(words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) ?? '');
  const isLogin = words.includes('login');
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const name = basename(word);
    if (knownProgram.test(name)) program = mysqlFamily.test(name) ? 'mysql' : mongoFamily.test(name) ? 'mongo' : name;
    const next = words[i + 1];
    const takeNext = () => {
      if (next !== undefined && !isOptionLike(next) && next !== REDACTED) secrets.push({ word: i + 1, from: 0 });
    };
    // flag: rules, exact names.
    for (const flag of redaction.flags) {
      if (word === flag) takeNext();
      else if (word.startsWith(`${flag}=`)) secrets.push({ word: i, from: flag.length + 1 });
    }
    // env: rules, exact names.
    for (const env of redaction.envNames) if (word.startsWith(`${env}=`)) secrets.push({ word: i, from: env.length + 1 });
    if (!redaction.builtin) continue;

    const option = /^(-{1,2})([A-Za-z0-9][\w.-]*)(=)?/.exec(word);
    if (option && secretName.test(option[2]!) && !/^no[-_]/i.test(option[2]!) && !secretReference.test(option[2]!)) {
      if (option[3]) secrets.push({ word: i, from: option[0].length });
      // openssl -passin pass:<secret>; env:, file:, fd: and stdin name where the secret is.
      else if (program === 'openssl' && next?.startsWith('pass:')) secrets.push({ word: i + 1, from: 5 });
      else if (program === 'openssl' && next !== undefined && /^(?:env|file|fd):|^stdin$/.test(next)) continue;
      // mysql's --password takes its value after `=` only; alone it makes mysql ask.
      else if (!promptOptions[program]?.test(word) && !(program === 'mysql' && option[1] === '--')) takeNext();
      continue;
    }
    // Short password options, by program.
    if (program === 'mysql' && /^-p./.test(word)) secrets.push({ word: i, from: 2 });
    else if ((program === 'sshpass' || program === 'mongo' || ((program === 'docker' || program === 'podman' || program === 'nerdctl' || program === 'helm') && isLogin)) && /^-p/.test(word)) {
      if (word.length > 2) secrets.push({ word: i, from: 2 });
      else takeNext();
    } else if (program === 'redis-cli' && word === '-a') takeNext();
    else if (program === 'openssl' && word === '-k') takeNext();
    else if ((program === 'curl' || program === 'wget') && /^(?:-u|-U|--user|--proxy-user)$/.test(word) && next?.includes(':')) secrets.push({ word: i + 1, from: next.indexOf(':') + 1 });
    else if (program === 'curl' && /^-[uU][^:]*:/.test(word)) secrets.push({ word: i, from: word.indexOf(':') + 1 });
    // NAME=value assignments (leading ones, `env X=y`, `export X=y`, `--build-arg X=y`).
    const assignment = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(word);
    if (assignment && secretVariable.test(assignment[1]!) && !secretReference.test(assignment[1]!)) secrets.push({ word: i, from: assignment[0].length });
  }
  return secrets;
}

// ---- the built-in rules on free text ------------------------------------------------------------
// Position-independent forms, applied to every word and, for a command line, to the whole text after
// the word rules: what they catch needs no knowledge of the program.

/** How far a header value reaches in free text: to the end of its word, quote or line. */
const HEADER_VALUE = `([^\\s'"][^'"\\n]*?)(?=\\s+-{1,2}[A-Za-z]|\\s+[a-z]+://|['"\\n]|$)`;
const textRules: RegExp[] = [
  // Authorization: <scheme> <secret> (any scheme; a bare token too).
  /\b(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|token|digest|negotiate|bot|aws4-hmac-sha256|sso-key)\s+)?([^\s'"]+)/dgi,
  // Other headers that carry credentials.
  new RegExp(`\\b(?:cookie|set-cookie|x-api-key|api-key|x-auth-token|x-access-token|private-token|x-vault-token|x-amz-security-token|[\\w-]*(?:token|secret|api-?key|session)[\\w-]*)\\s*:\\s*${HEADER_VALUE}`, 'dgi'),
  // scheme://user:PASSWORD@host, and scheme://TOKEN@host when the user is token-like (>= 20 characters).
  /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/\s:@'"]*:([^/\s@'"]+)@/dg,
  /\b[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([A-Za-z0-9_-]{20,})@/dg,
  // Secret-named query parameters and key=value pairs (`?access_token=x`, `db.password=x`, `--from-literal=api_key=x`).
  /(?:^|[\s?&,;{(=])[\w.-]*(?:pass(?:wd|word)?|secret|token|api[-_]?key|apikey|credential|pwd|signature|sig)=([^\s&,;'"}]+)/dgi,
  // JSON: "password": "x".
  /"[\w.-]*(?:pass(?:wd|word)?|secret|token|api[-_]?key|apikey|credential|pwd)"\s*:\s*"((?:[^"\\]|\\.)*)"/dgi,
  // mysql -p<secret> anywhere in a shell string (also when the words cannot be told apart).
  /\b(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump)\b[^|;&\n]*?\s-p([^\s'"]\S*)/dg,
];

/** A cheap test that a text may hold anything the rules look for; most command lines do not. */
const mayHoldSecret = /pass|secret|token|key|cred|auth|cookie|session|pwd|sig|:\/\/|\s-[pauk]|^-[pauk]|=/i;

/** The text with each rule's secret (its first capturing group, or the whole match) replaced. */
function redactByPatterns(text: string, patterns: readonly RegExp[]): string {
  let out = text;
  for (const pattern of patterns) {
    pattern.lastIndex = 0;
    if (!pattern.test(out)) continue;
    pattern.lastIndex = 0;
    let rebuilt = '';
    let last = 0;
    for (const match of out.matchAll(pattern)) {
      const span = match.length > 1 ? match.indices?.[1] : match.indices?.[0];
      if (!span || span[1] === span[0] || span[0] < last) continue;
      if (out.slice(span[0], span[1]) === REDACTED) continue;
      rebuilt += out.slice(last, span[0]) + REDACTED;
      last = span[1];
    }
    out = rebuilt + out.slice(last);
  }
  return out;
}

function redactText(text: string, redaction: Redaction): string {
  const rules = redaction.builtin ? [...textRules, ...redaction.patterns] : redaction.patterns;
  if (rules.length === 0 || (redaction.patterns.length === 0 && !mayHoldSecret.test(text))) return text;
  return redactByPatterns(text, rules);
}

const shells = /^(?:sh|bash|zsh|dash|ash|ksh|busybox)$/;

/** Replaces each secret word's value from its offset to its end. */
function applyToValues(words: string[], secrets: readonly Secret[]): void {
  for (const { word, from } of secrets) {
    const value = words[word]!;
    if (from < value.length) words[word] = value.slice(0, from) + REDACTED;
  }
}

/** An argv with secrets replaced: word rules over the whole argv, `sh -c` scripts as command lines, free-text rules on each element. */
export function redactArgv(argv: readonly string[], redaction: Redaction): string[] {
  if (isOff(redaction)) return [...argv];
  const isScript = (i: number) => i >= 2 && argv[i - 1] === '-c' && shells.test(basename(argv[i - 2]!));
  const words = [...argv];
  // A script is a command line of its own: its words are redacted as one, not as an argument.
  applyToValues(words, secretsInWords(argv, redaction).filter((s) => !isScript(s.word)));
  return words.map((word, i) => (isScript(i) ? redactCommandLine(word, redaction) : redactText(word, redaction)));
}

/**
 * A command line (a shell script, KubeArmor's Resource) with secrets replaced: split into words as the
 * shell would, the word rules per simple command, scripts inside `sh -c '...'` in turn, then the
 * free-text rules over the whole.
 */
export function redactCommandLine(text: string, redaction: Redaction): string {
  if (isOff(redaction) || (!mayHoldSecret.test(text) && redaction.patterns.length === 0 && redaction.flags.size === 0 && redaction.envNames.size === 0)) return text;
  const edits: { start: number; end: number; text: string }[] = [];
  for (const command of shellCommands(text)) {
    const values = command.map((w) => w.value);
    const isScript = (i: number) => i >= 2 && values[i - 1] === '-c' && shells.test(basename(values[i - 2]!));
    for (const { word, from } of secretsInWords(values, redaction)) {
      const w = command[word]!;
      if (from >= w.value.length || isScript(word)) continue;
      edits.push({ start: w.origin[from]!, end: w.origin[w.value.length - 1]! + 1, text: REDACTED });
    }
    // A script inside `sh -c '...'` is a command line of its own: redacted as one, written back quoted as it was.
    command.forEach((w, i) => {
      if (!isScript(i)) return;
      const inner = redactCommandLine(w.value, redaction);
      if (inner !== w.value) edits.push(wholeWord(w, inner));
    });
  }
  let out = text;
  for (const edit of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  return redactText(out, redaction);
}

function wholeWord(word: ShellWord, value: string) {
  return { start: word.start, end: word.end, text: quoteShellWord(value, word.quote) };
}

/** Every string in a JSON value (KubeArmor's raw event) with command-line secrets replaced; the same object when nothing changed. */
export function redactStrings<T>(value: T, redaction: Redaction): T {
  if (typeof value === 'string') return redactCommandLine(value, redaction) as T;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      const clean = redactStrings(item, redaction);
      if (clean !== item) changed = true;
      return clean;
    });
    return (changed ? out : value) as T;
  }
  if (value !== null && typeof value === 'object') {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const clean = redactStrings(item, redaction);
      if (clean !== item) changed = true;
      out[key] = clean;
    }
    return (changed ? out : value) as T;
  }
  return value;
}

/** How many [REDACTED] markers a value holds (merging prefers the more redacted of two versions). */
export function redactionCount(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  let count = 0;
  for (let at = text.indexOf(REDACTED); at !== -1; at = text.indexOf(REDACTED, at + 1)) count++;
  return count;
}
