-- Metrics and sweeps for the request-level events of 20261201050100 (issue #12): replays of a
-- finished request id and dry runs are counted (handoff_request_events); a dry run is never an
-- open attempt to the metrics or the stuck-attempt sweep. Full definitions; the changed lines
-- are marked sqlfix.

create or replace function public.fn_metrics_snapshot()
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
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

create or replace function public.fn_sweep_stuck_attempts(p_older_than interval DEFAULT '00:15:00'::interval)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_count int;
  v_dry int;
begin
  if p_older_than is null or p_older_than < interval '1 second' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_older_than must be at least 1 second (got %s)', p_older_than);
  end if;

  with stuck as (
    select a.*, gen_random_uuid() as new_audit_id, public.fn_sd_state(a.sd_id) as state,
           (select count(*) from jsonb_array_elements(a.gates) g where not (g->>'skip')::boolean) as planned,
           (select count(*) from public.sub_agent_execution_results r where r.attempt_id = a.id and not r.skipped) as recorded
    from public.handoff_attempts a
    where a.status = 'in_progress' and a.started_at < now() - p_older_than
      and not a.dry_run  -- sqlfix: a dry run left by a crash is deleted below, never audited
    order by a.started_at
    for update skip locked
  ),
  logged as (
    select s.*, jsonb_build_object(
      'error_code', 'ABANDONED',
      'error_message', format('handoff attempt %s (%s of %s) was in progress for %s without completing; closed by the stuck-attempt sweep',
                              s.id, s.handoff_type, s.sd_id, date_trunc('second', now() - s.started_at)),
      'failed_step', case when s.recorded < s.planned then '2. Run gates' else '3. Complete' end,
      'pre_state', s.state,
      'partial_state', jsonb_build_object('gate_results_recorded', s.recorded, 'gates_to_run', s.planned,
                                          'state_changed', false, 'rolled_back', false),
      'recovery_action', format('No state was changed: %s is still in %s. Run the handoff again with a new request id; if it hangs again, check the gates'' timeouts and breakers (public.sub_agent_breaker_status).',
                                s.sd_id, s.from_phase)) as error
    from stuck s
  ),
  audit as (
    insert into public.sd_transition_audit
      (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
       error_details, error_message, started_at, completed_at)
    select l.new_audit_id, l.sd_id, l.sd_uuid, l.handoff_type, l.session_id, l.request_id, l.id, l.state, l.state, 'abandoned',
           l.error, l.error->>'error_message', l.started_at, clock_timestamp()
    from logged l
    returning attempt_id
  )
  update public.handoff_attempts a
     set status = 'abandoned', finished_at = clock_timestamp(), audit_id = l.new_audit_id,
         -- the shape of fn_complete_handoff's answer: a replay of this request id returns it
         result = jsonb_build_object(
           'verdict', 'failed', 'attempt_id', l.id, 'request_id', l.request_id, 'audit_id', l.new_audit_id,
           'sd_id', l.sd_id, 'sd_uuid', l.sd_uuid, 'sd_type', l.sd_type, 'handoff_type', l.handoff_type,
           'from_phase', l.from_phase, 'to_phase', l.from_phase, 'transition_version', l.sd_version,
           'score', null, 'threshold', null, 'failed_gate', null, 'would_reject', false,
           'issues', jsonb_build_array(l.error->>'error_message'), 'warnings', '[]'::jsonb,
           'abandoned', true, 'replay', false, 'error', l.error)
    from logged l
   where a.id = l.id and a.id in (select attempt_id from audit);
  get diagnostics v_count = row_count;
  -- sqlfix: dry runs whose fn_finish_dry_run never came (the function crashed): nothing to audit
  delete from public.handoff_attempts a
  where a.dry_run and a.status = 'in_progress' and a.started_at < now() - p_older_than;
  get diagnostics v_dry = row_count;
  return jsonb_build_object('abandoned_attempts', v_count, 'deleted_dry_runs', v_dry, 'older_than', p_older_than::text);
end;
$function$;

create or replace function public.fn_sweep_idempotency(p_http_older_than interval DEFAULT '24:00:00'::interval)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_http int;
  v_webhooks int;
  v_events int;
begin
  v_http := public.fn_idempotency_purge(p_http_older_than);
  -- sqlfix: the request counters age out with the HTTP keys
  delete from public.handoff_request_events e where e.at < now() - p_http_older_than;
  get diagnostics v_events = row_count;
  -- dynamic: the webhook-id store belongs to another migration and may be absent
  if to_regprocedure('public.fn_purge_webhook_ids()') is not null then
    execute 'select public.fn_purge_webhook_ids()' into v_webhooks;
  end if;
  return jsonb_build_object('http_idempotency_keys', v_http, 'webhook_ids', v_webhooks, 'handoff_request_events', v_events);
end;
$function$;

comment on function public.fn_metrics_snapshot() is
  'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';
comment on function public.fn_sweep_stuck_attempts(interval) is
  'Mark handoff attempts in_progress for longer than p_older_than (default 15 minutes) as abandoned, each with one audit row of status abandoned carrying the Spartan error log (error_code ABANDONED, failed_step, pre_state, partial_state, recovery_action); delete dry-run attempts as old (no audit: a dry run leaves nothing). Returns {abandoned_attempts, deleted_dry_runs, older_than}.';
