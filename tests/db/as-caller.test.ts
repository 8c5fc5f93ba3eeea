// shared/rpc.ts runs the handoff RPCs under the caller's identity, the way PostgREST runs a
// request: role and request.jwt.claims set for one transaction on a pooled connection, nothing
// left behind on the connection for the next caller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapDbError } from '../../shared/errors.ts';
import { asCaller, callerFromClaims, callerRpc, type Caller } from '../../shared/rpc.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { intoTeam, seedPeople, TEAM_ALPHA, USERS } from '../helpers/people.ts';
import { seedSd } from './_handoff-fixtures.ts';

const user = (sub: string): Caller => ({ role: 'authenticated', claims: { role: 'authenticated', sub, aud: 'authenticated' }, via: 'http' });

describe('shared/rpc.ts: calls as the caller', () => {
  let db: FreshDatabase;
  beforeAll(async () => {
    db = await freshDatabase({ max: 1 }); // one connection: a leak from one caller would reach the next
    await seedPeople(db.sql);
  });
  afterAll(async () => { await db.drop(); });

  it('callerFromClaims accepts only the two string roles that may run handoffs', () => {
    expect(callerFromClaims({ role: 'authenticated', sub: USERS.lead }, 'http')).toEqual({ role: 'authenticated', claims: { role: 'authenticated', sub: USERS.lead }, via: 'http' });
    expect(callerFromClaims({ role: 'service_role' }, 'trigger')?.role).toBe('service_role');
    expect(callerFromClaims({ role: 'anon' }, 'http')).toBeNull();
    expect(callerFromClaims({ role: ['service_role'] }, 'http')).toBeNull();
    expect(callerFromClaims({}, 'http')).toBeNull();
  });

  it('sets role, claims and the way in for one transaction only', async () => {
    const [inside] = await asCaller(db.sql, user(USERS.plan), (tx) => tx`select * from stagegate_private.current_actor()`);
    expect(inside).toEqual({ user_id: USERS.plan, role: 'authenticated', via: 'http', privileged: false });
    const [after] = await db.sql`select * from stagegate_private.current_actor()`;
    expect(after).toEqual({ user_id: null, role: 'postgres', via: 'sql', privileged: true });
  });

  it('begin, record and complete as a permitted member; a refusal maps to 403 with its code', async () => {
    await seedSd(db.sql, { id: 'SD-ASCALLER-1', phase: 'LEAD' });
    await intoTeam(db.sql, TEAM_ALPHA, 'SD-ASCALLER-1');
    const a = { sdId: 'SD-ASCALLER-1', handoffType: 'LEAD-TO-PLAN', sessionId: 's', requestId: 'as-caller-1' };
    const refused = await callerRpc(db.sql, user(USERS.viewer)).beginWithBreakers(a).catch((e: unknown) => e);
    expect(mapDbError(refused)).toMatchObject({ code: 'ROLE_NOT_ALLOWED', status: 403 });
    const refusedOutsider = await callerRpc(db.sql, user(USERS.outsider)).beginWithBreakers(a).catch((e: unknown) => e);
    expect(mapDbError(refusedOutsider)).toMatchObject({ code: 'NOT_A_MEMBER', status: 403 });

    const lead = callerRpc(db.sql, user(USERS.lead));
    const begun = await lead.beginWithBreakers(a);
    expect(begun).toMatchObject({ status: 'in_progress', troubled_breakers: [] });
    for (const g of begun.gates) {
      await lead.recordGateResult({ attemptId: begun.attempt_id, code: g.code, result: { passed: true, score: 100, maxScore: 100 }, idempotencyKey: null, durationMs: 1, attempts: 1 });
    }
    expect((await lead.complete(begun.attempt_id)).verdict).toBe('accepted');
    const [audit] = await db.sql`select actor_id, actor_role, actor_via from sd_transition_audit where attempt_id = ${begun.attempt_id}`;
    expect(audit).toEqual({ actor_id: USERS.lead, actor_role: 'authenticated', actor_via: 'http' });
    // without a caller: the connection's own identity
    await seedSd(db.sql, { id: 'SD-ASCALLER-2', phase: 'LEAD' });
    const own = await callerRpc(db.sql, null).beginWithBreakers({ ...a, sdId: 'SD-ASCALLER-2', requestId: 'as-caller-2' });
    const [attempt] = await db.sql`select actor_role from handoff_attempts where id = ${own.attempt_id}`;
    expect(attempt!.actor_role).toBe('postgres');
  });
});
