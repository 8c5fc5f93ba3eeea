SET local check_function_bodies = off;

DROP VIEW "public"."v_gate_validation_failure_rate";

DROP VIEW "public"."v_handoff_duration";

DROP VIEW "public"."v_idempotent_hit_rate";

DROP VIEW "public"."v_orchestration_speed";

DROP VIEW "public"."v_transition_success_rate";

DROP FUNCTION "public"."fn_check_invariants"();

CREATE TABLE "public"."metric_counters" (
  "metric" text     NOT NULL,
  "day"    date     NOT NULL,
  "l1"     text     NOT NULL DEFAULT ''::text,
  "l2"     text     NOT NULL DEFAULT ''::text,
  "l3"     text     NOT NULL DEFAULT ''::text,
  "shard"  smallint NOT NULL,
  "n"      bigint   NOT NULL DEFAULT 0,
  "total"  numeric  NOT NULL DEFAULT 0,
  CONSTRAINT "metric_counters_pkey" PRIMARY KEY (metric, day, l1, l2, l3, shard),
  CONSTRAINT "metric_counters_shard_check" CHECK (((shard >= 0) AND (shard < 16)))
);

ALTER TABLE "public"."metric_counters"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."retention_settings" (
  "kind"         text                     NOT NULL,
  "keep"         interval                 NOT NULL,
  "batch_size"   integer                  NOT NULL DEFAULT 1000,
  "max_batches"  integer                  NOT NULL DEFAULT 20,
  "watermark"    timestamp with time zone,
  "watermark_id" uuid,
  "last_run_at"  timestamp with time zone,
  "last_count"   bigint,
  CONSTRAINT "retention_settings_batch_size_check" CHECK (((batch_size >= 1) AND (batch_size <= 100000))),
  CONSTRAINT "retention_settings_keep_check" CHECK ((keep >= '00:00:00'::interval)),
  CONSTRAINT "retention_settings_kind_check"
    CHECK ((kind = ANY (ARRAY['attempt_context'::text, 'gate_payload'::text, 'http_idempotency'::text, 'webhook_ids'::text, 'handoff_requests'::text, 'expired_claims'::text]))),
  CONSTRAINT "retention_settings_max_batches_check" CHECK (((max_batches >= 1) AND (max_batches <= 10000))),
  CONSTRAINT "retention_settings_pkey" PRIMARY KEY (kind)
);

ALTER TABLE "public"."retention_settings"
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
  return jsonb_build_object('attached', v_out);
