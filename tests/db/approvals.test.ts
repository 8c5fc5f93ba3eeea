// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Approval gates: a handoff whose plan holds one waits (awaiting_approval) after its automated
// gates pass, and fn_decide_approval, under the caller's identity, settles it through the same
// complete path. Callers connect as PostgREST would run them (role authenticated + JWT claims).
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { approvalGate, APPROVERS, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA, USERS, type UserName } from '../helpers/people.ts';
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
    // a comment is prose: a control character is refused by name, nothing recorded
    expect(await refusal(decide(approver(1), id, 'reject', 'too wide\u0007'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect((await refusal(decide(approver(1), id, 'reject', 'too wide\u0007'))).message).toContain('p_comment contains a control character');
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

  it('a database-triggered handoff that waits for approval is done, with the waiting answer as its result', async () => {
    const sd = await newSd();
    const [req] = await db.sql<{ id: string }[]>`insert into handoff_requests (sd_id, handoff_type, session_id) values (${sd}, 'LEAD-TO-PLAN', 's-req') returning id`;
    const body = { verdict: 'awaiting_approval', attempt_id: '00000000-0000-4000-8000-000000000001', approvals: { approvals_needed: 1 } };
    const [done] = await db.sql`select fn_finish_handoff_request(${req!.id}::uuid, 202, ${db.sql.json(body)}) as r`;
    expect(done!.r).toMatchObject({ status: 'done', changed: true });
    const [row] = await db.sql`select status, verdict, error from handoff_requests where id = ${req!.id}`;
    expect(row).toMatchObject({ status: 'done', verdict: { verdict: 'awaiting_approval' }, error: null });
  });

  it('automated gates that fail reject at once, with no approval asked', async () => {
    await approvalGate(db.sql, { required: 1 });
    const sd = await newSd();
    const r = await execute(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}`, [{ code: 'SD_DEFINED', passed: false, score: 0, maxScore: 100 }], `sess-${sd}`);
    expect(r.verdict).toBe('rejected');
    expect(await db.sql`select 1 from approval_events where sd_id = ${sd}`).toHaveLength(0);
  });

  describe('overrides', () => {
    const override = async (sql: postgres.Sql, attemptId: string, reason: string | null) => {
      const [row] = await sql<{ r: Record<string, any> }[]>`select fn_override_handoff(${attemptId}::uuid, ${reason}) as r`;
      return row!.r;
    };
    /** A security directive (threshold 90) scored 80 by a non-required gate: rejected on the threshold. */
    const belowThreshold = async (requiredFails = false) => {
      await db.sql`update leo_sub_agents set active = false where kind = 'approval'`;
      await db.sql`insert into leo_sub_agents (code, kind, target, required, handoff_types, sd_types)
        values ('SOFT_REVIEW', 'builtin', 'review', false, '{LEAD-TO-PLAN}', '{security}'),
               ('HARD_REVIEW', 'builtin', 'review', true, '{LEAD-TO-PLAN}', '{security}')
        on conflict (code) do nothing`;
      const id = `SD-OVERRIDE-${++n}`;
      await seedSd(db.sql, { id, sdType: 'security', phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
      await intoTeam(db.sql, TEAM_ALPHA, id);
      const r = await execute(as('lead'), id, 'LEAD-TO-PLAN', `req-${id}`, [
        { code: 'SOFT_REVIEW', passed: false, score: 40, maxScore: 100 },
        { code: 'HARD_REVIEW', passed: !requiredFails, score: requiredFails ? 100 : 100, maxScore: 100 },
      ], `sess-${id}`);
      expect(r.verdict).toBe('rejected');
      return { sd: id, rejected: r };
    };

    it('a LEAD accepts a handoff below its threshold with a reason: its own attempt, audit row and event; counted by SD type', async () => {
      const { sd, rejected } = await belowThreshold();
      expect(rejected.failed_gate).toBe('SD_TYPE_THRESHOLD');
      expect(await refusal(override(approver(0), rejected.attempt_id, ' '))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
      const done = await override(approver(0), rejected.attempt_id, 'security review signed off on paper');
      expect(done).toMatchObject({ recorded: true, status: 'completed', verdict: 'accepted',
        override: { actor_id: APPROVERS[0], role: 'LEAD', reason: 'security review signed off on paper', failed_gate: 'SD_TYPE_THRESHOLD', threshold: 90 } });
      expect(Number(done.override.score)).toBeLessThan(90);
      expect(done.result.override).toMatchObject({ reason: 'security review signed off on paper' });
      expect(await sdRow(sd)).toEqual({ current_phase: 'PLAN', transition_version: 1 });
      const audits = await db.sql`select status, actor_id from sd_transition_audit where sd_id = ${sd} order by created_at`;
      expect(audits).toEqual([{ status: 'rejected', actor_id: USERS.lead }, { status: 'completed', actor_id: APPROVERS[0] }]);
      expect(await db.sql`select event from approval_events where sd_id = ${sd}`).toEqual([{ event: 'override' }]);
      // again: the first override, nothing new
      const again = await override(approver(1), rejected.attempt_id, 'me too');
      expect(again).toMatchObject({ recorded: false, override: { id: done.override.id } });
      const [m] = await db.sql`select fn_metrics_snapshot() as r`;
      expect(m!.r.overrides).toMatchObject({ security: 1, feature: 0 });
      // #18: a counter kept by the triggers on handoff_overrides, equal to a count of the rows
      const [c] = await db.sql`select fn_metrics_recount() -> 'overrides' as recount,
        (select sum(n)::int from metric_counters where metric = 'overrides' and day = '-infinity' and l1 = 'security') as counter`;
      expect(c).toEqual({ recount: m!.r.overrides, counter: 1 });
      expect(await invariants()).toEqual([]);
    });

    it('without the permission, or for a failed required gate that is not overridable, nothing happens', async () => {
      const { sd, rejected } = await belowThreshold();
      expect(await refusal(override(as('lead'), rejected.attempt_id, 'please\u001b[2J'))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
      expect(await refusal(override(as('plan'), rejected.attempt_id, 'please'))).toMatchObject({ state: 'SG044', code: 'OVERRIDE_NOT_ALLOWED' });
      expect(await refusal(override(as('outsider'), rejected.attempt_id, 'please'))).toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
      expect(await refusal(override(as('service_role'), rejected.attempt_id, 'please'))).toMatchObject({ state: 'SG044', code: 'OVERRIDE_NOT_ALLOWED' });
      // the permission is data: PLAN may once it is granted
      await db.sql`insert into override_permissions (role) values ('PLAN')`;
      try {
        expect((await override(as('plan'), rejected.attempt_id, 'granted')).verdict).toBe('accepted');
      } finally {
        await db.sql`delete from override_permissions where role = 'PLAN'`;
      }
      expect(await sdRow(sd)).toMatchObject({ current_phase: 'PLAN' });

      const hard = await belowThreshold(true);
      await db.sql`update leo_sub_agents set active = false where code = 'SOFT_REVIEW'`;
      const sd2 = `SD-OVERRIDE-${++n}`;
      await seedSd(db.sql, { id: sd2, sdType: 'security', phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
      await intoTeam(db.sql, TEAM_ALPHA, sd2);
      const failedGate = await execute(as('lead'), sd2, 'LEAD-TO-PLAN', `req-${sd2}`, [{ code: 'HARD_REVIEW', passed: false, score: 95, maxScore: 100 }], `sess-${sd2}`);
      expect(failedGate.failed_gate).toBe('HARD_REVIEW');
      const refused = await refusal(override(approver(0), failedGate.attempt_id, 'ship it'));
      expect(refused).toMatchObject({ state: 'SG045', code: 'NOT_OVERRIDABLE' });
      expect(refused.message).toMatch(/HARD_REVIEW .* not marked overridable/);
      expect(await sdRow(sd2)).toEqual({ current_phase: 'LEAD', transition_version: 0 });
      // unless the registry marks it overridable
      await db.sql`update leo_sub_agents set overridable = true where code = 'HARD_REVIEW'`;
      expect((await override(approver(0), failedGate.attempt_id, 'known false positive')).verdict).toBe('accepted');
      await db.sql`update leo_sub_agents set overridable = false, active = true where code in ('HARD_REVIEW', 'SOFT_REVIEW')`;
      // an accepted attempt is not overridable
      expect(await refusal(override(approver(0), (await db.sql`select attempt_id from handoff_overrides where overridden_attempt_id = ${failedGate.attempt_id}`)[0]!.attempt_id, 'x')))
        .toMatchObject({ state: 'SG045' });
      expect(hard.rejected.verdict).toBe('rejected');
      expect(await invariants()).toEqual([]);
    });
  });
});
