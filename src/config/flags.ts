/**
 * Go-style command-line flags, validated with zod.
 *
 * kubechronicle's users pass `-audit-log-file=/x` (Go's flag package), so we accept exactly that and the
 * GNU forms too: `-name=value`, `-name value`, `--name value`, `--name=value`; a boolean flag alone means
 * true and takes `=false` explicitly (Go semantics: `-enable-webhook false` would NOT set it to false).
 */
import { z } from 'zod';
import { parseDuration } from '../time/duration.ts';

export type FlagKind = 'string' | 'boolean' | 'number' | 'list' | 'optional';

export interface FlagSpec<T = unknown> {
  kind: FlagKind;
  schema: z.ZodType<T>;
  /** The default as a user would type it, for `-h`. */
  defaultText: string;
  help: string;
  /** An environment variable read when the flag is absent (e.g. DATABASE_URL). */
  env?: string;
  /** kind 'optional': the value a flag given alone takes (`-kubearmor-discover` = relay). */
  implicitValue?: string;
  /** kind 'optional': the values it takes; one of them may also follow as the next word. */
  values?: readonly string[];
  /** kind 'number': the whole numbers it takes, for the message when it gets another. */
  range?: { min: number; max: number };
  /** kind 'list': each occurrence is one value, commas included (URLs, headers). */
  wholeValues?: boolean;
}

function spec<T>(kind: FlagKind, schema: z.ZodType<T>, defaultText: string, help: string, env?: string): FlagSpec<T> {
  return { kind, schema, defaultText, help, env };
}

export const flag = {
  string: (def: string, help: string, env?: string) => spec('string', z.string().default(def), def, help, env),
  enumOf: <const V extends readonly [string, ...string[]]>(values: V, def: V[number], help: string) =>
    spec('string', z.enum(values).default(def as never), def, `${help} (${values.join('|')})`),
  boolean: (def: boolean, help: string) =>
    spec('boolean', z.boolean().default(def), String(def), help),
  number: (def: number, help: string, opts: { min?: number; max?: number } = {}): FlagSpec<number> => {
    const range = { min: opts.min ?? Number.MIN_SAFE_INTEGER, max: opts.max ?? Number.MAX_SAFE_INTEGER };
    return { ...spec('number', z.coerce.number().int().min(range.min).max(range.max).default(def), String(def), help), range };
  },
  /** A duration such as `30s`, `5m`, `2h`, `30d`, or `0`/`off` for none; parsed to milliseconds. */
  duration: (def: string, help: string) =>
    spec(
      'string',
      z
        .string()
        .default(def)
        .transform((text, ctx) => {
          const ms = parseDuration(text);
          if (ms === undefined) {
            ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use e.g. 500ms, 2s, 5m, 1h, 30d, off)` });
            return z.NEVER;
          }
          return ms;
        }),
      def,
      help,
    ),
  /**
   * A switch with an optional value, like a boolean that can say how: `-x` alone is `implicit`,
   * `-x=value` (Go form) or `-x value` picks one of `values` (the next word is taken only when it is
   * one of them, so `-x -other` and positionals keep working); `-x=false`/`=off` and absence are ''.
   */
  optionalEnum: <const V extends readonly [string, ...string[]]>(values: V, implicit: V[number], help: string): FlagSpec<V[number] | ''> => ({
    ...spec(
      'optional',
      z.preprocess((v) => (v === 'false' || v === 'off' ? '' : v), z.union([z.enum(values), z.literal('')]).default('')) as z.ZodType<V[number] | ''>,
      '',
      `${help} (alone: ${implicit}; or =${values.join('|')})`,
    ),
    implicitValue: implicit,
    values,
  }),
  /** Repeatable: `-x a -x b` or `-x a,b`. */
  list: (help: string) =>
    spec('list', z.array(z.string()).default([]), '', `${help} (repeatable)`),
  /** Repeatable, one value per occurrence (`-x a -x b`): for values that may hold commas. */
  repeated: (help: string): FlagSpec<string[]> => ({ ...spec('list', z.array(z.string()).default([]), '', `${help} (repeatable)`), wholeValues: true }),
};

export type FlagTable = Record<string, FlagSpec>;
export type FlagValues<T extends FlagTable> = { [K in keyof T]: T[K] extends FlagSpec<infer V> ? V : never };

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ParsedArgs<T extends FlagTable> {
  values: FlagValues<T>;
  /** Words that are not flags (sub-commands). */
  positionals: string[];
  help: boolean;
}

/** Parses argv against a flag table. Throws UsageError with a one-line message on any problem. */
export function parseFlags<T extends FlagTable>(
  table: T,
  argv: readonly string[],
  env: Record<string, string | undefined> = process.env,
): ParsedArgs<T> {
  const raw = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq === -1 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const def = table[name];
    if (!def) throw new UsageError(`unknown flag -${name}`);
    let value: string | boolean;
    if (eq !== -1) value = body.slice(eq + 1);
    else if (def.kind === 'boolean') value = true;
    else if (def.kind === 'optional') {
      const next = argv[i + 1];
      if (next !== undefined && def.values?.includes(next)) {
        value = next;
        i++;
      } else value = def.implicitValue ?? '';
    } else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag -${name} needs a value`);
      value = next;
      i++;
    }
    if (def.kind === 'number' && def.range) checkWholeNumber(name, String(value), def.range, def.defaultText);
    if (def.kind === 'boolean' && typeof value === 'string') {
      if (!/^(true|false|1|0|t|f)$/i.test(value)) throw new UsageError(`flag -${name}: "${value}" is not a boolean`);
      value = /^(true|1|t)$/i.test(value);
    }
    if (def.kind === 'list') {
      const previous = (raw.get(name) as string[] | undefined) ?? [];
      raw.set(name, [...previous, ...(def.wholeValues ? [String(value)] : String(value).split(',').filter(Boolean))]);
    } else raw.set(name, value);
  }

  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(table)) {
    let input: unknown = raw.get(name);
    if (input === undefined && def.env && env[def.env] !== undefined && env[def.env] !== '') input = env[def.env];
    if (def.kind === 'boolean' && typeof input === 'string') input = /^(true|1|t)$/i.test(input);
    const result = def.schema.safeParse(input);
    if (!result.success) {
      const issue = result.error.issues[0];
      throw new UsageError(`flag -${name}: ${issue?.message ?? 'invalid value'}`);
    }
    values[name] = result.data;
  }
  return { values: values as FlagValues<T>, positionals, help };
}