end;
$function$;

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
  with since as (
    select coalesce(p_since, '-infinity'::timestamptz) as t
  ), sds as (
    -- the directives to check: all, or those with a transition in the window
    select s.* from public.strategic_directives_v2 s
    where p_since is null
       or s.id in (select a.sd_id from public.sd_transition_audit a, since where a.created_at >= since.t)
  ), audits as (
    -- their whole audit history (on the sd_id index)
    select a.* from public.sd_transition_audit a
    where p_since is null or a.sd_id in (select s.id from sds s)
  ),
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  last_done as (
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
      select 1 from audits a join public.handoff_types t on t.code = a.transition_type
      where a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

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
  ) c, since
  where c.prev_post is not null and c.created_at >= since.t
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  cross join since
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
  where h.started_at >= since.t
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse (both are written
  --    by one transaction, with one created_at).
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select h.* from public.sd_phase_handoffs h, since where h.status = 'accepted' and h.created_at >= since.t) r
  full join (select x.* from public.sd_transition_audit x, since where x.status = 'completed' and x.created_at >= since.t) a
    on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  cross join since
  left join public.handoff_attempts h on h.id = r.attempt_id
  where r.created_at >= since.t
    and (h.id is null or h.sd_id <> r.sd_id
         or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code))
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
  return jsonb_build_object('detached', v_out);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_ensure_history_partitions (
  p_from date,
  p_to   date
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_month date;
  v_table text;
  v_part text;
  v_created jsonb := '[]';
  v_moved bigint;
begin
  if p_from is null or p_to is null or p_to < p_from or p_to > p_from + interval '20 years' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: months from %s to %s: both required, from <= to, at most 20 years', p_from, p_to);
  end if;
  v_month := date_trunc('month', p_from)::date;
  while v_month <= p_to loop
    foreach v_table in array array['sd_transition_audit', 'sd_phase_handoffs'] loop
      v_part := public.history_partition_name(v_table, v_month);
      continue when to_regclass('public.' || v_part) is not null;
      execute format('select count(*) from public.%I where created_at >= %L and created_at < %L',
                     v_table || '_default', v_month, (v_month + interval '1 month')::date) into v_moved;
      if v_moved = 0 then
        execute format('create table public.%I partition of public.%I for values from (%L) to (%L)',
                       v_part, v_table, v_month, (v_month + interval '1 month')::date);
      else
        -- rows of this month are in the default partition: take it out, create the month, move
        -- them (partition to partition: the parent's counters see no change), put it back
        execute format('alter table public.%I detach partition public.%I', v_table, v_table || '_default');
        execute format('create table public.%I partition of public.%I for values from (%L) to (%L)',
                       v_part, v_table, v_month, (v_month + interval '1 month')::date);
        execute format('with moved as (delete from public.%I where created_at >= %L and created_at < %L returning *) '
                       'insert into public.%I select * from moved',
                       v_table || '_default', v_month, (v_month + interval '1 month')::date, v_part);
        execute format('alter table public.%I attach partition public.%I default', v_table, v_table || '_default');
      end if;
      execute format('alter table public.%I enable row level security', v_part);
      execute format('revoke all on table public.%I from public, anon, authenticated', v_part);
      execute format('grant all on table public.%I to service_role', v_part);
      v_created := v_created || jsonb_build_object('partition', v_part, 'moved_from_default', v_moved);
    end loop;
    v_month := (v_month + interval '1 month')::date;
  end loop;
  return jsonb_build_object('created', v_created);
end;
$function$;

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
             public.handoff_attempts, public.http_idempotency_keys, public.unknown_inputs in share mode;
  delete from public.metric_counters;
  perform public.metrics_count_relation('handoffs', 'public.sd_phase_handoffs', 1);
  perform public.metrics_count_relation('audit', 'public.sd_transition_audit', 1);
  perform public.metrics_count_relation('results', 'public.sub_agent_execution_results', 1);
  perform public.metrics_count_relation('attempts', 'public.handoff_attempts', 1);
  perform public.metrics_count_relation('http_keys', 'public.http_idempotency_keys', 1);
  perform public.metrics_count_relation('unknown_inputs', 'public.unknown_inputs', 1);
  select count(*) into v_rows from public.metric_counters;
  return jsonb_build_object('counter_rows', v_rows);
end;
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

CREATE OR REPLACE FUNCTION public.fn_sweep_partitions()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  -- one creator at a time (pg_cron beside a local scheduler)
  if not pg_try_advisory_xact_lock(hashtext('stagegate.history_partitions')::bigint) then
    return jsonb_build_object('created', '[]'::jsonb, 'busy', true);
  end if;
  return public.fn_ensure_history_partitions((now() at time zone 'UTC')::date,
                                              ((now() at time zone 'UTC') + interval '3 months')::date);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_retention()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  SET lock_timeout TO '1s'
  AS $function$
declare
  r public.retention_settings;
  v_cut timestamptz;
  v_n int;
  v_total bigint;
  v_wm timestamptz;
  v_wm_id uuid;
  v_ts timestamptz;
  v_id uuid;
  v_out jsonb := '{}';
  v_tolerance interval;
begin
  for r in select * from public.retention_settings s order by s.kind for update skip locked loop
    v_cut := now() - r.keep;
    v_total := 0;
    v_wm := coalesce(r.watermark, '-infinity');
    v_wm_id := coalesce(r.watermark_id, '00000000-0000-0000-0000-000000000000');
    for i in 1 .. r.max_batches loop
      if r.kind = 'attempt_context' then
        with b as (
          select a.id, a.started_at from public.handoff_attempts a
          where (a.started_at, a.id) > (v_wm, v_wm_id) and a.started_at < v_cut and a.status <> 'in_progress'
          order by a.started_at, a.id limit r.batch_size
          for update skip locked
        ), u as (
          update public.handoff_attempts a set context = '{"purged": true}'::jsonb
          from b where a.id = b.id and a.context <> '{"purged": true}'::jsonb
        )
        select count(*), max(b.started_at), (array_agg(b.id order by b.started_at desc, b.id desc))[1] into v_n, v_ts, v_id from b;
      elsif r.kind = 'gate_payload' then
        with b as (
          select x.id, x.created_at from public.sub_agent_execution_results x
          where (x.created_at, x.id) > (v_wm, v_wm_id) and x.created_at < v_cut
          order by x.created_at, x.id limit r.batch_size
          for update skip locked
        ), u as (
          update public.sub_agent_execution_results x
             set issues = '[]', warnings = '[]',
                 fixes = case when jsonb_array_length(x.fixes) > 0 then '["(purged)"]'::jsonb else '[]'::jsonb end,
                 metadata = x.metadata || '{"purged": true}'::jsonb
          from b where x.id = b.id and not coalesce((x.metadata ->> 'purged')::boolean, false)
        )
        select count(*), max(b.created_at), (array_agg(b.id order by b.created_at desc, b.id desc))[1] into v_n, v_ts, v_id from b;
      elsif r.kind = 'http_idempotency' then
        delete from public.http_idempotency_keys k
        where (k.scope, k.key) in (
          select o.scope, o.key from public.http_idempotency_keys o
          where o.created_at < v_cut and (o.status = 'completed' or o.locked_until <= now())
          order by o.created_at limit r.batch_size for update skip locked);
        get diagnostics v_n = row_count;
      elsif r.kind = 'webhook_ids' then
        -- never inside the window fn_claim_webhook_id accepts timestamps for (replays stay refused)
        v_tolerance := (select s.webhook_tolerance from public.validation_mode_settings s);
        delete from public.ops_webhook_ids w
        where w.id in (
          select o.id from public.ops_webhook_ids o
          where o.webhook_ts < least(v_cut, now() - v_tolerance - interval '1 minute')
          order by o.webhook_ts limit r.batch_size for update skip locked);
        get diagnostics v_n = row_count;
      elsif r.kind = 'handoff_requests' then
        delete from public.handoff_requests q
        where q.id in (
          select o.id from public.handoff_requests o
          where o.status in ('done', 'error') and o.finished_at < v_cut
          order by o.finished_at limit r.batch_size for update skip locked);
        get diagnostics v_n = row_count;
      elsif r.kind = 'expired_claims' then
        delete from public.sd_claims c
        where c.sd_id in (
          select o.sd_id from public.sd_claims o where o.expires_at < v_cut
          order by o.expires_at limit r.batch_size for update skip locked);
        get diagnostics v_n = row_count;
      end if;
      if v_ts is not null then
        v_wm := v_ts;
        v_wm_id := v_id;
        v_ts := null;
      end if;
      v_total := v_total + v_n;
      exit when v_n < r.batch_size;
    end loop;
    update public.retention_settings s
       set watermark = case when s.kind in ('attempt_context', 'gate_payload') and v_wm > '-infinity' then v_wm else s.watermark end,
           watermark_id = case when s.kind in ('attempt_context', 'gate_payload') and v_wm > '-infinity' then v_wm_id else s.watermark_id end,
           last_run_at = now(), last_count = v_total
     where s.kind = r.kind;
    v_out := v_out || jsonb_build_object(r.kind, v_total);
  end loop;
  return v_out;
end;
$function$;

CREATE OR REPLACE FUNCTION public.history_partition_name (
  p_table text,
  p_month date
)
  RETURNS text
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select p_table || '_y' || to_char(p_month, 'YYYY') || 'm' || to_char(p_month, 'MM')
$function$;

CREATE OR REPLACE FUNCTION public.metrics_add (
  p_deltas jsonb
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  insert into public.metric_counters as c (metric, day, l1, l2, l3, shard, n, total)
  select d.metric, d.day, d.l1, d.l2, d.l3, (pg_catalog.pg_backend_pid() % 16)::smallint, sum(d.n), sum(d.total)
  from jsonb_to_recordset(p_deltas) as d(metric text, day date, l1 text, l2 text, l3 text, n bigint, total numeric)
  group by 1, 2, 3, 4, 5
  having sum(d.n) <> 0 or sum(d.total) <> 0
  order by 1, 2, 3, 4, 5
  on conflict (metric, day, l1, l2, l3, shard) do update set n = c.n + excluded.n, total = c.total + excluded.total
$function$;

CREATE OR REPLACE FUNCTION public.metrics_count_relation (
  p_kind text,
  p_rel  regclass,
  p_sign integer
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_deltas jsonb;
begin
  execute format(public.metrics_delta_sql(p_kind), format('(select %s as s, t.* from %s t)', p_sign, p_rel))
  into v_deltas;
  if v_deltas is not null then
    perform public.metrics_add(v_deltas);
  end if;
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
    when 'attempts' then $q$
      select 'attempts' as metric, '-infinity'::date as day, '' as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r $q$
    when 'http_keys' then $q$
      select 'http_hits' as metric, '-infinity'::date as day, '' as l1, '' as l2, '' as l3, 0 as n, (r.s * r.hits)::numeric as total
      from %1$s r $q$
    when 'unknown_inputs' then $q$
      select 'unknown_inputs' as metric, '-infinity'::date as day, r.kind as l1, '' as l2, '' as l3, r.s as n, 0::numeric as total
      from %1$s r $q$
    end
    || ') d group by 1, 2, 3, 4, 5 having sum(d.n) <> 0 or sum(d.total) <> 0) g'
$function$;

CREATE OR REPLACE FUNCTION public.metrics_gate_bounds()
  RETURNS integer[]
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select array[5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000]
$function$;

CREATE OR REPLACE FUNCTION public.metrics_handoff_bounds()
  RETURNS integer[]
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select array[100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000, 60000, 120000, 300000]
$function$;

CREATE OR REPLACE FUNCTION public.tg_metrics()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.tg_metrics__truncate()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  delete from public.metric_counters c where c.metric = any(tg_argv);
  return null;
end;
$function$;

CREATE VIEW "public"."v_gate_validation_failure_rate" WITH (security_invoker=true) AS  WITH c AS (
         SELECT c_1.day,
            c_1.l1 AS sub_agent_code,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_results'::text)))::bigint AS results,
            (COALESCE(sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_invalid'::text)), (0)::numeric))::bigint AS invalid,
            (COALESCE(sum(c_1.n) FILTER (WHERE (c_1.metric = 'gate_normalized'::text)), (0)::numeric))::bigint AS normalized,
            (COALESCE(sum(c_1.n) FILTER (WHERE ((c_1.metric = 'gate_results'::text) AND (c_1.l2 = 'FAIL'::text))), (0)::numeric))::bigint AS failed,
            (COALESCE(sum(c_1.n) FILTER (WHERE ((c_1.metric = 'gate_results'::text) AND (c_1.l2 = 'ERROR'::text))), (0)::numeric))::bigint AS errored
           FROM public.metric_counters c_1
          WHERE ((c_1.metric = ANY (ARRAY['gate_results'::text, 'gate_invalid'::text, 'gate_normalized'::text])) AND (c_1.day > '-infinity'::date) AND (c_1.l3 = 'false'::text))
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

CREATE VIEW "public"."v_handoff_duration" WITH (security_invoker=true) AS  SELECT ((created_at AT TIME ZONE 'UTC'::text))::date AS day,
    handoff_type,
    from_phase,
    to_phase,
    count(*) AS handoffs,
    round(avg(execution_time_ms), 1) AS avg_ms,
    percentile_cont((0.5)::double precision) WITHIN GROUP (ORDER BY ((execution_time_ms)::double precision)) AS p50_ms,
    percentile_cont((0.95)::double precision) WITHIN GROUP (ORDER BY ((execution_time_ms)::double precision)) AS p95_ms,
    max(execution_time_ms) AS max_ms
   FROM public.sd_phase_handoffs h
  WHERE ((execution_time_ms IS NOT NULL) AND (created_at >= (((((now() AT TIME ZONE 'UTC'::text))::date - 30))::timestamp without time zone AT TIME ZONE 'UTC'::text)))
  GROUP BY (((created_at AT TIME ZONE 'UTC'::text))::date), handoff_type, from_phase, to_phase;

CREATE VIEW "public"."v_idempotent_hit_rate" WITH (security_invoker=true) AS  SELECT 'sub_agent_result'::text AS source,
    c.day,
    (sum(c.n) FILTER (WHERE (c.metric = 'gate_results'::text)))::bigint AS records,
    (COALESCE(sum(c.n) FILTER (WHERE (c.metric = 'gate_hit'::text)), (0)::numeric))::bigint AS hit_records,
    (COALESCE(sum(c.total) FILTER (WHERE (c.metric = 'gate_results'::text)), (0)::numeric))::bigint AS duplicate_calls,
    round(((100.0 * COALESCE(sum(c.n) FILTER (WHERE (c.metric = 'gate_hit'::text)), (0)::numeric)) / sum(c.n) FILTER (WHERE (c.metric = 'gate_results'::text))), 2) AS hit_rate_pct
   FROM public.metric_counters c
  WHERE ((c.metric = ANY (ARRAY['gate_results'::text, 'gate_hit'::text])) AND (c.day > '-infinity'::date))
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
  GROUP BY (((k.created_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW "public"."v_orchestration_speed" WITH (security_invoker=true) AS  WITH per_attempt AS (
         SELECT r.attempt_id,
            min(r.created_at) AS first_at,
            count(*) AS executions,
            sum(r.duration_ms) AS gate_ms,
            avg(r.execution_time) AS avg_time_sec,
            max(r.execution_time) AS max_time_sec
           FROM public.sub_agent_execution_results r
          WHERE (((r.metadata ->> 'orchestrated'::text) = 'true'::text) AND (NOT r.skipped) AND (r.duration_ms IS NOT NULL) AND (r.created_at >= (((((now() AT TIME ZONE 'UTC'::text))::date - 30))::timestamp without time zone AT TIME ZONE 'UTC'::text)))
          GROUP BY r.attempt_id
        )
 SELECT ((p.first_at AT TIME ZONE 'UTC'::text))::date AS day,
    count(*) AS attempts,
    sum(p.executions) AS executions,
    round((sum((p.avg_time_sec * (p.executions)::numeric)) / NULLIF(sum(p.executions), (0)::numeric)), 3) AS avg_time_sec,
    max(p.max_time_sec) AS max_time_sec,
    round(avg(((p.gate_ms)::numeric / NULLIF((EXTRACT(epoch FROM (a.finished_at - a.started_at)) * (1000)::numeric), (0)::numeric))), 2) AS parallel_speedup
   FROM (per_attempt p
     JOIN public.handoff_attempts a ON ((a.id = p.attempt_id)))
  GROUP BY (((p.first_at AT TIME ZONE 'UTC'::text))::date);

CREATE VIEW "public"."v_transition_success_rate" WITH (security_invoker=true) AS  WITH c AS (
         SELECT c_1.day,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'completed'::text))))::bigint AS completed,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'rejected'::text))))::bigint AS rejected,
            (sum(c_1.n) FILTER (WHERE ((c_1.metric = 'transitions'::text) AND (c_1.l1 = 'failed'::text))))::bigint AS failed,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'transitions'::text)))::bigint AS audits,
            (sum(c_1.n) FILTER (WHERE (c_1.metric = 'would_reject'::text)))::bigint AS would_reject
           FROM public.metric_counters c_1
          WHERE ((c_1.metric = ANY (ARRAY['transitions'::text, 'would_reject'::text])) AND (c_1.day > '-infinity'::date))
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

