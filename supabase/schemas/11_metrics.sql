-- The runbook's key metrics as views, and fn_metrics_snapshot, everything the metrics function
-- exposes in one round trip.
--
-- The views: one row per UTC day (and per label where it helps), so an operator reads them with
-- plain SELECTs and a BI tool can chart them. The runbook's own queries still run unchanged
-- against the tables; these views give them denominators.
--
-- Definitions (the same ones the metrics function and the Prometheus rules use):
--   * transition success rate = completed / (completed + failed) audit rows. A *rejected* handoff
--     never tried to change state (its gates said no), so it counts neither way; it has its own
--     column. failed = the atomic state change was attempted and rolled back.
--   * would-reject rate = judged handoffs that ENFORCE would refuse on the threshold (would_reject,
--     set in WARN mode, or a score below the recorded threshold) / every judged handoff
--     (completed + rejected + failed) — fn_promotion_gate's definition.
--   * idempotent hit rate, per the runbook: results recorded more than once / results.
--     duplicate_calls counts the repeated calls themselves (sum of hit_count).
--   * gate validation failure = a sub-agent's answer failed the gate-result contract (stored
--     with error 'invalid_result: …' by the orchestrator); normalised = accepted after fixes.
--     Skipped gates are not results of a gate run and are left out of both rates.
--
-- The snapshot: the function instances are stateless and many, so every counter and histogram is
-- kept in the database (metric_counters, below), never in a function's memory: any instance
-- answers the same numbers, and a cold start resets nothing. Counters are totals since the beginning of the tables
-- (Prometheus derives rates); the only counts that can go down are HTTP idempotency hits, whose
-- keys the retention sweep purges after 24 h — Prometheus treats that as a counter reset.
--
-- Histograms: fixed bounds in whole milliseconds (returned with the snapshot, so the function
-- does not repeat them). Durations are stored as whole milliseconds too, so value <= bound, the
-- Prometheus `le` rule, is value - 1 < bound, which is what width_bucket(value - 1, bounds)
-- counts: bucket i holds the values in (bounds[i-1], bounds[i]]; the last one is +Inf.

-- ============================================================================================
-- Counters: what a scrape reads instead of the history.
--
-- Every total the snapshot reports is kept in metric_counters by statement triggers on the tables
-- it counts, in the transaction that writes the rows (insert +1, delete -1, update old -1 new +1),
-- so a count always equals a recount of the rows there are: after a purge too (a purged row is a
-- delete like any other), and whoever writes the rows (the RPCs, a sweep, a bulk load, an operator).
-- A scrape sums a few hundred counter rows, whatever the history's size.
--
-- No hot row: each key is split into 16 shards and a transaction adds to the shard of its backend
-- (pg_backend_pid() % 16), so two handoffs completing at once on different connections update
-- different rows; a read sums the shards. Keys are upserted in key order, so two transactions that
-- share a shard wait for each other, never deadlock. day = '-infinity' holds the all-time totals;
-- a real day holds that UTC day's numbers for the per-day views. TRUNCATE of a counted table
-- clears its counters. fn_metrics_rebuild_counters() recounts everything from the rows (after a
-- restore, or to check: fn_metrics_recount() is the snapshot computed from the rows).
-- ============================================================================================
create table public.metric_counters (
  metric text not null,
  day date not null,
  l1 text not null default '',
  l2 text not null default '',
  l3 text not null default '',
  shard smallint not null check (shard >= 0 and shard < 16),
  n bigint not null default 0,
  total numeric not null default 0,
  primary key (metric, day, l1, l2, l3, shard)
);
comment on table public.metric_counters is
  'Running counts (n) and sums (total) per metric, UTC day (''-infinity'' = all time), labels l1..l3 and shard, kept by statement triggers on the counted tables; summed over shards at read. See fn_metrics_snapshot.';
-- The scrape reads only the all-time rows (day = '-infinity'); the day rows (a year of them at a
-- million handoffs) stay out of its way. Only key columns are indexed, so adding to n and total
-- remains a HOT update.
create index metric_counters_totals_idx on public.metric_counters (metric, l1, l2, l3) where day = '-infinity';
alter table public.metric_counters enable row level security;
revoke all on table public.metric_counters from public, anon, authenticated;
grant select on table public.metric_counters to service_role;

-- The histogram bounds, in whole milliseconds (the snapshot returns them in seconds).
create or replace function public.metrics_handoff_bounds() returns int[]
language sql immutable set search_path = '' as $$
  select array[100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000]
$$;
create or replace function public.metrics_gate_bounds() returns int[]
language sql immutable set search_path = '' as $$
  select array[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]
$$;

-- Adds a set of deltas (metric, day, l1, l2, l3, n, total) to this backend's shard.
create or replace function public.metrics_add(p_deltas jsonb) returns void
language sql security definer set search_path = '' as $$
  insert into public.metric_counters as c (metric, day, l1, l2, l3, shard, n, total)
  select d.metric, d.day, d.l1, d.l2, d.l3, (pg_catalog.pg_backend_pid() % 16)::smallint, sum(d.n), sum(d.total)
  from jsonb_to_recordset(p_deltas) as d(metric text, day date, l1 text, l2 text, l3 text, n bigint, total numeric)
  group by 1, 2, 3, 4, 5
  having sum(d.n) <> 0 or sum(d.total) <> 0
  order by 1, 2, 3, 4, 5
  on conflict (metric, day, l1, l2, l3, shard) do update set n = c.n + excluded.n, total = c.total + excluded.total
$$;

-- The deltas of a set of rows as jsonb, for metrics_add: one SQL text per counted table, with %1$s
-- standing for a row source with a sign column s and the table's columns (+1 rows added, -1 rows
-- gone). The triggers pass their transition tables; fn_metrics_rebuild_counters and the partition
-- functions pass a table or a partition.
create or replace function public.metrics_delta_sql(p_kind text) returns text
language sql immutable set search_path = '' as $$
  select 'select jsonb_agg(g) from (select d.metric, d.day, d.l1, d.l2, d.l3, sum(d.n) as n, sum(d.total) as total from ('
    || case p_kind
    when 'handoffs' then $q$
      select 'handoffs' as metric, '-infinity'::date as day, r.handoff_type as l1, r.status as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r
      union all
      select 'handoff_duration', '-infinity', r.handoff_type,
             width_bucket(r.execution_time_ms - 1, public.metrics_handoff_bounds())::text, '', r.s, r.s * r.execution_time_ms
      from %1$s r where r.execution_time_ms is not null $q$
    when 'audit' then $q$
      select x.metric, x.day, r.status as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r
      cross join lateral (values ('-infinity'::date), ((r.created_at at time zone 'UTC')::date)) dd(day)
      cross join lateral (values ('transitions', dd.day), ('would_reject', dd.day)) x(metric, day)
      where x.metric = 'transitions' or coalesce(r.would_reject or r.score < r.threshold, false) $q$
    -- l1 sub-agent, l2 verdict, l3 skipped ('true'/'false'); gate_results' total sums hit_count
    when 'results' then $q$
      select x.metric, dd.day, r.sub_agent_code as l1, r.verdict as l2, r.skipped::text as l3, r.s as n,
             case when x.metric = 'gate_results' then r.s * r.hit_count else 0 end::numeric as total
      from %1$s r
      cross join lateral (values ('-infinity'::date), ((r.created_at at time zone 'UTC')::date)) dd(day)
      cross join lateral (values ('gate_results', true),
                                 ('gate_invalid', coalesce(r.error like 'invalid_result:%%', false)),
                                 ('gate_normalized', jsonb_array_length(r.fixes) > 0),
                                 ('gate_hit', coalesce(r.metadata ->> 'idempotent_hit' = 'true', false))) x(metric, counted)
      where x.counted
      union all
      select 'gate_duration', '-infinity', r.sub_agent_code,
             width_bucket(r.duration_ms - 1, public.metrics_gate_bounds())::text, '', r.s, r.s * r.duration_ms
      from %1$s r where not r.skipped and r.duration_ms is not null $q$
    -- sqlfix: a dry run is nobody's attempt (dry_run is set at insert; fn_finish_dry_run deletes it)
    when 'attempts' then $q$
      select 'attempts' as metric, '-infinity'::date as day, '' as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r where not r.dry_run $q$
    when 'http_keys' then $q$
      select 'http_hits' as metric, '-infinity'::date as day, '' as l1, '' as l2, '' as l3, 0 as n, (r.s * r.hits)::numeric as total
      from %1$s r $q$
    when 'unknown_inputs' then $q$
      select 'unknown_inputs' as metric, '-infinity'::date as day, r.kind as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r $q$
    -- approvals: stagegate_overrides_total{sd_type} (triggers on handoff_overrides, 16_approvals.sql)
    when 'overrides' then $q$
      select 'overrides' as metric, '-infinity'::date as day, r.sd_type as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r $q$
    end
    || ') d group by 1, 2, 3, 4, 5 having sum(d.n) <> 0 or sum(d.total) <> 0) g'
