import { constants, createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

/**
 * The cluster's ServiceAccount token issuer, as the API server publishes it (`/.well-known/openid-configuration`
 * and `/openid/v1/jwks`, readable by every ServiceAccount through Kubernetes' default
 * `system:service-account-issuer-discovery` binding), used to check a bearer token's signature before the
 * receiver spends a TokenReview on it. A made-up token then costs a signature check, not an API call, so a
 * flood of them cannot use up the review budget that callers with real tokens need.
 *
 * The verdict only decides what a token costs: a token signed by the issuer still goes to a TokenReview
 * (which also knows about deleted pods and ServiceAccounts), and a token this module cannot judge (not a
 * JWT, another issuer, keys unavailable) takes the budgeted review as before.
 */

export type IssuerVerdict =
  /** A JWT of this cluster's issuer whose signature, audience and times check out. */
  | 'signed'
  /** A JWT naming this cluster's issuer that its keys did not sign, or with a bad audience or time. */
  | 'forged'
  /** Not a JWT of this cluster's issuer, or the issuer's keys could not be read: only a review can tell. */
  | 'unknown';

export interface IssuerDocuments {
  /** The discovery document's `issuer`. */
  issuer(): Promise<string>;
  /** The JSON Web Key Set's keys. */
  keys(): Promise<JsonWebKey[]>;
}

export interface IssuerKeysOptions {
  documents: IssuerDocuments;
  /** The token must name one of these audiences. */
  audiences: readonly string[];
  /** The least time between two reads of the keys, whatever tokens arrive (a made-up key id must not make the receiver poll). */
  refreshIntervalMs?: number;
  now?: () => number;
  onUnavailable?: (err: unknown) => void;
}

interface KnownKeys {
  issuer: string;
  byId: Map<string, KeyObject>;
  /** Keys without an id, tried in turn. */
  anonymous: KeyObject[];
}

const ALGORITHMS: Record<string, { hash: string; options?: object }> = {
  RS256: { hash: 'sha256' },
  RS384: { hash: 'sha384' },
  RS512: { hash: 'sha512' },
  PS256: { hash: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
  PS384: { hash: 'sha384', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 } },
  PS512: { hash: 'sha512', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 } },
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { hash: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
};

export class IssuerKeys {
  readonly #options: IssuerKeysOptions;
  readonly #now: () => number;
  readonly #refreshIntervalMs: number;
  #known: KnownKeys | undefined;
  #lastRead = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | undefined;

  constructor(options: IssuerKeysOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#refreshIntervalMs = options.refreshIntervalMs ?? 60_000;
  }

  async verdict(token: string): Promise<IssuerVerdict> {
    const jwt = parseJwt(token);
    if (!jwt) return 'unknown';
    if (!this.#known) await this.#read();
    const known = this.#known;
    if (!known || jwt.claims.iss !== known.issuer) return 'unknown';
    let keys = keysFor(known, jwt.header.kid);
    // A key id not seen yet: the issuer may have rotated its keys since the last read.
    if (keys.length === 0) {
      await this.#read();
      keys = this.#known ? keysFor(this.#known, jwt.header.kid) : [];
    }
    const algorithm = ALGORITHMS[String(jwt.header.alg)];
    if (!algorithm || !keys.some((key) => signatureHolds(jwt, key, algorithm))) return 'forged';
    return this.#claimsHold(jwt.claims) ? 'signed' : 'forged';
  }

  #claimsHold(claims: Claims): boolean {
    const now = this.#now() / 1000;
    const audiences =
      typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (!audiences.some((audience) => this.#options.audiences.includes(String(audience)))) return false;
    if (typeof claims.exp !== 'number' || claims.exp <= now) return false;
    return typeof claims.nbf !== 'number' || claims.nbf <= now + 60;
  }

  /** Reads the issuer and its keys, at most once per refresh interval and once at a time. */
  #read(): Promise<void> {
    if (this.#reading) return this.#reading;
    if (this.#now() - this.#lastRead < this.#refreshIntervalMs) return Promise.resolve();
    this.#lastRead = this.#now();
    this.#reading = (async () => {
      try {
        const { documents } = this.#options;
        const [issuer, keys] = await Promise.all([documents.issuer(), documents.keys()]);
        this.#known = toKnownKeys(issuer, keys);
      } catch (err) {
        this.#options.onUnavailable?.(err);
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}

interface Claims {
  iss?: unknown;
  aud?: unknown;
  exp?: unknown;
  nbf?: unknown;
}

interface ParsedJwt {
  header: { alg?: unknown; kid?: unknown };
  claims: Claims;
  signedPart: Buffer;
  signature: Buffer;
}

function parseJwt(token: string): ParsedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  try {
    const decode = (part: string): unknown => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    const h = decode(header);
    const c = decode(payload);
    if (!h || typeof h !== 'object' || !c || typeof c !== 'object') return undefined;
    return {
      header: h as ParsedJwt['header'],
      claims: c as Claims,
      signedPart: Buffer.from(`${header}.${payload}`),
      signature: Buffer.from(signature, 'base64url'),
    };
  } catch {
    return undefined;
  }
}

function keysFor(known: KnownKeys, kid: unknown): KeyObject[] {
  if (typeof kid !== 'string') return [...known.byId.values(), ...known.anonymous];
  const key = known.byId.get(kid);
  return key ? [key] : [];
}

function signatureHolds(
  jwt: ParsedJwt,
  key: KeyObject,
  algorithm: { hash: string; options?: object },
): boolean {
  try {
    return verify(algorithm.hash, jwt.signedPart, { key, ...algorithm.options }, jwt.signature);
  } catch {
    // A key of another type than the algorithm needs.
    return false;
  }
}

function toKnownKeys(issuer: string, keys: JsonWebKey[]): KnownKeys {
  const known: KnownKeys = { issuer, byId: new Map(), anonymous: [] };
  for (const jwk of keys) {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: 'jwk' });
    } catch {
      continue;
    }
    if (typeof jwk.kid === 'string') known.byId.set(jwk.kid, key);
    else known.anonymous.push(key);
  }
  return known;
}