/** A number flag's value is a whole number in its range, or a usage error saying what is expected. */
function checkWholeNumber(name: string, text: string, range: { min: number; max: number }, example: string): void {
  const expected =
    range.max === Number.MAX_SAFE_INTEGER
      ? range.min === Number.MIN_SAFE_INTEGER
        ? 'a whole number'
        : `a whole number of at least ${range.min}`
      : `a whole number from ${range.min} to ${range.max}`;
  if (!/^-?\d+$/.test(text.trim())) throw new UsageError(`flag -${name}: "${text}" is not a number; expected ${expected} (e.g. -${name}=${example})`);
  const value = Number(text);
  if (value < range.min || value > range.max) throw new UsageError(`flag -${name}: ${text} is out of range; expected ${expected}`);
}

/** Every flag with its default, for `-h`. */
export function formatUsage<T extends FlagTable>(command: string, table: T, synopsis: string[] = []): string {
  const lines = [`Usage: ${command} [flags]`, ...synopsis.map((s) => `       ${command} ${s}`), '', 'Flags:'];
  for (const [name, def] of Object.entries(table)) {
    const value =
      def.kind === 'boolean' ? '' : def.kind === 'number' ? ' N' : def.kind === 'optional' ? `[=${def.values?.join('|') ?? 'VALUE'}]` : ' VALUE';
    const defaults = def.defaultText === '' ? '' : ` (default ${def.defaultText})`;
    const env = def.env ? ` [env ${def.env}]` : '';
    lines.push(`  -${name}${value}`, `        ${def.help}${defaults}${env}`);
  }
  return lines.join('\n');
}
