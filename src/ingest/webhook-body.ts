/**
 * Reads one webhook request body with a size limit enforced while it streams in: a declared
 * Content-Length over the limit is refused before a byte is read, a chunked body is cut as soon as it
 * passes the limit, and a gzip body is limited on its decompressed size too (a few KB of gzip can
 * inflate to gigabytes).
 *
 * It never destroys the request: the caller still has to send a response on the same socket, then call
 * discardRestOfBody().
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip, type Gunzip } from 'node:zlib';

export class BodyError extends Error {
  override name = 'BodyError';
  constructor(
    readonly status: 400 | 413 | 415,
    /** Label for metrics.badInput. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

const tooLarge = (what: string, maxBytes: number) =>
  new BodyError(
    413,
    'body-too-large',
    `${what} is larger than ${maxBytes} bytes (-webhook-max-body); lower the apiserver's --audit-webhook-batch-max-size or raise -webhook-max-body`,
  );

/** The body's encoding, or a 415 for one we cannot decode. */
function bodyEncoding(req: IncomingMessage): 'identity' | 'gzip' {
  const header = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (header === '' || header === 'identity') return 'identity';
  if (header === 'gzip' || header === 'x-gzip') return 'gzip';
  throw new BodyError(415, 'unsupported-encoding', `Content-Encoding "${header}" is not supported; send the body plain or gzip-compressed`);
}

/** Reads the whole body (decompressed) into memory, never more than maxBytes of it. */
export function readLimitedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
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
      fail(new BodyError(400, 'body-read-error', `could not read the request body: ${error.message}`));
    }
    function onAborted() {
      fail(new BodyError(400, 'body-read-error', 'the client closed the connection before sending the whole body'));
    }

    if (encoding === 'gzip') {
      inflater = createGunzip();
      inflater.on('data', take);
      inflater.on('end', succeed);
      inflater.on('error', (error: Error) =>
        fail(new BodyError(400, 'bad-gzip', `Content-Encoding is gzip but the body is not valid gzip: ${error.message}`)),
      );
    }
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/**
 * After answering a request whose body was not read to its end (413, 401, 415): discards what the
 * client still sends for a short while, then closes the connection. Closing at once would make the
 * kernel answer the client's next bytes with a RST, and a client still writing (Go's transport, Node's)
 * may then lose the answer we sent. This is nginx's "lingering close"; nothing discarded is kept.
 */
export function discardRestOfBody(req: IncomingMessage, limits: { maxBytes: number; maxMs: number }): void {
  if (req.complete) return;
  const socket = req.socket;
  let discarded = 0;
  const close = () => {
    clearTimeout(timer);
    if (!req.complete) socket.destroy();
  };
  const timer = setTimeout(close, limits.maxMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.maxBytes) close();
  });
  // The whole body arrived after all: the connection is clean and can carry the next request.
  req.on('end', () => clearTimeout(timer));
  req.on('error', () => undefined);
  req.resume();
}