$$;

-- One trigger function for every counted table; tg_argv[0] names its delta SQL.
create or replace function public.tg_metrics() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_deltas jsonb;
begin
  execute format(public.metrics_delta_sql(tg_argv[0]), case tg_op
    when 'INSERT' then '(select 1 as s, n.* from new_rows n)'
    when 'DELETE' then '(select -1 as s, o.* from old_rows o)'
    else '(select 1 as s, n.* from new_rows n union all select -1 as s, o.* from old_rows o)' end)
  into v_deltas;
  if v_deltas is not null then
    perform public.metrics_add(v_deltas);
  end if;
  return null;
end;
$$;

-- Adds (p_sign = 1) or takes away (-1) the counts of every row of p_rel (a counted table or one of
-- its partitions) of kind p_kind. For fn_metrics_rebuild_counters and the partition functions.
create or replace function public.metrics_count_relation(p_kind text, p_rel regclass, p_sign int) returns void
language plpgsql security definer set search_path = '' as $$
declare
  v_deltas jsonb;
begin
  execute format(public.metrics_delta_sql(p_kind), format('(select %s as s, t.* from %s t)', p_sign, p_rel))
  into v_deltas;
  if v_deltas is not null then
    perform public.metrics_add(v_deltas);
  end if;
end;
$$;

-- TRUNCATE fires no row deltas: the table's counters go with it.
create or replace function public.tg_metrics__truncate() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  delete from public.metric_counters c where c.metric = any(tg_argv);
  return null;
end;
$$;

-- Recounts metric_counters from the rows (after a restore or a detach done by hand, or to check).
-- Blocks writes to the counted tables while it runs: not for a busy hour.
create or replace function public.fn_metrics_rebuild_counters() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_rows bigint;
begin
  lock table public.sd_phase_handoffs, public.sd_transition_audit, public.sub_agent_execution_results,
             public.handoff_attempts, public.http_idempotency_keys, public.unknown_inputs, public.handoff_overrides in share mode;
  delete from public.metric_counters;
  perform public.metrics_count_relation('handoffs', 'public.sd_phase_handoffs', 1);
  perform public.metrics_count_relation('audit', 'public.sd_transition_audit', 1);
  perform public.metrics_count_relation('results', 'public.sub_agent_execution_results', 1);
  perform public.metrics_count_relation('attempts', 'public.handoff_attempts', 1);
  perform public.metrics_count_relation('http_keys', 'public.http_idempotency_keys', 1);
  perform public.metrics_count_relation('unknown_inputs', 'public.unknown_inputs', 1);
  perform public.metrics_count_relation('overrides', 'public.handoff_overrides', 1);
  select count(*) into v_rows from public.metric_counters;
  return jsonb_build_object('counter_rows', v_rows);
end;
$$;
comment on function public.fn_metrics_rebuild_counters() is
  'Recount metric_counters from the rows of the counted tables (locks them against writes while it runs). Returns {counter_rows}.';

create trigger tg_metrics_ins after insert on public.sd_phase_handoffs referencing new table as new_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_upd after update on public.sd_phase_handoffs referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_del after delete on public.sd_phase_handoffs referencing old table as old_rows
  for each statement execute function public.tg_metrics('handoffs');
create trigger tg_metrics_trunc after truncate on public.sd_phase_handoffs
  for each statement execute function public.tg_metrics__truncate('handoffs', 'handoff_duration');

create trigger tg_metrics_ins after insert on public.sd_transition_audit referencing new table as new_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_upd after update on public.sd_transition_audit referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_del after delete on public.sd_transition_audit referencing old table as old_rows
  for each statement execute function public.tg_metrics('audit');
create trigger tg_metrics_trunc after truncate on public.sd_transition_audit
  for each statement execute function public.tg_metrics__truncate('transitions', 'would_reject');

create trigger tg_metrics_ins after insert on public.sub_agent_execution_results referencing new table as new_rows
  for each statement execute function public.tg_metrics('results');
create trigger tg_metrics_upd after update on public.sub_agent_execution_results referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('results');
create trigger tg_metrics_del after delete on public.sub_agent_execution_results referencing old table as old_rows
  for each statement execute function public.tg_metrics('results');
create trigger tg_metrics_trunc after truncate on public.sub_agent_execution_results
  for each statement execute function public.tg_metrics__truncate('gate_results', 'gate_invalid', 'gate_normalized', 'gate_hit', 'gate_duration');

create trigger tg_metrics_ins after insert on public.handoff_attempts referencing new table as new_rows
  for each statement execute function public.tg_metrics('attempts');
create trigger tg_metrics_del after delete on public.handoff_attempts referencing old table as old_rows
  for each statement execute function public.tg_metrics('attempts');
create trigger tg_metrics_trunc after truncate on public.handoff_attempts
  for each statement execute function public.tg_metrics__truncate('attempts');

create trigger tg_metrics_ins after insert on public.http_idempotency_keys referencing new table as new_rows
  for each statement execute function public.tg_metrics('http_keys');
create trigger tg_metrics_upd after update on public.http_idempotency_keys referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('http_keys');
create trigger tg_metrics_del after delete on public.http_idempotency_keys referencing old table as old_rows
  for each statement execute function public.tg_metrics('http_keys');
create trigger tg_metrics_trunc after truncate on public.http_idempotency_keys
  for each statement execute function public.tg_metrics__truncate('http_hits');

create trigger tg_metrics_ins after insert on public.unknown_inputs referencing new table as new_rows
  for each statement execute function public.tg_metrics('unknown_inputs');
create trigger tg_metrics_upd after update on public.unknown_inputs referencing old table as old_rows new table as new_rows
  for each statement execute function public.tg_metrics('unknown_inputs');
create trigger tg_metrics_del after delete on public.unknown_inputs referencing old table as old_rows
  for each statement execute function public.tg_metrics('unknown_inputs');
create trigger tg_metrics_trunc after truncate on public.unknown_inputs
  for each statement execute function public.tg_metrics__truncate('unknown_inputs');

revoke all on function public.metrics_handoff_bounds(), public.metrics_gate_bounds(), public.metrics_add(jsonb),
  public.metrics_delta_sql(text), public.tg_metrics(), public.metrics_count_relation(text, regclass, int),
  public.tg_metrics__truncate(), public.fn_metrics_rebuild_counters()
  from public, anon, authenticated, service_role;
grant execute on function public.fn_metrics_rebuild_counters() to service_role;

