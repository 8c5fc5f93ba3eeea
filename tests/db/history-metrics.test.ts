// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// Issue #18: the scrape reads metric_counters, not the history. Its numbers must be exactly what a
// recount from the rows gives (fn_metrics_recount, the snapshot as it was computed before), after
// handoffs, direct writes, updates, purges, a TRUNCATE and a rebuild; and the per-day views read
// from the counters must equal the old row-scanning definitions.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, execute, gate, record, seedSd } from './_handoff-fixtures.ts';

let db: FreshDatabase;

/** The snapshot and the recount, without what differs by the clock alone. */
async function both(): Promise<{ fast: any; slow: any }> {
  const [row] = await db.sql<{ fast: any; slow: any }[]>`
    select public.fn_metrics_snapshot() as fast, public.fn_metrics_recount() as slow`;
  const strip = (s: any) => {
    const { generated_at: _g, oldest_in_progress_s: _o, oldest_notification_pending_s: _n, ...rest } = s;
    return rest;
  };
  return { fast: strip(row!.fast), slow: strip(row!.slow) };
}

async function expectSnapshotEqualsRecount(): Promise<any> {
  const { fast, slow } = await both();
  expect(fast).toEqual(slow);
  return fast;
}

// The per-day views as they were defined before the counters (a full scan of the rows), over the
// metrics window: the last 31 UTC days.
const WINDOW = `created_at >= (((now() at time zone 'UTC')::date - 30)::timestamp at time zone 'UTC')`;
const OLD_VIEWS: Record<string, string> = {
  v_handoff_duration: `
    select (h.created_at at time zone 'UTC')::date as day, h.handoff_type, h.from_phase, h.to_phase, count(*) as handoffs,
      round(avg(h.execution_time_ms), 1) as avg_ms,
      percentile_cont(0.5) within group (order by h.execution_time_ms) as p50_ms,
      percentile_cont(0.95) within group (order by h.execution_time_ms) as p95_ms,
      max(h.execution_time_ms) as max_ms
    from public.sd_phase_handoffs h where h.execution_time_ms is not null and h.${WINDOW} group by 1, 2, 3, 4`,
  v_orchestration_speed: `
    with per_attempt as (
      select r.attempt_id, min(r.created_at) as first_at, count(*) as executions, sum(r.duration_ms) as gate_ms,
        avg(r.execution_time) as avg_time_sec, max(r.execution_time) as max_time_sec
      from public.sub_agent_execution_results r
      where r.metadata ->> 'orchestrated' = 'true' and not r.skipped and r.duration_ms is not null and r.${WINDOW}
      group by r.attempt_id)
    select (p.first_at at time zone 'UTC')::date as day, count(*) as attempts, sum(p.executions) as executions,
      round(sum(p.avg_time_sec * p.executions) / nullif(sum(p.executions), 0), 3) as avg_time_sec,
      max(p.max_time_sec) as max_time_sec,
      round(avg(p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0))::numeric, 2) as parallel_speedup
    from per_attempt p join public.handoff_attempts a on a.id = p.attempt_id group by 1`,
  v_transition_success_rate: `
    select (a.created_at at time zone 'UTC')::date as day,
      count(*) filter (where a.status = 'completed') as completed,
      count(*) filter (where a.status = 'rejected') as rejected,
      count(*) filter (where a.status = 'failed') as failed,
      count(*) filter (where a.would_reject or a.score < a.threshold) as would_reject,
      count(*) filter (where a.status in ('completed', 'rejected', 'failed')) as judged,
      round(100.0 * count(*) filter (where a.status = 'completed')
            / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0), 2) as success_rate_pct,
      round(100.0 * count(*) filter (where a.status = 'failed')
            / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0), 2) as failure_rate_pct,
      round(100.0 * count(*) filter (where a.would_reject or a.score < a.threshold)
            / nullif(count(*) filter (where a.status in ('completed', 'rejected', 'failed')), 0), 2) as would_reject_rate_pct
    from public.sd_transition_audit a where a.${WINDOW} group by 1`,
  v_idempotent_hit_rate: `
    select 'sub_agent_result'::text as source, (r.created_at at time zone 'UTC')::date as day, count(*) as records,
      count(*) filter (where r.metadata ->> 'idempotent_hit' = 'true') as hit_records,
      coalesce(sum(r.hit_count), 0) as duplicate_calls,
      round(100.0 * count(*) filter (where r.metadata ->> 'idempotent_hit' = 'true') / count(*), 2) as hit_rate_pct
    from public.sub_agent_execution_results r where r.${WINDOW} group by 2
    union all
    select 'http'::text, (k.created_at at time zone 'UTC')::date, count(*), count(*) filter (where k.hits > 0),
      coalesce(sum(k.hits), 0), round(100.0 * count(*) filter (where k.hits > 0) / count(*), 2)
    from public.http_idempotency_keys k where k.${WINDOW} group by 2`,
  v_gate_validation_failure_rate: `
    select (r.created_at at time zone 'UTC')::date as day, r.sub_agent_code, count(*) as results,
      count(*) filter (where r.error like 'invalid_result:%') as invalid,
      count(*) filter (where jsonb_array_length(r.fixes) > 0) as normalized,
      count(*) filter (where r.verdict = 'FAIL') as failed,
      count(*) filter (where r.verdict = 'ERROR') as errored,
      round(100.0 * count(*) filter (where r.error like 'invalid_result:%') / count(*), 2) as validation_failure_rate_pct,
      round(100.0 * count(*) filter (where r.verdict in ('FAIL', 'ERROR')) / count(*), 2) as gate_failure_rate_pct
    from public.sub_agent_execution_results r where not r.skipped and r.${WINDOW} group by 1, 2`,
};

