SET local check_function_bodies = off;

DROP VIEW "public"."v_handoff_duration";

DROP VIEW "public"."v_orchestration_speed";

CREATE TABLE "public"."metric_days_handoff_duration" (
  "day"          date             NOT NULL,
  "handoff_type" text             NOT NULL,
  "from_phase"   text             NOT NULL,
  "to_phase"     text             NOT NULL,
  "handoffs"     bigint           NOT NULL,
  "avg_ms"       numeric,
  "p50_ms"       double precision,
  "p95_ms"       double precision,
  "max_ms"       integer,
  CONSTRAINT "metric_days_handoff_duration_pkey" PRIMARY KEY (day, handoff_type, from_phase, to_phase)
);

ALTER TABLE "public"."metric_days_handoff_duration"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."metric_days_orchestration" (
  "day"              date    NOT NULL,
  "attempts"         bigint  NOT NULL,
  "executions"       numeric,
  "avg_time_sec"     numeric,
  "max_time_sec"     numeric,
  "parallel_speedup" numeric,
  CONSTRAINT "metric_days_orchestration_pkey" PRIMARY KEY (day)
);

ALTER TABLE "public"."metric_days_orchestration"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."metric_days" (
  "day"       date                     NOT NULL,
  "rolled_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "metric_days_pkey" PRIMARY KEY (day)
);

