/**
 * Bearer tokens, the same on both ports (-api-token-file, -webhook-token-file): the file holds one
 * word; a request carries `Authorization: Bearer <token>`, the scheme in any case (RFC 7235 2.1: auth
 * schemes are case-insensitive, and Go's and Python's clients send `bearer`); the comparison takes
 * the same time whatever the token, its content or its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();

/** The token in a token file: its content without surrounding whitespace (a trailing newline is usual). */
export function readTokenFile(path: string, flagName: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${flagName} ${path}: ${(error as Error).message}; check the path and that this user may read it`, { cause: error });
  }
  const token = text.trim();
  if (!token) throw new Error(`${flagName} ${path} is empty; put ${what} in it (one line)`);
  if (/\s/.test(token)) throw new Error(`${flagName} ${path} holds more than one word; it must hold only ${what}`);
  return token;
}

/** What a request's Authorization header says about a bearer token. */
export type BearerCheck = 'ok' | 'missing' | 'wrong';

/** Checks requests against one expected token. */
export class BearerToken {
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = digest(token);
  }

  check(authorization: string | undefined): BearerCheck {
    const match = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!match) return 'missing';
    // Equal-length digests compared in constant time: neither the content nor the length of the
    // expected token leaks through response timing.
    return timingSafeEqual(digest(match[1]!), this.expected) ? 'ok' : 'wrong';
  }
}
