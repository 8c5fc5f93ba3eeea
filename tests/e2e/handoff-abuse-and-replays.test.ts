// deno-lint-ignore-file no-explicit-any -- JSON answers from HTTP are inspected loosely here
// Over HTTP, against the real functions server and database (issues #12 and #15):
//  - a fixed directive is judged again, an unchanged one replays (replay_reason), replays count;
//  - a dry run leaves no claim, no attempt, no audit row — only its metric;
//  - the fail-fast lock: the SD's advisory lock held elsewhere → SD_BUSY at once, never a wait;
//  - a caller cannot open a shared breaker with short timeouts or dry runs; a failing agent still does;
//  - a flood of unknown handoff types from one caller is one signal, and none for a missing directive.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signJwt } from '../../shared/jwt.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, TEST_JWT_SECRET, type HandoffEnvironment } from '../helpers/functions.ts';

let env: HandoffEnvironment;
beforeAll(async () => { env = await startHandoffEnvironment(); });
afterAll(async () => { await env?.stop(); });

async function post(body: unknown, key?: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${env.fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key ?? env.fns.serviceRoleKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(20_000), // a guard against a hang, not a timing assertion
  });
  return { status: response.status, body: await response.json() };
}

const agent = (name: string, query = '') => `${env.agents.url}/agents/${name}${query ? `?${query}` : ''}`;

describe('replay follows the inputs', () => {
  it('rejects an incomplete directive, replays that while nothing changed, and accepts it once fixed', async () => {
    const { sql } = env.db;
    const sd = 'SD-E2E-FIXED';
    await seedDirective(sql, { id: sd, phase: 'LEAD' });
    await sql`update public.strategic_directives_v2 set description = null, scope = null, success_criteria = '[]' where id = ${sd}`;
    const body = { sd_id: sd, handoff_type: 'LEAD-TO-PLAN', session_id: 'fixer' };

    const first = await post(body);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ verdict: 'rejected', replay: false });
    const same = await post(body);
    expect(same.body).toMatchObject({ verdict: 'rejected', replay: true, replay_reason: 'unchanged_inputs', attempt_id: first.body.attempt_id });

    await sql`update public.strategic_directives_v2 set description = 'what and why', scope = 'tests', success_criteria = '["it works"]' where id = ${sd}`;
    const fixed = await post(body);
    expect(fixed.body).toMatchObject({ verdict: 'accepted', replay: false, phase_after: 'PLAN' });
    expect(fixed.body.attempt_id).not.toBe(first.body.attempt_id);
    const again = await post(body);
    expect(again.body).toMatchObject({ verdict: 'accepted', replay: true, replay_reason: 'accepted', audit_id: fixed.body.audit_id });
    // a replay shows the gates the first answer showed: same codes, order, verdicts and scores
    const gateView = (gates: { code: string; passed: boolean; score: number; issues: string[] }[]) =>
      gates.map((g) => ({ code: g.code, passed: g.passed, score: g.score, issues: g.issues }));
    expect(fixed.body.gates.length).toBeGreaterThan(0);
    expect(gateView(again.body.gates)).toEqual(gateView(fixed.body.gates));
    expect(gateView(same.body.gates)).toEqual(gateView(first.body.gates));

    const [m] = await sql`select public.fn_metrics_snapshot() as m`;
    expect(m!.m.handoff_request_replays).toMatchObject({ accepted: 1, unchanged_inputs: 1 });
    const scrape = await (await fetch(`${env.fns.functionsUrl}/metrics`, { headers: { authorization: `Bearer ${env.fns.serviceRoleKey}` } })).text();
    expect(scrape).toMatch(/^stagegate_idempotent_hits_total\{source="handoff_request"\} 2$/m);
  });
});

describe('dry runs leave nothing behind', () => {
  it('takes no claim, leaves no attempt or audit row, and counts one dry run', async () => {
    const { sql } = env.db;
    await useOnlyAgents(sql, [{ code: 'DRY_OK', target: agent('dry-ok', 'score=95') }]);
    const sd = 'SD-E2E-DRY';
    await seedDirective(sql, { id: sd, phase: 'EXEC' });
    const dry = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'dreamer', dry_run: true });
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ verdict: 'accepted', dry_run: true, audit_id: null, phase_after: 'EXEC' });

    const [left] = await sql`select
        (select count(*)::int from public.sd_claims where sd_id = ${sd}) as claims,
        (select count(*)::int from public.handoff_attempts where sd_id = ${sd}) as attempts,
        (select count(*)::int from public.sub_agent_execution_results where sd_id = ${sd}) as results,
        (select count(*)::int from public.sd_transition_audit where sd_id = ${sd}) as audits,
        (select count(*)::int from public.handoff_request_events where kind = 'dry_run') as dry_runs`;
    expect(left).toEqual({ claims: 0, attempts: 0, results: 0, audits: 0, dry_runs: 1 });
    expect(await sql`select * from public.fn_sweep_stuck_attempts('1 second')`).toBeDefined();
    expect(await sql`select 1 from public.sd_transition_audit where sd_id = ${sd}`).toEqual([]);

    // another session is not tripped up by it
    const real = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'someone-else' });
    expect(real.body).toMatchObject({ verdict: 'accepted', dry_run: false });
    expect(await counts(sql, sd)).toMatchObject({ audits: 1, completed: 1, phase: 'EXEC_COMPLETE' });
  });
});