ALTER TABLE "public"."metric_days"
  ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION public.fn_attach_history_month (
  p_month date
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_table text;
  v_part text;
  v_month date := date_trunc('month', p_month)::date;
  v_rows bigint;
  v_out jsonb := '{}';
begin
  if p_month is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_month is required';
  end if;
  foreach v_table in array array['sd_transition_audit', 'sd_phase_handoffs'] loop
    v_part := public.history_partition_name(v_table, v_month);
    if to_regclass('public.' || v_part) is null then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: no table public.%s to attach (restore it from its archive first)', v_part);
    end if;
    if exists (select 1 from pg_catalog.pg_inherits i where i.inhrelid = ('public.' || v_part)::regclass) then
      raise exception using errcode = 'SG001', message = format('INVALID_INPUT: %s is attached already', v_part);
    end if;
    execute format('alter table public.%I attach partition public.%I for values from (%L) to (%L)',
                   v_table, v_part, v_month, (v_month + interval '1 month')::date);
    execute format('alter table public.%I enable row level security', v_part);
    execute format('revoke all on table public.%I from public, anon, authenticated', v_part);
    perform public.metrics_count_relation(case v_table when 'sd_transition_audit' then 'audit' else 'handoffs' end,
                                          ('public.' || v_part)::regclass, 1);
    execute format('select count(*) from public.%I', v_part) into v_rows;
    v_out := v_out || jsonb_build_object(v_part, v_rows);
  end loop;
  delete from public.metric_days m where m.day >= v_month and m.day < (v_month + interval '1 month')::date;
  return jsonb_build_object('attached', v_out);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_detach_history_month (
  p_month date
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_table text;
  v_part text;
  v_rows bigint;
  v_out jsonb := '{}';
begin
  if p_month is null or p_month >= date_trunc('month', now() at time zone 'UTC')::date then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: only a past month can be detached (got %s)', p_month);
  end if;
  foreach v_table in array array['sd_transition_audit', 'sd_phase_handoffs'] loop
    v_part := public.history_partition_name(v_table, date_trunc('month', p_month)::date);
    if not exists (select 1 from pg_catalog.pg_inherits i
                   where i.inhrelid = to_regclass('public.' || v_part) and i.inhparent = ('public.' || v_table)::regclass) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: %s is not an attached partition of %s', v_part, v_table);
    end if;
    -- the rows leave the table without a DELETE: take their counts out by hand
    perform public.metrics_count_relation(case v_table when 'sd_transition_audit' then 'audit' else 'handoffs' end,
                                          ('public.' || v_part)::regclass, -1);
    execute format('select count(*) from public.%I', v_part) into v_rows;
    execute format('alter table public.%I detach partition public.%I', v_table, v_part);
    v_out := v_out || jsonb_build_object(v_part, v_rows);
  end loop;
  -- the month's rolled-up days of v_handoff_duration / v_orchestration_speed are computed again
  delete from public.metric_days m where m.day >= date_trunc('month', p_month)::date
                                     and m.day < (date_trunc('month', p_month) + interval '1 month')::date;
  return jsonb_build_object('detached', v_out);
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
  return jsonb_build_object('rolled_up', v_done, 'forgotten', v_forgot);
end;
$function$;

CREATE OR REPLACE FUNCTION public.metrics_handoff_duration_rows (
  p_from timestamp with time zone,
  p_to   timestamp with time zone
)
  RETURNS TABLE (
    day          date,
    handoff_type text,
    from_phase   text,
    to_phase     text,
    handoffs     bigint,
    avg_ms       numeric,
    p50_ms       double precision,
    p95_ms       double precision,
    max_ms       integer
  )
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.metrics_live_from()
  RETURNS timestamp WITH time zone
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select coalesce(
    (select min(g.d)::timestamp at time zone 'UTC'
     from generate_series((public.metrics_window_start() at time zone 'UTC')::date, (now() at time zone 'UTC')::date, interval '1 day') g(d)
     where not exists (select 1 from public.metric_days m where m.day = g.d::date)),
    (now() at time zone 'UTC')::date::timestamp at time zone 'UTC')
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
    where r.created_at >= greatest(p_from, public.metrics_window_start()) and r.created_at < p_to
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
      and r.created_at >= public.metrics_window_start()
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

CREATE OR REPLACE FUNCTION public.metrics_window_start()
  RETURNS timestamp WITH time zone
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select ((now() at time zone 'UTC')::date - 30)::timestamp at time zone 'UTC'
$function$;

ALTER TABLE "public"."metric_days_handoff_duration"
  ADD CONSTRAINT "metric_days_handoff_duration_day_fkey" FOREIGN KEY (day) REFERENCES public.metric_days(day) ON DELETE CASCADE;

ALTER TABLE "public"."metric_days_orchestration"
  ADD CONSTRAINT "metric_days_orchestration_day_fkey" FOREIGN KEY (day) REFERENCES public.metric_days(day) ON DELETE CASCADE;

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
 SELECT metrics_handoff_duration_rows.day,
    metrics_handoff_duration_rows.handoff_type,
    metrics_handoff_duration_rows.from_phase,
    metrics_handoff_duration_rows.to_phase,
    metrics_handoff_duration_rows.handoffs,
    metrics_handoff_duration_rows.avg_ms,
    metrics_handoff_duration_rows.p50_ms,
    metrics_handoff_duration_rows.p95_ms,
    metrics_handoff_duration_rows.max_ms
   FROM public.metrics_handoff_duration_rows(public.metrics_live_from(), 'infinity'::timestamp with time zone) metrics_handoff_duration_rows(day, handoff_type, from_phase, to_phase, handoffs, avg_ms, p50_ms, p95_ms, max_ms);

CREATE VIEW "public"."v_orchestration_speed" WITH (security_invoker=true) AS  SELECT m.day,
    m.attempts,
    m.executions,
    m.avg_time_sec,
    m.max_time_sec,
    m.parallel_speedup
   FROM public.metric_days_orchestration m
  WHERE ((m.day >= ((public.metrics_window_start() AT TIME ZONE 'UTC'::text))::date) AND (m.day < ((public.metrics_live_from() AT TIME ZONE 'UTC'::text))::date))
UNION ALL
 SELECT metrics_orchestration_rows.day,
    metrics_orchestration_rows.attempts,
    metrics_orchestration_rows.executions,
    metrics_orchestration_rows.avg_time_sec,
    metrics_orchestration_rows.max_time_sec,
    metrics_orchestration_rows.parallel_speedup
   FROM public.metrics_orchestration_rows(public.metrics_live_from(), 'infinity'::timestamp with time zone) metrics_orchestration_rows(day, attempts, executions, avg_time_sec, max_time_sec, parallel_speedup);

COMMENT ON FUNCTION "public"."fn_sweep_metric_days"(integer) IS 'Compute v_handoff_duration and v_orchestration_speed once for each closed UTC day of the last 31 not done yet (at most p_days per run), into metric_days_*; forget days past the window. Returns {rolled_up, forgotten}. Scheduled by sweep_schedule ''metric_days''.';

COMMENT ON TABLE "public"."metric_days" IS 'UTC days whose v_handoff_duration and v_orchestration_speed rows fn_sweep_metric_days has computed once (metric_days_handoff_duration, metric_days_orchestration).';

COMMENT ON VIEW "public"."v_handoff_duration" IS 'Per UTC day of the last 31 and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max. Closed days from metric_days_handoff_duration.';

COMMENT ON VIEW "public"."v_orchestration_speed" IS 'Per UTC day of the last 31: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only). Closed days from metric_days_orchestration.';

REVOKE ALL ON FUNCTION "public"."fn_sweep_metric_days"(integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_metric_days"(integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_duration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_handoff_duration_rows"(timestamp WITH time zone, timestamp WITH time zone) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_live_from"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_live_from"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_orchestration_rows"(timestamp WITH time zone, timestamp WITH time zone) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_window_start"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_window_start"() TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_days" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_days_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."metric_days_orchestration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_orchestration_speed" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_sweep_metric_days"(integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_metric_days"(integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_duration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_duration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_live_from"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_live_from"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_rows"(timestamp WITH time zone, timestamp WITH time zone) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_window_start"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_window_start"() FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_days" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_days" FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_days_handoff_duration" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_days_handoff_duration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."metric_days_orchestration" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_days_orchestration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "anon";

REVOKE ALL ON TABLE "public"."v_handoff_duration" FROM "authenticated";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "anon";

REVOKE ALL ON TABLE "public"."v_orchestration_speed" FROM "authenticated";
