// deno-lint-ignore-file no-explicit-any -- JSON answers from HTTP are inspected loosely here
// Approval gates over HTTP: the handoff answers 202 awaiting_approval, approvers POST their
// decisions to /handoff/attempts/<id>/approvals under their own tokens, the stream of the
// waiting attempt shows each decision, and a functions server killed after the last approval
// committed but before it answered leaves one transition, which the retry replays.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { approvalGate, APPROVERS, seedApprovers } from '../helpers/approvals.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, startTestFunctions, TEST_JWT_SECRET, type HandoffEnvironment } from '../helpers/functions.ts';
import { intoTeam, seedPeople, TEAM_ALPHA, USERS } from '../helpers/people.ts';

let env: HandoffEnvironment;
let n = 0;
type Who = keyof typeof USERS | `approver${number}`;
const now = () => Math.floor(Date.now() / 1000);
const userId = (who: Who) => who.startsWith('approver') ? APPROVERS[Number(who.slice(8))]! : USERS[who as keyof typeof USERS];
const tokenOf = (who: Who) => signJwt({ role: 'authenticated', aud: 'authenticated', iss: 'stagegate-local', iat: now(), exp: now() + 3600, sub: userId(who) }, TEST_JWT_SECRET);

async function call(base: string, who: Who, path: string, body?: unknown) {
  const response = await fetch(`${base}/handoff${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${await tokenOf(who)}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() as Record<string, any> };
}
const request = (who: Who, sd: string, session = `s-${sd}`) => call(env.fns.functionsUrl, who, '', { sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: session });
const decide = (who: Who, attemptId: string, body: unknown, base = env.fns.functionsUrl) => call(base, who, `/attempts/${attemptId}/approvals`, body);

/** Reads an event stream until `verdict` (or the stream ends). */
async function events(url: string, who: Who): Promise<{ event: string; data: any }[]> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${await tokenOf(who)}`, accept: 'text/event-stream' } });
  const text = await response.text();
  return text.split('\n\n').filter((b) => b.trim()).map((block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? '';
    const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
    return { event, data: JSON.parse(data) };
  });
}
const newSd = async () => {
  const id = `SD-E2E-APPROVAL-${++n}`;
  await seedDirective(env.db.sql, { id, phase: 'LEAD' });
  await intoTeam(env.db.sql, TEAM_ALPHA, id);
  return id;
};

beforeAll(async () => {
  env = await startHandoffEnvironment();
  await seedPeople(env.db.sql);
  await seedApprovers(env.db.sql);
  await useOnlyAgents(env.db.sql, [{ code: 'QUICK', target: `${env.agents.url}/agents/quick?score=97` }]);
});
afterAll(async () => {
  await env?.stop();
});