-- The metrics window: the per-day views show the last 31 UTC days (today and the 30 before), so
-- what they read follows the window, not the history's length. metric_counters keeps every day's
-- counts (one row per day, metric and labels once fn_sweep_metric_days merged the day's shards):
-- the runbook shows how to read the older days.
create or replace function public.metrics_window_start() returns timestamptz
language sql stable set search_path = '' as $$
  select ((now() at time zone 'UTC')::date - 30)::timestamp at time zone 'UTC'
$$;
create or replace function public.metrics_window_first_day() returns date
language sql stable set search_path = '' as $$
  select (now() at time zone 'UTC')::date - 30
$$;

-- The per-day counting views read the day rows of metric_counters (a few rows per day and label,
-- summed over shards), not the history; for the two that need every value of a day see
-- fn_sweep_metric_days below.
create or replace view public.v_transition_success_rate with (security_invoker = true) as
with c as (
  select c.day,
         sum(c.n) filter (where c.metric = 'transitions' and c.l1 = 'completed')::bigint as completed,
         sum(c.n) filter (where c.metric = 'transitions' and c.l1 = 'rejected')::bigint as rejected,
         sum(c.n) filter (where c.metric = 'transitions' and c.l1 = 'failed')::bigint as failed,
         sum(c.n) filter (where c.metric = 'transitions')::bigint as audits,
         sum(c.n) filter (where c.metric = 'would_reject')::bigint as would_reject
  from public.metric_counters c
  where c.metric in ('transitions', 'would_reject') and c.day >= (select public.metrics_window_first_day())
  group by c.day
)
select
  c.day,
  coalesce(c.completed, 0) as completed,
  coalesce(c.rejected, 0) as rejected,
  coalesce(c.failed, 0) as failed,
  coalesce(c.would_reject, 0) as would_reject,
  coalesce(c.completed, 0) + coalesce(c.rejected, 0) + coalesce(c.failed, 0) as judged,
  round(100.0 * coalesce(c.completed, 0) / nullif(coalesce(c.completed, 0) + coalesce(c.failed, 0), 0), 2) as success_rate_pct,
  round(100.0 * coalesce(c.failed, 0) / nullif(coalesce(c.completed, 0) + coalesce(c.failed, 0), 0), 2) as failure_rate_pct,
  round(100.0 * coalesce(c.would_reject, 0)
        / nullif(coalesce(c.completed, 0) + coalesce(c.rejected, 0) + coalesce(c.failed, 0), 0), 2) as would_reject_rate_pct
from c
where c.audits > 0;
comment on view public.v_transition_success_rate is
  'Per UTC day of the last 31: completed, rejected, failed and would-reject (would_reject or score below threshold) audit rows; success_rate_pct = completed / (completed + failed) (runbook: > 95%), failure_rate_pct (alert > 5%), would_reject_rate_pct = would_reject / judged. From metric_counters (which keeps the older days too).';

-- v_handoff_duration and v_orchestration_speed need every value of a day (percentiles, per-attempt
-- ratios), which no counter keeps. A closed day does not change (the audit trail is append-only;
-- compaction leaves durations and the orchestrated flag alone), so fn_sweep_metric_days computes
-- each day of the window once, an hour after it ends, into metric_days_*; the views read those
-- rows and compute only the days not rolled up yet (today, from the created_at indexes). Their
-- cost follows a day's traffic, not the history's size. The window is the last 31 UTC days.

create or replace function public.metrics_handoff_duration_rows(p_from timestamptz, p_to timestamptz)
returns table (day date, handoff_type text, from_phase text, to_phase text, handoffs bigint, avg_ms numeric,
               p50_ms double precision, p95_ms double precision, max_ms int)
language sql stable set search_path = '' as $$
  select
    (h.created_at at time zone 'UTC')::date,
    h.handoff_type,
    h.from_phase,
    h.to_phase,
    count(*),
    round(avg(h.execution_time_ms), 1),
    percentile_cont(0.5) within group (order by h.execution_time_ms),
    percentile_cont(0.95) within group (order by h.execution_time_ms),
    max(h.execution_time_ms)
  from public.sd_phase_handoffs h
  where h.execution_time_ms is not null and h.created_at >= p_from and h.created_at < p_to
  group by 1, 2, 3, 4
$$;

-- parallel_speedup = the gates' summed run time / the attempt's wall time: 1 means the gates ran
-- one after another, n means n ran at once on average (the runbook's "60-70% time reduction").
-- An attempt belongs to the day (or hour) of its first orchestrated result (in the window).
-- One row per such attempt whose first orchestrated result is in [p_from, p_to): what the daily
-- rows and the hourly sums below aggregate.
create or replace function public.metrics_orchestration_attempts(p_from timestamptz, p_to timestamptz)
returns table (attempt_id uuid, first_at timestamptz, executions bigint, avg_time_sec numeric, max_time_sec numeric,
               speedup numeric)
language sql stable set search_path = '' as $$
  with candidates as (
    select distinct r.attempt_id from public.sub_agent_execution_results r
    where r.created_at >= greatest(p_from, (select public.metrics_window_start())) and r.created_at < p_to
      and r.metadata ->> 'orchestrated' = 'true' and not r.skipped and r.duration_ms is not null
  ), per_attempt as (
    select
      r.attempt_id,
      min(r.created_at) as first_at,
      count(*) as executions,
      sum(r.duration_ms) as gate_ms,
      avg(r.execution_time) as avg_time_sec,
      max(r.execution_time) as max_time_sec
    from public.sub_agent_execution_results r
    where r.attempt_id in (select c.attempt_id from candidates c)
      and r.metadata ->> 'orchestrated' = 'true' and not r.skipped and r.duration_ms is not null
      and r.created_at >= (select public.metrics_window_start())  -- once, not per row
    group by r.attempt_id
    having min(r.created_at) >= p_from and min(r.created_at) < p_to
  )
  select p.attempt_id, p.first_at, p.executions, p.avg_time_sec, p.max_time_sec,
         p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0)
  from per_attempt p
  join public.handoff_attempts a on a.id = p.attempt_id
$$;

create or replace function public.metrics_orchestration_rows(p_from timestamptz, p_to timestamptz)
returns table (day date, attempts bigint, executions numeric, avg_time_sec numeric, max_time_sec numeric,
               parallel_speedup numeric)
language sql stable set search_path = '' as $$
  select
    (p.first_at at time zone 'UTC')::date,
    count(*),
    sum(p.executions),
    round(sum(p.avg_time_sec * p.executions) / nullif(sum(p.executions), 0), 3),
    max(p.max_time_sec),
    round(avg(p.speedup)::numeric, 2)
  from public.metrics_orchestration_attempts(p_from, p_to) p
  group by 1
$$;

create table public.metric_days (
  day date primary key,
  rolled_at timestamptz not null default now()
);
create table public.metric_days_handoff_duration (
  day date not null references public.metric_days (day) on delete cascade,
  handoff_type text not null,
  from_phase text not null,
  to_phase text not null,
  handoffs bigint not null,
  avg_ms numeric,
  p50_ms double precision,
  p95_ms double precision,
  max_ms int,
  primary key (day, handoff_type, from_phase, to_phase)
);
create table public.metric_days_orchestration (
  day date primary key references public.metric_days (day) on delete cascade,
  attempts bigint not null,
  executions numeric,
  avg_time_sec numeric,
  max_time_sec numeric,
  parallel_speedup numeric
);
comment on table public.metric_days is
  'UTC days whose v_handoff_duration and v_orchestration_speed rows fn_sweep_metric_days has computed once (metric_days_handoff_duration, metric_days_orchestration).';

-- The first day of the window not rolled up yet: the views compute from there on.
create or replace function public.metrics_live_from() returns timestamptz
language sql stable set search_path = '' as $$
  select coalesce(
    (select min(g.d)::timestamp at time zone 'UTC'
     from generate_series((public.metrics_window_start() at time zone 'UTC')::date, (now() at time zone 'UTC')::date, interval '1 day') g(d)
     where not exists (select 1 from public.metric_days m where m.day = g.d::date)),
    (now() at time zone 'UTC')::date::timestamp at time zone 'UTC')
$$;

-- Today (and yesterday until its roll-up) by closed hours: the live part of the two views would
-- otherwise read every handoff record and gate result of the day. fn_sweep_metric_days rolls up
-- each closed hour once every attempt begun before its end has finished (so its results, record
-- and wall time are final), into metric_hours_*: the hour's handoff durations as a sorted array
-- per handoff (percentiles need every value; a few hundred integers read as one row), and the
-- hour's orchestration sums (attempts, executions, the summed avg x executions, max, the summed
-- speed-ups and their count), which add up exactly (numeric) to the day's figures: avg(x) is
-- sum(x) / count(x). An attempt belongs to the hour of its first orchestrated result, as it
-- belongs to that day. The views combine the rolled-up hours with the rows of the hours since.
create table public.metric_hours (
  hour timestamptz primary key,
  rolled_at timestamptz not null default now()
);
create table public.metric_hours_handoff_duration (
  hour timestamptz not null references public.metric_hours (hour) on delete cascade,
  handoff_type text not null,
  from_phase text not null,
  to_phase text not null,
  values_ms int[] not null,
  primary key (hour, handoff_type, from_phase, to_phase)
);
create table public.metric_hours_orchestration (
  hour timestamptz primary key references public.metric_hours (hour) on delete cascade,
  attempts bigint not null,
  executions numeric not null,
  time_x_executions numeric,
  max_time_sec numeric,
  speedup_sum numeric,
  speedup_n bigint not null
);
comment on table public.metric_hours is
  'Closed UTC hours since the last rolled-up day whose v_handoff_duration values and v_orchestration_speed sums fn_sweep_metric_days has stored once (metric_hours_handoff_duration, metric_hours_orchestration).';

