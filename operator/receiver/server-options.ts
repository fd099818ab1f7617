import { readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { capConnectionsPerAddress } from './per-address.ts';

/**
 * The receiver's HTTP(S) server with its connection limits: a request's headers must arrive within
 * `headersTimeoutMs` of the connection's opening (or of its previous request), the whole request within
 * `requestTimeoutMs` (else 408 and the connection is closed), a silent connection between requests is
 * closed after `idleTimeoutMs`, and at most `maxConnections` are open at once, `maxConnectionsPerAddress`
 * of them from one source address (more are closed on accept, per-address.ts). With TLS,
 * the certificate and key files are looked at every CERTIFICATE_RECHECK_MS and served anew once they
 * changed (the kubelet swaps a mounted Secret's files when the Secret changes).
 */

/** How often Node looks for requests over their time; the default (30s) would let them overstay. */
const TIMEOUT_CHECK_MS = 1_000;
const CERTIFICATE_RECHECK_MS = 5_000;

export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  tls?: { certFile: string; keyFile: string };
}

/** Fastify options that build the server; Fastify leaves its own timeouts unset when given a factory. */
export function serverOptions(limits: ConnectionLimits, onRefused: (address: string) => void = () => {}) {
  return {
    serverFactory: (handler: http.RequestListener): http.Server => {
      const options = {
        requestTimeout: limits.requestTimeoutMs,
        // The headers are part of the request: Node refuses a headers timeout longer than its whole.
        headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
        connectionsCheckingInterval: TIMEOUT_CHECK_MS,
      };
      const server = limits.tls
        ? // An https.Server is an http.Server over TLS; Fastify handles both alike.
          (https.createServer({ ...options, ...readPair(limits.tls) }, handler) as unknown as http.Server)
        : http.createServer(options, handler);
      server.setTimeout(limits.idleTimeoutMs);
      server.keepAliveTimeout = limits.idleTimeoutMs;
      server.maxConnections = limits.maxConnections;
      capConnectionsPerAddress(server, limits.maxConnectionsPerAddress, onRefused);
      return server;
    },
  };
}

/**
 * Serves the certificate files anew whenever they change; a pair that cannot be read or does not match
 * is logged and the one in use kept. Returns the function that stops watching.
 */
export function reloadCertificate(
  server: http.Server,
  tls: NonNullable<ConnectionLimits['tls']>,
  logger: Logger,
  recheckMs = CERTIFICATE_RECHECK_MS,
): () => void {
  let version = fileVersion(tls);
  const timer = setInterval(() => {
    const current = fileVersion(tls);
    if (current === version) return;
    try {
      (server as unknown as https.Server).setSecureContext(readPair(tls));
      version = current;
      logger.info({ certFile: tls.certFile }, 'serving the renewed TLS certificate');
    } catch (err) {
      logger.error(
        { err, certFile: tls.certFile },
        'cannot load the changed TLS certificate; keeping the old one',
      );
    }
  }, recheckMs);
  timer.unref();
  return () => clearInterval(timer);
}

function readPair(tls: NonNullable<ConnectionLimits['tls']>): { cert: Buffer; key: Buffer } {
  return { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) };
}

function fileVersion(tls: NonNullable<ConnectionLimits['tls']>): string {
  try {
    const cert = statSync(tls.certFile);
    const key = statSync(tls.keyFile);
    return `${cert.mtimeMs}/${cert.size}/${key.mtimeMs}/${key.size}`;
  } catch {
    return 'unreadable';
  }
}
