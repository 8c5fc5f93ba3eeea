SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.metrics_orchestration_attempts (
  p_from timestamp with time zone,
  p_to   timestamp with time zone
)
  RETURNS TABLE (
    attempt_id   uuid,
    first_at     timestamp with time zone,
    executions   bigint,
    avg_time_sec numeric,
    max_time_sec numeric,
    speedup      numeric
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
  select p.attempt_id, p.first_at, p.executions, p.avg_time_sec, p.max_time_sec,
         p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0)
  from per_attempt p
  join public.handoff_attempts a on a.id = p.attempt_id
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
  select
    (p.first_at at time zone 'UTC')::date,
    count(*),
    sum(p.executions),
    round(sum(p.avg_time_sec * p.executions) / nullif(sum(p.executions), 0), 3),
    max(p.max_time_sec),
    round(avg(p.speedup)::numeric, 2)
  from public.metrics_orchestration_attempts(p_from, p_to) p
  group by 1
$function$;

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_attempts"(timestamp WITH time zone, timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_orchestration_attempts"(timestamp WITH time zone, timestamp WITH time zone) TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_attempts"(timestamp WITH time zone, timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_orchestration_attempts"(timestamp WITH time zone, timestamp WITH time zone) FROM "authenticated";
