/**
 * Reads one webhook request body with a size limit enforced while it streams in: a declared
 * Content-Length over the limit is refused before a byte is read, a chunked body is cut as soon as it
 * passes the limit, and a gzip body is limited on its decompressed size too (a few KB of gzip can
 * inflate to gigabytes).
 *
 * It never destroys the request: the caller still has to send a response on the same socket (the HTTP
 * server module then drains the rest of the body for a moment: lingering close).
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';
import { httpError, httpErrors, type HttpErrorAnswer } from '../api/http-errors.ts';
import type { BadInputReason } from '../observe/bad-input.ts';
import type { BodyReservation } from './inflight-bytes.ts';

/** A body refused: the declared HTTP error to answer, and the bad_input reason to count (none for a 429). */
export class BodyError extends Error {
  override name = 'BodyError';
  readonly answer: HttpErrorAnswer;

  constructor(
    answer: HttpErrorAnswer,
    readonly reason: BadInputReason | undefined,
  ) {
    super(answer.body.error);
    this.answer = answer;
  }

  get status(): number {
    return this.answer.status;
  }
}

const tooLarge = (what: string, maxBytes: number) => new BodyError(httpError(httpErrors.BODY_TOO_LARGE, [what, maxBytes]), 'body-too-large');

/** The body's encoding, or a 415 for one we cannot decode. */
function bodyEncoding(req: IncomingMessage): 'identity' | 'gzip' {
  const header = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (header === '' || header === 'identity') return 'identity';
  if (header === 'gzip' || header === 'x-gzip') return 'gzip';
  throw new BodyError(httpError(httpErrors.UNSUPPORTED_ENCODING, [header]), 'unsupported-encoding');
}

/**
 * Reads the whole body (decompressed) into memory, never more than maxBytes of it, and never more than
 * `reservation` lets it hold (the bound across requests: a 429 past it).
 */
export function readLimitedBody(req: IncomingMessage, maxBytes: number, reservation?: BodyReservation): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let encoding: 'identity' | 'gzip';
    try {
      encoding = bodyEncoding(req);
    } catch (error) {
      reject(error);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(tooLarge(`the request body (Content-Length ${declared})`, maxBytes));
      return;
    }

    const chunks: Buffer[] = [];
    let rawBytes = 0;
    let bodyBytes = 0;
    let settled = false;
    let inflater: Gunzip | undefined;

    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (inflater) {
        inflater.removeAllListeners();
        inflater.on('error', () => undefined);
        inflater.destroy();
      }
      // Leave the request paused: the caller answers, then discardRestOfBody().
      req.pause();
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      detach();
      reject(error);
    };
    const succeed = () => {
      if (settled) return;
      settled = true;
      detach();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bodyBytes));
    };
    const take = (chunk: Buffer) => {
      if (settled) return;
      bodyBytes += chunk.length;
      if (bodyBytes > maxBytes) fail(tooLarge(encoding === 'gzip' ? 'the decompressed request body' : 'the request body', maxBytes));
      else if (reservation && !reservation.holdUpTo(bodyBytes)) fail(new BodyError(httpError(httpErrors.TOO_MANY_BYTES_IN_FLIGHT, []), undefined));
      else chunks.push(chunk);
    };

    function onData(chunk: Buffer) {
      rawBytes += chunk.length;
      if (rawBytes > maxBytes) return fail(tooLarge('the request body', maxBytes));
      if (!inflater) return take(chunk);
      if (!inflater.write(chunk)) {
        req.pause();
        inflater.once('drain', () => !settled && req.resume());
      }
    }
    function onEnd() {
      if (inflater) inflater.end();
      else succeed();
    }
    function onError(error: Error) {
      fail(new BodyError(httpError(httpErrors.BODY_READ_ERROR, [error.message]), 'body-read-error'));
    }
    function onAborted() {
      fail(new BodyError(httpError(httpErrors.BODY_READ_ERROR, ['the client closed the connection before sending the whole body']), 'body-read-error'));
    }

    if (encoding === 'gzip') {
      inflater = createGunzip();
      inflater.on('data', take);
      inflater.on('end', succeed);
      inflater.on('error', (error: Error) =>
        fail(new BodyError(httpError(httpErrors.BAD_GZIP, [error.message]), 'bad-gzip')),
      );
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
