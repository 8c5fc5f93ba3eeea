// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Who may request a handoff, decided in SQL at begin from the transaction's identity, and who did
// what, recorded on every row. Callers connect as PostgREST would run them: role `authenticated`
// (or anon, service_role) with request.jwt.claims set.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { asUser, everyRow, intoTeam, seedPeople, TEAM_ALPHA, USERS, type UserName } from '../helpers/people.ts';
import { begin, complete, execute, gate, record, refusal, seedSd } from './_handoff-fixtures.ts';

describe('people: who may request a handoff', () => {
  let db: FreshDatabase;
  const clients: postgres.Sql[] = [];
  const as = (who: UserName | 'anon' | 'service_role' | 'nobody'): postgres.Sql => {
    const client = who === 'anon' || who === 'service_role' ? connectAs(db.url, who)
      : who === 'nobody' ? connectAs(db.url, 'authenticated') // a signed-in role without a user (no sub)
        : asUser(db.url, who);
    clients.push(client);
    return client;
  };
  let n = 0;
  const newSd = async (phase = 'LEAD') => {
    const id = `SD-PEOPLE-${++n}`;
    await seedSd(db.sql, { id, phase, stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, id);
    return id;
  };

  beforeAll(async () => {
    db = await freshDatabase();
    await seedPeople(db.sql);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    await db.drop();
  });

  // LEAD-TO-PLAN is the LEAD's (handoff_permissions' default); PLAN is a member with the wrong role.
  const matrix: { who: Parameters<typeof as>[0]; outcome: string }[] = [
    { who: 'anon', outcome: '42501' },
    { who: 'nobody', outcome: 'SG020' },
    { who: 'outsider', outcome: 'SG020' },
    { who: 'viewer', outcome: 'SG021' },
    { who: 'plan', outcome: 'SG021' },
    { who: 'lead', outcome: 'accepted' },
    { who: 'service_role', outcome: 'accepted' },
  ];
  for (const { who, outcome } of matrix) {
    it(`fn_execute_handoff LEAD-TO-PLAN as ${who}: ${outcome}${outcome.startsWith('SG') || outcome === '42501' ? ', and nothing is written' : ''}`, async () => {
      const sd = await newSd();
      const before = await everyRow(db.sql);
      const call = execute(as(who), sd, 'LEAD-TO-PLAN', `req-${who}-${sd}`, [], `sess-${who}`);
      if (outcome === 'accepted') {
        expect((await call).verdict).toBe('accepted');
        return;
      }
      const refused = await refusal(call);
      expect(refused.state).toBe(outcome);
      if (outcome === 'SG020') expect(refused.code).toBe('NOT_A_MEMBER');
      if (outcome === 'SG021') expect(refused.message).toMatch(/^ROLE_NOT_ALLOWED: LEAD-TO-PLAN may be requested by LEAD/);
      expect(await everyRow(db.sql)).toBe(before);
    });
  }

  it('a signed-in token whose sub is not a Supabase Auth user id is no user: NOT_A_MEMBER, not a malformed request', async () => {
    const sd = await newSd();
    const odd = connectAs(db.url, 'authenticated', { sub: `user-${'x'.repeat(40)}` });
    clients.push(odd);
    expect(await refusal(execute(odd, sd, 'LEAD-TO-PLAN', 'odd-sub', [], 's-odd'))).toMatchObject({ state: 'SG020', code: 'NOT_A_MEMBER' });
    expect(await odd`select count(*)::int as n from strategic_directives_v2`).toEqual([{ n: 0 }]);
  });

  it('follows handoff_permissions for every default handoff type', async () => {
    const sd = await newSd();
    expect((await execute(as('lead'), sd, 'LEAD-TO-PLAN', 'perm-1', [], 's-lead')).verdict).toBe('accepted');
    await db.sql`select fn_release_sd(${sd}, 's-lead')`.catch(() => {});
    await db.sql`delete from sd_claims where sd_id = ${sd}`;
    expect(await refusal(execute(as('lead'), sd, 'PLAN-TO-EXEC', 'perm-2', [], 's-lead'))).toMatchObject({ state: 'SG021' });
    expect((await execute(as('plan'), sd, 'PLAN-TO-EXEC', 'perm-3', [], 's-plan')).verdict).toBe('accepted');
    await db.sql`delete from sd_claims where sd_id = ${sd}`;
    expect(await refusal(execute(as('plan'), sd, 'EXEC-TO-PLAN', 'perm-4', [gate('STORIES_DONE')], 's-plan'))).toMatchObject({ state: 'SG021' });
    expect((await execute(as('exec'), sd, 'EXEC-TO-PLAN', 'perm-5', [gate('STORIES_DONE')], 's-exec')).verdict).toBe('accepted');
    await db.sql`delete from sd_claims where sd_id = ${sd}`;
    expect(await refusal(execute(as('exec'), sd, 'PLAN-TO-LEAD', 'perm-6', [], 's-exec'))).toMatchObject({ state: 'SG021' });
    expect((await execute(as('plan'), sd, 'PLAN-TO-LEAD', 'perm-7', [], 's-plan')).verdict).toBe('accepted');
  });

  it('audits changes of handoff_permissions, and a new permission takes effect at once', async () => {
    const sd = await newSd();
    expect(await refusal(execute(as('plan'), sd, 'LEAD-TO-PLAN', 'grant-1', [], 's-plan'))).toMatchObject({ state: 'SG021' });
    await as('service_role')`insert into handoff_permissions (handoff_type, role) values ('LEAD-TO-PLAN', 'PLAN')`;
    expect((await execute(as('plan'), sd, 'LEAD-TO-PLAN', 'grant-2', [], 's-plan')).verdict).toBe('accepted');
    await db.sql`delete from handoff_permissions where handoff_type = 'LEAD-TO-PLAN' and role = 'PLAN'`;
    const changes = await db.sql`select operation, handoff_type, role, actor_role, actor_via from handoff_permission_changes order by id`;
    expect(changes).toEqual([
      { operation: 'INSERT', handoff_type: 'LEAD-TO-PLAN', role: 'PLAN', actor_role: 'service_role', actor_via: 'sql' },
      { operation: 'DELETE', handoff_type: 'LEAD-TO-PLAN', role: 'PLAN', actor_role: 'postgres', actor_via: 'sql' },
    ]);
    // the audit cannot be edited, not even by the service role; members cannot change permissions
    expect(await refusal(as('service_role')`delete from handoff_permission_changes`)).toMatchObject({ state: '42501' });
    expect(await refusal(as('lead')`insert into handoff_permissions (handoff_type, role) values ('LEAD-TO-PLAN', 'VIEWER')`)).toMatchObject({ state: '42501' });
  });

  it('records who and which way in on the attempt, results, handoff record, audit row and claim', async () => {
    const sd = await newSd();
    const answer = await execute(as('lead'), sd, 'LEAD-TO-PLAN', 'who-1', [], 's-who');
    const who = { actor_id: USERS.lead, actor_role: 'authenticated', actor_via: 'sql' };
    const pick = (rows: any[]) => rows.map((r) => ({ actor_id: r.actor_id, actor_role: r.actor_role, actor_via: r.actor_via }));
    const [attempt] = await db.sql`select team_id from handoff_attempts where id = ${answer.attempt_id}`;
    expect(attempt!.team_id).toBe(TEAM_ALPHA);
    expect(pick(await db.sql`select * from handoff_attempts where id = ${answer.attempt_id}`)).toEqual([who]);
    const results = pick(await db.sql`select * from sub_agent_execution_results where attempt_id = ${answer.attempt_id}`);
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) expect(r).toEqual(who);
    expect(pick(await db.sql`select * from sd_phase_handoffs where attempt_id = ${answer.attempt_id}`)).toEqual([who]);
    expect(pick(await db.sql`select * from sd_transition_audit where attempt_id = ${answer.attempt_id}`)).toEqual([who]);
    // the claim: taken at begin, stamped; the LEAD may request nothing from PLAN, so it went with the handoff
    const [claimed] = await as('lead')`select fn_claim_sd(${await newSd('PLAN')}, 's-who-claim') as r`;
    expect(pick(await db.sql`select * from sd_claims where sd_id = ${claimed!.r.sd_id}`)).toEqual([who]);
    expect(await db.sql`select * from sd_claims where sd_id = ${sd}`).toEqual([]);

    // a direct database connection (the runbook's psql) is recorded as its role
    const other = await newSd();
    const direct = await execute(db.sql, other, 'LEAD-TO-PLAN', 'who-2', [], 's-psql');
    expect(await db.sql`select actor_id, actor_role, actor_via from sd_transition_audit where attempt_id = ${direct.attempt_id}`)
      .toEqual([{ actor_id: null, actor_role: 'postgres', actor_via: 'sql' }]);
  });

  it('records who changed a validation mode', async () => {
    await as('service_role')`select fn_set_validation_mode('*', 'WARN', 'people test', true)`;
    const [change] = await db.sql`select actor_id, actor_role, actor_via from validation_mode_changes order by id desc limit 1`;
    expect(change).toEqual({ actor_id: null, actor_role: 'service_role', actor_via: 'sql' });
    await db.sql`select fn_set_validation_mode('*', 'ENFORCE', 'people test', true)`;
  });

  it('a claim belongs to the user who took it: the same session id does not ride on it, nor learns it', async () => {
    const sd = await newSd('PLAN');
    // the LEAD holds the directive under session 'lead-secret-session'
    await as('lead')`select fn_claim_sd(${sd}, 'lead-secret-session')`;
    // the PLAN member names a session of their own: refused without learning the holder's session
    const other = await refusal(execute(as('plan'), sd, 'PLAN-TO-EXEC', 'claim-2', [], 'plan-session'));
    expect(other).toMatchObject({ state: 'SG005', code: 'CLAIMED_BY_OTHER_SESSION' });
    expect(other.message).not.toContain('lead-secret-session');
    expect(other.message).toContain('another session');
    // …and naming the holder's session id changes nothing: the claim is the LEAD's, not the id's
    const before = await everyRow(db.sql);
    const ride = await refusal(execute(as('plan'), sd, 'PLAN-TO-EXEC', 'claim-3', [], 'lead-secret-session'));
    expect(ride).toMatchObject({ state: 'SG005' });
    expect(ride.message).not.toContain('lead-secret-session');
    expect(await everyRow(db.sql)).toBe(before);
    const [phase] = await db.sql`select current_phase from strategic_directives_v2 where id = ${sd}`;
    expect(phase!.current_phase).toBe('PLAN');
    // the holder's own user, and the service role, are told which session holds it
    expect((await refusal(as('lead')`select fn_claim_sd(${sd}, 'lead-other-session')`)).message).toContain("'lead-secret-session'");
    expect((await refusal(as('service_role')`select fn_claim_sd(${sd}, 'svc')`)).message).toContain("'lead-secret-session'");
    // release by another user naming the session releases nothing
    const [rel] = await as('plan')`select fn_release_sd(${sd}, 'lead-secret-session') as r`;
    expect(rel!.r).toEqual({ sd_id: sd, released: false, held_by: 'another session' });
    // once released by its holder, the PLAN member may take it
    const [own] = await as('lead')`select fn_release_sd(${sd}, 'lead-secret-session') as r`;
    expect(own!.r.released).toBe(true);
    expect((await execute(as('plan'), sd, 'PLAN-TO-EXEC', 'claim-4', [], 'lead-secret-session')).verdict).toBe('accepted');
  });

  it('an accepted handoff hands the claim on when its requester may do nothing in the new phase', async () => {
    // the LEAD may request nothing from PLAN: their claim goes with LEAD-TO-PLAN, and the PLAN
    // member goes on at once instead of waiting out the 15-minute lease
    const sd = await newSd();
    expect((await execute(as('lead'), sd, 'LEAD-TO-PLAN', 'hand-1', [], 'lead-session')).verdict).toBe('accepted');
    expect(await db.sql`select session_id from sd_claims where sd_id = ${sd}`).toEqual([]);
    expect((await execute(as('plan'), sd, 'PLAN-TO-EXEC', 'hand-2', [], 'plan-session')).verdict).toBe('accepted');
    // a rejected handoff keeps it: the requester is still at work on the phase
    const kept = await newSd();
    await db.sql`update strategic_directives_v2 set description = null where id = ${kept}`;
    expect((await execute(as('lead'), kept, 'LEAD-TO-PLAN', 'hand-3', [], 'lead-session')).verdict).toBe('rejected');
    expect(await db.sql`select session_id from sd_claims where sd_id = ${kept}`).toEqual([{ session_id: 'lead-session' }]);
    // a requester who may go on from the new phase keeps it (here: LEADs may also request PLAN-TO-EXEC)
    const goesOn = await newSd();
    await db.sql`insert into handoff_permissions (handoff_type, role) values ('PLAN-TO-EXEC', 'LEAD')`;
    try {
      expect((await execute(as('lead'), goesOn, 'LEAD-TO-PLAN', 'hand-4', [], 'lead-session')).verdict).toBe('accepted');
      expect(await db.sql`select session_id from sd_claims where sd_id = ${goesOn}`).toEqual([{ session_id: 'lead-session' }]);
    } finally {
      await db.sql`delete from handoff_permissions where handoff_type = 'PLAN-TO-EXEC' and role = 'LEAD'`;
    }
    // automation keeps its claim while a handoff leads on, and gives it back when none does
    const auto = 'SD-PEOPLE-AUTO';
    await seedSd(db.sql, { id: auto, phase: 'EXEC_COMPLETE', stories: [{ key: 'US-1', status: 'validated' }] });
    await intoTeam(db.sql, TEAM_ALPHA, auto);
    const viaService = await newSd();
    expect((await execute(as('service_role'), viaService, 'LEAD-TO-PLAN', 'hand-5', [], 'bot')).verdict).toBe('accepted');
    expect(await db.sql`select session_id from sd_claims where sd_id = ${viaService}`).toEqual([{ session_id: 'bot' }]);
    const done = await execute(as('service_role'), auto, 'PLAN-TO-LEAD', 'hand-6', [], 'bot');
    expect(done, JSON.stringify(done.issues)).toMatchObject({ verdict: 'accepted', to_phase: 'COMPLETED' });
    expect(await db.sql`select session_id from sd_claims where sd_id = ${auto}`).toEqual([]);
  });

  it('a viewer cannot take a claim (it would block the team)', async () => {
    const sd = await newSd();
    expect(await refusal(as('viewer')`select fn_claim_sd(${sd}, 'v')`)).toMatchObject({ state: 'SG021', code: 'ROLE_NOT_ALLOWED' });
    expect(await refusal(as('outsider')`select fn_claim_sd(${sd}, 'o')`)).toMatchObject({ state: 'SG020', code: 'NOT_A_MEMBER' });
  });

  it('an attempt belongs to whoever began it: others cannot record into it, complete it or replay its request id', async () => {
    const sd = await newSd();
    const lead = as('lead');
    const attempt = await begin(lead, sd, 'LEAD-TO-PLAN', 'own-1', 's-own');
    const code = attempt.gates[0].code as string;
    // another member, even one who could run the type after a permission change, and an outsider
    for (const who of ['plan', 'outsider', 'nobody'] as const) {
      const c = as(who);
      expect(await refusal(record(c, attempt.attempt_id, code, gate(code)))).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
      expect(await refusal(complete(c, attempt.attempt_id))).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
    }
    expect(await refusal(begin(as('plan'), sd, 'LEAD-TO-PLAN', 'own-1', 's-own'))).toMatchObject({ state: 'SG001' });
    // the seed's entry point neither completes it for someone else nor names its session to them
    const seed = await refusal(as('plan')`select fn_atomic_lead_to_plan_transition(${sd}, null, 'guess', 'own-1')`);
    expect(seed).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
    expect(seed.message).not.toContain('s-own');
    // the owner and the service role may
    expect((await record(lead, attempt.attempt_id, code, gate(code))).idempotent_hit).toBe(false);
    expect((await begin(lead, sd, 'LEAD-TO-PLAN', 'own-1', 's-own')).replay).toBe(true);
    expect((await complete(as('service_role'), attempt.attempt_id)).verdict).toBe('accepted');
  });

  it('the runbook smoke test still runs unchanged on a direct connection', async () => {
    await db.sql`insert into strategic_directives_v2 (id, title, current_phase) values ('SD-TEST-ATOMIC-001', 'Test Atomic Transition', 'EXEC')`;
    const [r] = await db.sql`select fn_execute_handoff('SD-TEST-ATOMIC-001', 'EXEC-TO-PLAN', 'runbook', 'runbook-smoke-' || clock_timestamp(),
      ${db.sql.json([gate('STORIES_DONE')])}) as r`;
    expect(r!.r.verdict).toBe('accepted');
  });
});