CREATE INDEX handoff_attempts_started_idx ON public.handoff_attempts USING btree (started_at);

CREATE INDEX handoff_requests_finished_idx ON public.handoff_requests USING btree (finished_at)
  WHERE (status = ANY (ARRAY['done'::text, 'error'::text]));

CREATE INDEX sd_claims_expires_idx ON public.sd_claims USING btree (expires_at);

CREATE INDEX sd_phase_handoffs_created_idx ON public.sd_phase_handoffs USING btree (created_at);

CREATE INDEX sd_transition_audit_failed_idx ON public.sd_transition_audit USING btree (created_at DESC)
  WHERE (status = 'failed'::text);

CREATE INDEX sub_agent_execution_results_created_idx ON public.sub_agent_execution_results USING btree (created_at);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.handoff_attempts REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'attempts'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.handoff_attempts REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'attempts'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.handoff_attempts
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('attempts');

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.http_idempotency_keys REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'http_keys'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.http_idempotency_keys REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'http_keys'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.http_idempotency_keys
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('http_hits');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.http_idempotency_keys
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'http_keys'
);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.sd_phase_handoffs REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'handoffs'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.sd_phase_handoffs REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'handoffs'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.sd_phase_handoffs
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('handoffs', 'handoff_duration');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.sd_phase_handoffs
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'handoffs'
);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.sd_transition_audit REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'audit'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.sd_transition_audit REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'audit'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.sd_transition_audit
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('transitions', 'would_reject');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.sd_transition_audit
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'audit'
);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.sub_agent_execution_results REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'results'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.sub_agent_execution_results REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'results'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.sub_agent_execution_results
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('gate_results', 'gate_invalid', 'gate_normalized', 'gate_hit', 'gate_duration');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.sub_agent_execution_results
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'results'
);

