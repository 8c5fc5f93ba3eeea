-- The seed runbook's key metrics as views, one row per UTC day (and per label where it helps), so
-- an operator reads them with plain SELECTs and a BI tool can chart them. The runbook's own
-- queries still run unchanged against the tables; these views give them denominators.
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

create view public.v_transition_success_rate with (security_invoker = true) as
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

create view public.v_handoff_duration with (security_invoker = true) as
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
create view public.v_orchestration_speed with (security_invoker = true) as
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

create view public.v_idempotent_hit_rate with (security_invoker = true) as
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

create view public.v_gate_validation_failure_rate with (security_invoker = true) as
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

create view public.v_latest_failed_transitions with (security_invoker = true) as
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
