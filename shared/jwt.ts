// Supabase JSON Web Tokens, verified with `jose` (Web Crypto underneath, so the Node stack that
// mints the local keys, the Deno gateway and the functions share one implementation): the
// shared HS256 secret of a legacy project or the local stack, and the asymmetric signing keys
// (ES256 / RS256) of a current hosted project, read from its JWKS. Beyond the signature every
// token must carry `exp` (a token without one would never expire) and a string `role`; `nbf` is
// honoured; a user token (role `authenticated`) must name its user (`sub`) and its audience; `iss`
// is checked where issuers are configured. `alg: none` and every algorithm not listed are refused.
import {
  createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, SignJWT,
  type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey,
} from 'jose';

export interface JwtClaims {
  role?: string;
  sub?: string;
  exp?: number;
  iat?: number;
  nbf?: number;
  iss?: string;
  aud?: string | string[];
  [claim: string]: unknown;
}

/** The algorithms a Supabase project signs with: the legacy shared secret, and its asymmetric keys. */
export const SYMMETRIC_ALGORITHMS = ['HS256'] as const;
export const ASYMMETRIC_ALGORITHMS = ['ES256', 'RS256'] as const;
/** The audience Supabase Auth puts in every user's access token. */
export const USER_AUDIENCE = 'authenticated';

export interface JwtKeyConfig {
  /** The shared HS256 secret (legacy projects, the local stack). */
  secret?: string;
  /** The project's public signing keys, given inline (a JWKS document). */
  jwks?: JSONWebKeySet;
  /** Where to fetch the JWKS (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`); cached for cacheMaxAgeMs. */
  jwksUrl?: string;
  /** How long a fetched JWKS is reused before it is fetched again (an unknown `kid` refetches sooner). */
  jwksCacheMs?: number;
  /** Accepted `iss` values; empty or absent: not checked. */
  issuers?: readonly string[];
  /** The audience a user token must carry (default "authenticated"). */
  userAudience?: string;
}

export type JwtCheck = { ok: true; claims: JwtClaims } | { ok: false; reason: string };

const encoder = new TextEncoder();

/** Mints an HS256 token (the local stack's keys, tests). */
export async function signJwt(claims: JwtClaims, secret: string): Promise<string> {
  return await new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(encoder.encode(secret));
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token not yet valid';
    if (err.claim === 'exp') return 'token has no expiry';
    if (err.claim === 'iss') return 'wrong issuer';
    return `invalid ${err.claim} claim`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'invalid signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'unsupported algorithm';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no matching signing key';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return 'signing keys unavailable';
  if (err instanceof errors.JWTInvalid) return String(err.message).includes('JSON object') ? 'malformed claims' : 'malformed token';
  if (err instanceof errors.JWSInvalid) return 'malformed token';
  if (err instanceof errors.JOSEError) return 'invalid token';
  return 'signing keys unavailable';
}

/** Role, subject and audience rules that hold whatever signed the token. */
function checkIdentity(claims: JwtClaims, audience: string): string | null {
  if (typeof claims.role !== 'string' || claims.role === '') return 'role claim must be a non-empty string';
  if (claims.sub !== undefined && typeof claims.sub !== 'string') return 'sub claim must be a string';
  if (claims.role === 'authenticated') {
    if (typeof claims.sub !== 'string' || claims.sub === '') return 'a user token must carry sub';
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!aud.includes(audience)) return `a user token must have aud "${audience}"`;
  }
  return null;
}

export type JwtVerifier = (token: string) => Promise<JwtCheck>;

/** A verifier for one configuration; keep it for the process: it caches a fetched JWKS. */
export function jwtVerifier(config: JwtKeyConfig): JwtVerifier {
  const secret = config.secret ? encoder.encode(config.secret) : undefined;
  const sets: JWTVerifyGetKey[] = [];
  if (config.jwks) sets.push(createLocalJWKSet(config.jwks));
  if (config.jwksUrl) {
    sets.push(createRemoteJWKSet(new URL(config.jwksUrl), {
      cacheMaxAge: config.jwksCacheMs ?? 10 * 60_000,
      cooldownDuration: 30_000,
      timeoutDuration: 5_000,
    }));
  }
  const algorithms = [...(secret ? SYMMETRIC_ALGORITHMS : []), ...(sets.length > 0 ? ASYMMETRIC_ALGORITHMS : [])];
  const audience = config.userAudience ?? USER_AUDIENCE;
  const issuers = config.issuers && config.issuers.length > 0 ? [...config.issuers] : undefined;

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    let last: unknown = new errors.JWKSNoMatchingKey();
    for (const set of sets) {
      try {
        return await set(header, token);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };

  return async (token) => {
    if (algorithms.length === 0) return { ok: false, reason: 'no signing key configured' };
    try {
      decodeProtectedHeader(token);
    } catch {
      return { ok: false, reason: 'malformed token' };
    }
    try {
      const { payload } = await jwtVerify(token, getKey, { algorithms, issuer: issuers, requiredClaims: ['exp'] });
      const claims = payload as JwtClaims;
      const problem = checkIdentity(claims, audience);
      return problem ? { ok: false, reason: problem } : { ok: true, claims };
    } catch (err) {
      return { ok: false, reason: reasonOf(err) };
    }
  };
}

/** One-shot HS256 check (the shape older callers use). */
export function verifyJwt(token: string, secret: string): Promise<JwtCheck> {
  return jwtVerifier({ secret })(token);
}

/** Reads the bearer token of an Authorization header, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

/** The claims of a token without checking it (only for a token something else has verified). */
export function decodeClaims(token: string): JwtClaims | null {
  try {
    return decodeJwt(token) as JwtClaims;
  } catch {
    return null;
  }
}

function sameText(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export type AuthResult =
  | { ok: true; claims: JwtClaims; verifiedBy: 'signature' | 'service_role_key' }
  | { ok: false; reason: string };

/**
 * Who is calling a function. The gateway already checks the JWT where verify_jwt = true; a
 * function checks again itself, so a function deployed without the gateway check does not trust
 * a forged token: a JWT's signature is verified with the shared secret or the project's JWKS (see
 * jwtVerifier); an opaque service-role key (`sb_secret_…`, not a JWT) is recognised by
 * comparison with SUPABASE_SERVICE_ROLE_KEY. There is no unverified path: with no key configured
 * every token is refused.
 */
export async function authenticate(
  authorization: string | null,
  config: { verifier: JwtVerifier; serviceRoleKey?: string },
): Promise<AuthResult> {
  const token = bearerToken(authorization);
  if (!token) return { ok: false, reason: 'missing bearer token' };
  // An opaque secret key (not a JWT) can only be recognised; a JWT is always verified.
  if (config.serviceRoleKey && !token.includes('.') && sameText(token, config.serviceRoleKey)) {
    return { ok: true, claims: { role: 'service_role' }, verifiedBy: 'service_role_key' };
  }
  const check = await config.verifier(token);
  return check.ok ? { ok: true, claims: check.claims, verifiedBy: 'signature' } : check;
}