CREATE TRIGGER tg_metrics_del AFTER DELETE ON public.unknown_inputs REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'unknown_inputs'
);

CREATE TRIGGER tg_metrics_ins AFTER INSERT ON public.unknown_inputs REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'unknown_inputs'
);

CREATE TRIGGER tg_metrics_trunc
  AFTER TRUNCATE ON public.unknown_inputs
  FOR EACH STATEMENT
  EXECUTE FUNCTION public.tg_metrics__truncate('unknown_inputs');

CREATE TRIGGER tg_metrics_upd AFTER UPDATE ON public.unknown_inputs REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION public.tg_metrics (
  'unknown_inputs'
);

COMMENT ON FUNCTION "public"."fn_attach_history_month"(date) IS 'Re-attach public.<table>_yYYYYmMM (detached, or restored from an archive) as the partition of its month of sd_transition_audit and sd_phase_handoffs, adding its rows back to metric_counters. Returns {attached: {partition: rows}}.';

COMMENT ON FUNCTION "public"."fn_check_invariants"(timestamp with time zone) IS 'Checks what changed since p_since (default: the last day; null: the whole database) and returns every violation (invariant, subject, detail): SD phase/version match the last completed transition; version counts completed transitions; PRD/story statuses that only a handoff sets are held only after one did; the audit chain (each completed audit''s directive pre_state equals the previous post_state); one terminal audit row per finished attempt; accepted handoff records and completed audits pair up; no orphan sub-agent results. The directives checked are those with a transition since p_since, each against its whole history. Empty = consistent.';