describe('the fail-fast lock', () => {
  it('answers SD_BUSY while another connection holds the SD\'s advisory lock, over HTTP and through fn_execute_handoff', async () => {
    const { sql, url } = env.db;
    await useOnlyAgents(sql, []);
    const sd = 'SD-E2E-LOCKED';
    await seedDirective(sql, { id: sd, phase: 'EXEC' });
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    const caller = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await holder`select pg_advisory_lock(public.fn_sd_lock_key(uuid)) from public.strategic_directives_v2 where id = ${sd}`;
      // statement_timeout is the guard: a wait on the lock would end in 57014, not in SD_BUSY
      await caller`set statement_timeout = '5s'`;
      const refused = await caller`select public.fn_execute_handoff(${sd}, 'EXEC-TO-PLAN', 'locked-out', 'req-locked', '[]')`
        .then(() => 'ok', (e: { code?: string; message: string }) => `${e.code} ${e.message.split(':')[0]}`);
      expect(refused).toBe('SG006 SD_BUSY');
      // the whole call rolled back: no attempt is left to block the next one
      expect(await sql`select id from public.handoff_attempts where sd_id = ${sd}`).toEqual([]);

      const overHttp = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'locked-out' });
      expect(overHttp.status).toBe(409);
      expect(overHttp.body.error.code).toBe('SD_BUSY');
      expect(overHttp.body.error.message).toMatch(/completing a handoff/);
      expect((await counts(sql, sd)).phase).toBe('EXEC');
    } finally {
      await holder.end({ timeout: 1 });
      await caller.end({ timeout: 1 });
    }
    // released: the same request resumes its attempt and goes through
    const retried = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'locked-out' });
    expect(retried.body).toMatchObject({ verdict: 'accepted' });
  });
});

describe('the shared breaker', () => {
  const breaker = async (code: string) => {
    const [row] = await env.db.sql`select state, consecutive_failures from public.sub_agent_breakers where sub_agent_code = ${code}`;
    return row ?? { state: 'closed', consecutive_failures: 0 };
  };

  it('is not opened by a caller\'s short timeout_ms or by dry runs, and still opens for an agent that fails', async () => {
    const { sql } = env.db;
    await useOnlyAgents(sql, [{ code: 'SLOWISH', target: agent('slowish', 'delay=300&score=95'), timeoutMs: 5000, maxRetries: 2 }]);
    for (let i = 0; i < 4; i++) {
      const sd = `SD-E2E-BRK-${i}`;
      await seedDirective(sql, { id: sd, phase: 'EXEC' });
      const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: `impatient-${i}`, timeout_ms: 100, dry_run: i % 2 === 0 });
      expect(r.status).toBe(200);
      expect(r.body.verdict).not.toBe('accepted'); // the gate timed out for this caller
    }
    expect(await breaker('SLOWISH')).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    await seedDirective(sql, { id: 'SD-E2E-BRK-VICTIM', phase: 'EXEC' });
    const victim = await post({ sd_id: 'SD-E2E-BRK-VICTIM', handoff_type: 'EXEC-TO-PLAN', session_id: 'patient' });
    expect(victim.body).toMatchObject({ verdict: 'accepted' });

    // An agent that really fails: five distinct handoffs open it (retries within one count once).
    await useOnlyAgents(sql, [{ code: 'BROKEN', target: agent('broken', 'status=500'), timeoutMs: 2000, maxRetries: 2, required: false }]);
    const states: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sd = `SD-E2E-BROKEN-${i}`;
      await seedDirective(sql, { id: sd, phase: 'EXEC' });
      await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'honest' });
      states.push(String((await breaker('BROKEN')).state));
    }
    expect(states).toEqual(['closed', 'closed', 'closed', 'closed', 'open']);
  });
});

describe('unknown inputs', () => {
  it('count a flood from one caller as one signal, and nothing for a directive that does not exist', async () => {
    const { sql } = env.db;
    await sql`delete from public.unknown_inputs`;
    await seedDirective(sql, { id: 'SD-E2E-UNK', phase: 'LEAD' });
    const user = await signJwt({ role: 'authenticated', sub: 'flooder', aud: 'authenticated', exp: Math.floor(Date.now() / 1000) + 600 }, TEST_JWT_SECRET);
    for (let i = 0; i < 20; i++) {
      const r = await post({ sd_id: i % 2 ? 'SD-E2E-UNK' : 'SD-DOES-NOT-EXIST', handoff_type: `RT-BOGUS-${i}`, session_id: 's' }, user);
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('UNKNOWN_HANDOFF_TYPE');
    }
    const rows = await sql`select kind, hits, sd_id from public.unknown_inputs`;
    expect(rows).toEqual([{ kind: 'handoff_type', hits: 10, sd_id: 'SD-E2E-UNK' }]);
    const other = await post({ sd_id: 'SD-E2E-UNK', handoff_type: 'RT-BOGUS-X', session_id: 's' });
    expect(other.status).toBe(400);
    expect(await sql`select count(*)::int as n from public.unknown_inputs`).toEqual([{ n: 2 }]);
    const [gate] = await sql`select public.fn_promotion_gate('*') as g`;
    expect(gate!.g).toMatchObject({ unknown_inputs: 2 });
  });
});
