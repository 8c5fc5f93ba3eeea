import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../stack/config.ts';
import { missingRpcs, REQUIRED_RPCS } from '../../shared/rpc-contract.ts';
import { authenticate, bearerToken, jwtVerifier, signJwt, verifyJwt } from '../../shared/jwt.ts';

describe('stack configuration', () => {
  it('fills the Supabase-like defaults', () => {
    const c = loadConfig({}, '/p');
    expect(c).toMatchObject({ apiPort: 54321, dbPort: 54322, dataDir: '/p/.stagegate', dataDirExplicit: false, databaseUrl: undefined, demo: true });
    // An explicit folder is used as given (no fallback for an unreachable checkout, see localDataDir).
    expect(loadConfig({ STAGEGATE_DATA_DIR: '/srv/sg' }, '/p')).toMatchObject({ dataDir: '/srv/sg', dataDirExplicit: true });
  });

  it('reports every bad value as structured JSON naming the variable', () => {
    try {
      loadConfig({ STAGEGATE_API_PORT: 'eighty', STAGEGATE_DB_PORT: '80', DATABASE_URL: 'mysql://x', STAGEGATE_JWT_SECRET: 'short' }, '/p');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const body = (err as ConfigError).toJSON();
      expect(body.error.code).toBe('INVALID_CONFIG');
      expect(body.error.details.map((d) => d.variable).sort()).toEqual(['DATABASE_URL', 'STAGEGATE_API_PORT', 'STAGEGATE_DB_PORT', 'STAGEGATE_JWT_SECRET']);
    }
  });

  it('refuses webhook secrets shorter than 32 bytes, accepting several for rotation', () => {
    const good = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const short = `whsec_${Buffer.alloc(31, 7).toString('base64')}`;
    expect(loadConfig({ OPS_WEBHOOK_SECRETS: `${good}, ${good}`, SUBAGENT_SIGNING_SECRET: good }, '/p').opsWebhookSecrets).toContain(good);
    expect(() => loadConfig({ OPS_WEBHOOK_SECRETS: `${good},${short}` }, '/p')).toThrow(/OPS_WEBHOOK_SECRETS/);
    expect(() => loadConfig({ SUBAGENT_SIGNING_SECRET: 'plain-text-secret' }, '/p')).toThrow(/SUBAGENT_SIGNING_SECRET/);
  });

  it('checks the V8 flags passed to the functions server', () => {
    expect(() => loadConfig({ STAGEGATE_DENO_V8_FLAGS: '--max-semi-space-size=2' }, '/p')).not.toThrow();
    expect(() => loadConfig({ STAGEGATE_DENO_V8_FLAGS: 'rm -rf /' }, '/p')).toThrow(/STAGEGATE_DENO_V8_FLAGS/);
  });

  it("refuses the functions' own bad settings before starting anything", () => {
    expect(() => loadConfig({ STAGEGATE_GATE_CONCURRENCY: 'lots' }, '/p')).toThrow(/STAGEGATE_GATE_CONCURRENCY/);
    expect(() => loadConfig({ STAGEGATE_DB_POOL: '0' }, '/p')).toThrow(/STAGEGATE_DB_POOL/);
    expect(() => loadConfig({ STAGEGATE_GATE_CONCURRENCY: '1' }, '/p')).not.toThrow();
  });

  it('refuses the same port for the API and the database', () => {
    expect(() => loadConfig({ STAGEGATE_API_PORT: '6000', STAGEGATE_DB_PORT: '6000' }, '/p')).toThrow(/must differ/);
  });
});

describe('pre-flight probe', () => {
  it('passes when every RPC is present with its signature, ignoring defaults and spacing', () => {
    const found = REQUIRED_RPCS.map((r) => ({ name: r.name, args: r.args.replace(/integer/g, 'integer DEFAULT NULL::integer') }));
    expect(missingRpcs(found)).toEqual([]);
  });

  it('names an RPC that is absent or has other arguments', () => {
    const found = REQUIRED_RPCS.slice(1).map((r) => ({ ...r }));
    found[0] = { name: found[0]!.name, args: 'p_attempt_id uuid' };
    const missing = missingRpcs(found);
    expect(missing).toHaveLength(2);
    expect(missing[0]).toMatch(/^public\.fn_begin_handoff\(/);
  });
});

describe('HS256 JWT', () => {
  const secret = 'x'.repeat(32);
  it('round-trips claims and rejects tampering, other algorithms, expiry and garbage', async () => {
    const token = await signJwt({ role: 'service_role', exp: 2_000_000_000 }, secret);
    expect(await verifyJwt(token, secret)).toEqual({ ok: true, claims: { role: 'service_role', exp: 2_000_000_000 } });
    const [h, p, s] = token.split('.') as [string, string, string];
    const forgedPayload = btoa(JSON.stringify({ role: 'service_role', exp: 2_000_000_001 })).replace(/=+$/, '');
    expect(await verifyJwt(`${h}.${forgedPayload}.${s}`, secret)).toMatchObject({ ok: false, reason: 'invalid signature' });
    const none = btoa(JSON.stringify({ alg: 'none' })).replace(/=+$/, '');
    expect(await verifyJwt(`${none}.${p}.${s}`, secret)).toMatchObject({ ok: false, reason: 'unsupported algorithm' });
    expect(await verifyJwt(await signJwt({ role: 'service_role', exp: 10 }, secret), secret)).toMatchObject({ ok: false, reason: 'token expired' });
    expect(await verifyJwt('a.b', secret)).toMatchObject({ ok: false, reason: 'malformed token' });
    expect(await verifyJwt('%%%.%%%.%%%', secret)).toMatchObject({ ok: false, reason: 'malformed token' });
    const arrayClaims = btoa('[1]');
    expect(await verifyJwt(`${h}.${arrayClaims}.${s}`, secret)).toMatchObject({ ok: false });
  });

  it('authenticates in the function itself: every JWT is verified, an opaque service key is compared', async () => {
    const verifier = jwtVerifier({ secret });
    const good = await signJwt({ role: 'service_role', exp: 2_000_000_000 }, secret);
    const forged = await signJwt({ role: 'service_role', exp: 2_000_000_000 }, 'y'.repeat(32));
    expect(await authenticate(`Bearer ${good}`, { verifier })).toMatchObject({ ok: true, verifiedBy: 'signature', claims: { role: 'service_role' } });
    // A JWT equal to the configured key is still verified: the comparison is only for opaque keys.
    expect(await authenticate(`Bearer ${forged}`, { verifier, serviceRoleKey: forged })).toMatchObject({ ok: false, reason: 'invalid signature' });
    expect(await authenticate('Bearer sb_secret_abc123', { verifier, serviceRoleKey: 'sb_secret_abc123' })).toMatchObject({ ok: true, verifiedBy: 'service_role_key', claims: { role: 'service_role' } });
    expect(await authenticate('Bearer sb_secret_abc124', { verifier, serviceRoleKey: 'sb_secret_abc123' })).toMatchObject({ ok: false });
    // No key configured: nothing is trusted (there is no unverified path).
    expect(await authenticate(`Bearer ${good}`, { verifier: jwtVerifier({}) })).toEqual({ ok: false, reason: 'no signing key configured' });
    expect(await authenticate(null, { verifier })).toEqual({ ok: false, reason: 'missing bearer token' });
    expect(await authenticate('Bearer not-a-jwt', { verifier })).toEqual({ ok: false, reason: 'malformed token' });
  });

  it('reads bearer tokens', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeNull();
    expect(bearerToken(null)).toBeNull();
  });
});
