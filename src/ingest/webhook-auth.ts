/**
 * Who may post audit batches: a client certificate signed by -webhook-client-ca-file (mTLS, what the
 * apiserver's webhook kubeconfig `client-certificate`/`client-key` gives), a bearer token equal to the
 * one in -webhook-token-file (kubeconfig `token`/`tokenFile`), or both. When both are configured a
 * request needs both: configuring a token must not be bypassable with a certificate, nor the reverse.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';

export interface WebhookAuth {
  /** Client certificates are requested and must chain to the client CA. */
  clientCertificates: boolean;
  /** sha256 of the expected bearer token, when token auth is on. */
  tokenDigest?: Buffer;
}

export type AuthOutcome = { ok: true } | { ok: false; message: string; bearerChallenge: boolean };

const digest = (value: string | Buffer) => createHash('sha256').update(value).digest();

/** Reads the token file: its content without surrounding whitespace (a trailing newline is usual). */
export function readBearerToken(path: string): Buffer {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read -webhook-token-file ${path}: ${(error as Error).message}; check the path and that this user may read it`, {
      cause: error,
    });
  }
  const token = text.trim();
  if (!token) throw new Error(`-webhook-token-file ${path} is empty; put the bearer token the apiserver's webhook kubeconfig sends in it`);
  if (/\s/.test(token)) throw new Error(`-webhook-token-file ${path} holds more than one word; it must hold only the bearer token`);
  return digest(token);
}

/** Checks one request against every configured mechanism. */
export function authenticateRequest(req: IncomingMessage, auth: WebhookAuth): AuthOutcome {
  if (auth.clientCertificates) {
    const socket = req.socket as TLSSocket;
    if (!socket.authorized) {
      const peer = socket.getPeerCertificate?.();
      const presented = peer && Object.keys(peer).length > 0;
      const why = socket.authorizationError ? String(socket.authorizationError) : 'not verified';
      return {
        ok: false,
        bearerChallenge: false,
        message: presented
          ? `client certificate rejected (${why}); it must be signed by the CA in -webhook-client-ca-file`
          : 'a client certificate is required (mTLS); set client-certificate and client-key in the apiserver webhook kubeconfig',
      };
    }
  }
  if (auth.tokenDigest) {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      return { ok: false, bearerChallenge: true, message: 'a bearer token is required (Authorization: Bearer ...); set token or tokenFile in the apiserver webhook kubeconfig' };
    }
    // Comparing equal-length digests in constant time: neither the content nor the length of the
    // expected token leaks through response timing.
    if (!timingSafeEqual(digest(match[1]!), auth.tokenDigest)) {
      return { ok: false, bearerChallenge: true, message: 'the bearer token is not the one in -webhook-token-file' };
    }
  }
  return { ok: true };
}
