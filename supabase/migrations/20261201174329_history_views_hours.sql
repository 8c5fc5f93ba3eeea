SET local check_function_bodies = off;

DROP VIEW "public"."v_gate_validation_failure_rate";

DROP VIEW "public"."v_handoff_duration";

DROP VIEW "public"."v_idempotent_hit_rate";

DROP VIEW "public"."v_orchestration_speed";

DROP VIEW "public"."v_transition_success_rate";

CREATE TABLE "public"."metric_hours_handoff_duration" (
  "hour"         timestamp with time zone NOT NULL,
  "handoff_type" text                     NOT NULL,
  "from_phase"   text                     NOT NULL,
  "to_phase"     text                     NOT NULL,
  "values_ms"    integer[]                NOT NULL,
  CONSTRAINT "metric_hours_handoff_duration_pkey" PRIMARY KEY (hour, handoff_type, from_phase, to_phase)
);

ALTER TABLE "public"."metric_hours_handoff_duration"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."metric_hours_orchestration" (
  "hour"              timestamp with time zone NOT NULL,
  "attempts"          bigint                   NOT NULL,
  "executions"        numeric                  NOT NULL,
  "time_x_executions" numeric,
  "max_time_sec"      numeric,
  "speedup_sum"       numeric,
  "speedup_n"         bigint                   NOT NULL,
  CONSTRAINT "metric_hours_orchestration_pkey" PRIMARY KEY (hour)
);

ALTER TABLE "public"."metric_hours_orchestration"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."metric_hours" (
  "hour"      timestamp with time zone NOT NULL,
  "rolled_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "metric_hours_pkey" PRIMARY KEY (hour)
);

ALTER TABLE "public"."metric_hours"
  ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION public.fn_metrics_rebuild_counters()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.fn_metrics_snapshot()
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  SET lock_timeout TO '2s'
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_metric_days (
  p_days integer DEFAULT 31
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.metrics_delta_sql (
  p_kind text
)
  RETURNS text
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.metrics_live_hour_from()
  RETURNS timestamp WITH time zone
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select coalesce(
    (select min(g.h)
     from generate_series(public.metrics_live_from(), date_trunc('hour', now(), 'UTC'), interval '1 hour') g(h)
     where not exists (select 1 from public.metric_hours m where m.hour = g.h)),
    date_trunc('hour', now(), 'UTC'))
$function$;

CREATE OR REPLACE FUNCTION public.metrics_orchestration_hours (
  p_from timestamp with time zone,
  p_to   timestamp with time zone
)
  RETURNS TABLE (
    hour              timestamp with time zone,
    attempts          bigint,
    executions        numeric,
    time_x_executions numeric,
    max_time_sec      numeric,
    speedup_sum       numeric,
    speedup_n         bigint
  )
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
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
      and r.created_at >= (select public.metrics_window_start())
    group by r.attempt_id
    having min(r.created_at) >= p_from and min(r.created_at) < p_to
  ), ratios as (
    select p.*, p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0) as speedup
    from per_attempt p
    join public.handoff_attempts a on a.id = p.attempt_id
  )
  select
    date_trunc('hour', x.first_at, 'UTC'),
    count(*),
    sum(x.executions),
    sum(x.avg_time_sec * x.executions),
    max(x.max_time_sec),
    sum(x.speedup),
    count(x.speedup)
  from ratios x
  group by 1
$function$;

CREATE OR REPLACE FUNCTION public.metrics_orchestration_rows (
  p_from timestamp with time zone,
  p_to   timestamp with time zone
)
  RETURNS TABLE (
    day              date,
    attempts         bigint,
    executions       numeric,
    avg_time_sec     numeric,
    max_time_sec     numeric,
    parallel_speedup numeric
  )
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
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
  select
    (p.first_at at time zone 'UTC')::date,
    count(*),
    sum(p.executions),
    round(sum(p.avg_time_sec * p.executions) / nullif(sum(p.executions), 0), 3),
    max(p.max_time_sec),
    round(avg(p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0))::numeric, 2)
  from per_attempt p
  join public.handoff_attempts a on a.id = p.attempt_id
  group by 1
$function$;

CREATE OR REPLACE FUNCTION public.metrics_window_first_day()
  RETURNS date
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select (now() at time zone 'UTC')::date - 30
$function$;

ALTER TABLE "public"."metric_hours_handoff_duration"
  ADD CONSTRAINT "metric_hours_handoff_duration_hour_fkey" FOREIGN KEY (hour) REFERENCES public.metric_hours(hour) ON DELETE CASCADE;