-- The orchestration figures of the attempts whose first orchestrated result is in [p_from, p_to),
-- summed per UTC hour of that result: what metrics_orchestration_rows computes, before the
-- division, so that hours add up to days.
create or replace function public.metrics_orchestration_hours(p_from timestamptz, p_to timestamptz)
returns table (hour timestamptz, attempts bigint, executions numeric, time_x_executions numeric, max_time_sec numeric,
               speedup_sum numeric, speedup_n bigint)
language sql stable set search_path = '' as $$
  select
    date_trunc('hour', x.first_at, 'UTC'),
    count(*),
    sum(x.executions),
    sum(x.avg_time_sec * x.executions),
    max(x.max_time_sec),
    sum(x.speedup),
    count(x.speedup)
  from public.metrics_orchestration_attempts(p_from, p_to) x
  group by 1
$$;

-- The first hour of the live part not rolled up yet: the views read rows from there on.
create or replace function public.metrics_live_hour_from() returns timestamptz
language sql stable set search_path = '' as $$
  select coalesce(
    (select min(g.h)
     from generate_series(public.metrics_live_from(), date_trunc('hour', now(), 'UTC'), interval '1 hour') g(h)
     where not exists (select 1 from public.metric_hours m where m.hour = g.h)),
    date_trunc('hour', now(), 'UTC'))
$$;

create or replace view public.v_handoff_duration with (security_invoker = true) as
select m.day, m.handoff_type, m.from_phase, m.to_phase, m.handoffs, m.avg_ms, m.p50_ms, m.p95_ms, m.max_ms
from public.metric_days_handoff_duration m
where m.day >= (public.metrics_window_start() at time zone 'UTC')::date
  and m.day < (public.metrics_live_from() at time zone 'UTC')::date
union all
-- the days not rolled up: their rolled-up hours' values and the rows since (what
-- metrics_handoff_duration_rows(metrics_live_from(), 'infinity') computes from the rows alone)
select x.day, x.handoff_type, x.from_phase, x.to_phase, count(*), round(avg(x.ms), 1),
       percentile_cont(0.5) within group (order by x.ms), percentile_cont(0.95) within group (order by x.ms), max(x.ms)
from (
  select (h.hour at time zone 'UTC')::date as day, h.handoff_type, h.from_phase, h.to_phase, v.ms
  from public.metric_hours_handoff_duration h
  cross join lateral unnest(h.values_ms) v(ms)
  where h.hour >= (select public.metrics_live_from()) and h.hour < (select public.metrics_live_hour_from())
  union all
  select (p.created_at at time zone 'UTC')::date, p.handoff_type, p.from_phase, p.to_phase, p.execution_time_ms
  from public.sd_phase_handoffs p
  where p.execution_time_ms is not null and p.created_at >= (select public.metrics_live_hour_from())
) x
group by 1, 2, 3, 4;
comment on view public.v_handoff_duration is
  'Per UTC day of the last 31 and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max. Closed days from metric_days_handoff_duration, closed hours since from metric_hours_handoff_duration, the rest from the rows.';

create or replace view public.v_orchestration_speed with (security_invoker = true) as
select m.day, m.attempts, m.executions, m.avg_time_sec, m.max_time_sec, m.parallel_speedup
from public.metric_days_orchestration m
where m.day >= (public.metrics_window_start() at time zone 'UTC')::date
  and m.day < (public.metrics_live_from() at time zone 'UTC')::date
union all
-- the days not rolled up: their rolled-up hours' sums and the sums of the hours since, divided as
-- metrics_orchestration_rows divides (avg = sum / count)
select x.day, sum(x.attempts)::bigint, sum(x.executions),
       round(sum(x.time_x_executions) / nullif(sum(x.executions), 0), 3), max(x.max_time_sec),
       round(sum(x.speedup_sum) / nullif(sum(x.speedup_n), 0), 2)
from (
  select (h.hour at time zone 'UTC')::date as day, h.attempts, h.executions, h.time_x_executions, h.max_time_sec,
         h.speedup_sum, h.speedup_n
  from public.metric_hours_orchestration h
  where h.hour >= (select public.metrics_live_from()) and h.hour < (select public.metrics_live_hour_from())
  union all
  select (o.hour at time zone 'UTC')::date, o.attempts, o.executions, o.time_x_executions, o.max_time_sec,
         o.speedup_sum, o.speedup_n
  from public.metrics_orchestration_hours((select public.metrics_live_hour_from()), 'infinity') o
) x
group by 1;
comment on view public.v_orchestration_speed is
  'Per UTC day of the last 31: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only). Closed days from metric_days_orchestration, closed hours since from metric_hours_orchestration, the rest from the rows.';

-- Rolls up the closed days of the window (an hour after they end, so late results and slow
-- attempts are in), oldest first, at most p_days per run; forgets days older than the window.
create or replace function public.fn_sweep_metric_days(p_days int default 31) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_day date;
  v_done int := 0;
  v_forgot int;
  v_merged int := 0;
  v_hour timestamptz;
  v_hours int := 0;
