// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// A handoff waiting for approval holds its session's claim until the deadline (16_approvals), so
// that the approvers' decision can complete it. The requester can give that claim back or renew
// it for less (fn_release_sd, fn_claim_sd); another session may then claim the directive. The
// approvers' decision must still settle the handoff — the directive's history tells them they may
// decide (can_decide) — instead of failing with SG005 CLAIMED_BY_OTHER_SESSION for as long as
// somebody else keeps a claim.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { approvalGate, APPROVERS, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA, type UserName } from '../helpers/people.ts';
import { execute, seedSd } from './_handoff-fixtures.ts';

describe('a handoff waiting for approval and the claim on its directive', () => {
  let db: FreshDatabase;
  const clients: postgres.Sql[] = [];
  const as = (who: UserName | 'approver'): postgres.Sql => {
    const client = who === 'approver' ? connectAs(db.url, 'authenticated', { sub: APPROVERS[0], aud: 'authenticated' }) : asUser(db.url, who);
    clients.push(client);
    return client;
  };
  const history = async (sql: postgres.Sql, sd: string) => (await sql<{ r: any }[]>`select public.fn_directive_history(${sd}) as r`)[0]!.r;
  let n = 0;
  const waitingSd = async () => {
    const sd = `SD-CLAIM-HOLD-${++n}`;
    await seedSd(db.sql, { id: sd, phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, sd);
    const waiting = await execute(as('lead'), sd, 'LEAD-TO-PLAN', `req-${sd}`, [], `sess-${sd}`);
    expect(waiting.verdict).toBe('awaiting_approval');
    return { sd, attempt: waiting.attempt_id as string, session: `sess-${sd}` };
  };
  /** Someone else's session claims the directive, then the approver reads the history and decides. */
  const otherClaimsThenApproverDecides = async (sd: string, attempt: string) => {
    await as('plan')`select public.fn_claim_sd(${sd}, 'sess-plan-elsewhere')`;
    const seen = (await history(as('approver'), sd)).approvals[0];
    expect(seen).toMatchObject({ attempt_id: attempt, can_decide: true, cannot_decide: null });
    const [row] = await as('approver')<{ r: any }[]>`select public.fn_decide_approval(${attempt}::uuid, 'approve', 'ok') as r`;
    return row!.r;
  };

  beforeAll(async () => {
    db = await freshDatabase();
    await seedPeople(db.sql);
    await seedApprovers(db.sql);
    await approvalGate(db.sql, { required: 1, roles: ['LEAD'] });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end({ timeout: 1 })));
    await db.drop();
  });

  it('the requester gives the claim back while it waits: the approval still moves the directive', async () => {
    const { sd, attempt, session } = await waitingSd();
    const [released] = await as('lead')<{ r: any }[]>`select public.fn_release_sd(${sd}, ${session}) as r`;
    expect(released!.r.released).toBe(true);
    const decided = await otherClaimsThenApproverDecides(sd, attempt);
    expect(decided).toMatchObject({ recorded: true, status: 'completed' });
    const [row] = await db.sql`select current_phase from public.strategic_directives_v2 where id = ${sd}`;
    expect(row!.current_phase).toBe('PLAN');
    // the other session's claim is its own: the settled handoff does not take it away
    expect(await db.sql`select session_id from public.sd_claims where sd_id = ${sd}`).toEqual([{ session_id: 'sess-plan-elsewhere' }]);
  });

  it('the requester renews the claim for less than the deadline while it waits: the approval still moves the directive', async () => {
    const { sd, attempt, session } = await waitingSd();
    await as('lead')`select public.fn_claim_sd(${sd}, ${session}, 1)`;
    await db.sql`update public.sd_claims set expires_at = now() - interval '1 second' where sd_id = ${sd}`; // the short lease ran out
    const decided = await otherClaimsThenApproverDecides(sd, attempt);
    expect(decided).toMatchObject({ recorded: true, status: 'completed' });
  });
});
