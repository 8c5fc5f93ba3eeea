SET local check_function_bodies = off;

ALTER TABLE "public"."sd_transition_audit"
  DROP CONSTRAINT "sd_transition_audit_status_check";

CREATE OR REPLACE FUNCTION public.fn_check_invariants (
  p_since timestamp with time zone DEFAULT (now() - '1 day'::interval)
)
  RETURNS TABLE (
    invariant text,
    subject   text,
    detail    jsonb
  )
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  -- The directives to check: all, or those with a transition in the window, each with its whole
  -- audit history (on the sd_id index). Two branches each, one of them switched off by p_since:
  -- an OR here would turn the IN into a per-row subplan.
  with sds as materialized (
    select s.* from public.strategic_directives_v2 s where p_since is null
    union all
    select s.* from public.strategic_directives_v2 s
    where p_since is not null
      and s.id in (select a.sd_id from public.sd_transition_audit a where a.created_at >= p_since)
  ), audits as materialized (
    select a.* from public.sd_transition_audit a where p_since is null
    union all
    select a.* from public.sd_transition_audit a
    where p_since is not null and a.sd_id in (select s.id from sds s)
  ),
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  last_done as materialized (
    select distinct on (a.sd_uuid) a.sd_uuid, a.post_state, a.transition_type
    from audits a
    where a.status = 'completed'
    order by a.sd_uuid, a.completed_at desc, a.created_at desc
  )
  select 'sd_matches_last_transition', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'transition_version', s.transition_version,
                            'audit_phase', l.post_state->>'sd_phase', 'audit_version', l.post_state->'transition_version')
  from sds s
  join last_done l on l.sd_uuid = s.uuid
  where s.current_phase is distinct from l.post_state->>'sd_phase'
     or s.transition_version is distinct from (l.post_state->>'transition_version')::int

  union all
  -- 2. transition_version counts the completed transitions of the SD.
  select 'version_counts_transitions', s.id,
         jsonb_build_object('transition_version', s.transition_version, 'completed_audits', count(a.id))
  from sds s
  left join audits a on a.sd_uuid = s.uuid and a.status = 'completed'
  group by s.id, s.transition_version
  having s.transition_version <> count(a.id)

  union all
  -- 3. The PRD and stories are in the statuses the workflow says for the SD's phase: a status only
  --    a handoff can set is held exactly when the last transition set it.
  select 'prd_status_matches_phase', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'prd_status', p.status, 'expected', t.prd_status)
  from sds s
  join last_done l on l.sd_uuid = s.uuid
  join public.handoff_types t on t.code = l.transition_type
  join public.product_requirements_v2 p on p.sd_id = s.id
  where t.prd_status is not null and p.status is distinct from t.prd_status

  union all
  select 'story_status_needs_handoff', u.sd_id || '/' || u.story_key,
         jsonb_build_object('status', u.status, 'sd_phase', s.current_phase)
  from public.user_stories u
  join sds s on s.id = u.sd_id
  where u.status in (select t.story_status from public.handoff_types t where t.story_status is not null)
    and not exists (
      select 1 from public.sd_transition_audit a join public.handoff_types t on t.code = a.transition_type
      where a.sd_id = s.id and a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

  union all
  -- 4. The audit chain: each completed transition starts where the previous one ended, for the
  --    directive's phase, status and version (only handoffs change them; PRD and story statuses
  --    also change by everyday work between handoffs).
  select 'audit_chain', c.sd_id,
         jsonb_build_object('audit_id', c.id, 'pre_state', c.pre_state, 'previous_post_state', c.prev_post)
  from (
    select a.id, a.sd_id, a.pre_state, a.created_at,
           lag(a.post_state) over (partition by a.sd_uuid order by a.completed_at, a.created_at) as prev_post
    from audits a where a.status = 'completed'
  ) c
  where c.prev_post is not null and c.created_at >= coalesce(p_since, '-infinity')
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
  where h.started_at >= coalesce(p_since, '-infinity')
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned', 'expired') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse (both are written
  --    by one transaction, with one created_at).
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select h.* from public.sd_phase_handoffs h where h.status = 'accepted' and h.created_at >= coalesce(p_since, '-infinity')) r
  full join (select x.* from public.sd_transition_audit x where x.status = 'completed' and x.created_at >= coalesce(p_since, '-infinity')) a
    on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  left join public.handoff_attempts h on h.id = r.attempt_id
  where r.created_at >= coalesce(p_since, '-infinity')
    and (h.id is null or h.sd_id <> r.sd_id
         or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code))
$function$;

CREATE OR REPLACE FUNCTION public.fn_metrics_recount()
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  SET lock_timeout TO '2s'
  AS $function$
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

ALTER TABLE "public"."sd_transition_audit"
  ADD CONSTRAINT "sd_transition_audit_status_check"
    CHECK ((status = ANY (ARRAY['in_progress'::text, 'completed'::text, 'rejected'::text, 'failed'::text, 'abandoned'::text, 'expired'::text])));

COMMENT ON FUNCTION "public"."fn_metrics_snapshot"() IS 'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; attempts_awaiting_approval, overrides per SD type; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty). Totals from metric_counters, so its cost does not grow with the history.';
