// The functions' settings and tokens on the real Deno server: a bad setting is reported by health
// and refused with 503 CONFIG_INVALID (never run with NaN); concurrency 1 (the runbook's emergency
// sequential mode) runs gates one after another; tokens signed with asymmetric keys (ES256,
// RS256) are verified against a JWKS served from a local HTTP server; and the log lines the
// runbook's troubleshooting greps for carry their numbers as JSON fields.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../stack/agent-server.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, startTestFunctions, type HandoffEnvironment, type TestFunctions } from '../helpers/functions.ts';

let env: HandoffEnvironment;
let badDb: FreshDatabase;
let bad: TestFunctions;
let jwksServer: http.Server;
let es: CryptoKeyPair;
let rs: CryptoKeyPair;

beforeAll(async () => {
  es = await generateKeyPair('ES256', { extractable: true });
  rs = await generateKeyPair('RS256', { extractable: true });
  const jwks = { keys: [{ ...(await exportJWK(es.publicKey)), kid: 'es-1', alg: 'ES256' }, { ...(await exportJWK(rs.publicKey)), kid: 'rs-1', alg: 'RS256' }] };
  jwksServer = http.createServer((_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks)); });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  env = await startHandoffEnvironment({ STAGEGATE_GATE_CONCURRENCY: '1', STAGEGATE_JWKS_URL: jwksUrl });
  badDb = await freshDatabase();
  bad = await startTestFunctions(badDb.url, { STAGEGATE_GATE_CONCURRENCY: 'five', STAGEGATE_DB_POOL: '0', OPS_WEBHOOK_SECRETS: generateWebhookSecret() });
});
afterAll(async () => {
  await env?.stop();
  await bad?.stop();
  await badDb?.drop();
  await new Promise<void>((r) => jwksServer.close(() => r()));
});