ALTER TABLE "public"."metric_hours_orchestration"
  ADD CONSTRAINT "metric_hours_orchestration_hour_fkey" FOREIGN KEY (hour) REFERENCES public.metric_hours(hour) ON DELETE CASCADE;

CREATE VIEW "public"."v_gate_validation_failure_rate" WITH (security_invoker=true) AS  WITH c AS (
         SELECT c_1.day,
            c_1.l1 AS sub_agent_code,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_results'::text)))::bigint AS results,
            (COALESCE(sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_invalid'::text)), (0)::numeric))::bigint AS invalid,
            (COALESCE(sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_normalized'::text)), (0)::numeric))::bigint AS normalized,
            (COALESCE(sum(c_1.n) FILTER (WHERE ((c_1.metric = 'gate_results'::text) AND (c_1.l2 = 'FAIL'::text))), (0)::numeric))::bigint AS failed,
            (COALESCE(sum(c_1.n) FILTER (WHERE ((c_1.metric = 'gate_results'::text) AND (c_1.l2 = 'ERROR'::text))), (0)::numeric))::bigint AS errored
           FROM public.metric_counters c_1
          WHERE ((c_1.metric = ANY (ARRAY['gate_results'::text, 'gate_invalid'::text, 'gate_normalized'::text])) AND (c_1.day >= ( SELECT public.metrics_window_first_day() AS metrics_window_first_day)) AND (c_1.l3 = 'false'::text))
          GROUP BY c_1.day, c_1.l1
        )
 SELECT day,
    sub_agent_code,
    results,
    invalid,
    normalized,
    failed,
    errored,
    round(((100.0 * (invalid)::numeric) / (results)::numeric), 2) AS validation_failure_rate_pct,
    round(((100.0 * ((failed + errored))::numeric) / (results)::numeric), 2) AS gate_failure_rate_pct
   FROM c
  WHERE (results > 0);

CREATE VIEW "public"."v_handoff_duration" WITH (security_invoker=true) AS  SELECT m.day,
    m.handoff_type,
    m.from_phase,
    m.to_phase,
    m.handoffs,
    m.avg_ms,
    m.p50_ms,
    m.p95_ms,
    m.max_ms
   FROM public.metric_days_handoff_duration m
  WHERE ((m.day >= ((public.metrics_window_start() AT TIME ZONE 'UTC'::text))::date) AND (m.day < ((public.metrics_live_from() AT TIME ZONE 'UTC'::text))::date))
UNION ALL
 SELECT x.day,
    x.handoff_type,
    x.from_phase,
    x.to_phase,
    count(*) AS handoffs,
    round(avg(x.ms), 1) AS avg_ms,
    percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((x.ms)::double precision)) AS p50_ms,
    percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY ((x.ms)::double precision)) AS p95_ms,
    max(x.ms) AS max_ms
   FROM ( SELECT ((h.hour AT TIME ZONE 'UTC'::text))::date AS day,
            h.handoff_type,
            h.from_phase,
            h.to_phase,
            v.ms
           FROM (public.metric_hours_handoff_duration h
             CROSS JOIN LATERAL unnest(h.values_ms) v(ms))
          WHERE ((h.hour >= ( SELECT public.metrics_live_from() AS metrics_live_from)) AND (h.hour < ( SELECT public.metrics_live_hour_from() AS metrics_live_hour_from)))
        UNION ALL
         SELECT ((p.created_at AT TIME ZONE 'UTC'::text))::date AS timezone,
            p.handoff_type,
            p.from_phase,
            p.to_phase,
            p.execution_time_ms
           FROM public.sd_phase_handoffs p
          WHERE ((p.execution_time_ms IS NOT NULL) AND (p.created_at >= ( SELECT public.metrics_live_hour_from() AS metrics_live_hour_from)))) x
  GROUP BY x.day, x.handoff_type, x.from_phase, x.to_phase;

CREATE VIEW "public"."v_idempotent_hit_rate" WITH (security_invoker=true) AS  SELECT 'sub_agent_result'::text AS source,
    c.day,
    (sum(c.n) FILTER (WHERE (c.metric = 'gate_results'::text)))::bigint AS records,
    (COALESCE(sum(c.n) FILTER (WHERE (c.metric = 'gate_hit'::text)), (0)::numeric))::bigint AS hit_records,
    (COALESCE(sum(c.total) FILTER (WHERE (c.metric = 'gate_results'::text)), (0)::numeric))::bigint AS duplicate_calls,
    round(((100.0 * COALESCE(sum(c.n) FILTER (WHERE (c.metric = 'gate_hit'::text)), (0)::numeric)) / sum(c.n) FILTER (WHERE (c.metric = 'gate_results'::text))), 2) AS hit_rate_pct
   FROM public.metric_counters c
  WHERE ((c.metric = ANY (ARRAY['gate_results'::text, 'gate_hit'::text])) AND (c.day >= ( SELECT public.metrics_window_first_day() AS metrics_window_first_day)))
  GROUP BY c.day
 HAVING (sum(c.n) FILTER (WHERE (c.metric = 'gate_results'::text)) > (0)::numeric)
UNION ALL
 SELECT 'http'::text AS source,
    ((k.created_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS records,
    count(*) FILTER (WHERE (k.hits > 0)) AS hit_records,
    COALESCE(sum(k.hits), (0)::bigint) AS duplicate_calls,
    round(((100.0 * (count(*) FILTER (WHERE (k.hits > 0)))::numeric) / (count(*))::numeric), 2) AS hit_rate_pct
   FROM public.http_idempotency_keys k
  WHERE (k.created_at >= ( SELECT public.metrics_window_start() AS metrics_window_start))
  GROUP BY (((k.created_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW "public"."v_orchestration_speed" WITH (security_invoker=true) AS  SELECT m.day,
    m.attempts,
    m.executions,
    m.avg_time_sec,
    m.max_time_sec,
    m.parallel_speedup
   FROM public.metric_days_orchestration m
  WHERE ((m.day >= ((public.metrics_window_start() AT TIME ZONE 'UTC'::text))::date) AND (m.day < ((public.metrics_live_from() AT TIME ZONE 'UTC'::text))::date))
UNION ALL
 SELECT x.day,
    (sum(x.attempts))::bigint AS attempts,
    sum(x.executions) AS executions,
    round((sum(x.time_x_executions) / NULLIF(sum(x.executions), (0)::numeric)), 3) AS avg_time_sec,
    max(x.max_time_sec) AS max_time_sec,
    round((sum(x.speedup_sum) / NULLIF(sum(x.speedup_n), (0)::numeric)), 2) AS parallel_speedup
   FROM ( SELECT ((h.hour AT TIME ZONE 'UTC'::text))::date AS day,
            h.attempts,
            h.executions,
            h.time_x_executions,
            h.max_time_sec,
            h.speedup_sum,
            h.speedup_n
           FROM public.metric_hours_orchestration h
          WHERE ((h.hour >= ( SELECT public.metrics_live_from() AS metrics_live_from)) AND (h.hour < ( SELECT public.metrics_live_hour_from() AS metrics_live_hour_from)))
        UNION ALL
         SELECT ((o.hour AT TIME ZONE 'UTC'::text))::date AS timezone,
            o.attempts,
            o.executions,
            o.time_x_executions,
            o.max_time_sec,
            o.speedup_sum,
            o.speedup_n
           FROM public.metrics_orchestration_hours(( SELECT public.metrics_live_hour_from() AS metrics_live_hour_from), 'infinity'::timestamp with time zone) o(hour, attempts, executions, time_x_executions, max_time_sec, speedup_sum, speedup_n)) x
  GROUP BY x.day;

CREATE VIEW "public"."v_transition_success_rate" WITH (security_invoker=true) AS  WITH c AS (
         SELECT c_1.day,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'completed'::text))))::bigint AS completed,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'rejected'::text))))::bigint AS rejected,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'failed'::text))))::bigint AS failed,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'transitions'::text)))::bigint AS audits,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'would_reject'::text)))::bigint AS would_reject
           FROM public.metric_counters c_1
          WHERE ((c_1.metric = ANY (ARRAY['transitions'::text, 'would_reject'::text])) AND (c_1.day >= ( SELECT public.metrics_window_first_day() AS metrics_window_first_day)))
          GROUP BY c_1.day
        )
 SELECT day,
    COALESCE(completed, (0)::bigint) AS completed,
    COALESCE(rejected, (0)::bigint) AS rejected,
    COALESCE(failed, (0)::bigint) AS failed,
    COALESCE(would_reject, (0)::bigint) AS would_reject,
    ((COALESCE(completed, (0)::bigint) + COALESCE(rejected, (0)::bigint)) + COALESCE(failed, (0)::bigint)) AS judged,
    round(((100.0 * (COALESCE(completed, (0)::bigint))::numeric) / (NULLIF((COALESCE(completed, (0)::bigint) + COALESCE(failed, (0)::bigint)), 0))::numeric), 2) AS success_rate_pct,
    round(((100.0 * (COALESCE(failed, (0)::bigint))::numeric) / (NULLIF((COALESCE(completed, (0)::bigint) + COALESCE(failed, (0)::bigint)), 0))::numeric), 2) AS failure_rate_pct,
    round(((100.0 * (COALESCE(would_reject, (0)::bigint))::numeric) / (NULLIF(((COALESCE(completed, (0)::bigint) + COALESCE(rejected, (0)::bigint)) + COALESCE(failed, (0)::bigint)), 0))::numeric), 2) AS would_reject_rate_pct
   FROM c
  WHERE (audits > 0);

