/**
 * Who may post audit batches: a client certificate signed by -webhook-client-ca-file (mTLS, what the
 * apiserver's webhook kubeconfig `client-certificate`/`client-key` gives), a bearer token equal to the
 * one in -webhook-token-file (kubeconfig `token`/`tokenFile`), or both. When both are configured a
 * request needs both: configuring a token must not be bypassable with a certificate, nor the reverse.
 * The bearer check is the one both HTTP ports use (src/api/bearer-token.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { BearerToken, readTokenFile } from '../api/bearer-token.ts';

export interface WebhookAuth {
  /** Client certificates are requested and must chain to the client CA. */
  clientCertificates: boolean;
  /** The expected bearer token, when token auth is on. */
  token?: BearerToken;
}

export type AuthOutcome = { ok: true } | { ok: false; message: string; bearerChallenge: boolean };

/** Reads -webhook-token-file: its content without surrounding whitespace (a trailing newline is usual). */
export function readBearerToken(path: string): BearerToken {
  return new BearerToken(readTokenFile(path, '-webhook-token-file', "the bearer token the apiserver's webhook kubeconfig sends"));
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
  if (auth.token) {
    const check = auth.token.check(req.headers.authorization);
    if (check === 'missing') {
      return { ok: false, bearerChallenge: true, message: 'a bearer token is required (Authorization: Bearer ...); set token or tokenFile in the apiserver webhook kubeconfig' };
    }
    if (check === 'wrong') return { ok: false, bearerChallenge: true, message: 'the bearer token is not the one in -webhook-token-file' };
  }
  return { ok: true };
}