const call = async (fns: TestFunctions, fn: string, init: { method?: string; token?: string; body?: unknown } = {}) => {
  const response = await fetch(`${fns.functionsUrl}/${fn}`, {
    method: init.method ?? 'POST',
    headers: { authorization: `Bearer ${init.token ?? fns.serviceRoleKey}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: await response.json() };
};

describe('invalid settings', () => {
  it('health names each bad variable and answers 503', async () => {
    const health = await call(bad, 'health', { method: 'GET' });
    expect(health.status).toBe(503);
    expect(health.body.config.ok).toBe(false);
    expect(health.body.config.problems.map((p: { variable: string }) => p.variable).sort()).toEqual(['STAGEGATE_DB_POOL', 'STAGEGATE_GATE_CONCURRENCY']);
  });

  it('every function that depends on them refuses with 503 CONFIG_INVALID instead of running with NaN', async () => {
    const handoff = await call(bad, 'handoff', { body: { sd_id: 'SD-X', handoff_type: 'LEAD-TO-PLAN', session_id: 's' } });
    expect(handoff.status).toBe(503);
    expect(handoff.body.error).toMatchObject({ code: 'CONFIG_INVALID', details: { problems: expect.arrayContaining([expect.objectContaining({ variable: 'STAGEGATE_GATE_CONCURRENCY' })]) } });
    expect((await call(bad, 'metrics', { method: 'GET' })).body.error.code).toBe('CONFIG_INVALID');
    expect((await call(bad, 'ops-webhook', { body: { mode: 'WARN', reason: 'x' } })).body.error.code).toBe('CONFIG_INVALID');
    expect(await bad.logLine((l) => l.msg === 'invalid function settings' && l.code === 'CONFIG_INVALID')).toBeDefined();
  });
});

describe('STAGEGATE_GATE_CONCURRENCY=1 (emergency sequential mode)', () => {
  it('runs the gates one after another', async () => {
    await useOnlyAgents(env.db.sql, ['S1', 'S2', 'S3'].map((code) => ({ code, target: `${env.agents.url}/agents/${code.toLowerCase()}?delay=100` })));
    await seedDirective(env.db.sql, { id: 'SD-SEQ-1', phase: 'EXEC' });
    const answer = await call(env.fns, 'handoff', { body: { sd_id: 'SD-SEQ-1', handoff_type: 'EXEC-TO-PLAN', session_id: 's' } });
    expect(answer.body.verdict).toBe('accepted');
    const gates = [...answer.body.gates].sort((a: { startedAt: string }, b: { startedAt: string }) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
    for (let i = 1; i < gates.length; i++) expect(Date.parse(gates[i].startedAt)).toBeGreaterThanOrEqual(Date.parse(gates[i - 1].finishedAt));
  });
});

describe('the runbook\'s troubleshooting log lines', () => {
  it('logs "Gate X result normalized with N fix(es)" and the SD-type threshold that blocked, as JSON fields', async () => {
    // The test agents answer max_score (snake case): one fix per result. Score 60 passes the gate but not feature's 85.
    await useOnlyAgents(env.db.sql, [{ code: 'LOWISH', target: `${env.agents.url}/agents/lowish?score=60` }]);
    await seedDirective(env.db.sql, { id: 'SD-LOG-1', phase: 'EXEC', sdType: 'feature' });
    const answer = await call(env.fns, 'handoff', { body: { sd_id: 'SD-LOG-1', handoff_type: 'EXEC-TO-PLAN', session_id: 's' } });
    expect(answer.body).toMatchObject({ verdict: 'rejected', score: 60, threshold: 85 });
    const normalized = await env.fns.logLine((l) => l.msg === 'gate result normalized' && l.gate === 'LOWISH');
    expect(normalized).toMatchObject({ sd_id: expect.any(String), attempt_id: answer.body.attempt_id, fix_count: expect.any(Number), fixes: expect.any(Array) });
    expect(normalized!.fix_count).toBeGreaterThan(0);
    expect(normalized!.summary).toBe(`Gate LOWISH result normalized with ${normalized!.fix_count as number} fix(es)`);
    const threshold = await env.fns.logLine((l) => l.msg === 'SD-Type Threshold' && l.attempt_id === answer.body.attempt_id);
    expect(threshold).toMatchObject({ sd_type: 'feature', score: 60, threshold: 85, below_threshold: true, blocked: true, verdict: 'rejected' });
  });
});

describe('asymmetric signing keys on the real gateway and functions', () => {
  const sign = (alg: 'ES256' | 'RS256', claims: JWTPayload) =>
    new SignJWT(claims).setProtectedHeader({ alg, kid: alg === 'ES256' ? 'es-1' : 'rs-1' }).sign(alg === 'ES256' ? es.privateKey : rs.privateKey);
  const exp = () => Math.floor(Date.now() / 1000) + 600;

  it('accepts ES256 and RS256 tokens verified against the JWKS', async () => {
    expect((await call(env.fns, 'health', { method: 'GET', token: await sign('ES256', { role: 'service_role', exp: exp() }) })).status).toBe(200);
    const metrics = await fetch(`${env.fns.functionsUrl}/metrics`, { headers: { authorization: `Bearer ${await sign('RS256', { role: 'service_role', exp: exp() })}` } });
    expect(metrics.status).toBe(200);
    await metrics.text();
    const user = await sign('ES256', { role: 'authenticated', sub: 'user-es', aud: 'authenticated', exp: exp() });
    const answer = await call(env.fns, 'handoff', { token: user, body: { sd_id: 'SD-NONE-ES', handoff_type: 'EXEC-TO-PLAN', session_id: 's' } });
    expect(answer.status).not.toBe(401);
  });

  it('refuses with 401: wrong aud, no exp, nbf ahead, role as an array, a user without sub, alg none', async () => {
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const tokens = {
      wrongAud: await sign('ES256', { role: 'authenticated', sub: 'u', aud: 'other', exp: exp() }),
      noExp: await sign('ES256', { role: 'service_role' }),
      notYet: await sign('RS256', { role: 'service_role', nbf: exp() + 86_400, exp: exp() + 90_000 }),
      arrayRole: await sign('ES256', { role: ['service_role'], exp: exp() }),
      noSub: await sign('ES256', { role: 'authenticated', aud: 'authenticated', exp: exp() }),
      algNone: `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ role: 'service_role', exp: exp() })}.`,
    };
    for (const [name, token] of Object.entries(tokens)) {
      const answer = await call(env.fns, 'handoff', { token, body: { sd_id: 'SD-NONE', handoff_type: 'EXEC-TO-PLAN', session_id: 's' } });
      expect({ name, status: answer.status, code: answer.body.error?.code }).toEqual({ name, status: 401, code: 'UNAUTHORIZED' });
    }
  });
});
