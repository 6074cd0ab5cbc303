/**
 * The query parameters of the JSON API, declared once with zod. Unknown parameters are refused, so a
 * misspelt filter (`?usr=alice`) answers 400 instead of silently returning everything.
 */
import { z } from 'zod';
import { decodeCursor, type Cursor } from '../timeline/queries.ts';
import { describeBadTimeBound, parseTimeBound, timelineWindow } from '../time/time-bounds.ts';

// PostgreSQL text cannot hold NUL: refused here with a 400, not by the database with a 500.
const noNul = (value: string) => !value.includes('\u0000');
const nulMessage = 'must not contain a NUL character';

const text = z.string().min(1, 'must not be empty').max(512, 'is longer than 512 characters').refine(noNul, nulMessage);

const time = z.string().transform((value, ctx) => {
  const bound = parseTimeBound(value);
  if (bound === undefined) {
    ctx.addIssue({ code: 'custom', message: describeBadTimeBound(value) });
    return z.NEVER;
  }
  return bound;
});

const booleanText = z.enum(['true', 'false'], { message: 'must be true or false' }).transform((v) => v === 'true');

/** A whole number from `min` to `max`, with one message that says so whatever is wrong with it. */
const wholeNumber = (min: number, max: number) =>
  z
    .string()
    .refine((value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max, `must be a whole number from ${min} to ${max}`)
    .transform(Number);

const limit = (def: number, max: number) => wholeNumber(1, max).default(def);

const cursor = z.string().refine(noNul, nulMessage).transform((value, ctx): Cursor => {
  const decoded = decodeCursor(value);
  if (!decoded) {
    ctx.addIssue({ code: 'custom', message: 'is not a cursor this API returned (pass nextCursor from the previous page unchanged)' });
    return z.NEVER;
  }
  return decoded;
});

export const sessionsQuerySchema = z.strictObject({
  cluster: text.optional(),
  user: text.optional(),
  namespace: text.optional(),
  pod: text.optional(),
  allowed: booleanText.optional(),
  since: time.optional(),
  until: time.optional(),
  limit: limit(50, 500),
  cursor: cursor.optional(),
});

export const timelineQuerySchema = z
  .strictObject({
    cluster: text.optional(),
    namespace: text,
    pod: text,
    from: time.optional(),
    since: time.optional(),
    to: time.optional(),
  })
  .transform((q, ctx) => {
    const window = timelineWindow(q);
    if (!window.ok) {
      ctx.addIssue({ code: 'custom', path: [window.field], message: window.message });
      return z.NEVER;
    }
    return { cluster: q.cluster, namespace: q.namespace, pod: q.pod, from: window.from, to: window.to };
  });

export const runtimeEventsQuerySchema = z.strictObject({
  cluster: text.optional(),
  namespace: text.optional(),
  pod: text.optional(),
  container: text.optional(),
  operation: text.optional(),
  action: text.optional(),
  type: text.optional(),
  policy: text.optional(),
  kind: z.enum(['alert', 'log'], { message: 'must be alert or log' }).optional(),
  severity: wholeNumber(0, 10).optional(),
  since: time.optional(),
  until: time.optional(),
  limit: limit(100, 1000),
  cursor: cursor.optional(),
});

export class BadRequest extends Error {
  override name = 'BadRequest';
  constructor(
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

/** The parsed query, or a BadRequest naming the first bad parameter. */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const result = schema.safeParse(query ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0]!;
    throw new BadRequest(`unknown query parameter "${name}"`, name);
  }
  const name = issue.path[0] === undefined ? undefined : String(issue.path[0]);
  if (!name) throw new BadRequest(issue.message);
  // A repeated parameter (?user=a&user=b) arrives as an array.
  const message = issue.code === 'invalid_type' && issue.expected === 'string' ? 'must be given once, as text' : issue.message;
  const missing = issue.code === 'invalid_type' && (query as Record<string, unknown>)?.[name] === undefined;
  throw new BadRequest(missing ? `query parameter "${name}" is required` : `query parameter "${name}" ${message}`, name);
}
