// Idempotency-Key edge cases (issue #15): only an answer that is final for its body is stored and
// replayed — a 409 WRONG_PHASE or a 404 SD_NOT_FOUND depends on the data, so the same key runs
// again once the data changed — and the scope is a digest, so any caller's `sub` fits its column.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { isFinalAnswer } from '../../shared/idempotency.ts';
import type { FreshDatabase } from '../helpers/db.ts';
import { seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, TEST_JWT_SECRET, type HandoffEnvironment, type TestFunctions } from '../helpers/functions.ts';

let env: HandoffEnvironment;
let db: FreshDatabase;
let fns: TestFunctions;

beforeAll(async () => {
  env = await startHandoffEnvironment();
  ({ db, fns } = env);
  await useOnlyAgents(db.sql, [{ code: 'ONE', target: `${env.agents.url}/agents/one` }]);
});
afterAll(async () => { await env?.stop(); });

async function post(body: unknown, key: string, token = fns.serviceRoleKey) {
  const response = await fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  return { status: response.status, replayed: response.headers.get('idempotent-replayed') === 'true', body: await response.json() };
}

const stored = (key: string) => db.sql<{ scope: string; status: string; response_status: number | null }[]>`
  select scope, status, response_status from public.http_idempotency_keys where key = ${key}`;

describe('which answers are stored under an Idempotency-Key', () => {
  it('does not store a 404 SD_NOT_FOUND: once the directive exists, the same key runs the handoff', async () => {
    const body = { sd_id: 'SD-IDEM-LATER', handoff_type: 'EXEC-TO-PLAN', session_id: 's-idem' };
    const missing = await post(body, 'idem-later');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('SD_NOT_FOUND');
    expect(await stored('idem-later')).toEqual([]);
    await seedDirective(db.sql, { id: 'SD-IDEM-LATER', phase: 'EXEC' });
    const ran = await post(body, 'idem-later');
    expect(ran).toMatchObject({ status: 200, replayed: false, body: { verdict: 'accepted' } });
    // Now final: the same key replays it.
    expect(await post(body, 'idem-later')).toMatchObject({ status: 200, replayed: true, body: { audit_id: ran.body.audit_id } });
  });

  it('does not store a 409 WRONG_PHASE: after the phase moved on, the same key runs the handoff', async () => {
    await seedDirective(db.sql, { id: 'SD-IDEM-PHASE', phase: 'LEAD' });
    const body = { sd_id: 'SD-IDEM-PHASE', handoff_type: 'PLAN-TO-EXEC', session_id: 's-phase' };
    const early = await post(body, 'idem-phase');
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('WRONG_PHASE');
    expect(await stored('idem-phase')).toEqual([]);
    const toPlan = await post({ sd_id: 'SD-IDEM-PHASE', handoff_type: 'LEAD-TO-PLAN', session_id: 's-phase' }, 'idem-phase-lead');
    expect(toPlan.body).toMatchObject({ verdict: 'accepted', phase_after: 'PLAN' });
    const ran = await post(body, 'idem-phase');
    expect(ran).toMatchObject({ status: 200, replayed: false, body: { verdict: 'accepted', phase_before: 'PLAN' } });
  });

  it('classifies answers: 2xx and body-determined 4xx are final, data- and time-dependent ones are not', () => {
    const err = (code: string) => ({ error: { code, message: '', details: null } });
    expect(isFinalAnswer(200, { verdict: 'rejected' })).toBe(true);
    expect(isFinalAnswer(202, { verdict: 'awaiting_approval' })).toBe(false);
    expect(isFinalAnswer(400, err('INVALID_INPUT'))).toBe(true);
    expect(isFinalAnswer(400, err('UNKNOWN_HANDOFF_TYPE'))).toBe(true);
    for (const [status, code] of [[409, 'WRONG_PHASE'], [409, 'SD_BUSY'], [409, 'CLAIMED_BY_OTHER_SESSION'], [409, 'VERSION_CONFLICT'],
      [409, 'ALREADY_TRANSITIONED'], [404, 'SD_NOT_FOUND'], [403, 'FORBIDDEN'], [422, 'INVALID_GATE_RESULT'], [503, 'DB_UNAVAILABLE'], [500, 'INTERNAL']] as const) {
      expect({ code, final: isFinalAnswer(status, err(code)) }).toEqual({ code, final: false });
    }
  });
});

describe('the Idempotency-Key scope', () => {
  it('fits its column whatever the caller\'s sub: a 300-character sub is not a 400', async () => {
    await seedDirective(db.sql, { id: 'SD-IDEM-SUB', phase: 'EXEC' });
    const sub = `user-${'x'.repeat(295)}`;
    const token = await signJwt({ role: 'authenticated', sub, aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET);
    const body = { sd_id: 'SD-IDEM-SUB', handoff_type: 'EXEC-TO-PLAN', session_id: 's-sub' };
    const first = await post(body, 'idem-long-sub', token);
    expect(first.status).not.toBe(400);
    expect(first.status).toBeLessThan(500);
    const again = await post(body, 'idem-long-sub', token);
    expect(again.status).toBe(first.status);
    if (first.status === 200) {
      expect(again.replayed).toBe(true);
      const [row] = await stored('idem-long-sub');
      expect(row!.scope).toMatch(/^handoff:authenticated:[0-9a-f]{64}$/);
    }
    // Two users never share a scope: another sub with the same key and body is not a replay of it.
    const other = await signJwt({ role: 'authenticated', sub: `${sub}y`, aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET);
    expect((await post(body, 'idem-long-sub', other)).replayed).toBe(false);
  });
});