async function expectViewsEqualRecount(): Promise<void> {
  for (const [view, old] of Object.entries(OLD_VIEWS)) {
    const now = await db.sql.unsafe(`select * from public.${view} order by 1, 2, 3`);
    const then = await db.sql.unsafe(`select * from (${old}) x order by 1, 2, 3`);
    expect([...now], view).toEqual([...then]);
  }
}

beforeAll(async () => {
  db = await freshDatabase();
  const { sql } = db;
  // Real handoffs through the RPCs: accepted, rejected on a sql gate, normalised answers,
  // a result recorded twice (idempotent hit), an attempt left open.
  for (let i = 1; i <= 6; i++) {
    await seedSd(sql, { id: `SD-HM-${i}`, phase: 'EXEC', stories: [{ key: 'US-1', status: i === 3 ? 'in_progress' : 'done' }] });
  }
  await execute(sql, 'SD-HM-1', 'EXEC-TO-PLAN', 'hm-1', [gate('STORIES_DONE')]);
  await execute(sql, 'SD-HM-2', 'EXEC-TO-PLAN', 'hm-2', [{ code: 'stories_done', pass: 1, score: 9, max_score: 10 }]);
  await execute(sql, 'SD-HM-3', 'EXEC-TO-PLAN', 'hm-3', []);
  await execute(sql, 'SD-HM-4', 'EXEC-TO-PLAN', 'hm-4', [gate('STORIES_DONE'), gate('PRD_COMPLETE', 0)]);
  const open = await begin(sql, 'SD-HM-5', 'EXEC-TO-PLAN', 'hm-5');
  await record(sql, open.attempt_id, 'STORIES_DONE', gate('STORIES_DONE', 100, { duration_ms: 12 }), 'key-5');
  await record(sql, open.attempt_id, 'STORIES_DONE', gate('STORIES_DONE', 100, { duration_ms: 12 }), 'key-5');
  await sql.unsafe(`update public.sub_agent_execution_results set duration_ms = 42 where sd_id in ('SD-HM-1', 'SD-HM-2')`);
  // Written directly, as an operator or a bulk load would, on other days too.
  await sql.unsafe(`
    insert into public.sd_transition_audit (sd_id, transition_type, status, would_reject, score, threshold, created_at)
    values ('SD-X', 'EXEC-TO-PLAN', 'completed', true, 90, 85, now() - interval '3 days'),
           ('SD-X', 'EXEC-TO-PLAN', 'rejected', false, 50, 85, now() - interval '3 days'),
           ('SD-X', 'EXEC-TO-PLAN', 'failed', false, null, null, now() - interval '40 days'),
           ('SD-X', 'EXEC-TO-PLAN', 'abandoned', false, null, null, now())`);
  await sql.unsafe(`
    insert into public.sd_phase_handoffs (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, execution_time_ms, created_at)
    select gen_random_uuid(), 'SD-X', gen_random_uuid(), 'LEAD-TO-PLAN', 'LEAD', 'PLAN', s, ms, now() - d
    from (values ('accepted', 100, interval '0'), ('accepted', 101, interval '2 days'), ('failed', null::int, interval '0'),
                 ('rejected', 300001, interval '5 hours')) v(s, ms, d)`);
  await sql.unsafe(`
    insert into public.http_idempotency_keys (scope, key, fingerprint, status, response_status, response_body, completed_at, hits, created_at)
    values ('handoff:service_role:', 'k1', repeat('a', 64), 'completed', 200, '{}', now(), 3, now()),
           ('handoff:service_role:', 'k2', repeat('b', 64), 'completed', 200, '{}', now(), 0, now() - interval '2 days'),
           ('handoff:service_role:', 'k3', repeat('c', 64), 'completed', 200, '{}', now(), 5, now() - interval '2 days')`);
  await sql.unsafe(`insert into public.unknown_inputs (kind, input) values ('handoff_type', 'EXEC-TO-QA'), ('stage', 'deploy'), ('stage', 'ship')`);
  // An override row, written directly (fn_override_handoff's own test is in approvals.test.ts).
  await sql.unsafe(`
    insert into public.handoff_overrides (attempt_id, overridden_attempt_id, sd_id, sd_type, handoff_type, reason, role)
    select a.id, b.id, 'SD-HM-1', 'security', 'EXEC-TO-PLAN', 'signed off', 'LEAD'
    from public.handoff_attempts a, public.handoff_attempts b
    where a.sd_id = 'SD-HM-1' and b.sd_id = 'SD-HM-2' limit 1`);
});
afterAll(async () => { await db.drop(); });