COMMENT ON FUNCTION "public"."fn_detach_history_month"(date) IS 'Detach the partitions of the month of p_month (a past month) from sd_transition_audit and sd_phase_handoffs, taking their rows out of metric_counters; the tables stay as public.<table>_yYYYYmMM to archive (pg_dump -t) and drop. Returns {detached: {partition: rows}}.';

COMMENT ON FUNCTION "public"."fn_ensure_history_partitions"(date, date) IS 'Create the monthly partitions of sd_transition_audit and sd_phase_handoffs for every month from p_from to p_to that has none (rows of such a month already in the default partition are moved into it). Returns {created: [{partition, moved_from_default}]}.';

COMMENT ON FUNCTION "public"."fn_metrics_rebuild_counters"() IS 'Recount metric_counters from the rows of the counted tables (locks them against writes while it runs). Returns {counter_rows}.';

COMMENT ON FUNCTION "public"."fn_metrics_recount"() IS 'fn_metrics_snapshot computed from the rows instead of metric_counters: the same answer (generated_at and the ages aside), at a cost that grows with the history. For tests and for checking the counters by hand.';

COMMENT ON FUNCTION "public"."fn_metrics_snapshot"() IS 'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, attempts, unknown inputs; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty). Totals from metric_counters, so its cost does not grow with the history.';