begin
  if p_days is null or p_days < 1 or p_days > 366 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_days must be 1..366 (got %s)', p_days);
  end if;
  if not pg_try_advisory_xact_lock(hashtext('stagegate.metric_days')::bigint) then
    return jsonb_build_object('rolled_up', 0, 'busy', true);
  end if;
  delete from public.metric_days m where m.day < (public.metrics_window_start() at time zone 'UTC')::date;
  get diagnostics v_forgot = row_count;
  for v_day in
    select g.d::date from generate_series((public.metrics_window_start() at time zone 'UTC')::date,
                                          (now() at time zone 'UTC')::date, interval '1 day') g(d)
    where (g.d::date + 1)::timestamp at time zone 'UTC' + interval '1 hour' <= now()
      and not exists (select 1 from public.metric_days m where m.day = g.d::date)
    order by 1 limit p_days
  loop
    insert into public.metric_days (day) values (v_day);
    insert into public.metric_days_handoff_duration
    select * from public.metrics_handoff_duration_rows(v_day::timestamp at time zone 'UTC', (v_day + 1)::timestamp at time zone 'UTC');
    insert into public.metric_days_orchestration
    select * from public.metrics_orchestration_rows(v_day::timestamp at time zone 'UTC', (v_day + 1)::timestamp at time zone 'UTC');
    v_done := v_done + 1;
  end loop;
  -- The closed hours of the days not rolled up, oldest first, each once every attempt begun before
  -- its end has finished; the first one that cannot be stops the run (the views read the rows from
  -- the first hour not rolled up on). Hours of rolled-up days are forgotten.
  delete from public.metric_hours m where m.hour < public.metrics_live_from();
  for v_hour in
    select g.h from generate_series(public.metrics_live_from(), date_trunc('hour', now(), 'UTC') - interval '1 hour', interval '1 hour') g(h)
    where g.h + interval '65 minutes' <= now()
      and not exists (select 1 from public.metric_hours m where m.hour = g.h)
    order by 1
  loop
    exit when exists (select 1 from public.handoff_attempts a
                      where a.status in ('in_progress', 'awaiting_approval') and a.started_at < v_hour + interval '1 hour');
    insert into public.metric_hours (hour) values (v_hour);
    insert into public.metric_hours_handoff_duration (hour, handoff_type, from_phase, to_phase, values_ms)
    select v_hour, h.handoff_type, h.from_phase, h.to_phase, array_agg(h.execution_time_ms order by h.execution_time_ms)
    from public.sd_phase_handoffs h
    where h.execution_time_ms is not null and h.created_at >= v_hour and h.created_at < v_hour + interval '1 hour'
    group by 2, 3, 4;
    insert into public.metric_hours_orchestration
    select * from public.metrics_orchestration_hours(v_hour, v_hour + interval '1 hour');
    v_hours := v_hours + 1;
  end loop;
  -- Closed days' counter shards merged into one row per (day, metric, labels) (shard 0), so a
  -- day costs the per-day views a few rows, not 16 per key. Handoffs write today's rows and the
  -- all-time ones; a closed day changes only when its old rows do (an update, a purge). Rows are
  -- locked in key-then-shard order, the order a writer of one shard takes them in, so the two
  -- wait for each other without a deadlock; if one happens anyway (a row inserted meanwhile), the
  -- day is left for the next run.
  for v_day in
    select distinct c.day from public.metric_counters c
    where c.day > '-infinity' and c.shard <> 0
      and (c.day + 1)::timestamp at time zone 'UTC' + interval '1 hour' <= now()
    order by 1 limit 366
  loop
    begin
      perform 1 from public.metric_counters c where c.day = v_day
      order by c.metric, c.l1, c.l2, c.l3, c.shard for update;
      with gone as (
        delete from public.metric_counters c where c.day = v_day and c.shard <> 0
        returning c.metric, c.l1, c.l2, c.l3, c.n, c.total)
      insert into public.metric_counters as c (metric, day, l1, l2, l3, shard, n, total)
      select g.metric, v_day, g.l1, g.l2, g.l3, 0, sum(g.n), sum(g.total)
      from gone g group by g.metric, g.l1, g.l2, g.l3 order by g.metric, g.l1, g.l2, g.l3
      on conflict (metric, day, l1, l2, l3, shard) do update set n = c.n + excluded.n, total = c.total + excluded.total;
      delete from public.metric_counters c where c.day = v_day and c.n = 0 and c.total = 0;
      v_merged := v_merged + 1;
    exception when deadlock_detected or lock_not_available then
      null;
    end;
  end loop;
  return jsonb_build_object('rolled_up', v_done, 'forgotten', v_forgot, 'hours_rolled_up', v_hours, 'merged_days', v_merged);
end;
$$;
comment on function public.fn_sweep_metric_days(int) is
  'Compute v_handoff_duration and v_orchestration_speed once for each closed UTC day of the last 31 not done yet (at most p_days per run), into metric_days_*; forget days past the window; roll up the closed hours since (once every attempt begun before the hour''s end has finished) into metric_hours_*; merge closed days'' metric_counters shards into one row per day, metric and labels. Returns {rolled_up, forgotten, hours_rolled_up, merged_days}. Scheduled by sweep_schedule ''metric_days''.';

alter table public.metric_hours enable row level security;
alter table public.metric_hours_handoff_duration enable row level security;
alter table public.metric_hours_orchestration enable row level security;
revoke all on table public.metric_hours, public.metric_hours_handoff_duration, public.metric_hours_orchestration
  from public, anon, authenticated;
grant select on table public.metric_hours, public.metric_hours_handoff_duration, public.metric_hours_orchestration to service_role;
grant delete on table public.metric_hours to service_role;
alter table public.metric_days enable row level security;
alter table public.metric_days_handoff_duration enable row level security;
alter table public.metric_days_orchestration enable row level security;
revoke all on table public.metric_days, public.metric_days_handoff_duration, public.metric_days_orchestration
  from public, anon, authenticated;
grant select on table public.metric_days, public.metric_days_handoff_duration, public.metric_days_orchestration to service_role;
grant delete on table public.metric_days to service_role;
revoke all on function public.metrics_window_start(), public.metrics_window_first_day(), public.metrics_handoff_duration_rows(timestamptz, timestamptz),
  public.metrics_orchestration_rows(timestamptz, timestamptz), public.metrics_live_from(), public.fn_sweep_metric_days(int),
  public.metrics_orchestration_hours(timestamptz, timestamptz), public.metrics_live_hour_from(),
  public.metrics_orchestration_attempts(timestamptz, timestamptz)
  from public, anon, authenticated;
grant execute on function public.metrics_window_start(), public.metrics_window_first_day(), public.metrics_handoff_duration_rows(timestamptz, timestamptz),
  public.metrics_orchestration_rows(timestamptz, timestamptz), public.metrics_live_from(), public.fn_sweep_metric_days(int),
  public.metrics_orchestration_hours(timestamptz, timestamptz), public.metrics_live_hour_from(),
  public.metrics_orchestration_attempts(timestamptz, timestamptz)
  to service_role;

create or replace view public.v_idempotent_hit_rate with (security_invoker = true) as
select
  'sub_agent_result'::text as source,
  c.day,
  sum(c.n) filter (where c.metric = 'gate_results')::bigint as records,
  coalesce(sum(c.n) filter (where c.metric = 'gate_hit'), 0)::bigint as hit_records,
  coalesce(sum(c.total) filter (where c.metric = 'gate_results'), 0)::bigint as duplicate_calls,
  round(100.0 * coalesce(sum(c.n) filter (where c.metric = 'gate_hit'), 0)
        / sum(c.n) filter (where c.metric = 'gate_results'), 2) as hit_rate_pct
from public.metric_counters c
where c.metric in ('gate_results', 'gate_hit') and c.day >= (select public.metrics_window_first_day())
group by c.day
having sum(c.n) filter (where c.metric = 'gate_results') > 0
union all
select
  'http'::text,
  (k.created_at at time zone 'UTC')::date,
  count(*),
  count(*) filter (where k.hits > 0),
  coalesce(sum(k.hits), 0),
  round(100.0 * count(*) filter (where k.hits > 0) / count(*), 2)
from public.http_idempotency_keys k
where k.created_at >= (select public.metrics_window_start())
group by 2;
comment on view public.v_idempotent_hit_rate is
  'Per source (sub_agent_result, http) and UTC day of the last 31 of the first record: records, records hit again, duplicate calls, hit_rate_pct (runbook target < 10%, alert > 50%). HTTP keys are purged after 24 h, so only recent days show for http. Older days of sub_agent_result: metric_counters.';

create or replace view public.v_gate_validation_failure_rate with (security_invoker = true) as
with c as (
  select c.day, c.l1 as sub_agent_code,
         sum(c.n) filter (where c.metric = 'gate_results')::bigint as results,
         coalesce(sum(c.n) filter (where c.metric = 'gate_invalid'), 0)::bigint as invalid,
         coalesce(sum(c.n) filter (where c.metric = 'gate_normalized'), 0)::bigint as normalized,
         coalesce(sum(c.n) filter (where c.metric = 'gate_results' and c.l2 = 'FAIL'), 0)::bigint as failed,
         coalesce(sum(c.n) filter (where c.metric = 'gate_results' and c.l2 = 'ERROR'), 0)::bigint as errored
  from public.metric_counters c
  where c.metric in ('gate_results', 'gate_invalid', 'gate_normalized') and c.day >= (select public.metrics_window_first_day())
    and c.l3 = 'false'
  group by 1, 2
)
select
  c.day,
  c.sub_agent_code,
  c.results,
  c.invalid,
  c.normalized,
  c.failed,
  c.errored,
  round(100.0 * c.invalid / c.results, 2) as validation_failure_rate_pct,
  round(100.0 * (c.failed + c.errored) / c.results, 2) as gate_failure_rate_pct
