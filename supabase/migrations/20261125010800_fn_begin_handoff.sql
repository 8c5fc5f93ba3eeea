-- Step 1 of a handoff: check the preconditions, freeze the gate plan and the context snapshot,
-- and open an attempt. Idempotent by request id.

-- Gates that run for (handoff type, SD type): active registry rows whose handoff_types/sd_types
-- match (empty = all), each with the central skip decision. depends_on keeps only codes in the
-- plan, so the orchestrator's runner never waits for a gate that does not run for this handoff.
create function public.fn_handoff_gates(p_handoff_type text, p_sd_type text) returns jsonb
language sql stable set search_path = '' as $$
  with plan as (
    select a.*
    from public.leo_sub_agents a
    where a.active
      and (a.handoff_types = '{}' or p_handoff_type = any (a.handoff_types))
      and (a.sd_types = '{}' or p_sd_type = any (a.sd_types))
  ),
  skips as (
    select * from public.fn_check_skip_conditions(p_sd_type, (select array_agg(p.code) from plan p))
  )
  select coalesce(jsonb_agg(jsonb_build_object(
      'code', p.code, 'kind', p.kind, 'target', p.target,
      'depends_on', to_jsonb(array(select d from unnest(p.depends_on) d where d in (select code from plan))),
      'timeout_ms', p.timeout_ms, 'max_retries', p.max_retries, 'weight', p.weight,
      'required', p.required, 'skip', s.should_skip, 'skip_reason', s.reason_code
    ) order by p.code), '[]')
  from plan p join skips s on s.validator = p.code
$$;

-- What the gates judge: deep copies (jsonb) of the SD, its PRD and its stories at begin.
create function public.fn_sd_context(p_sd public.strategic_directives_v2) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'sd', to_jsonb(p_sd),
    'prd', (select to_jsonb(p) from public.product_requirements_v2 p where p.sd_id = p_sd.id),
    'stories', coalesce((select jsonb_agg(to_jsonb(u) order by u.story_key)
                         from public.user_stories u where u.sd_id = p_sd.id), '[]'))
$$;

create function public.fn_attempt_answer(p_attempt public.handoff_attempts, p_replay boolean) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'attempt_id', p_attempt.id, 'request_id', p_attempt.request_id, 'status', p_attempt.status,
    'replay', p_replay, 'result', p_attempt.result,
    'sd_id', p_attempt.sd_id, 'sd_uuid', p_attempt.sd_uuid, 'sd_type', p_attempt.sd_type,
    'session_id', p_attempt.session_id, 'handoff_type', p_attempt.handoff_type,
    'from_phase', p_attempt.from_phase, 'to_phase', p_attempt.to_phase,
    'transition_version', p_attempt.sd_version,
    'threshold', public.fn_sd_threshold(p_attempt.sd_type),
    'validation_mode', public.fn_get_validation_mode(p_attempt.sd_type),
    'context', p_attempt.context, 'gates', p_attempt.gates)
$$;

create function public.fn_begin_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_expected_version int default null
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_type_code text := public.fn_normalise_handoff_type(p_handoff_type);
  v_type public.handoff_types;
  v_sd public.strategic_directives_v2;
  v_attempt public.handoff_attempts;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;

  -- ---------------------------------------------------------------- replay
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    return public.fn_attempt_answer(v_attempt, true);
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if not v_sd.current_phase = any (v_type.from_phases) then
    raise exception using errcode = 'SG004',
      message = format('WRONG_PHASE: %s needs strategic directive %L in %s, it is in %s',
                       v_type.code, v_sd.id, array_to_string(v_type.from_phases, ' or '), v_sd.current_phase);
  end if;
  perform public.fn_claim_sd(v_sd.id, p_session_id);

  -- ---------------------------------------------------------------- open the attempt
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type))
  on conflict (request_id) do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
    return public.fn_attempt_answer(v_attempt, true);
  end if;
  return public.fn_attempt_answer(v_attempt, false);
end;
$$;
comment on function public.fn_begin_handoff(text, text, text, text, int) is
  'Begin a handoff: resolve the SD (key or uuid), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free), freeze the gate plan (after skip rules) and a context snapshot. Same p_request_id returns the same attempt with replay=true. Returns {attempt_id, request_id, status, replay, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';
