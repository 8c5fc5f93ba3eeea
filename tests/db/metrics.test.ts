// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL and HTTP are inspected loosely here
// The runbook's key metrics as views, and fn_metrics_snapshot, on seeded rows whose numbers are
// known: 19 completed + 1 failed transitions is a 95% success rate, and so on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { execute, gate, seedSd } from './_handoff-fixtures.ts';

type Snapshot = Record<string, any>;

let db: FreshDatabase;
let attemptId: string;
const TODAY = new Date().toISOString().slice(0, 10);
const OLD = `now() - interval '2 days'`;

async function snapshot(): Promise<Snapshot> {
  const [row] = await db.sql<{ s: Snapshot }[]>`select public.fn_metrics_snapshot() as s`;
  return row!.s;
}

/** A finished attempt to hang gate results on: 1 s of wall time. */
async function attempt(requestId: string): Promise<string> {
  const [row] = await db.sql<{ id: string }[]>`
    insert into public.handoff_attempts (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, status,
      from_phase, to_phase, sd_version, context, gates, started_at, finished_at)
    values (${requestId}, 'SD-SEEDED', gen_random_uuid(), 'feature', 'EXEC-TO-PLAN', 's', 'completed', 'EXEC',
      'EXEC_COMPLETE', 0, '{}', '[]', now() - interval '1 second', now())
    returning id::text`;
  return row!.id;
}

beforeAll(async () => {
  db = await freshDatabase();
  const { sql } = db;
  // Transitions today: 19 completed (2 of them let through by WARN), 1 failed, 3 rejected (one of
  // them on the threshold, which ENFORCE would refuse too: a would-reject).
  // Two days ago: 1 completed and 1 failed, which must land on their own day and outside the window.
  await sql.unsafe(`
    insert into public.sd_transition_audit (sd_id, transition_type, status, would_reject, error_message, error_details, created_at)
    select 'SD-SEEDED', 'EXEC-TO-PLAN', 'completed', g <= 2, null::text, null::jsonb, now() from generate_series(1, 19) g
    union all select 'SD-SEEDED', 'EXEC-TO-PLAN', 'failed', false, 'boom',
      '{"error_code": "23514", "failed_step": "4c. Transition SD", "recovery_action": "fix it"}'::jsonb, now()
    union all select 'SD-SEEDED', 'EXEC-TO-PLAN', 'rejected', false, null, null, now() from generate_series(1, 3)
    union all select 'SD-OLD', 'LEAD-TO-PLAN', 'completed', false, null, null, ${OLD}
    union all select 'SD-OLD', 'LEAD-TO-PLAN', 'failed', false, 'old failure', '{}'::jsonb, ${OLD}`);
  await sql.unsafe(`update public.sd_transition_audit set score = 50, threshold = 85
    where id = (select id from public.sd_transition_audit where status = 'rejected' limit 1)`);
  // Handoff durations on the histogram's bounds and just past them (le is inclusive).
  await sql.unsafe(`
    insert into public.sd_phase_handoffs (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, execution_time_ms)
    select gen_random_uuid(), 'SD-SEEDED', gen_random_uuid(), 'EXEC-TO-PLAN', 'EXEC_IMPLEMENTATION', 'EXEC_COMPLETE', s, ms
    from (values ('accepted', 100), ('accepted', 101), ('rejected', 60000), ('failed', 60001)) v(s, ms)`);
  // Ten orchestrated gate results of one attempt: 1 skipped, 1 invalid, 2 normalised, 3 hit again.
  attemptId = await attempt('seeded-1');
  await sql.unsafe(`
    insert into public.sub_agent_execution_results (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score,
      fixes, skipped, error, duration_ms, hit_count, metadata)
    select '${attemptId}', 'SD-SEEDED', 'GATE_' || g,
      case when g = 1 then 'SKIPPED' when g = 2 then 'ERROR' when g = 3 then 'FAIL' else 'PASS' end,
      g > 3, case when g > 3 then 100 else 0 end, 100,
      case when g in (4, 5) then '["renamed pass to passed"]'::jsonb else '[]' end,
      g = 1, case when g = 2 then 'invalid_result: score is not a number' end,
      case when g = 1 then 0 else 375 end,
      case when g in (6, 7) then 1 when g = 8 then 2 else 0 end,
      jsonb_build_object('orchestrated', true, 'idempotent_hit', g in (6, 7, 8))
    from generate_series(1, 10) g`);
  await sql.unsafe(`
    insert into public.http_idempotency_keys (scope, key, fingerprint, status, response_status, response_body, completed_at, hits)
    values ('handoff:service_role:', 'k1', repeat('a', 64), 'completed', 200, '{}', now(), 3),
           ('handoff:service_role:', 'k2', repeat('b', 64), 'completed', 200, '{}', now(), 0)`);
  await sql.unsafe(`insert into public.unknown_inputs (kind, input) values ('handoff_type', 'EXEC-TO-QA'), ('stage', 'deploy')`);
});
afterAll(async () => { await db.drop(); });