describe('approvals over HTTP', () => {
  it('202 awaiting_approval with what is still needed; 409 for another handoff; decisions settle it, the stream follows', async () => {
    await approvalGate(env.db.sql, { required: 2, roles: ['LEAD', 'PLAN'] });
    const sd = await newSd();
    const asked = await request('lead', sd);
    expect(asked.status).toBe(202);
    expect(asked.body).toMatchObject({
      verdict: 'awaiting_approval', status: 'awaiting_approval', phase_before: 'LEAD', phase_after: 'LEAD',
      approvals: { approvals_needed: 2, approver_roles: ['LEAD', 'PLAN'], gates: [{ code: 'LEAD_SIGNOFF', approvals: 0 }] },
    });
    expect(asked.body.gates.map((g: any) => g.code)).toEqual(['QUICK']);
    const id = asked.body.attempt_id as string;
    expect(asked.body.approvals_url).toBe(`${env.fns.functionsUrl}/handoff/attempts/${id}/approvals`);
    expect(Date.parse(asked.body.approvals.deadline)).toBeGreaterThan(Date.now() + 71 * 3600_000);

    const other = await request('lead', sd, 'another-session');
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('AWAITING_APPROVAL');
    // the same request again: the waiting attempt, not a new one
    expect(await request('lead', sd)).toMatchObject({ status: 202, body: { attempt_id: id, verdict: 'awaiting_approval' } });

    const stream = events(asked.body.status_url, 'viewer');
    expect((await decide('lead', id, { decision: 'approve' })).body.error.code).toBe('SELF_APPROVAL');
    expect(await decide('viewer', id, { decision: 'approve' })).toMatchObject({ status: 403, body: { error: { code: 'NOT_AN_APPROVER' } } });
    expect(await decide('outsider', id, { decision: 'approve' })).toMatchObject({ status: 404, body: { error: { code: 'ATTEMPT_NOT_FOUND' } } });
    expect(await decide('plan', id, { decision: 'reject' })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });
    expect(await decide('plan', id, { decision: 'approve', extra: 1 })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });

    const first = await decide('plan', id, { decision: 'approve', comment: 'scope is clear' });
    expect(first).toMatchObject({ status: 200, body: { recorded: true, status: 'awaiting_approval' } });
    expect((await decide('plan', id, { decision: 'approve' })).body).toMatchObject({ recorded: false, decision: { comment: 'scope is clear' } });
    expect((await call(env.fns.functionsUrl, 'viewer', `/attempts/${id}`)).body).toMatchObject({ status: 'awaiting_approval' });

    const second = await decide('approver0', id, { decision: 'approve' });
    expect(second).toMatchObject({ status: 200, body: { recorded: true, status: 'completed', verdict: 'accepted', result: { to_phase: 'PLAN' } } });
    expect(await counts(env.db.sql, sd)).toMatchObject({ completed: 1, audits: 1, phase: 'PLAN', version: 1 });
    const seen = await stream;
    expect(seen.map((e) => e.event)).toEqual(['approval_requested', 'approval_decided', 'approval_decided', 'verdict']);
    expect(seen[1]!.data).toMatchObject({ decision: 'approve', approver_role: 'PLAN', comment: 'scope is clear' });
    expect(seen[3]!.data).toMatchObject({ verdict: 'accepted', attempt_id: id });
  });

  it('a rejection answers with the comment; the POST stream of the waiting handoff ends with it', async () => {
    await approvalGate(env.db.sql, { required: 1, roles: ['LEAD'] });
    const sd = await newSd();
    const response = fetch(`${env.fns.functionsUrl}/handoff`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await tokenOf('lead')}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: `s-${sd}` }),
    }).then((r) => r.text());
    let id: string | undefined;
    for (let i = 0; i < 200 && !id; i++) {
      const [row] = await env.db.sql<{ id: string }[]>`select id from handoff_attempts where sd_id = ${sd} and status = 'awaiting_approval'`;
      id = row?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    const rejected = await decide('approver1', id!, { decision: 'reject', comment: 'not this quarter' });
    expect(rejected.body).toMatchObject({ status: 'rejected', verdict: 'rejected', result: { failed_gate: 'LEAD_SIGNOFF' } });
    const text = await response;
    const names = [...text.matchAll(/^event: (.*)$/gm)].map((m) => m[1]);
    expect(names).toEqual(['gate_started', 'gate_finished', 'awaiting_approval', 'approval_requested', 'approval_decided', 'verdict']);
    expect(text).toContain('not this quarter');
    expect(await counts(env.db.sql, sd)).toMatchObject({ audits: 1, completed: 0, phase: 'LEAD', version: 0 });
  });

  it('the functions server killed after the last approval committed, before it answered: one transition, the retry replays it', async () => {
    await approvalGate(env.db.sql, { required: 1, roles: ['LEAD'] });
    const sd = await newSd();
    const id = (await request('lead', sd)).body.attempt_id as string;
    // a test-only deferred trigger holds the decision's COMMIT for 2 s: time to kill the server
    // after the transaction's work is done and its commit is under way
    await env.db.sql`create function public.test_slow_commit() returns trigger language plpgsql as $$ begin perform pg_sleep(2); return null; end $$`;
    await env.db.sql`create constraint trigger zz_test_slow_commit after insert on public.approval_decisions
      deferrable initially deferred for each row execute function public.test_slow_commit()`;
    const doomed = await startTestFunctions(env.db.url);
    try {
      const lost = decide('approver2', id, { decision: 'approve' }, doomed.functionsUrl).then(() => 'answered', () => 'no answer');
      for (let i = 0; i < 200; i++) {
        const [sleeping] = await env.db.sql`select 1 from pg_stat_activity where wait_event = 'PgSleep' and query ilike 'commit%'`;
        if (sleeping) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      process.kill(doomed.server.pid!, 'SIGKILL');
      expect(await lost).toBe('no answer');
    } finally {
      await doomed.stop().catch(() => {});
      await env.db.sql`drop trigger zz_test_slow_commit on public.approval_decisions`;
      await env.db.sql`drop function public.test_slow_commit()`;
    }
    // the commit went through without its client
    for (let i = 0; i < 100 && (await counts(env.db.sql, sd)).completed === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await counts(env.db.sql, sd)).toMatchObject({ completed: 1, audits: 1, phase: 'PLAN', version: 1 });
    const retry = await decide('approver2', id, { decision: 'approve' });
    expect(retry).toMatchObject({ status: 200, body: { recorded: false, status: 'completed', verdict: 'accepted', result: { to_phase: 'PLAN' } } });
    expect(await counts(env.db.sql, sd)).toMatchObject({ completed: 1, audits: 1, version: 1 });
    expect(await env.db.sql`select * from fn_check_invariants()`).toEqual([]);
  });
});
