-- Every RPC that stores or looks up caller text refuses control characters with SG001
-- INVALID_INPUT naming the argument (issue #15, "Bad input that still answers 500"), through
-- public.fn_check_text (20261201050010). The RPCs are called directly (psql, PostgREST, other
-- services), so the edge's zod schemas are not enough. fn_begin_handoff, fn_execute_handoff,
-- fn_breaker_record and fn_record_unknown_input got their checks in 20261201050100/0300.
-- Generated from each function's definition at this point: the only change in each is the first
-- statement, marked sqlfix. Free text (p_reason, p_error) keeps tab, LF and CR.

-- fn_claim_sd: checks p_sd_id, p_session_id
create or replace function public.fn_claim_sd(p_sd_id text, p_session_id text, p_lease_seconds integer DEFAULT 900)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_claim public.sd_claims;
  v_prior public.sd_claims;
begin
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  if p_lease_seconds is null or p_lease_seconds not between 1 and 86400 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_seconds must be between 1 and 86400 (got %s)', p_lease_seconds);
  end if;

  select * into v_prior from public.sd_claims c where c.sd_id = v_sd.id;

  insert into public.sd_claims as c (sd_id, session_id, claimed_at, renewed_at, expires_at)
  values (v_sd.id, p_session_id, now(), now(), now() + make_interval(secs => p_lease_seconds))
  on conflict (sd_id) do update
    set session_id = excluded.session_id,
        claimed_at = case when c.session_id = excluded.session_id then c.claimed_at else excluded.claimed_at end,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
    where c.session_id = excluded.session_id or c.expires_at <= now()
  returning * into v_claim;

  if not found then
    select * into v_claim from public.sd_claims c where c.sd_id = v_sd.id;
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by session %L until %s',
                       v_sd.id, v_claim.session_id, v_claim.expires_at);
  end if;

  return jsonb_build_object(
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'session_id', v_claim.session_id,
    'claimed_at', v_claim.claimed_at, 'expires_at', v_claim.expires_at,
    'renewed', v_prior.session_id is not distinct from p_session_id and v_prior.expires_at > now(),
    'took_over_expired', v_prior.session_id is distinct from p_session_id and v_prior.sd_id is not null);
end;
$function$;

-- fn_release_sd: checks p_sd_id, p_session_id
create or replace function public.fn_release_sd(p_sd_id text, p_session_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_held_by text;
begin
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  delete from public.sd_claims c where c.sd_id = v_sd.id and c.session_id = p_session_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select c.session_id into v_held_by from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false, 'held_by', v_held_by);
end;
$function$;

-- fn_record_gate_result: checks p_gate_code, p_idempotency_key
create or replace function public.fn_record_gate_result(p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text DEFAULT NULL::text, p_duration_ms integer DEFAULT NULL::integer, p_attempts integer DEFAULT 1)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select public.fn_check_text('p_gate_code', p_gate_code), public.fn_check_text('p_idempotency_key', p_idempotency_key);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true)
$function$;