describe('metrics views', () => {
  it('v_transition_success_rate: 19 completed + 1 failed is 95%, rejected counted apart, one row per day', async () => {
    const rows = await db.sql`select * from public.v_transition_success_rate order by day`;
    expect(rows).toHaveLength(2);
    const today = rows.find((r) => r.day.toISOString().slice(0, 10) === TODAY)!;
    expect(today).toMatchObject({ completed: '19', failed: '1', rejected: '3', would_reject: '3', judged: '23',
      success_rate_pct: '95.00', failure_rate_pct: '5.00', would_reject_rate_pct: '13.04' });
    expect(rows[0]).toMatchObject({ completed: '1', failed: '1', success_rate_pct: '50.00' });
  });

  it('v_handoff_duration: average, percentiles and max per handoff and day', async () => {
    const [row] = await db.sql`select * from public.v_handoff_duration`;
    expect(row).toMatchObject({ handoff_type: 'EXEC-TO-PLAN', from_phase: 'EXEC_IMPLEMENTATION', handoffs: '4',
      avg_ms: '30050.5', max_ms: 60001 });
    expect(row!.p50_ms).toBe(30050.5);
  });

  it('v_orchestration_speed: average gate time and the parallel speed-up of an attempt', async () => {
    const [row] = await db.sql`select * from public.v_orchestration_speed`;
    // 9 gates of 375 ms in a 1 s attempt: 3.375 s of gate time in 1 s of wall time.
    expect(row).toMatchObject({ attempts: '1', executions: '9', avg_time_sec: '0.375', parallel_speedup: '3.38' });
  });

  it('v_idempotent_hit_rate: the runbook formula for results, and the HTTP keys', async () => {
    const rows = await db.sql`select * from public.v_idempotent_hit_rate order by source`;
    expect(rows).toEqual([
      expect.objectContaining({ source: 'http', records: '2', hit_records: '1', duplicate_calls: '3', hit_rate_pct: '50.00' }),
      expect.objectContaining({ source: 'sub_agent_result', records: '10', hit_records: '3', duplicate_calls: '4', hit_rate_pct: '30.00' }),
    ]);
    // Same number as the runbook's own query.
    const [runbook] = await db.sql.unsafe(`SELECT COUNT(*) FILTER (WHERE metadata->>'idempotent_hit' = 'true') * 100.0 / COUNT(*) as hit_rate_pct
      FROM sub_agent_execution_results WHERE created_at > NOW() - INTERVAL '1 day'`);
    expect(Number(runbook!.hit_rate_pct)).toBe(30);
  });

  it('v_gate_validation_failure_rate: invalid results per sub-agent, skipped gates left out', async () => {
    const rows = await db.sql`select sub_agent_code, results, invalid, normalized, failed, errored, validation_failure_rate_pct
      from public.v_gate_validation_failure_rate order by sub_agent_code`;
    expect(rows.map((r) => r.sub_agent_code)).not.toContain('GATE_1');
    const total = rows.reduce((n, r) => ({ results: n.results + Number(r.results), invalid: n.invalid + Number(r.invalid), normalized: n.normalized + Number(r.normalized) }), { results: 0, invalid: 0, normalized: 0 });
    expect(total).toEqual({ results: 9, invalid: 1, normalized: 2 });
    expect(rows.find((r) => r.sub_agent_code === 'GATE_2')).toMatchObject({ invalid: '1', errored: '1', validation_failure_rate_pct: '100.00' });
  });

  it('v_latest_failed_transitions: newest first, with the Spartan error log', async () => {
    const rows = await db.sql`select * from public.v_latest_failed_transitions`;
    expect(rows.map((r) => r.error_message)).toEqual(['boom', 'old failure']);
    expect(rows[0]).toMatchObject({ error_code: '23514', failed_step: '4c. Transition SD', recovery_action: 'fix it' });
  });
});