CREATE INDEX metric_counters_totals_idx ON public.metric_counters USING btree (metric, l1, l2, l3)
  WHERE (day = '-infinity'::date);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.handoff_overrides REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'overrides'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.handoff_overrides REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'overrides'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.handoff_overrides
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('overrides');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.handoff_overrides
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'overrides'
);

COMMENT ON FUNCTION "public"."fn_sweep_metric_days"(integer) IS 'Compute v_handoff_duration and v_orchestration_speed once for each closed UTC day of the last 31 not done yet (at most p_days per run), into metric_days_*; forget days past the window; roll up the closed hours since (once every attempt begun before the hour''s end has finished) into metric_hours_*; merge closed days'' metric_counters shards into one row per day, metric and labels. Returns {rolled_up, forgotten, hours_rolled_up, merged_days}. Scheduled by sweep_schedule ''metric_days''.';

COMMENT ON TABLE "public"."metric_hours" IS 'Closed UTC hours since the last rolled-up day whose v_handoff_duration values and v_orchestration_speed sums fn_sweep_metric_days has stored once (metric_hours_handoff_duration, metric_hours_orchestration).';

COMMENT ON VIEW "public"."v_gate_validation_failure_rate" IS 'Per UTC day of the last 31 and sub-agent (skipped gates left out): results, invalid (failed the gate-result contract; alert > 10%), normalized (accepted after fixes), FAIL and ERROR verdicts, and their rates. From metric_counters (which keeps the older days too).';