COMMENT ON FUNCTION "public"."fn_sweep_partitions"() IS 'Create this month''s and the next three months'' partitions of the audit trail where missing. Returns {created}. Scheduled by sweep_schedule ''partitions''.';

COMMENT ON FUNCTION "public"."fn_sweep_retention"() IS 'Purge or compact short-lived data past its retention_settings period in batches: attempts'' context snapshots, gate results'' raw payloads (issues, warnings, fixes), HTTP idempotency records, ops webhook ids, finished handoff_requests, expired claims. The audit trail is kept. Returns {<kind>: rows purged or compacted}. Scheduled by sweep_schedule ''retention''.';

COMMENT ON TABLE "public"."metric_counters" IS 'Running counts (n) and sums (total) per metric, UTC day (''-infinity'' = all time), labels l1..l3 and shard, kept by statement triggers on the counted tables; summed over shards at read. See fn_metrics_snapshot.';

COMMENT ON TABLE "public"."retention_settings" IS 'Retention periods (keep) and batch sizes of fn_sweep_retention, one row per kind of short-lived data; watermark = how far compaction has gone.';

COMMENT ON VIEW "public"."v_gate_validation_failure_rate" IS 'Per UTC day and sub-agent (skipped gates left out): results, invalid (failed the gate-result contract; alert > 10%), normalized (accepted after fixes), FAIL and ERROR verdicts, and their rates. From metric_counters.';