describe('metric_counters', () => {
  it('the snapshot equals a recount from the rows after handoffs and direct writes', async () => {
    const s = await expectSnapshotEqualsRecount();
    // and the recount saw something of each kind
    expect(s.attempts).toBeGreaterThanOrEqual(5);
    expect(s.attempts_in_progress).toBe(1);
    expect(s.http_idempotent_hits).toBe(8);
    expect(s.unknown_inputs).toEqual({ handoff_type: 1, stage: 2 });
    expect(s.transitions).toMatchObject({ abandoned: 1, failed: 1 });
    expect(s.handoff_durations.length).toBeGreaterThan(0);
    expect(s.gate_durations.length).toBeGreaterThan(0);
    expect(s.gate_results.some((g: any) => g.hits > 0)).toBe(true);
    expect(s.overrides).toMatchObject({ security: 1, feature: 0 });
  });

  it('overrides are a counter, not a count of handoff_overrides on every scrape', async () => {
    const { sql } = db;
    const overrides = async () => (await sql<{ n: number }[]>`
      select coalesce(sum(n), 0)::int as n from public.metric_counters where metric = 'overrides' and day = '-infinity' and l1 = 'security'`)[0]!.n;
    expect(await overrides()).toBe(1);
    await sql.unsafe(`update public.handoff_overrides set sd_type = 'feature' where sd_id = 'SD-HM-1'`);
    expect((await expectSnapshotEqualsRecount()).overrides).toMatchObject({ security: 0, feature: 1 });
    await sql.unsafe(`update public.handoff_overrides set sd_type = 'security' where sd_id = 'SD-HM-1'`);
    expect(await overrides()).toBe(1);
    expect((await expectSnapshotEqualsRecount()).overrides).toMatchObject({ security: 1, feature: 0 });
  });

  it('the per-day views show the last 31 UTC days; metric_counters keeps the older ones', async () => {
    const { sql } = db;
    const old = await sql`select (now() at time zone 'UTC')::date - 40 as day`;
    const day = old[0]!.day as Date;
    for (const v of ['v_transition_success_rate', 'v_idempotent_hit_rate', 'v_gate_validation_failure_rate', 'v_handoff_duration', 'v_orchestration_speed']) {
      const [row] = await sql.unsafe(`select count(*)::int as n, min(day) as first from public.${v}`);
      expect(row!.first === null || row!.first >= new Date(day.getTime() + 10 * 86400e3), v).toBe(true);
    }
    // the failed audit row of 40 days ago: out of the view, in its day's counters (the runbook's query)
    expect(await sql`select * from public.v_transition_success_rate where day = ${day}`).toEqual([]);
    expect(await sql`select l1 as status, sum(n)::int as n from public.metric_counters
      where metric = 'transitions' and day = ${day} group by 1`).toEqual([{ status: 'failed', n: 1 }]);
  });

  it('the per-day views equal their old definitions over the rows, before and after closed days are rolled up', async () => {
    const { sql } = db;
    // orchestrated results on a closed day (2 days ago) and today
    // and one 2 hours ago (a closed hour, rolled up), so a day's figures add an hour's sums to live rows
    await sql.unsafe(`update public.sub_agent_execution_results set metadata = metadata || '{"orchestrated": true}'
      where sd_id in ('SD-HM-1', 'SD-HM-2', 'SD-HM-4')`);
    await sql.unsafe(`update public.sub_agent_execution_results set created_at = now() - interval '2 days' where sd_id = 'SD-HM-1'`);
    await sql.unsafe(`update public.sub_agent_execution_results set created_at = now() - interval '2 hours' where sd_id = 'SD-HM-2'`);
    await expectViewsEqualRecount();
    const [r] = await sql<{ r: any }[]>`select public.fn_sweep_metric_days() as r`;
    expect(r!.r.rolled_up).toBeGreaterThanOrEqual(30);
    // (two days ago; yesterday too when the rows of a few hours ago fell on it)
    expect((await sql<{ n: number }[]>`select count(*)::int as n from public.metric_days_handoff_duration`)[0]!.n).toBeGreaterThanOrEqual(1);
    expect((await sql<{ n: number }[]>`select count(*)::int as n from public.metric_days_orchestration`)[0]!.n).toBeGreaterThanOrEqual(1);
    await expectViewsEqualRecount();
    // the handoff of 5 hours ago is read from a roll-up now: its day's, or its hour's (today)
    const [rolled] = await sql<{ n: number }[]>`select
      (select count(*)::int from public.metric_hours_handoff_duration where 300001 = any(values_ms))
      + (select count(*)::int from public.metric_days_handoff_duration where max_ms = 300001) as n`;
    expect(rolled!.n).toBe(1);
    // and the attempt of 2 hours ago too
    const [orch] = await sql<{ n: number }[]>`select
      coalesce((select sum(attempts)::int from public.metric_hours_orchestration), 0)
      + coalesce((select attempts::int from public.metric_days_orchestration where day = ((now() - interval '2 hours') at time zone 'UTC')::date), 0) as n`;
    expect(orch!.n).toBeGreaterThanOrEqual(1);
    const [again] = await sql<{ r: any }[]>`select public.fn_sweep_metric_days() as r`;
    expect(again!.r.rolled_up).toBe(0);
    expect(again!.r.hours_rolled_up).toBe(0);
    // A closed day is frozen once rolled up (the audit trail is append-only). The tests below
    // rewrite old rows, which production never does: forget the rolled-up days first.
    await sql`delete from public.metric_days`;
    await sql`delete from public.metric_hours`;
  });

  it('rolls up a closed hour only once every attempt begun before its end has finished', async () => {
    const { sql } = db;
    // the open attempt (SD-HM-5), as if begun 3 hours ago: the hours from then on stay live
    await sql`update public.handoff_attempts set started_at = now() - interval '3 hours' where sd_id = 'SD-HM-5' and status = 'in_progress'`;
    try {
      await sql`delete from public.metric_days`;
      await sql`delete from public.metric_hours`;
      await sql`select public.fn_sweep_metric_days()`;
      expect(await sql`select hour from public.metric_hours where hour + interval '1 hour' > now() - interval '3 hours'`).toEqual([]);
      const [live] = await sql<{ from: Date }[]>`select public.metrics_live_hour_from() as from`;
      expect(live!.from.getTime()).toBeLessThanOrEqual(Date.now() - 3 * 3600e3 + 1000);
      await expectViewsEqualRecount();
    } finally {
      await sql`update public.handoff_attempts set started_at = now() where sd_id = 'SD-HM-5' and status = 'in_progress'`;
      await sql`delete from public.metric_days`;
      await sql`delete from public.metric_hours`;
    }
  });

  it('the sweep merges a closed day\'s counter shards into one row per key; the views and the snapshot do not change', async () => {
    const { sql } = db;
    // rows of a closed day (3 days ago) written from connections on two different shards
    const conns: postgres.Sql[] = [];
    const shards = new Set<number>();
    try {
      while (shards.size < 2 && conns.length < 40) {
        const c = postgres(db.url, { max: 1, onnotice: () => {} });
        conns.push(c);
        const [row] = await c<{ shard: number }[]>`select pg_backend_pid() % 16 as shard`;
        if (shards.has(row!.shard)) continue;
        shards.add(row!.shard);
        await c.unsafe(`
          insert into public.sd_transition_audit (sd_id, transition_type, status, would_reject, score, threshold, created_at)
          values ('SD-MERGE', 'EXEC-TO-PLAN', 'completed', false, 90, 85, now() - interval '3 days'),
                 ('SD-MERGE', 'EXEC-TO-PLAN', 'rejected', true, 50, 85, now() - interval '3 days')`);
      }
    } finally {
      await Promise.all(conns.map((c) => c.end({ timeout: 1 })));
    }
    expect(shards.size).toBe(2);
    const dayRows = () => sql<{ metric: string; l1: string; rows: number; shard0: boolean }[]>`
      select metric, l1, count(*)::int as rows, bool_and(shard = 0) as shard0 from public.metric_counters
      where day = (now() at time zone 'UTC')::date - 3 and metric in ('transitions', 'would_reject')
      group by 1, 2 order by 1, 2`;
    expect((await dayRows()).some((r) => r.rows > 1)).toBe(true);
    const views = await sql`select * from public.v_transition_success_rate order by day`;
    const today = () => sql`select * from public.metric_counters where day = (now() at time zone 'UTC')::date order by 1, 2, 3, 4, 5, 6`;
    const todayBefore = await today();
    const [r] = await sql<{ r: any }[]>`select public.fn_sweep_metric_days() as r`;
    expect(r!.r.merged_days).toBeGreaterThanOrEqual(1);
    expect((await dayRows()).every((x) => x.rows === 1 && x.shard0)).toBe(true);
    // today's rows keep their shards (handoffs still write them)
    expect(await today()).toEqual(todayBefore);
    expect(await sql`select * from public.v_transition_success_rate order by day`).toEqual(views);
    await expectViewsEqualRecount();
    await expectSnapshotEqualsRecount();
    const [again] = await sql<{ r: any }[]>`select public.fn_sweep_metric_days() as r`;
    expect(again!.r.merged_days).toBe(0);
    await sql`delete from public.metric_days`;
    await sql`delete from public.metric_hours`;
  });

  it('updates and deletes move the counters as they move the rows', async () => {
    const { sql } = db;
    await sql.unsafe(`update public.sd_transition_audit set status = 'failed', score = 10, threshold = 85 where sd_id = 'SD-X' and status = 'completed'`);
    await sql.unsafe(`update public.sub_agent_execution_results set fixes = '["x"]', error = 'invalid_result: no' where sd_id = 'SD-HM-1'`);
    await sql.unsafe(`update public.http_idempotency_keys set hits = hits + 2 where key = 'k2'`);
    await sql.unsafe(`delete from public.sd_phase_handoffs where handoff_type = 'LEAD-TO-PLAN' and status = 'accepted'`);
    await sql.unsafe(`delete from public.unknown_inputs where kind = 'handoff_type'`);
    const s = await expectSnapshotEqualsRecount();
    expect(s.unknown_inputs).toEqual({ stage: 2 });
    expect(s.http_idempotent_hits).toBe(10);
    await expectViewsEqualRecount();
  });

  it('purges by the retention sweep leave the snapshot equal to the recount', async () => {
    const { sql } = db;
    await sql.unsafe(`select public.fn_idempotency_purge('1 day')`);
    const s = await expectSnapshotEqualsRecount();
    expect(s.http_idempotent_hits).toBe(3);
    await expectViewsEqualRecount();
  });

  it('a rebuild from the rows changes nothing; TRUNCATE clears the table\'s counters', async () => {
    const { sql } = db;
    const before = await both();
    const [r] = await sql<{ r: any }[]>`select public.fn_metrics_rebuild_counters() as r`;
    expect(r!.r.counter_rows).toBeGreaterThan(0);
    expect((await both()).fast).toEqual(before.fast);
    await sql.unsafe(`truncate public.unknown_inputs`);
    const s = await expectSnapshotEqualsRecount();
    expect(s.unknown_inputs).toEqual({});
  });

  it('no hot row: a transaction holding its counter rows does not block a writer on another shard', async () => {
    // one connection (one backend) each, until two share a shard (16 shards: a few connections)
    const conns: postgres.Sql[] = [];
    const byShard = new Map<number, postgres.Sql>();
    try {
      while (conns.length < 60) {
        const c = postgres(db.url, { max: 1, onnotice: () => {} });
        conns.push(c);
        const [row] = await c<{ shard: number }[]>`select pg_backend_pid() % 16 as shard`;
        const twin = byShard.get(row!.shard);
        if (!twin) {
          byShard.set(row!.shard, c);
          continue;
        }
        if (byShard.size < 2) continue;
        const holder = twin;
        const other = [...byShard.values()].find((x) => x !== twin)!;
        await holder.begin(async (tx) => {
          await tx`insert into public.unknown_inputs (kind, input) values ('stage', 'held')`;
          // another shard: goes through while the first transaction is open
          await other.begin(async (o) => {
            await o`set local lock_timeout = '1s'`;
            await o`insert into public.unknown_inputs (kind, input) values ('stage', 'other shard')`;
          });
          // the same shard: waits for the holder (what one hot row would do to every writer)
          const err = await c.begin(async (s) => {
            await s`set local lock_timeout = '300ms'`;
            await s`insert into public.unknown_inputs (kind, input) values ('stage', 'same shard')`;
          }).then(() => null, (e: Error) => e);
          expect(err?.message).toMatch(/lock timeout/);
          throw new Error('rollback');
        }).catch((e: Error) => { if (e.message !== 'rollback') throw e; });
        await expectSnapshotEqualsRecount();
        return;
      }
      throw new Error('no two connections on one shard among 60');
    } finally {
      await Promise.all(conns.map((c) => c.end({ timeout: 1 })));
    }
  });
});