from c
where c.results > 0;
comment on view public.v_gate_validation_failure_rate is
  'Per UTC day of the last 31 and sub-agent (skipped gates left out): results, invalid (failed the gate-result contract; alert > 10%), normalized (accepted after fixes), FAIL and ERROR verdicts, and their rates. From metric_counters (which keeps the older days too).';

-- On sd_transition_audit_failed_idx: the newest 50 failed rows, whatever the history's size.
create or replace view public.v_latest_failed_transitions with (security_invoker = true) as
select
  a.created_at,
  a.sd_id,
  a.transition_type,
  a.error_message,
  a.error_details ->> 'error_code' as error_code,
  a.error_details ->> 'failed_step' as failed_step,
  a.error_details ->> 'recovery_action' as recovery_action,
  a.session_id,
  a.request_id,
  a.attempt_id
from public.sd_transition_audit a
where a.status = 'failed'
order by a.created_at desc
limit 50;
comment on view public.v_latest_failed_transitions is
  'The 50 most recent failed transitions with the Spartan error log (error_code, failed_step, recovery_action), newest first.';

-- ============================================================================================
-- Grants: service_role only (security_invoker views read with the caller's rights anyway).
-- ============================================================================================
revoke all on table
  public.v_transition_success_rate, public.v_handoff_duration, public.v_orchestration_speed,
  public.v_idempotent_hit_rate, public.v_gate_validation_failure_rate, public.v_latest_failed_transitions
from public, anon, authenticated;

grant select on table
  public.v_transition_success_rate, public.v_handoff_duration, public.v_orchestration_speed,
  public.v_idempotent_hit_rate, public.v_gate_validation_failure_rate, public.v_latest_failed_transitions
to service_role;

create or replace function public.metrics_histogram(p_values_ms int[], p_bounds_ms int[]) returns jsonb
language sql immutable set search_path = '' as $$
  select jsonb_build_object(
    'count', coalesce(cardinality(p_values_ms), 0),
    'sum_s', coalesce((select sum(v) from unnest(p_values_ms) v), 0) / 1000.0,
    -- one count per bucket (not cumulative), cardinality(p_bounds_ms) + 1 of them
    'buckets', (select jsonb_agg(coalesce(c.n, 0) order by g.i)
                from generate_series(0, cardinality(p_bounds_ms)) g(i)
                left join (select width_bucket(v - 1, p_bounds_ms) as i, count(*) as n
                           from unnest(p_values_ms) v group by 1) c on c.i = g.i))
$$;
comment on function public.metrics_histogram(int[], int[]) is
  'Internal to fn_metrics_snapshot: {count, sum_s, buckets} of millisecond values against millisecond bounds; buckets[i] counts values in (bounds[i-1], bounds[i]], the last one the values above every bound.';

-- The snapshot computed from the rows, as it was before metric_counters: the reference the counters
-- are checked against (tests/db/history-metrics.test.ts), not for scrapes.
create or replace function public.fn_metrics_recount() returns jsonb
language plpgsql stable security definer set search_path = '' set lock_timeout = '2s' as $$
declare
  c_handoff_bounds constant int[] := array[100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000];
  c_gate_bounds constant int[] := array[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000];
  c_window constant interval := interval '1 hour';
  v_mode_store jsonb;
  v_result jsonb;
begin
  -- The mode store is read on its own, so a failure there is reported (mode_store.ok = false,
  -- the ModeStoreFetchFailing alert) instead of costing every other metric.
  begin
    v_mode_store := jsonb_build_object('ok', true, 'error', null, 'modes',
      coalesce((select jsonb_agg(jsonb_build_object('scope', m.scope, 'mode', m.mode) order by m.scope)
                from public.validation_modes m), '[]'::jsonb),
      'global', public.fn_get_validation_mode(null));
  exception when others then
    v_mode_store := jsonb_build_object('ok', false, 'error', sqlerrm, 'modes', '[]'::jsonb, 'global', null);
  end;

  -- The big tables are read once each, into narrow row sets the parts below share, so the
  -- cost grows with one pass over them, not one per metric. Measured: ~0.2-0.35 s for 20 000
  -- handoffs and 100 000 gate results on a busy 2-core machine; scrape every 30 s or slower.
  with results as materialized (
    select r.sub_agent_code, r.verdict, r.skipped, r.duration_ms, r.hit_count,
           coalesce(r.error like 'invalid_result:%', false) as invalid,
           jsonb_array_length(r.fixes) > 0 as normalized,
           r.metadata ->> 'idempotent_hit' = 'true' as hit,
           r.created_at > now() - c_window as recent
    from public.sub_agent_execution_results r
  ), handoffs as materialized (
    select h.handoff_type, h.status, h.execution_time_ms, h.created_at > now() - c_window as recent
    from public.sd_phase_handoffs h
  ), attempts as (
    select count(*) as n, count(*) filter (where a.status = 'in_progress') as in_progress,
           min(a.started_at) filter (where a.status = 'in_progress') as oldest_in_progress
    from public.handoff_attempts a
    where not a.dry_run  -- sqlfix: a dry run is nobody's open attempt
  ), requests as materialized (
    -- sqlfix: requests that left no attempt: replays of a finished request id, dry runs
    select e.kind, e.reason, e.at > now() - c_window as recent from public.handoff_request_events e
  ), outbox as (
    select count(*) as pending, min(n.created_at) as oldest from public.transition_notifications n
  ), audits as materialized (
    select a.status,
           -- fn_promotion_gate's definition: ENFORCE would refuse it on the threshold.
           coalesce(a.would_reject or a.score < a.threshold, false) as would_reject,
           a.created_at > now() - c_window as recent
    from public.sd_transition_audit a
  )
  select jsonb_build_object(
    'generated_at', clock_timestamp(),
    'window_s', extract(epoch from c_window)::int,
    'handoff_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_handoff_bounds) b),
    'gate_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_gate_bounds) b),

    -- -------------------------------------------------------------- handoffs and transitions
    'handoffs', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type, 'verdict', x.status, 'count', x.n)
                       order by x.handoff_type, x.status)
      from (select h.handoff_type, h.status, count(*) as n from handoffs h group by 1, 2) x), '[]'::jsonb),
    'handoff_durations', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.handoff_type) || x.histogram order by x.handoff_type)
      from (select h.handoff_type, public.metrics_histogram(array_agg(h.execution_time_ms), c_handoff_bounds) as histogram
            from handoffs h where h.execution_time_ms is not null group by 1) x), '[]'::jsonb),
    'transitions', coalesce((
      select jsonb_object_agg(x.status, x.n) from (select a.status, count(*) as n from audits a group by 1) x), '{}'::jsonb),
    'would_reject', (select count(*) from audits a where a.would_reject),
    'attempts', (select a.n from attempts a),
    'attempts_in_progress', (select a.in_progress from attempts a),
    'oldest_in_progress_s', (select extract(epoch from clock_timestamp() - a.oldest_in_progress) from attempts a),
    -- approvals: attempts waiting for people (bounded by the awaiting_approval partial indexes), and
    -- overrides by SD type (every SD type with a threshold profile, zero-filled, so rate() sees the
    -- first one; overrides are rare, audited decisions, so counting their rows stays cheap)
    'attempts_awaiting_approval', (select count(*) from public.handoff_attempts a where a.status = 'awaiting_approval'),
    'overrides', (
      select coalesce(jsonb_object_agg(x.sd_type, x.n), '{}'::jsonb)
      from (select coalesce(t.sd_type, o.sd_type) as sd_type, coalesce(o.n, 0) as n
            from (select p.sd_type from public.threshold_profiles p where p.sd_type <> 'default') t
            full join (select h.sd_type, count(*) as n from public.handoff_overrides h group by 1) o on o.sd_type = t.sd_type) x),
    -- the NOTIFY outbox: rows wait here until the transition_notifications sweep relays them
    -- (every second); a growing backlog or an old row means the relay has stopped
    'notifications_pending', (select o.pending from outbox o),
    'oldest_notification_pending_s', (select extract(epoch from clock_timestamp() - o.oldest) from outbox o),

    -- -------------------------------------------------------------- gates
    'gate_results', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code, 'verdict', x.verdict, 'count', x.n,
                                          'invalid', x.invalid, 'normalized', x.normalized, 'hits', x.hits)
                       order by x.sub_agent_code, x.verdict)
      from (select r.sub_agent_code, r.verdict, count(*) as n, count(*) filter (where r.invalid) as invalid,
                   count(*) filter (where r.normalized) as normalized, coalesce(sum(r.hit_count), 0) as hits
            from results r group by 1, 2) x), '[]'::jsonb),
    'gate_durations', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.sub_agent_code) || x.histogram order by x.sub_agent_code)
      from (select r.sub_agent_code, public.metrics_histogram(array_agg(r.duration_ms), c_gate_bounds) as histogram
            from results r where not r.skipped and r.duration_ms is not null group by 1) x), '[]'::jsonb),
    'http_idempotent_hits', (select coalesce(sum(k.hits), 0) from public.http_idempotency_keys k),
    -- sqlfix: a client retrying a finished handoff (HTTP derived request id or SQL request id)
    'handoff_request_replays', coalesce((
      select jsonb_object_agg(x.reason, x.n)
      from (select q.reason, count(*) as n from requests q where q.kind = 'replay' group by 1) x), '{}'::jsonb),
    'dry_runs', (select count(*) from requests q where q.kind = 'dry_run'),
    'breakers', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', b.sub_agent_code, 'state', b.state) order by b.sub_agent_code)
      from public.sub_agent_breaker_status b where b.active), '[]'::jsonb),

    -- -------------------------------------------------------------- validation mode, unknown inputs
    'mode_store', v_mode_store,
    'unknown_inputs', coalesce((
      select jsonb_object_agg(x.kind, x.n)
      from (select u.kind, count(*) as n from public.unknown_inputs u group by 1) x), '{}'::jsonb),

    -- -------------------------------------------------------------- the runbook's rates, last hour
    -- null when nothing happened in the window (a rate of nothing is not zero).
    'ratios', (
      select jsonb_build_object(
        'transition_failure', (select count(*) filter (where a.status = 'failed')::numeric
                                      / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0)
                               from audits a where a.recent),
        'would_reject', (select count(*) filter (where a.would_reject)::numeric
                                / nullif(count(*) filter (where a.status in ('completed', 'rejected', 'failed')), 0)
                         from audits a where a.recent),
        'idempotent_hit', (select count(*) filter (where r.hit)::numeric / nullif(count(*), 0) from results r where r.recent),
        -- sqlfix: replays of a finished request id / (those + attempts begun), last hour
        'handoff_request_replay', (select q.n::numeric / nullif(q.n + a.n, 0)
                                   from (select count(*) as n from requests q where q.kind = 'replay' and q.recent) q,
                                        (select count(*) as n from public.handoff_attempts h
                                         where h.started_at > now() - c_window and not h.dry_run) a),
        'gate_validation_failure', (select count(*) filter (where r.invalid)::numeric / nullif(count(*), 0)
                                    from results r where r.recent and not r.skipped),
        -- unknown inputs / requests, requests = judged handoffs + unknown inputs (fn_promotion_gate's
        -- definition): a request either reached a verdict or was refused as not normalisable.
        'unknown_input', (select u.n::numeric / nullif(u.n + j.n, 0)
                          from (select count(*) as n from public.unknown_inputs i where i.at > now() - c_window) u,
                               (select count(*) as n from audits a where a.recent and a.status in ('completed', 'rejected', 'failed')) j),
        'handoff_avg_duration_s', (select avg(h.execution_time_ms) / 1000.0 from handoffs h where h.recent)))
  ) into v_result;
  return v_result;
