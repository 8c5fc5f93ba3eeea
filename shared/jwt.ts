// HS256 JSON Web Tokens with Web Crypto only, so the Node stack (which mints the local keys) and
// the Deno gateway (which checks them) share one implementation. Hand-written rather than a
// library: HS256 is ~40 lines over crypto.subtle, and `jose` would be one more npm import to map
// for Deno.

export interface JwtClaims {
  role?: string;
  sub?: string;
  exp?: number;
  iat?: number;
  iss?: string;
  [claim: string]: unknown;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function decodeJson(part: string): unknown {
  return JSON.parse(new TextDecoder().decode(fromBase64url(part)));
}

function isClaims(value: unknown): value is JwtClaims {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hmacKey(secret: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [usage]);
}

export async function signJwt(claims: JwtClaims, secret: string): Promise<string> {
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign('HMAC', await hmacKey(secret, 'sign'), encoder.encode(`${header}.${payload}`));
  return `${header}.${payload}.${base64url(new Uint8Array(signature))}`;
}

export type JwtCheck = { ok: true; claims: JwtClaims } | { ok: false; reason: string };

/** Verifies signature (constant time, by crypto.subtle.verify), algorithm and expiry. */
export async function verifyJwt(token: string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<JwtCheck> {
  const parts = token.split('.');
  if (parts.length !== 3) return { ok: false, reason: 'malformed token' };
  const [header, payload, signature] = parts as [string, string, string];
  let decodedHeader: unknown;
  let claims: unknown;
  let signatureBytes: Uint8Array;
  try {
    decodedHeader = decodeJson(header);
    claims = decodeJson(payload);
    signatureBytes = fromBase64url(signature);
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  if (typeof decodedHeader !== 'object' || decodedHeader === null || (decodedHeader as { alg?: unknown }).alg !== 'HS256') {
    return { ok: false, reason: 'unsupported algorithm' };
  }
  if (!isClaims(claims)) return { ok: false, reason: 'malformed claims' };
  const valid = await crypto.subtle.verify(
    'HMAC',
    await hmacKey(secret, 'verify'),
    signatureBytes as Uint8Array<ArrayBuffer>,
    encoder.encode(`${header}.${payload}`),
  );
  if (!valid) return { ok: false, reason: 'invalid signature' };
  const exp = (claims as JwtClaims).exp;
  if (exp !== undefined && (typeof exp !== 'number' || exp <= nowSeconds)) return { ok: false, reason: 'token expired' };
  return { ok: true, claims: claims as JwtClaims };
}

/** Reads the bearer token of an Authorization header, or null. */
export function bearerToken(header: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1] ?? null;
}

/** The claims of a token without checking it (only for a token something else has verified). */
export function decodeClaims(token: string): JwtClaims | null {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const claims = decodeJson(payload);
    return isClaims(claims) ? claims : null;
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
  | { ok: true; claims: JwtClaims; verifiedBy: 'signature' | 'service_role_key' | 'gateway' }
  | { ok: false; reason: string };

/**
 * Who is calling a function. The gateway already checks the JWT where verify_jwt = true; a
 * function checks again itself whenever it can, so a function deployed without the gateway
 * check does not trust a forged token: with the JWT secret (STAGEGATE_JWT_SECRET, set by the
 * local stack; `supabase secrets set` it on hosted) the signature is verified; the service-role
 * key itself is recognised by comparison; only without either are the gateway's checked claims
 * read as they are, which is hosted Supabase's own arrangement.
 */
export async function authenticate(authorization: string | null, config: { jwtSecret?: string; serviceRoleKey?: string }): Promise<AuthResult> {
  const token = bearerToken(authorization);
  if (!token) return { ok: false, reason: 'missing bearer token' };
  if (config.jwtSecret) {
    const check = await verifyJwt(token, config.jwtSecret);
    return check.ok ? { ok: true, claims: check.claims, verifiedBy: 'signature' } : check;
  }
  if (config.serviceRoleKey && sameText(token, config.serviceRoleKey)) {
    const claims = decodeClaims(token);
    return claims ? { ok: true, claims, verifiedBy: 'service_role_key' } : { ok: false, reason: 'malformed token' };
  }
  const claims = decodeClaims(token);
  return claims ? { ok: true, claims, verifiedBy: 'gateway' } : { ok: false, reason: 'malformed token' };
}