describe('fn_metrics_snapshot', () => {
  it('returns totals, histograms with their bounds, and last-hour rates in one call', async () => {
    const s = await snapshot();
    expect(s.transitions).toEqual({ completed: 20, failed: 2, rejected: 3 });
    expect(s.would_reject).toBe(3);
    expect(s.handoffs).toEqual([
      { handoff_type: 'EXEC-TO-PLAN', verdict: 'accepted', count: 2 },
      { handoff_type: 'EXEC-TO-PLAN', verdict: 'failed', count: 1 },
      { handoff_type: 'EXEC-TO-PLAN', verdict: 'rejected', count: 1 },
    ]);
    expect(s.handoff_bounds_s).toEqual([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300]);
    const [h] = s.handoff_durations;
    expect(h).toMatchObject({ handoff_type: 'EXEC-TO-PLAN', count: 4, sum_s: 120.202 });
    // 100 ms is in le=0.1, 101 ms in le=0.25, 60 000 ms in le=60, 60 001 ms in le=120.
    expect(h.buckets).toEqual([1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]);
    expect(s.gate_durations).toHaveLength(9);
    expect(s.gate_durations[0]).toMatchObject({ sub_agent: 'GATE_10', count: 1, sum_s: 0.375 });
    expect(s.gate_durations[0].buckets[6]).toBe(1); // (250, 500] ms
    const byGate = Object.fromEntries(s.gate_results.map((g: any) => [g.sub_agent, g]));
    expect(byGate.GATE_2).toMatchObject({ verdict: 'ERROR', invalid: 1 });
    expect(byGate.GATE_8).toMatchObject({ verdict: 'PASS', hits: 2 });
    expect(s.http_idempotent_hits).toBe(3);
    expect(s.unknown_inputs).toEqual({ handoff_type: 1, stage: 1 });
    expect(s.ratios).toMatchObject({ transition_failure: 0.05, idempotent_hit: 0.3 });
    expect(s.ratios.would_reject).toBeCloseTo(3 / 23, 10);
    expect(s.ratios.gate_validation_failure).toBeCloseTo(1 / 9, 10);
    expect(s.ratios.unknown_input).toBeCloseTo(2 / 25, 10); // 2 unknown + 23 judged today
    expect(s.mode_store).toEqual({ ok: true, error: null, global: 'ENFORCE', modes: [{ scope: '*', mode: 'ENFORCE' }] });
    expect(s.attempts_in_progress).toBe(0);
    expect(s.oldest_in_progress_s).toBeNull();
  });

  it('counts real handoffs run through fn_execute_handoff, by type and verdict', async () => {
    const before = await snapshot();
    const count = (s: Snapshot, type: string, verdict: string) =>
      s.handoffs.find((h: any) => h.handoff_type === type && h.verdict === verdict)?.count ?? 0;
    await seedSd(db.sql, { id: 'SD-REAL-1', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    await seedSd(db.sql, { id: 'SD-REAL-2', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    expect((await execute(db.sql, 'SD-REAL-1', 'EXEC-TO-PLAN', 'real-1', [gate('STORIES_DONE')])).verdict).toBe('accepted');
    expect((await execute(db.sql, 'SD-REAL-2', 'EXEC-TO-PLAN', 'real-2', [gate('STORIES_DONE', 0)])).verdict).toBe('rejected');
    const after = await snapshot();
    expect(count(after, 'EXEC-TO-PLAN', 'accepted') - count(before, 'EXEC-TO-PLAN', 'accepted')).toBe(1);
    expect(count(after, 'EXEC-TO-PLAN', 'rejected') - count(before, 'EXEC-TO-PLAN', 'rejected')).toBe(1);
    expect(after.transitions.completed - before.transitions.completed).toBe(1);
    expect(after.attempts - before.attempts).toBe(2);
    // the accepted one waits in the NOTIFY outbox until the relay sweep sends it
    expect(after.notifications_pending - before.notifications_pending).toBe(1);
    expect(after.oldest_notification_pending_s).toBeGreaterThanOrEqual(0);
    await db.sql`select public.fn_run_sweep('transition_notifications')`;
    const relayed = await snapshot();
    expect(relayed.notifications_pending).toBe(0);
    expect(relayed.oldest_notification_pending_s).toBeNull();
    const stories = after.gate_results.filter((g: any) => g.sub_agent === 'STORIES_DONE');
    expect(stories.map((g: any) => [g.verdict, g.count])).toEqual([['FAIL', 1], ['PASS', 1]]);
  });

  it('reports the age of the oldest notification the relay has not sent', async () => {
    await db.sql`insert into public.transition_notifications (payload, created_at) values ('{"sd_id": "SD-OLD"}', now() - interval '2 minutes')`;
    try {
      const s = await snapshot();
      expect(s.notifications_pending).toBeGreaterThanOrEqual(1);
      expect(s.oldest_notification_pending_s).toBeGreaterThanOrEqual(120);
    } finally {
      await db.sql`delete from public.transition_notifications where payload->>'sd_id' = 'SD-OLD'`;
    }
  });

  it('reports an in-progress attempt and its age', async () => {
    await db.sql`update public.handoff_attempts set status = 'in_progress', finished_at = null, started_at = now() - interval '90 seconds'
      where id = ${attemptId}::uuid`;
    try {
      const s = await snapshot();
      expect(s.attempts_in_progress).toBe(1);
      expect(s.oldest_in_progress_s).toBeGreaterThanOrEqual(90);
    } finally {
      await db.sql`update public.handoff_attempts set status = 'completed', finished_at = now() where id = ${attemptId}::uuid`;
    }
  });

  it('reports the breaker of every active sub-agent', async () => {
    await db.sql`select public.fn_breaker_record('STORIES_DONE', false, 'x') from generate_series(1, 5)`;
    const s = await snapshot();
    expect(s.breakers).toContainEqual({ sub_agent: 'STORIES_DONE', state: 'open' });
    expect(s.breakers).toContainEqual({ sub_agent: 'SD_DEFINED', state: 'closed' });
  });

  it('reports a failing mode store without losing the other metrics', async () => {
    const s = await db.sql.begin(async (tx) => {
      await tx`alter table public.validation_modes rename to validation_modes_gone`;
      const [row] = await tx<{ s: Snapshot }[]>`select public.fn_metrics_snapshot() as s`;
      // throwing rolls the rename back
      throw Object.assign(new Error('rollback'), { snapshot: row!.s });
    }).catch((e: { snapshot?: Snapshot }) => e.snapshot!);
    expect(s.mode_store).toMatchObject({ ok: false, modes: [], global: null });
    expect(s.mode_store.error).toMatch(/validation_modes/);
    expect(s.transitions.completed).toBeGreaterThanOrEqual(20);
    expect((await snapshot()).mode_store.ok).toBe(true);
  });
});

describe('grants', () => {
  const reads = [
    'select public.fn_metrics_snapshot()',
    ...['v_transition_success_rate', 'v_handoff_duration', 'v_orchestration_speed', 'v_idempotent_hit_rate',
      'v_gate_validation_failure_rate', 'v_latest_failed_transitions'].map((v) => `select * from public.${v}`),
  ];
  async function outcome(role: 'anon' | 'authenticated' | 'service_role', statement: string): Promise<string> {
    const sql = connectAs(db.url, role);
    try {
      await sql.unsafe(statement);
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code ?? 'error';
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  it('refuses anon and authenticated (42501), lets service_role read', async () => {
    for (const statement of reads) {
      expect({ statement, anon: await outcome('anon', statement) }).toEqual({ statement, anon: '42501' });
      expect({ statement, authenticated: await outcome('authenticated', statement) }).toEqual({ statement, authenticated: '42501' });
      expect({ statement, service_role: await outcome('service_role', statement) }).toEqual({ statement, service_role: 'ok' });
    }
    expect(await outcome('service_role', `select public.metrics_histogram(array[1], array[10])`)).toBe('42501');
  });

  it('is security definer with an empty search_path and a comment', async () => {
    const [row] = await db.sql`select p.prosecdef, p.proconfig, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p where p.oid = 'public.fn_metrics_snapshot()'::regprocedure`;
    expect(row!.prosecdef).toBe(true);
    expect(row!.proconfig).toContain('search_path=""');
    expect((row!.comment as string).length).toBeGreaterThan(50);
  });
});