COMMENT ON VIEW "public"."v_handoff_duration" IS 'Per UTC day of the last 31 and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max. Closed days from metric_days_handoff_duration, closed hours since from metric_hours_handoff_duration, the rest from the rows.';

COMMENT ON VIEW "public"."v_idempotent_hit_rate" IS 'Per source (sub_agent_result, http) and UTC day of the last 31 of the first record: records, records hit again, duplicate calls, hit_rate_pct (runbook target < 10%, alert > 50%). HTTP keys are purged after 24 h, so only recent days show for http. Older days of sub_agent_result: metric_counters.';

COMMENT ON VIEW "public"."v_orchestration_speed" IS 'Per UTC day of the last 31: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only). Closed days from metric_days_orchestration, closed hours since from metric_hours_orchestration, the rest from the rows.';

COMMENT ON VIEW "public"."v_transition_success_rate" IS 'Per UTC day of the last 31: completed, rejected, failed and would-reject (would_reject or score below threshold) audit rows; success_rate_pct = completed / (completed + failed) (runbook: > 95%), failure_rate_pct (alert > 5%), would_reject_rate_pct = would_reject / judged. From metric_counters (which keeps the older days too).';

REVOKE ALL ON FUNCTION "public"."metrics_live_hour_from"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_live_hour_from"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_hours"(timestamp WITH time zone, timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_orchestration_hours"(timestamp WITH time zone, timestamp WITH time zone) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_window_first_day"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_window_first_day"() TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_hours" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_hours_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_hours_orchestration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_gate_validation_failure_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_idempotent_hit_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_orchestration_speed" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_transition_success_rate" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."metrics_live_hour_from"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_live_hour_from"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_hours"(timestamp WITH time zone, timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_hours"(timestamp WITH time zone, timestamp WITH time zone) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_window_first_day"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_window_first_day"() FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_hours" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_hours" FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_hours_handoff_duration" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_hours_handoff_duration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_hours_orchestration" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_hours_orchestration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_gate_validation_failure_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_gate_validation_failure_rate" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "anon";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_idempotent_hit_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_idempotent_hit_rate" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "anon";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_transition_success_rate" FROM "anon";

REVOKE ALL ON TABLE "public"."v_transition_success_rate" FROM "authenticated";