-- fn_evaluate_sql_gate: checks p_gate_code
create or replace function public.fn_evaluate_sql_gate(p_attempt_id uuid, p_gate_code text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_context jsonb;
  v_gate public.leo_sub_agents;
  v_proc regprocedure;
  v_result jsonb;
begin
  perform public.fn_check_text('p_gate_code', p_gate_code);  -- sqlfix: no control characters (fn_check_text)
  select a.context into v_context from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  select * into v_gate from public.leo_sub_agents s where s.code = p_gate_code;
  if not found then
    raise exception using errcode = 'SG011', message = format('UNKNOWN_GATE: %L is not a registered sub-agent', p_gate_code);
  end if;
  if v_gate.kind <> 'sql' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: gate %L is kind %s, not sql', p_gate_code, v_gate.kind);
  end if;
  v_proc := to_regprocedure(v_gate.target || '(jsonb)');
  if v_proc is null or (select p.prorettype from pg_catalog.pg_proc p where p.oid = v_proc) <> 'jsonb'::regtype then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: gate %L target %s is not a function (jsonb) returns jsonb', p_gate_code, v_gate.target);
  end if;
  -- regproc prints schema-qualified and quoted under search_path = '', so this is injection-safe
  execute format('select %s($1)', v_proc::oid::regproc) into v_result using v_context;
  return v_result;
end;
$function$;

-- fn_atomic_lead_to_plan_transition: checks p_sd_id, p_prd_id, p_session_id, p_request_id
create or replace function public.fn_atomic_lead_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('LEAD-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

-- fn_atomic_plan_to_exec_transition: checks p_sd_id, p_prd_id, p_session_id, p_request_id
create or replace function public.fn_atomic_plan_to_exec_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('PLAN-TO-EXEC', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

-- fn_atomic_exec_to_plan_transition: checks p_sd_id, p_prd_id, p_session_id, p_request_id
create or replace function public.fn_atomic_exec_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('EXEC-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

-- fn_atomic_plan_to_lead_transition: checks p_sd_id, p_prd_id, p_session_id, p_request_id
create or replace function public.fn_atomic_plan_to_lead_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
 RETURNS jsonb
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('PLAN-TO-LEAD', p_sd_id, p_prd_id, p_session_id, p_request_id)
$function$;

-- fn_backfill_stage_batch: checks p_target, p_run_id
create or replace function public.fn_backfill_stage_batch(p_target text, p_limit integer DEFAULT 500, p_run_id text DEFAULT 'default'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_cp public.stage_backfill_checkpoints;
  v_keys text[];
  v_scanned int;
  v_changes jsonb;
  v_updated int := 0;
  v_unknown int := 0;
  v_prior_flag text;
begin
  perform public.fn_check_text('p_target', p_target), public.fn_check_text('p_run_id', p_run_id);  -- sqlfix: no control characters (fn_check_text)
  -- ==== validation ===========================================================================
  if p_target is null or p_target not in ('strategic_directives_v2', 'sd_phase_handoffs', 'leo_sub_agents') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: backfill target %L is not one of strategic_directives_v2, sd_phase_handoffs, leo_sub_agents', p_target);
  end if;
  if p_limit is null or p_limit not between 1 and 10000 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: batch size %s is not between 1 and 10000', p_limit);
  end if;

  insert into public.stage_backfill_checkpoints (run_id, target) values (p_run_id, p_target)
  on conflict do nothing;
  select * into strict v_cp from public.stage_backfill_checkpoints
  where run_id = p_run_id and target = p_target
  for update;
  if v_cp.done then
    return jsonb_build_object('run_id', p_run_id, 'target', p_target, 'done', true, 'scanned', 0, 'updated', 0,
      'unknown', '[]'::jsonb, 'last_key', v_cp.last_key, 'batches', v_cp.batches,
      'totals', jsonb_build_object('scanned', v_cp.rows_scanned, 'updated', v_cp.rows_updated, 'unknown', v_cp.unknown_values));
  end if;

  -- ==== one batch per target: compute changes as rows (key, column, old, new) ================
  -- Stored names repeat a lot, so each branch normalises the batch's distinct values once.
  if p_target = 'strategic_directives_v2' then
    select coalesce(array_agg(d.id order by d.id), '{}') into v_keys
    from (select s.id from public.strategic_directives_v2 s
          where v_cp.last_key is null or s.id > v_cp.last_key
          order by s.id limit p_limit for update) d;
    -- The guard trigger refuses phase changes outside a handoff; this rename is not a handoff
    -- (no transition_version bump, no audit row) but a data repair, logged in stage_backfill_log.
    v_prior_flag := coalesce(current_setting('stagegate.in_transition', true), '');
    perform set_config('stagegate.in_transition', 'on', true);
    with batch as (
      select s.id, s.current_phase from public.strategic_directives_v2 s where s.id = any (v_keys)
    ),
    phase_map as (
      -- A phase must exist in sd_phases (foreign key): a canonical name that is not registered
      -- there stays as it is and is reported like an unknown value.
      select d.v, p.phase as n
      from (select distinct b.current_phase as v from batch b) d
      left join public.sd_phases p on p.phase = public.normalize_stage(d.v) ->> 'normalized'
    ),
    upd as (
      update public.strategic_directives_v2 s set current_phase = m.n
      from batch b join phase_map m on m.v = b.current_phase
      where s.id = b.id and m.n is not null and m.n <> b.current_phase
      returning s.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('key', b.id, 'column', 'current_phase', 'old', b.current_phase, 'new', m.n)), '[]')
    into v_changes
    from batch b join phase_map m on m.v = b.current_phase
    where m.n is distinct from b.current_phase;
    perform set_config('stagegate.in_transition', v_prior_flag, true);

  elsif p_target = 'sd_phase_handoffs' then
    select coalesce(array_agg(h.id::text order by h.id), '{}') into v_keys
    from (select s.id from public.sd_phase_handoffs s
          where v_cp.last_key is null or s.id > v_cp.last_key::uuid
          order by s.id limit p_limit for update) h;
    with batch as (
      select s.id, s.from_phase, s.to_phase, s.handoff_type
      from public.sd_phase_handoffs s where s.id = any (v_keys::uuid[])
    ),
    phase_map as (
      select d.v, public.normalize_stage(d.v) ->> 'normalized' as n
      from (select b.from_phase as v from batch b union select b.to_phase from batch b) d
    ),
    type_map as (
      select d.v, public.normalize_handoff_type(d.v) ->> 'normalized' as n
      from (select distinct b.handoff_type as v from batch b) d
    ),
    src as (
      select b.*, f.n as new_from, t.n as new_to, h.n as new_type
      from batch b
      join phase_map f on f.v = b.from_phase
      join phase_map t on t.v = b.to_phase
      join type_map h on h.v = b.handoff_type
    ),
    upd as (
      update public.sd_phase_handoffs s
      set from_phase = coalesce(src.new_from, s.from_phase),
          to_phase = coalesce(src.new_to, s.to_phase),
          handoff_type = coalesce(src.new_type, s.handoff_type)
      from src
      where s.id = src.id
        and (src.new_from <> src.from_phase or src.new_to <> src.to_phase or src.new_type <> src.handoff_type)
      returning s.id
    )
    select coalesce(jsonb_agg(jsonb_build_object('key', src.id::text, 'column', c.col, 'old', c.old, 'new', c.new)), '[]')
    into v_changes
    from src
    cross join lateral (values ('from_phase', src.from_phase, src.new_from), ('to_phase', src.to_phase, src.new_to),
                               ('handoff_type', src.handoff_type, src.new_type)) as c (col, old, new)
    where c.new is distinct from c.old;

  else -- leo_sub_agents
    select coalesce(array_agg(a.code order by a.code), '{}') into v_keys
    from (select s.code from public.leo_sub_agents s
          where v_cp.last_key is null or s.code > v_cp.last_key
          order by s.code limit p_limit for update) a;
    -- One change row per element that is not canonical; the array keeps its order.
    select coalesce(jsonb_agg(jsonb_build_object('key', c.code, 'column', 'handoff_types[' || c.ord || ']', 'old', c.old, 'new', c.new)), '[]')
    into v_changes
    from (
      select s.code, e.ord, e.old, public.normalize_handoff_type(e.old) ->> 'normalized' as new
      from public.leo_sub_agents s
      cross join lateral unnest(s.handoff_types) with ordinality as e (old, ord)
      where s.code = any (v_keys)
    ) c
    where c.new is distinct from c.old;
    update public.leo_sub_agents s
    set handoff_types = array(
      select coalesce((select e ->> 'new' from jsonb_array_elements(v_changes) e
                       where e ->> 'key' = s.code and e ->> 'column' = 'handoff_types[' || t.ord || ']'), t.old)
      from unnest(s.handoff_types) with ordinality as t (old, ord)
      order by t.ord)
    where s.code in (select e ->> 'key' from jsonb_array_elements(v_changes) e where e ->> 'new' is not null);
  end if;

  -- ==== log, checkpoint, answer ===============================================================
  insert into public.stage_backfill_log (run_id, target, row_key, column_name, old_value, new_value, outcome)
  select p_run_id, p_target, e ->> 'key', e ->> 'column', e ->> 'old', e ->> 'new',
         case when e ->> 'new' is null then 'unknown' else 'updated' end
  from jsonb_array_elements(v_changes) e;
  select count(*) filter (where e ->> 'new' is not null), count(*) filter (where e ->> 'new' is null)
  into v_updated, v_unknown
  from jsonb_array_elements(v_changes) e;

  v_scanned := cardinality(v_keys);
  update public.stage_backfill_checkpoints
  set last_key = coalesce(v_keys[v_scanned], last_key),
      batches = batches + case when v_scanned > 0 then 1 else 0 end,
      rows_scanned = rows_scanned + v_scanned,
      rows_updated = rows_updated + v_updated,
      unknown_values = unknown_values + v_unknown,
      done = v_scanned < p_limit,
      updated_at = now()
  where run_id = p_run_id and target = p_target
  returning * into v_cp;

  return jsonb_build_object('run_id', p_run_id, 'target', p_target, 'done', v_cp.done, 'scanned', v_scanned,
    'updated', v_updated,
    'unknown', coalesce((select jsonb_agg(e - 'new') from jsonb_array_elements(v_changes) e where e ->> 'new' is null), '[]'),
    'last_key', v_cp.last_key, 'batches', v_cp.batches,
    'totals', jsonb_build_object('scanned', v_cp.rows_scanned, 'updated', v_cp.rows_updated, 'unknown', v_cp.unknown_values));
end;
$function$;

-- fn_breaker_acquire: checks p_code
create or replace function public.fn_breaker_acquire(p_code text, p_probe_lease_ms integer DEFAULT 60000)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_row public.sub_agent_breakers;
begin
  perform public.fn_check_text('p_code', p_code);  -- sqlfix: no control characters (fn_check_text)
  if p_probe_lease_ms is null or p_probe_lease_ms not between 1 and 3600000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_probe_lease_ms must be between 1 and 3600000 (got %s)', p_probe_lease_ms);
  end if;

  -- Fast path, no lock and no write: a closed breaker admits everyone.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  if v_row.state = 'open' then
    if now() < v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0) then
      return jsonb_build_object('allowed', false, 'state', 'open',
        'retry_at', v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0));
    end if;
    -- Reset time elapsed: this caller becomes the single half-open probe.
    perform public.breaker_reason('reset timeout elapsed');
    update public.sub_agent_breakers b
      set state = 'half_open', consecutive_failures = 0, consecutive_successes = 0,
          half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
      where b.sub_agent_code = p_code;
    perform public.breaker_reason(null);
    return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
  end if;

  -- half_open: admit a probe only when none holds a live lease (a crashed probe's lease expires).
  if v_row.half_open_probe_until is not null and v_row.half_open_probe_until > now() then
    return jsonb_build_object('allowed', false, 'state', 'half_open',
      'retry_at', v_row.half_open_probe_until);
  end if;
  update public.sub_agent_breakers b
    set half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
    where b.sub_agent_code = p_code;
  return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
end;
$function$;

-- fn_breaker_reset: checks p_code, p_reason
create or replace function public.fn_breaker_reset(p_code text, p_reason text DEFAULT NULL::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_row public.sub_agent_breakers := public.breaker_lock(p_code);
begin
  perform public.fn_check_text('p_code', p_code), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
  perform public.breaker_reason('manual reset' || coalesce(': ' || left(nullif(btrim(p_reason), ''), 500), ''));
  update public.sub_agent_breakers b
    set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
        half_open_probe_until = null
    where b.sub_agent_code = p_code;
  perform public.breaker_reason(null);
  return jsonb_build_object('state', 'closed', 'previous_state', v_row.state, 'changed', v_row.state <> 'closed');
end;
$function$;

-- fn_idempotency_begin: checks p_scope, p_key, p_fingerprint
create or replace function public.fn_idempotency_begin(p_scope text, p_key text, p_fingerprint text, p_lease_ms integer DEFAULT 120000)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_row public.http_idempotency_keys;
  v_lease interval;
begin
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_key', p_key), public.fn_check_text('p_fingerprint', p_fingerprint);  -- sqlfix: no control characters (fn_check_text)
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_lease_ms is null or p_lease_ms not between 1 and 86400000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_ms must be between 1 and 86400000 (got %s)', p_lease_ms);
  end if;
  v_lease := make_interval(secs => p_lease_ms / 1000.0);

  -- The loop covers a record deleted (abandoned, purged) between the insert and the lock.
  loop
    -- Concurrent first requests queue on the primary key here: exactly one inserts.
    insert into public.http_idempotency_keys (scope, key, fingerprint, locked_until)
    values (p_scope, p_key, p_fingerprint, now() + v_lease)
    on conflict (scope, key) do nothing
    returning * into v_row;
    if found then
      return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
        'locked_until', v_row.locked_until, 'took_over', false);
    end if;

    select * into v_row from public.http_idempotency_keys k
      where k.scope = p_scope and k.key = p_key for update;
    exit when found;
  end loop;

  if v_row.fingerprint <> p_fingerprint then
    return jsonb_build_object('outcome', 'mismatch', 'response_status', null, 'response_body', null);
  end if;

  if v_row.status = 'completed' then
    update public.http_idempotency_keys k set hits = k.hits + 1, last_hit_at = now()
      where k.scope = p_scope and k.key = p_key;
    return jsonb_build_object('outcome', 'replay', 'response_status', v_row.response_status,
      'response_body', v_row.response_body, 'hits', v_row.hits + 1, 'completed_at', v_row.completed_at);
  end if;

  if v_row.locked_until > now() then
    return jsonb_build_object('outcome', 'in_flight', 'response_status', null, 'response_body', null,
      'locked_until', v_row.locked_until,
      'retry_after_ms', ceil(extract(epoch from v_row.locked_until - now()) * 1000)::bigint);
  end if;

  -- The first request's lease expired without a response: it died, so this one takes the key.
  update public.http_idempotency_keys k set locked_until = now() + v_lease
    where k.scope = p_scope and k.key = p_key
    returning * into v_row;
  return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
    'locked_until', v_row.locked_until, 'took_over', true);
end;
$function$;

-- fn_idempotency_complete: checks p_scope, p_key, p_fingerprint
create or replace function public.fn_idempotency_complete(p_scope text, p_key text, p_fingerprint text, p_status integer, p_body jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_key', p_key), public.fn_check_text('p_fingerprint', p_fingerprint);  -- sqlfix: no control characters (fn_check_text)
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_status is null or p_status not between 100 and 599 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_status must be an HTTP status 100..599 (got %s)', p_status);
  end if;
  -- Only an in-flight record with this fingerprint is ours; a completed one keeps its first answer.
  update public.http_idempotency_keys k
    set status = 'completed', response_status = p_status, response_body = p_body,
        completed_at = now(), locked_until = null
    where k.scope = p_scope and k.key = p_key and k.fingerprint = p_fingerprint and k.status = 'in_flight';
end;
$function$;

-- fn_idempotency_abandon: checks p_scope, p_key
create or replace function public.fn_idempotency_abandon(p_scope text, p_key text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_key', p_key);  -- sqlfix: no control characters (fn_check_text)
  perform public.idempotency_check_key(p_scope, p_key);
  delete from public.http_idempotency_keys k
    where k.scope = p_scope and k.key = p_key and k.status = 'in_flight';
  return found;
end;
$function$;

-- fn_set_validation_mode: checks p_scope, p_mode, p_reason
create or replace function public.fn_set_validation_mode(p_scope text, p_mode text, p_reason text, p_force boolean DEFAULT false)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_mode text := upper(btrim(p_mode));
  v_reason text := btrim(p_reason);
  v_row_mode text;
  v_old text;
  v_gate jsonb;
  v_forced boolean := false;
  v_change_id bigint;
  v_actor text;
  v_at timestamptz;
begin
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_mode', p_mode), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
  -- ---------------------------------------------------------------- validation
  perform public.fn_check_mode_scope(p_scope);
  if v_mode is null or v_mode not in ('OFF', 'WARN', 'ENFORCE') then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: mode must be OFF, WARN or ENFORCE (got %L)', left(p_mode, 50));
  end if;
  if v_reason is null or v_reason = '' or length(v_reason) > 500 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a reason (1..500 characters) is required for every mode change';
  end if;

  -- One mode change at a time, so the gate judges the mode it replaces.
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  select m.mode into v_row_mode from public.validation_modes m where m.scope = p_scope;
  v_old := public.fn_get_validation_mode(p_scope);
  v_gate := public.fn_promotion_gate(p_scope);
  if v_row_mode = v_mode then
    return jsonb_build_object('changed', false, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                              'forced', false, 'gate', v_gate, 'change_id', null);
  end if;

  -- ---------------------------------------------------------------- promotion gate
  if v_mode = 'ENFORCE' and v_old <> 'ENFORCE' and not (v_gate->>'ok')::boolean then
    if not coalesce(p_force, false) then
      raise exception using errcode = 'SG015',
        message = format('PROMOTION_BLOCKED: %s -> ENFORCE for scope %L refused: %s; pass force with a reason to override',
                         v_old, p_scope, array_to_string(array(select jsonb_array_elements_text(v_gate->'reasons')), '; ')),
        detail = v_gate::text;
    end if;
    v_forced := true;
  end if;

  -- ---------------------------------------------------------------- change (audited by trigger)
  perform set_config('stagegate.mode_change', jsonb_build_object(
    'reason', v_reason, 'forced', v_forced, 'gate', v_gate,
    'via', coalesce(nullif(current_setting('stagegate.mode_via', true), ''), 'fn_set_validation_mode'))::text, true);
  insert into public.validation_modes as m (scope, mode, note) values (p_scope, v_mode, v_reason)
  on conflict (scope) do update set mode = excluded.mode, note = excluded.note;
  perform set_config('stagegate.mode_change', '', true);
  select c.id, c.actor, c.at into v_change_id, v_actor, v_at
  from public.validation_mode_changes c where c.scope = p_scope order by c.id desc limit 1;

  return jsonb_build_object('changed', true, 'scope', p_scope, 'old_mode', v_old, 'new_mode', v_mode,
                            'forced', v_forced, 'gate', v_gate, 'change_id', v_change_id, 'actor', v_actor, 'at', v_at);
end;
$function$;

-- fn_demote_validation_mode: checks p_scope, p_reason
create or replace function public.fn_demote_validation_mode(p_scope text, p_reason text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_changes jsonb := '[]';
  v_target text;
begin
  perform public.fn_check_text('p_scope', p_scope), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
  perform public.fn_check_mode_scope(p_scope);
  perform pg_advisory_xact_lock(hashtext('stagegate.validation_modes'));
  for v_target in
    select p_scope where public.fn_get_validation_mode(p_scope) = 'ENFORCE'
    union
    select m.scope from public.validation_modes m where p_scope = '*' and m.mode = 'ENFORCE'
    order by 1
  loop
    v_changes := v_changes || public.fn_set_validation_mode(v_target, 'WARN', p_reason, false);
  end loop;
  return jsonb_build_object('changed', jsonb_array_length(v_changes) > 0, 'changes', v_changes);
end;
$function$;

-- fn_claim_webhook_id: checks p_id
create or replace function public.fn_claim_webhook_id(p_id text, p_timestamp timestamp with time zone)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_tolerance interval := (select s.webhook_tolerance from public.validation_mode_settings s);
begin
  perform public.fn_check_text('p_id', p_id);  -- sqlfix: no control characters (fn_check_text)
  if p_id is null or length(p_id) not between 1 and 255 or p_id !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: webhook-id must be 1..255 printable characters (got %L)', left(p_id, 300));
  end if;
  if p_timestamp is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: webhook timestamp is required';
  end if;
  if p_timestamp < now() - v_tolerance then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: webhook timestamp %s is older than the tolerance of %s (validation_mode_settings.webhook_tolerance)', p_timestamp, v_tolerance);
  end if;
  insert into public.ops_webhook_ids (id, webhook_ts) values (p_id, p_timestamp) on conflict (id) do nothing;
  return found;
end;
$function$;

-- fn_run_sweep: checks p_name
create or replace function public.fn_run_sweep(p_name text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sweep public.sweep_schedule;
  v_started timestamptz := clock_timestamp();
  v_result jsonb;
  v_error text;
begin
  perform public.fn_check_text('p_name', p_name);  -- sqlfix: no control characters (fn_check_text)
  select * into v_sweep from public.sweep_schedule s where s.name = p_name;
  if not found then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: no sweep %L (known: %s)', p_name,
                       (select string_agg(s.name, ', ' order by s.name) from public.sweep_schedule s));
  end if;
  begin
    execute format('select %s()', v_sweep.sql_function) into v_result;
  exception when others then
    v_error := format('%s: %s', sqlstate, sqlerrm);
  end;
  update public.sweep_schedule s
     set last_run_at = v_started, last_result = v_result, last_error = v_error,
         last_duration_ms = (extract(epoch from clock_timestamp() - v_started) * 1000)::int
   where s.name = p_name;
  return jsonb_build_object('name', p_name, 'ok', v_error is null, 'result', v_result, 'error', v_error);
end;
$function$;

-- fn_claim_handoff_request: checks p_worker
create or replace function public.fn_claim_handoff_request(p_worker text, p_lease interval DEFAULT '00:02:00'::interval, p_limit integer DEFAULT 1)
 RETURNS SETOF handoff_requests
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform public.fn_check_text('p_worker', p_worker);  -- sqlfix: no control characters (fn_check_text)
  if p_worker is null or length(p_worker) not between 1 and 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_worker is required (1-200 chars)';
  end if;
  if p_lease is null or p_lease < interval '1 second' or p_limit is null or p_limit not between 1 and 100 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease must be >= 1 second and p_limit between 1 and 100 (got %s, %s)', p_lease, p_limit);
  end if;
  perform public.fn_exhaust_handoff_requests();

  return query
  with picked as (
    select r.id from public.handoff_requests r
    where (r.status = 'pending' and r.run_after <= now()) or (r.status = 'running' and r.locked_until <= now())
    order by r.created_at
    for update skip locked
    limit p_limit
  )
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_until = clock_timestamp() + p_lease, locked_by = p_worker
    from picked
   where r.id = picked.id
  returning r.*;
end;
$function$;
