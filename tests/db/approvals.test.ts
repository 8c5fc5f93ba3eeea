// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Approval gates: a handoff whose plan holds one waits (awaiting_approval) after its automated
// gates pass, and fn_decide_approval, under the caller's identity, settles it through the same
// complete path. Callers connect as PostgREST would run them (role authenticated + JWT claims).
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { approvalGate, APPROVERS, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA, type UserName } from '../helpers/people.ts';
import { begin, complete, execute, refusal, seedSd } from './_handoff-fixtures.ts';

describe('approval gates', () => {
  let db: FreshDatabase;
  const clients: postgres.Sql[] = [];
  const as = (who: UserName | 'service_role'): postgres.Sql => {
    const client = who === 'service_role' ? connectAs(db.url, who) : asUser(db.url, who);
    clients.push(client);
    return client;
  };
  const approver = (i: number): postgres.Sql => {
    const client = connectAs(db.url, 'authenticated', { sub: APPROVERS[i], aud: 'authenticated' });
    clients.push(client);
    return client;
  };
  let n = 0;
  const newSd = async () => {
    const id = `SD-APPROVAL-${++n}`;
    await seedSd(db.sql, { id, phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, id);
    return id;
  };
  const decide = async (sql: postgres.Sql, attemptId: string, decision: string, comment: string | null = null) => {
    const [row] = await sql<{ r: Record<string, any> }[]>`select fn_decide_approval(${attemptId}::uuid, ${decision}, ${comment}) as r`;
    return row!.r;
  };
  const sdRow = async (id: string) => (await db.sql<{ current_phase: string; transition_version: number }[]>`
    select current_phase, transition_version from strategic_directives_v2 where id = ${id}`)[0]!;
  const invariants = async () => db.sql`select * from fn_check_invariants()`;
  /** LEAD requests LEAD-TO-PLAN: the automated gates pass, the attempt waits. */
  const requested = async (sd: string) => {
    const r = await execute(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}`, [], `sess-${sd}`);
    expect(r.verdict).toBe('awaiting_approval');
    return r;
  };

  beforeAll(async () => {
    db = await freshDatabase();
    await seedPeople(db.sql);
    await seedApprovers(db.sql);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    await db.drop();
  });

  it('two of three: the handoff waits, another handoff is refused, the second approval applies the transition once', async () => {
    await approvalGate(db.sql, { required: 2, roles: ['LEAD', 'PLAN'] });
    const sd = await newSd();
    const waiting = await requested(sd);
    expect(waiting).toMatchObject({
      status: 'awaiting_approval', audit_id: null, from_phase: 'LEAD', to_phase: 'LEAD',
      approvals: { approvals_needed: 2, approver_roles: ['LEAD', 'PLAN'], gates: [{ code: 'LEAD_SIGNOFF', approvals: 0, approvals_required: 2 }] },
    });
    const deadline = new Date(waiting.approvals.deadline).getTime();
    expect(deadline - Date.now()).toBeGreaterThan(71 * 3600_000);
    expect(await sdRow(sd)).toEqual({ current_phase: 'LEAD', transition_version: 0 });
    // the claim is held until the deadline; any other handoff of the directive is refused
    const [claim] = await db.sql`select expires_at from sd_claims where sd_id = ${sd}`;
    expect(new Date(claim!.expires_at).getTime()).toBe(deadline);
    expect(await refusal(begin(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}-again`, `sess-${sd}`)))
      .toMatchObject({ state: 'SG040', code: 'AWAITING_APPROVAL' });
    // the owner completing it again changes nothing
    const again = await complete(as('lead'), waiting.attempt_id);
    expect(again).toMatchObject({ verdict: 'awaiting_approval', replay: true });

    const first = await decide(as('plan'), waiting.attempt_id, 'approve', 'looks right');
    expect(first).toMatchObject({ recorded: true, status: 'awaiting_approval', decision: { role: 'PLAN', decision: 'approve' } });
    expect(first.result.approvals.approvals_needed).toBe(1);
    // a second decision by the same person changes nothing (even a different one)
    const repeat = await decide(as('plan'), waiting.attempt_id, 'reject', 'changed my mind');
    expect(repeat).toMatchObject({ recorded: false, status: 'awaiting_approval', decision: { decision: 'approve', comment: 'looks right' } });
    expect(await sdRow(sd)).toEqual({ current_phase: 'LEAD', transition_version: 0 });

    const second = await decide(approver(0), waiting.attempt_id, 'approve');
    expect(second).toMatchObject({ recorded: true, status: 'completed', verdict: 'accepted' });
    expect(second.result).toMatchObject({ verdict: 'accepted', from_phase: 'LEAD', to_phase: 'PLAN', transition_version: 1 });
    expect(await sdRow(sd)).toEqual({ current_phase: 'PLAN', transition_version: 1 });
    const audits = await db.sql`select status, actor_id from sd_transition_audit where attempt_id = ${waiting.attempt_id}`;
    expect(audits).toEqual([{ status: 'completed', actor_id: APPROVERS[0] }]);
    expect(await db.sql`select 1 from sd_claims where sd_id = ${sd}`).toHaveLength(0);
    const events = await db.sql`select event, payload from approval_events where attempt_id = ${waiting.attempt_id} order by id`;
    expect(events.map((e) => e.event)).toEqual(['approval_requested', 'approval_decided', 'approval_decided']);
    expect(events[2]!.payload).toMatchObject({ decision: 'approve', approver_id: APPROVERS[0], verdict: 'accepted' });
    expect(await db.sql`select 1 from transition_notifications where payload->>'attempt_id' = ${waiting.attempt_id}`).toHaveLength(1);
    // a decision after it settled
    expect(await refusal(decide(approver(1), waiting.attempt_id, 'approve'))).toMatchObject({ state: 'SG043', code: 'APPROVAL_CLOSED' });
    expect(await invariants()).toEqual([]);
  });

  it('who may decide: not the requester, not a member without an approver role, not outsiders or the service role', async () => {
    await approvalGate(db.sql, { required: 1, roles: ['LEAD', 'PLAN'] });
    const sd = await newSd();
    const { attempt_id: id } = await requested(sd);
    expect(await refusal(decide(as('lead'), id, 'approve'))).toMatchObject({ state: 'SG041', code: 'SELF_APPROVAL' });
    expect(await refusal(decide(as('viewer'), id, 'approve'))).toMatchObject({ state: 'SG042', code: 'NOT_AN_APPROVER' });
    const exec = await refusal(decide(as('exec'), id, 'approve'));
    expect(exec).toMatchObject({ state: 'SG042', code: 'NOT_AN_APPROVER' });
    expect(exec.message).toMatch(/is EXEC .* approved by LEAD or PLAN/);
    expect(await refusal(decide(as('outsider'), id, 'approve'))).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
    expect(await refusal(decide(as('service_role'), id, 'approve'))).toMatchObject({ state: 'SG042', code: 'NOT_AN_APPROVER' });
    expect(await refusal(decide(as('plan'), id, 'maybe'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect(await refusal(decide(as('plan'), id, 'reject', '  '))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect(await db.sql`select 1 from approval_decisions where attempt_id = ${id}`).toHaveLength(0);
    expect(await sdRow(sd)).toEqual({ current_phase: 'LEAD', transition_version: 0 });
  });

  it('a rejection rejects the attempt with the comment, audited; the directive is free again', async () => {
    await approvalGate(db.sql, { required: 2 });
    const sd = await newSd();
    const { attempt_id: id } = await requested(sd);
    await decide(approver(0), id, 'approve');
    const rejected = await decide(approver(1), id, 'reject', 'the scope is too wide');
    expect(rejected).toMatchObject({ recorded: true, status: 'rejected', verdict: 'rejected' });
    expect(rejected.result.failed_gate).toBe('LEAD_SIGNOFF');
    expect(rejected.result.issues).toContainEqual(expect.stringMatching(/rejected by .*\(LEAD\): the scope is too wide$/));
    const [audit] = await db.sql`select status, failed_gate from sd_transition_audit where attempt_id = ${id}`;
    expect(audit).toEqual({ status: 'rejected', failed_gate: 'LEAD_SIGNOFF' });
    expect(await sdRow(sd)).toEqual({ current_phase: 'LEAD', transition_version: 0 });
    // free again: a new request waits for approval again
    const next = await execute(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}-2`, [], `sess-${sd}`);
    expect(next.verdict).toBe('awaiting_approval');
    expect(await invariants()).toEqual([]);
  });

  it('the sweep expires an attempt past its deadline: audited, claim released, decisions closed', async () => {
    await approvalGate(db.sql, { required: 1, expiry: '1 hour' });
    const sd = await newSd();
    const { attempt_id: id, approvals } = await requested(sd);
    expect(new Date(approvals.deadline).getTime() - Date.now()).toBeLessThan(3600_000 + 1000);
    expect((await db.sql`select fn_sweep_expired_approvals() as r`)[0]!.r).toEqual({ expired_approvals: 0 });
    await db.sql`update handoff_attempts set approval_deadline = now() - interval '1 second' where id = ${id}`;
    expect((await db.sql`select fn_sweep_expired_approvals() as r`)[0]!.r).toEqual({ expired_approvals: 1 });
    const [attempt] = await db.sql`select status, result from handoff_attempts where id = ${id}`;
    expect(attempt!.status).toBe('expired');
    expect(attempt!.result).toMatchObject({ verdict: 'expired', error: { error_code: 'APPROVAL_EXPIRED' } });
    expect(await db.sql`select status from sd_transition_audit where attempt_id = ${id}`).toEqual([{ status: 'expired' }]);
    expect(await db.sql`select 1 from sd_claims where sd_id = ${sd}`).toHaveLength(0);
    expect(await refusal(decide(approver(0), id, 'approve'))).toMatchObject({ state: 'SG043', code: 'APPROVAL_CLOSED' });
    const events = await db.sql`select event from approval_events where attempt_id = ${id} order by id`;
    expect(events.map((e) => e.event)).toEqual(['approval_requested', 'approval_expired']);
    // the relay sends them on NOTIFY stagegate_approval, once
    const heard: string[] = [];
    const listener = await db.sql.listen('stagegate_approval', (p) => heard.push(JSON.parse(p).event));
    await db.sql`select fn_sweep_approval_events()`;
    await db.sql`select fn_sweep_approval_events()`;
    await new Promise((r) => setTimeout(r, 200));
    await listener.unlisten();
    expect(heard.filter((e) => e === 'approval_expired')).toHaveLength(1);
    expect(await invariants()).toEqual([]);
  });

  it('ten approvers at once, three needed: three decisions recorded, exactly one transition', async () => {
    await approvalGate(db.sql, { required: 3 });
    const sd = await newSd();
    const { attempt_id: id } = await requested(sd);
    const outcomes = await Promise.allSettled(APPROVERS.map((_, i) => decide(approver(i), id, 'approve')));
    const ok = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(ok).toHaveLength(3);
    expect(refused.map((r) => (r.reason as { code: string }).code)).toEqual(Array(7).fill('SG043'));
    expect(await sdRow(sd)).toEqual({ current_phase: 'PLAN', transition_version: 1 });
    expect(await db.sql`select status from sd_transition_audit where attempt_id = ${id}`).toEqual([{ status: 'completed' }]);
    expect(await db.sql`select 1 from approval_decisions where attempt_id = ${id}`).toHaveLength(3);
    expect(await invariants()).toEqual([]);
  });

  it('automated gates that fail reject at once, with no approval asked', async () => {
    await approvalGate(db.sql, { required: 1 });
    const sd = await newSd();
    const r = await execute(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}`, [{ code: 'SD_DEFINED', passed: false, score: 0, maxScore: 100 }], `sess-${sd}`);
    expect(r.verdict).toBe('rejected');
    expect(await db.sql`select 1 from approval_events where sd_id = ${sd}`).toHaveLength(0);
  });
});