end;
$$;
comment on function public.fn_metrics_recount() is
  'fn_metrics_snapshot computed from the rows instead of metric_counters: the same answer (generated_at and the ages aside), at a cost that grows with the history. For tests and for checking the counters by hand.';

-- Includes the NOTIFY outbox's backlog: notifications_pending and oldest_notification_pending_s
-- (null when empty). If the transition_notifications sweep stops, transitions still commit but
-- listeners hear nothing; the gauge and the StagegateNotificationRelayStalled alert say so.
-- Totals and histograms come from metric_counters; the last hour's rates from the rows of the
-- last hour (created_at indexes); open attempts from the in-progress partial index. So a scrape
-- costs the same at a million handoffs as on an empty database. fn_metrics_recount() computes
-- the same answer from the rows (tests compare the two).
create or replace function public.fn_metrics_snapshot() returns jsonb
language plpgsql stable security definer set search_path = '' set lock_timeout = '2s' as $$
declare
  c_handoff_bounds constant int[] := public.metrics_handoff_bounds();
  c_gate_bounds constant int[] := public.metrics_gate_bounds();
  c_window constant interval := interval '1 hour';
  v_mode_store jsonb;
  v_result jsonb;
begin
  -- The mode store is read on its own, so a failure there is reported (mode_store.ok = false,
  -- the ModeStoreFetchFailing alert) instead of costing every other metric.
  begin
    v_mode_store := jsonb_build_object('ok', true, 'error', null, 'modes',
      coalesce((select jsonb_agg(jsonb_build_object('scope', m.scope, 'mode', m.mode) order by m.scope)
                from public.validation_modes m), '[]'::jsonb),
      'global', public.fn_get_validation_mode(null));
  exception when others then
    v_mode_store := jsonb_build_object('ok', false, 'error', sqlerrm, 'modes', '[]'::jsonb, 'global', null);
  end;

  with totals as materialized (
    select c.metric, c.l1, c.l2, c.l3, sum(c.n)::bigint as n, sum(c.total)::bigint as total
    from public.metric_counters c
    where c.day = '-infinity'
    group by 1, 2, 3, 4
  ), results as materialized (
    select r.skipped, coalesce(r.error like 'invalid_result:%', false) as invalid,
           r.metadata ->> 'idempotent_hit' = 'true' as hit
    from public.sub_agent_execution_results r
    where r.created_at > now() - c_window
  ), handoffs as materialized (
    select h.execution_time_ms from public.sd_phase_handoffs h where h.created_at > now() - c_window
  ), attempts as (
    select count(*) as in_progress, min(a.started_at) as oldest_in_progress
    from public.handoff_attempts a where a.status = 'in_progress'
      and not a.dry_run  -- sqlfix: a dry run is nobody's open attempt
  ), requests as materialized (
    -- sqlfix: requests that left no attempt: replays of a finished request id, dry runs
    -- (handoff_request_events is kept 24 h by fn_sweep_idempotency, so this read stays bounded)
    select e.kind, e.reason, e.at > now() - c_window as recent from public.handoff_request_events e
  ), outbox as (
    select count(*) as pending, min(n.created_at) as oldest from public.transition_notifications n
  ), audits as materialized (
    select a.status,
           -- fn_promotion_gate's definition: ENFORCE would refuse it on the threshold.
           coalesce(a.would_reject or a.score < a.threshold, false) as would_reject
    from public.sd_transition_audit a
    where a.created_at > now() - c_window
  ), histograms as (
    -- {count, sum_s, buckets} per label, as metrics_histogram computes it from the values
    select t.metric, t.l1,
           jsonb_build_object('count', sum(t.n), 'sum_s', sum(t.total) / 1000.0,
             'buckets', (select jsonb_agg(coalesce((select sum(b.n) from totals b
                                                    where b.metric = t.metric and b.l1 = t.l1 and b.l2 = g.i::text), 0)
                                          order by g.i)
                         from generate_series(0, cardinality(case when t.metric = 'handoff_duration'
                                                                  then c_handoff_bounds else c_gate_bounds end)) g(i))) as histogram
    from totals t
    where t.metric in ('handoff_duration', 'gate_duration')
    group by 1, 2
    having sum(t.n) > 0
  )
  select jsonb_build_object(
    'generated_at', clock_timestamp(),
    'window_s', extract(epoch from c_window)::int,
    'handoff_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_handoff_bounds) b),
    'gate_bounds_s', (select jsonb_agg(b / 1000.0 order by b) from unnest(c_gate_bounds) b),

    -- -------------------------------------------------------------- handoffs and transitions
    'handoffs', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', x.l1, 'verdict', x.l2, 'count', x.n) order by x.l1, x.l2)
      from (select t.l1, t.l2, sum(t.n) as n from totals t where t.metric = 'handoffs' group by 1, 2 having sum(t.n) > 0) x),
      '[]'::jsonb),
    'handoff_durations', coalesce((
      select jsonb_agg(jsonb_build_object('handoff_type', h.l1) || h.histogram order by h.l1)
      from histograms h where h.metric = 'handoff_duration'), '[]'::jsonb),
    'transitions', coalesce((
      select jsonb_object_agg(x.l1, x.n)
      from (select t.l1, sum(t.n) as n from totals t where t.metric = 'transitions' group by 1 having sum(t.n) > 0) x),
      '{}'::jsonb),
    'would_reject', (select coalesce(sum(t.n), 0) from totals t where t.metric = 'would_reject'),
    'attempts', (select coalesce(sum(t.n), 0) from totals t where t.metric = 'attempts'),
    'attempts_in_progress', (select a.in_progress from attempts a),
    'oldest_in_progress_s', (select extract(epoch from clock_timestamp() - a.oldest_in_progress) from attempts a),
    -- approvals: attempts waiting for people (bounded by the awaiting_approval partial indexes), and
    -- overrides by SD type (every SD type with a threshold profile, zero-filled, so rate() sees the
    -- first one), from the 'overrides' counters kept by the triggers on handoff_overrides
    'attempts_awaiting_approval', (select count(*) from public.handoff_attempts a where a.status = 'awaiting_approval'),
    'overrides', (
      select coalesce(jsonb_object_agg(x.sd_type, x.n), '{}'::jsonb)
      from (select coalesce(t.sd_type, o.sd_type) as sd_type, coalesce(o.n, 0) as n
            from (select p.sd_type from public.threshold_profiles p where p.sd_type <> 'default') t
            full join (select c.l1 as sd_type, sum(c.n) as n from totals c where c.metric = 'overrides'
                       group by 1 having sum(c.n) > 0) o on o.sd_type = t.sd_type) x),
    -- the NOTIFY outbox: rows wait here until the transition_notifications sweep relays them
    -- (every second); a growing backlog or an old row means the relay has stopped
    'notifications_pending', (select o.pending from outbox o),
    'oldest_notification_pending_s', (select extract(epoch from clock_timestamp() - o.oldest) from outbox o),

    -- -------------------------------------------------------------- gates
    'gate_results', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', x.l1, 'verdict', x.l2, 'count', x.n,
                                          'invalid', x.invalid, 'normalized', x.normalized, 'hits', x.hits)
                       order by x.l1, x.l2)
      from (select t.l1, t.l2,
                   sum(t.n) filter (where t.metric = 'gate_results') as n,
                   coalesce(sum(t.n) filter (where t.metric = 'gate_invalid'), 0) as invalid,
                   coalesce(sum(t.n) filter (where t.metric = 'gate_normalized'), 0) as normalized,
                   coalesce(sum(t.total) filter (where t.metric = 'gate_results'), 0) as hits
            from totals t where t.metric in ('gate_results', 'gate_invalid', 'gate_normalized')
            group by 1, 2 having sum(t.n) filter (where t.metric = 'gate_results') > 0) x), '[]'::jsonb),
    'gate_durations', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', h.l1) || h.histogram order by h.l1)
      from histograms h where h.metric = 'gate_duration'), '[]'::jsonb),
    'http_idempotent_hits', (select coalesce(sum(t.total), 0) from totals t where t.metric = 'http_hits'),
    -- sqlfix: a client retrying a finished handoff (HTTP derived request id or SQL request id)
    'handoff_request_replays', coalesce((
      select jsonb_object_agg(x.reason, x.n)
      from (select q.reason, count(*) as n from requests q where q.kind = 'replay' group by 1) x), '{}'::jsonb),
    'dry_runs', (select count(*) from requests q where q.kind = 'dry_run'),
    'breakers', coalesce((
      select jsonb_agg(jsonb_build_object('sub_agent', b.sub_agent_code, 'state', b.state) order by b.sub_agent_code)
      from public.sub_agent_breaker_status b where b.active), '[]'::jsonb),

    -- -------------------------------------------------------------- validation mode, unknown inputs
    'mode_store', v_mode_store,
    'unknown_inputs', coalesce((
      select jsonb_object_agg(x.l1, x.n)
      from (select t.l1, sum(t.n) as n from totals t where t.metric = 'unknown_inputs' group by 1 having sum(t.n) > 0) x),
      '{}'::jsonb),

    -- -------------------------------------------------------------- the runbook's rates, last hour
    -- null when nothing happened in the window (a rate of nothing is not zero).
    'ratios', (
      select jsonb_build_object(
        'transition_failure', (select count(*) filter (where a.status = 'failed')::numeric
                                      / nullif(count(*) filter (where a.status in ('completed', 'failed')), 0)
                               from audits a),
        'would_reject', (select count(*) filter (where a.would_reject)::numeric
                                / nullif(count(*) filter (where a.status in ('completed', 'rejected', 'failed')), 0)
                         from audits a),
        'idempotent_hit', (select count(*) filter (where r.hit)::numeric / nullif(count(*), 0) from results r),
        -- sqlfix: replays of a finished request id / (those + attempts begun), last hour
        'handoff_request_replay', (select q.n::numeric / nullif(q.n + a.n, 0)
                                   from (select count(*) as n from requests q where q.kind = 'replay' and q.recent) q,
                                        (select count(*) as n from public.handoff_attempts h
                                         where h.started_at > now() - c_window and not h.dry_run) a),
        'gate_validation_failure', (select count(*) filter (where r.invalid)::numeric / nullif(count(*), 0)
                                    from results r where not r.skipped),
        -- unknown inputs / requests, requests = judged handoffs + unknown inputs (fn_promotion_gate's
        -- definition): a request either reached a verdict or was refused as not normalisable.
        'unknown_input', (select u.n::numeric / nullif(u.n + j.n, 0)
                          from (select count(*) as n from public.unknown_inputs i where i.at > now() - c_window) u,
                               (select count(*) as n from audits a where a.status in ('completed', 'rejected', 'failed')) j),
        'handoff_avg_duration_s', (select avg(h.execution_time_ms) / 1000.0 from handoffs h)))
  ) into v_result;
  return v_result;
end;
$$;
comment on function public.fn_metrics_snapshot() is
  'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; attempts_awaiting_approval, overrides per SD type; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty). Totals from metric_counters, so its cost does not grow with the history.';

revoke all on function public.metrics_histogram(int[], int[]), public.fn_metrics_snapshot(), public.fn_metrics_recount()
  from public, anon, authenticated, service_role;
grant execute on function public.fn_metrics_snapshot(), public.fn_metrics_recount() to service_role;
