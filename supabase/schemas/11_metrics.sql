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
-- computed here from the tables, never kept in a function's memory: any instance answers the same
-- numbers, and a cold start resets nothing. Counters are totals since the beginning of the tables
-- (Prometheus derives rates); the only counts that can go down are HTTP idempotency hits, whose
-- keys the retention sweep purges after 24 h — Prometheus treats that as a counter reset.
--
-- Histograms: fixed bounds in whole milliseconds (returned with the snapshot, so the function
-- does not repeat them). Durations are stored as whole milliseconds too, so value <= bound, the
-- Prometheus `le` rule, is value - 1 < bound, which is what width_bucket(value - 1, bounds)
-- counts: bucket i holds the values in (bounds[i-1], bounds[i]]; the last one is +Inf.

create or replace view public.v_transition_success_rate with (security_invoker = true) as
select
  (a.created_at at time zone 'UTC')::date as day,
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
from public.sd_transition_audit a
group by 1;
comment on view public.v_transition_success_rate is
  'Per UTC day: completed, rejected, failed and would-reject (would_reject or score below threshold) audit rows; success_rate_pct = completed / (completed + failed) (runbook: > 95%), failure_rate_pct (alert > 5%), would_reject_rate_pct = would_reject / judged.';

create or replace view public.v_handoff_duration with (security_invoker = true) as
select
  (h.created_at at time zone 'UTC')::date as day,
  h.handoff_type,
  h.from_phase,
  h.to_phase,
  count(*) as handoffs,
  round(avg(h.execution_time_ms), 1) as avg_ms,
  percentile_cont(0.5) within group (order by h.execution_time_ms) as p50_ms,
  percentile_cont(0.95) within group (order by h.execution_time_ms) as p95_ms,
  max(h.execution_time_ms) as max_ms
from public.sd_phase_handoffs h
where h.execution_time_ms is not null
group by 1, 2, 3, 4;
comment on view public.v_handoff_duration is
  'Per UTC day and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max.';

-- parallel_speedup = the gates' summed run time / the attempt's wall time: 1 means the gates ran
-- one after another, n means n ran at once on average (the runbook's "60-70% time reduction").
create or replace view public.v_orchestration_speed with (security_invoker = true) as
with per_attempt as (
  select
    r.attempt_id,
    min(r.created_at) as first_at,
    count(*) as executions,
    sum(r.duration_ms) as gate_ms,
    avg(r.execution_time) as avg_time_sec,
    max(r.execution_time) as max_time_sec
  from public.sub_agent_execution_results r
  where r.metadata ->> 'orchestrated' = 'true' and not r.skipped and r.duration_ms is not null
  group by r.attempt_id
)
select
  (p.first_at at time zone 'UTC')::date as day,
  count(*) as attempts,
  sum(p.executions) as executions,
  round(sum(p.avg_time_sec * p.executions) / nullif(sum(p.executions), 0), 3) as avg_time_sec,
  max(p.max_time_sec) as max_time_sec,
  round(avg(p.gate_ms / nullif(extract(epoch from a.finished_at - a.started_at) * 1000, 0))::numeric, 2) as parallel_speedup
from per_attempt p
join public.handoff_attempts a on a.id = p.attempt_id
group by 1;
comment on view public.v_orchestration_speed is
  'Per UTC day: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only).';

create or replace view public.v_idempotent_hit_rate with (security_invoker = true) as
select
  'sub_agent_result'::text as source,
  (r.created_at at time zone 'UTC')::date as day,
  count(*) as records,
  count(*) filter (where r.metadata ->> 'idempotent_hit' = 'true') as hit_records,
  coalesce(sum(r.hit_count), 0) as duplicate_calls,
  round(100.0 * count(*) filter (where r.metadata ->> 'idempotent_hit' = 'true') / count(*), 2) as hit_rate_pct
from public.sub_agent_execution_results r
group by 2
union all
select
  'http'::text,
  (k.created_at at time zone 'UTC')::date,
  count(*),
  count(*) filter (where k.hits > 0),
  coalesce(sum(k.hits), 0),
  round(100.0 * count(*) filter (where k.hits > 0) / count(*), 2)
from public.http_idempotency_keys k
group by 2;
comment on view public.v_idempotent_hit_rate is
  'Per source (sub_agent_result, http) and UTC day of the first record: records, records hit again, duplicate calls, hit_rate_pct (runbook target < 10%, alert > 50%). HTTP keys are purged after 24 h, so only recent days show for http.';

create or replace view public.v_gate_validation_failure_rate with (security_invoker = true) as
select
  (r.created_at at time zone 'UTC')::date as day,
  r.sub_agent_code,
  count(*) as results,
  count(*) filter (where r.error like 'invalid_result:%') as invalid,
  count(*) filter (where jsonb_array_length(r.fixes) > 0) as normalized,
  count(*) filter (where r.verdict = 'FAIL') as failed,
  count(*) filter (where r.verdict = 'ERROR') as errored,
  round(100.0 * count(*) filter (where r.error like 'invalid_result:%') / count(*), 2) as validation_failure_rate_pct,
  round(100.0 * count(*) filter (where r.verdict in ('FAIL', 'ERROR')) / count(*), 2) as gate_failure_rate_pct
from public.sub_agent_execution_results r
where not r.skipped
group by 1, 2;
comment on view public.v_gate_validation_failure_rate is
  'Per UTC day and sub-agent (skipped gates left out): results, invalid (failed the gate-result contract; alert > 10%), normalized (accepted after fixes), FAIL and ERROR verdicts, and their rates.';

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

-- Includes the NOTIFY outbox's backlog: notifications_pending and oldest_notification_pending_s
-- (null when empty). If the transition_notifications sweep stops, transitions still commit but
-- listeners hear nothing; the gauge and the StagegateNotificationRelayStalled alert say so.
-- sd_phase_handoffs and handoff_attempts are read once per scrape.
create or replace function public.fn_metrics_snapshot() returns jsonb
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
    -- the NOTIFY outbox: rows wait here until the transition_notifications sweep relays them
    -- (every second); a growing backlog or an old row means the relay has stopped
    -- approvals: attempts waiting for people, and overrides by SD type (every SD type with a
    -- threshold profile, zero-filled, so rate() sees the first one)
    'attempts_awaiting_approval', (select count(*) from public.handoff_attempts a where a.status = 'awaiting_approval'),
    'overrides', (
      select coalesce(jsonb_object_agg(x.sd_type, x.n), '{}'::jsonb)
      from (select coalesce(t.sd_type, o.sd_type) as sd_type, coalesce(o.n, 0) as n
            from (select p.sd_type from public.threshold_profiles p where p.sd_type <> 'default') t
            full join (select h.sd_type, count(*) as n from public.handoff_overrides h group by 1) o on o.sd_type = t.sd_type) x),
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
comment on function public.fn_metrics_snapshot() is
  'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; attempts_awaiting_approval, overrides per SD type; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';
revoke all on function public.metrics_histogram(int[], int[]), public.fn_metrics_snapshot()
  from public, anon, authenticated, service_role;
grant execute on function public.fn_metrics_snapshot() to service_role;
