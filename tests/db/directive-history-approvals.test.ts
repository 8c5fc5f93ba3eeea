// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// What the console's directive page reads (fn_directive_history) about people and approvals, per
// caller: who asked and who decided by name (stagegate_private.fn_person, only for team-mates),
// the handoffs waiting for approval with can_decide / cannot_decide — the same rule, and the same
// code, as fn_decide_approval answers — can_edit as the update policies decide, and a directive
// waiting for approval marked on the board.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { approvalGate, APPROVERS, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA, USERS, type UserName } from '../helpers/people.ts';
import { execute, refusal, seedSd } from './_handoff-fixtures.ts';

describe('a directive\'s history: people and approvals as each caller sees them', () => {
  let db: FreshDatabase;
  const clients: postgres.Sql[] = [];
  const as = (who: UserName | 'service_role' | 'approver'): postgres.Sql => {
    const client = who === 'service_role' ? connectAs(db.url, who)
      : who === 'approver' ? connectAs(db.url, 'authenticated', { sub: APPROVERS[0], aud: 'authenticated' })
      : asUser(db.url, who);
    clients.push(client);
    return client;
  };
  const history = async (sql: postgres.Sql, sd: string) => (await sql<{ r: any }[]>`select public.fn_directive_history(${sd}) as r`)[0]!.r;
  const summary = async (sql: postgres.Sql, sd: string) =>
    (await sql<{ r: any }[]>`select public.fn_list_directives(${sql.json({ text: sd })}, 10) as r`)[0]!.r.items[0];
  const decideRefusal = (sql: postgres.Sql, attempt: string) => refusal(sql`select fn_decide_approval(${attempt}::uuid, 'approve', null)`);
  const SD = 'SD-HISTORY-APPROVAL';

  beforeAll(async () => {
    db = await freshDatabase();
    await seedPeople(db.sql);
    await seedApprovers(db.sql);
    // a name from the user's metadata (what sign-up and OAuth providers fill in) wins over the email
    await db.sql`update auth.users set raw_user_meta_data = '{"full_name": "Ada Approver"}' where id = ${APPROVERS[0]!}`;
    await approvalGate(db.sql, { required: 1, roles: ['LEAD'] });
    await seedSd(db.sql, { id: SD, phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, SD);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    await db.drop();
  });

  let attempt: string;

  it('a waiting handoff: who asked by name, and who may decide it, with the code the decision would be refused with', async () => {
    const waiting = await execute(as('lead'), SD, 'LEAD-TO-PLAN', 'req-history', [], 'sess-history');
    expect(waiting.verdict).toBe('awaiting_approval');
    attempt = waiting.attempt_id;

    const lead = await history(as('lead'), SD);
    expect(lead.directive).toMatchObject({ awaiting_approval: true, can_edit: true });
    expect(lead.approvals).toHaveLength(1);
    expect(lead.approvals[0]).toMatchObject({
      attempt_id: attempt, handoff_type: 'LEAD-TO-PLAN', status: 'awaiting_approval', approvals_needed: 1, approver_roles: ['LEAD'],
      requested_by: { user_id: USERS.lead, name: 'lead@example.test', email: 'lead@example.test' },
      gates: [{ code: 'LEAD_SIGNOFF', approvals: 0, approvals_required: 1 }], decisions: [], my_decision: null,
      can_decide: false, cannot_decide: { code: 'SELF_APPROVAL' },
    });
    expect(lead.approvals[0].deadline).toBeTruthy();
    expect(lead.attempts[0].requested_by).toEqual({ user_id: USERS.lead, name: 'lead@example.test', email: 'lead@example.test' });
    expect((await summary(as('lead'), SD)).awaiting_approval).toBe(true);

    // each refusal shown is the one fn_decide_approval answers for that caller
    const cases: [UserName | 'service_role', string, string][] = [['lead', 'SELF_APPROVAL', 'SG041'], ['plan', 'NOT_AN_APPROVER', 'SG042'], ['service_role', 'NOT_AN_APPROVER', 'SG042']];
    for (const [who, code, state] of cases) {
      const seen = (await history(as(who), SD)).approvals[0];
      expect({ who, can: seen.can_decide, code: seen.cannot_decide?.code }).toEqual({ who, can: false, code });
      expect({ who, refused: await decideRefusal(as(who), attempt) }).toMatchObject({ who, refused: { state, code } });
    }
    const approver = (await history(as('approver'), SD)).approvals[0];
    expect(approver).toMatchObject({ can_decide: true, cannot_decide: null });
  });

  it('can_edit follows the update policies: LEAD and PLAN yes, EXEC and VIEWER no', async () => {
    for (const [who, can] of [['plan', true], ['exec', false], ['viewer', false], ['service_role', true]] as const) {
      expect({ who, can: (await history(as(who), SD)).directive.can_edit }).toEqual({ who, can });
    }
  });

  it('after the approval: the decision by name, closed to everyone, the audit row\'s actor by name, no longer waiting', async () => {
    const [decided] = await as('approver')`select fn_decide_approval(${attempt}::uuid, 'approve', 'looks right') as r`;
    expect(decided!.r.verdict).toBe('accepted');
    const seen = await history(as('plan'), SD);
    expect(seen.directive).toMatchObject({ current_phase: 'PLAN', awaiting_approval: false });
    expect(seen.approvals[0]).toMatchObject({
      status: 'completed', verdict: 'accepted', can_decide: false, cannot_decide: { code: 'APPROVAL_CLOSED' },
      decisions: [{ by: { user_id: APPROVERS[0], name: 'Ada Approver', email: 'approver1@example.test' }, role: 'LEAD', decision: 'approve', comment: 'looks right' }],
    });
    const completed = seen.audit.filter((t: any) => t.status === 'completed');
    expect(completed.map((t: any) => t.actor)).toEqual([{ user_id: APPROVERS[0], name: 'Ada Approver', email: 'approver1@example.test' }]);
    const mine = (await history(as('approver'), SD)).approvals[0];
    expect(mine).toMatchObject({ my_decision: 'approve', can_decide: false, cannot_decide: { code: 'APPROVAL_CLOSED' } });
    expect((await summary(as('plan'), SD)).awaiting_approval).toBe(false);
  });

  it('names and emails only of team-mates: another team\'s member sees the id alone', async () => {
    const person = async (sql: postgres.Sql, id: string) => (await sql<{ p: any }[]>`select stagegate_private.fn_person(${id}::uuid) as p`)[0]!.p;
    expect(await person(as('outsider'), USERS.lead)).toEqual({ user_id: USERS.lead, name: null, email: null });
    expect(await person(as('outsider'), USERS.outsider)).toEqual({ user_id: USERS.outsider, name: 'outsider@example.test', email: 'outsider@example.test' });
    expect(await person(as('viewer'), APPROVERS[0]!)).toMatchObject({ name: 'Ada Approver' });
    expect(await person(as('service_role'), USERS.outsider)).toMatchObject({ email: 'outsider@example.test' });
    const anon = connectAs(db.url, 'anon');
    clients.push(anon);
    expect(await refusal(anon`select stagegate_private.fn_person(${USERS.lead}::uuid)`)).toMatchObject({ state: '42501' });
  });
});