COMMENT ON VIEW "public"."v_handoff_duration" IS 'Per UTC day of the last 31 and handoff: count and duration (begin to complete, ms): avg (runbook: < 30 s, alert > 60 s), p50, p95, max.';

COMMENT ON VIEW "public"."v_idempotent_hit_rate" IS 'Per source (sub_agent_result, http) and UTC day of the first record: records, records hit again, duplicate calls, hit_rate_pct (runbook target < 10%, alert > 50%). HTTP keys are purged after 24 h, so only recent days show for http.';

COMMENT ON VIEW "public"."v_orchestration_speed" IS 'Per UTC day of the last 31: orchestrated gate runs, their average and longest run time in seconds (runbook: < 15 s), and parallel_speedup = summed gate time / attempt wall time (finished attempts only).';

COMMENT ON VIEW "public"."v_transition_success_rate" IS 'Per UTC day: completed, rejected, failed and would-reject (would_reject or score below threshold) audit rows; success_rate_pct = completed / (completed + failed) (runbook: > 95%), failure_rate_pct (alert > 5%), would_reject_rate_pct = would_reject / judged. From metric_counters.';

REVOKE ALL ON FUNCTION "public"."fn_attach_history_month"(date) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_attach_history_month"(date) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"(timestamp WITH time zone) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_check_invariants"(timestamp WITH time zone) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_detach_history_month"(date) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_detach_history_month"(date) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_ensure_history_partitions"(date, date) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_ensure_history_partitions"(date, date) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_metrics_rebuild_counters"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_metrics_rebuild_counters"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_metrics_recount"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_metrics_recount"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_partitions"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_partitions"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_retention"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_retention"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."history_partition_name"(text, date) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."history_partition_name"(text, date) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_add"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_add"(jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "public"."metrics_count_relation"(text, regclass, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_count_relation"(text, regclass, integer) TO "postgres";

REVOKE ALL ON FUNCTION "public"."metrics_delta_sql"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_delta_sql"(text) TO "postgres";

REVOKE ALL ON FUNCTION "public"."metrics_gate_bounds"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_gate_bounds"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_bounds"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."metrics_handoff_bounds"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_metrics"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_metrics"() TO "postgres";

REVOKE ALL ON FUNCTION "public"."tg_metrics__truncate"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."tg_metrics__truncate"() TO "postgres";

GRANT ALL ON TABLE "public"."metric_counters" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."retention_settings" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_gate_validation_failure_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_handoff_duration" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_idempotent_hit_rate" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_orchestration_speed" TO "postgres", "service_role";

GRANT ALL ON TABLE "public"."v_transition_success_rate" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_attach_history_month"(date) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_attach_history_month"(date) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"(timestamp WITH time zone) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_check_invariants"(timestamp WITH time zone) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_detach_history_month"(date) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_detach_history_month"(date) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_ensure_history_partitions"(date, date) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_ensure_history_partitions"(date, date) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_metrics_rebuild_counters"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_metrics_rebuild_counters"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_metrics_recount"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_metrics_recount"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_partitions"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_partitions"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_retention"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_retention"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."history_partition_name"(text, date) FROM "anon";

REVOKE ALL ON FUNCTION "public"."history_partition_name"(text, date) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_add"(jsonb) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_add"(jsonb) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_add"(jsonb) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_count_relation"(text, regclass, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_count_relation"(text, regclass, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_count_relation"(text, regclass, integer) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_delta_sql"(text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_delta_sql"(text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_delta_sql"(text) FROM "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_gate_bounds"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_gate_bounds"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_gate_bounds"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_bounds"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_bounds"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."metrics_handoff_bounds"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_metrics"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_metrics"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_metrics"() FROM "service_role";

REVOKE ALL ON FUNCTION "public"."tg_metrics__truncate"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."tg_metrics__truncate"() FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."tg_metrics__truncate"() FROM "service_role";

REVOKE ALL ON TABLE "public"."metric_counters" FROM "anon";

REVOKE ALL ON TABLE "public"."metric_counters" FROM "authenticated";

REVOKE ALL ON TABLE "public"."retention_settings" FROM "anon";

REVOKE ALL ON TABLE "public"."retention_settings" FROM "authenticated";

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
