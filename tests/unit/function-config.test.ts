// The functions' settings (shared/function-config.ts): every value checked, every problem named
// by its variable, and every setting documented in the README.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_SETTINGS, parseFunctionEnv } from '../../shared/function-config.ts';
import { INT4_MAX, safeProse, safeText, int4 } from '../../shared/safe-text.ts';
import { idempotencyScope } from '../../shared/idempotency.ts';

const base = { STAGEGATE_JWT_SECRET: 'x'.repeat(32) };

describe('function settings', () => {
  it('defaults every number and derives the JWKS URL from SUPABASE_URL', () => {
    const r = parseFunctionEnv({ ...base, SUPABASE_URL: 'https://ref.supabase.co/' });
    expect(r).toMatchObject({ ok: true, jwksUrl: 'https://ref.supabase.co/auth/v1/.well-known/jwks.json', env: { STAGEGATE_GATE_CONCURRENCY: 5, STAGEGATE_DB_POOL: 10, STAGEGATE_MODE_TTL_MS: 5000, STAGEGATE_JWT_AUDIENCE: 'authenticated', STAGEGATE_JWT_ISSUER: [] } });
    expect(parseFunctionEnv({ ...base, STAGEGATE_GATE_CONCURRENCY: '1', STAGEGATE_JWT_ISSUER: 'a, b' })).toMatchObject({ ok: true, env: { STAGEGATE_GATE_CONCURRENCY: 1, STAGEGATE_JWT_ISSUER: ['a', 'b'] } });
    // An empty value is the default, as an unset one.
    expect(parseFunctionEnv({ ...base, STAGEGATE_DB_POOL: '' })).toMatchObject({ ok: true, env: { STAGEGATE_DB_POOL: 10 } });
  });

  it('names every bad value instead of running with NaN', () => {
    for (const [variable, value] of [['STAGEGATE_GATE_CONCURRENCY', 'abc'], ['STAGEGATE_GATE_CONCURRENCY', '0'], ['STAGEGATE_GATE_CONCURRENCY', '2.5'],
      ['STAGEGATE_DB_POOL', '-1'], ['STAGEGATE_MODE_TTL_MS', '1e3'], ['STAGEGATE_METRICS_TIMEOUT_MS', 'NaN'], ['STAGEGATE_JWT_SECRET', 'short'],
      ['SUPABASE_JWKS', '{"keys":[]}'], ['SUPABASE_JWKS', 'not json'], ['STAGEGATE_JWKS_URL', 'ftp://x'], ['SUBAGENT_SIGNING_SECRET', 'whsec_short']] as const) {
      const r = parseFunctionEnv({ ...base, [variable]: value });
      expect({ variable, value, problems: r.ok ? [] : r.problems.map((p) => p.variable) }).toEqual({ variable, value, problems: [variable] });
    }
  });

  it('takes the approval webhook URL and secret together or not at all', () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    expect(parseFunctionEnv({ ...base, STAGEGATE_APPROVAL_WEBHOOK_URL: 'https://bot.example/hooks', STAGEGATE_APPROVAL_WEBHOOK_SECRET: secret }))
      .toMatchObject({ ok: true, env: { STAGEGATE_APPROVAL_WEBHOOK_URL: 'https://bot.example/hooks', STAGEGATE_APPROVAL_WEBHOOK_SECRET: secret } });
    expect(parseFunctionEnv({ ...base, STAGEGATE_APPROVAL_WEBHOOK_URL: 'https://bot.example/hooks' }))
      .toMatchObject({ ok: false, problems: [{ variable: 'STAGEGATE_APPROVAL_WEBHOOK_SECRET' }] });
    expect(parseFunctionEnv({ ...base, STAGEGATE_APPROVAL_WEBHOOK_SECRET: secret }))
      .toMatchObject({ ok: false, problems: [{ variable: 'STAGEGATE_APPROVAL_WEBHOOK_URL' }] });
    expect(parseFunctionEnv({ ...base, STAGEGATE_APPROVAL_WEBHOOK_URL: 'https://bot.example/hooks', STAGEGATE_APPROVAL_WEBHOOK_SECRET: 'whsec_short' }))
      .toMatchObject({ ok: false, problems: [{ variable: 'STAGEGATE_APPROVAL_WEBHOOK_SECRET' }] });
  });

  it('refuses a configuration with no way to verify tokens', () => {
    expect(parseFunctionEnv({})).toMatchObject({ ok: false, problems: [{ variable: 'STAGEGATE_JWT_SECRET' }] });
    expect(parseFunctionEnv({ SUPABASE_JWKS: '{"keys":[{"kty":"EC"}]}' })).toMatchObject({ ok: true, jwksUrl: undefined });
  });

  it('every setting is documented in the README', () => {
    const readme = fs.readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
    expect(FUNCTION_SETTINGS.filter((v) => !readme.includes(`\`${v}\``))).toEqual([]);
  });
});

describe('text and integers PostgreSQL takes as they are', () => {
  it('refuses control characters and lone surrogates; prose keeps tab and newline', () => {
    for (const bad of ['a\u0000b', '\u0001', 'x\u007f', '\u0085', 'a\tb', 'a\nb', '\ud800', 'x\udc00', '\udc00\ud800']) expect(safeText().safeParse(bad).success).toBe(false);
    for (const good of ['SD-1', 'ü 😀 𝕏', '\ud83d\ude00']) expect(safeText().safeParse(good).success).toBe(true);
    expect(safeProse().safeParse('line 1\nline 2\tend').success).toBe(true);
    expect(safeProse().safeParse('nul\u0000').success).toBe(false);
  });

  it('bounds integers to int4', () => {
    expect(int4(0).safeParse(INT4_MAX).success).toBe(true);
    expect(int4(0).safeParse(INT4_MAX + 1).success).toBe(false);
    expect(int4(0).safeParse(3_000_000_000).success).toBe(false);
    expect(int4().safeParse(-(2 ** 31) - 1).success).toBe(false);
  });
});

describe('idempotency scope', () => {
  it('fits the column (1..255 printable ASCII) whatever the sub, and differs per caller', async () => {
    const long = await idempotencyScope('handoff', 'authenticated', 'ü'.repeat(1000));
    expect(long).toMatch(/^handoff:authenticated:[0-9a-f]{64}$/);
    expect(await idempotencyScope('handoff', 'authenticated', 'a')).not.toBe(await idempotencyScope('handoff', 'authenticated', 'b'));
    expect(await idempotencyScope('handoff', 'service_role', undefined)).toMatch(/^handoff:service_role:[0-9a-f]{64}$/);
  });
});

describe('sub-agent results with unstorable text', () => {
  it('replaces NUL and lone surrogates anywhere in a gate result, as a recorded fix', async () => {
    const { normalizeGateResult } = await import('../../shared/gate-result.ts');
    const r = normalizeGateResult({ passed: true, score: 90, maxScore: 100, issues: ['a\u0000b'], warnings: ['\ud800'], details: { 'k\u0000': ['\udc00x'] } }, 'G');
    expect(r).toMatchObject({ ok: true, result: { issues: ['a\ufffdb'], warnings: ['\ufffd'], details: { 'k\ufffd': ['\ufffdx'] } } });
    expect(r.ok && r.fixes).toEqual(['replaced 4 unstorable character(s) (NUL, lone surrogate) with U+FFFD']);
    expect(normalizeGateResult({ passed: true, score: 90, maxScore: 100, issues: ['😀 ok'], warnings: [] }, 'G')).toMatchObject({ ok: true, fixes: [] });
  });
});
