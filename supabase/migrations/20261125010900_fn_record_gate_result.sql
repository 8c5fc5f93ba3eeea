-- Gate results: normalise (seed pattern 7, for SQL callers), check (the contract every stored
-- result meets), store (idempotent per attempt and gate).

-- Seed pattern 7's forgiving normaliser: pass -> passed, max_score -> maxScore, numeric or string
-- passed coerced, missing fields defaulted with the seed's defaults (passed false, score 0,
-- maxScore 100, issues [], warnings []). Every change made is listed in fixes.
create function public.fn_normalise_gate_result(p_raw jsonb) returns jsonb
language plpgsql immutable set search_path = '' as $$
declare
  r jsonb := p_raw;
  v_fixes jsonb := '[]';
begin
  if jsonb_typeof(r) is distinct from 'object' then
    raise exception using errcode = 'SG010',
      message = format('INVALID_GATE_RESULT: a gate result must be a JSON object (got %s)', coalesce(jsonb_typeof(r), 'null'));
  end if;
  if r ? 'pass' and not r ? 'passed' then
    r := jsonb_set(r, '{passed}', r->'pass');
    v_fixes := v_fixes || '"pass -> passed"';
  end if;
  if r ? 'max_score' and not r ? 'maxScore' then
    r := jsonb_set(r, '{maxScore}', r->'max_score');
    v_fixes := v_fixes || '"max_score -> maxScore"';
  end if;
  r := r - 'pass' - 'max_score' - 'code';
  case jsonb_typeof(r->'passed')
    when 'number' then
      r := jsonb_set(r, '{passed}', to_jsonb((r->>'passed')::numeric > 0));
      v_fixes := v_fixes || '"passed coerced from number"';
    when 'string' then
      if lower(r->>'passed') not in ('true', 'false') then
        raise exception using errcode = 'SG010',
          message = format('INVALID_GATE_RESULT: passed must be boolean (got %s)', r->'passed');
      end if;
      r := jsonb_set(r, '{passed}', to_jsonb(lower(r->>'passed') = 'true'));
      v_fixes := v_fixes || '"passed coerced from string"';
    when 'boolean' then null;
    else
      r := jsonb_set(r, '{passed}', 'false');
      v_fixes := v_fixes || '"default passed = false"';
  end case;
  if jsonb_typeof(r->'score') is distinct from 'number' and r->>'score' ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then
    r := jsonb_set(r, '{score}', to_jsonb((r->>'score')::numeric));
    v_fixes := v_fixes || '"score coerced from string"';
  elsif r->'score' is null or jsonb_typeof(r->'score') = 'null' then
    r := jsonb_set(r, '{score}', '0');
    v_fixes := v_fixes || '"default score = 0"';
  end if;
  if r->'maxScore' is null or jsonb_typeof(r->'maxScore') = 'null' then
    r := jsonb_set(r, '{maxScore}', '100');
    v_fixes := v_fixes || '"default maxScore = 100"';
  end if;
  if r->'issues' is null or jsonb_typeof(r->'issues') = 'null' then
    r := jsonb_set(r, '{issues}', '[]');
    v_fixes := v_fixes || '"default issues = []"';
  elsif jsonb_typeof(r->'issues') = 'string' then
    r := jsonb_set(r, '{issues}', jsonb_build_array(r->'issues'));
    v_fixes := v_fixes || '"issues made an array"';
  end if;
  if r->'warnings' is null or jsonb_typeof(r->'warnings') = 'null' then
    r := jsonb_set(r, '{warnings}', '[]');
    v_fixes := v_fixes || '"default warnings = []"';
  elsif jsonb_typeof(r->'warnings') = 'string' then
    r := jsonb_set(r, '{warnings}', jsonb_build_array(r->'warnings'));
    v_fixes := v_fixes || '"warnings made an array"';
  end if;
  return r || jsonb_build_object('fixes', coalesce(r->'fixes', '[]') || v_fixes);
end;
$$;

-- The contract, strictly: nothing is coerced here.
create function public.fn_check_gate_result(p_gate_code text, p_result jsonb) returns void
language plpgsql immutable set search_path = '' as $$
declare
  v_problem text;
begin
  v_problem := case
    when jsonb_typeof(p_result) is distinct from 'object' then 'result must be a JSON object'
    when jsonb_typeof(p_result->'passed') is distinct from 'boolean' then 'passed must be boolean'
    when jsonb_typeof(p_result->'score') is distinct from 'number' then 'score must be a number'
    when jsonb_typeof(p_result->'maxScore') is distinct from 'number' then 'maxScore must be a number'
    when (p_result->>'maxScore')::numeric <= 0 then format('maxScore must be > 0 (got %s)', p_result->'maxScore')
    when (p_result->>'score')::numeric not between 0 and (p_result->>'maxScore')::numeric
      then format('score %s is outside 0..%s', p_result->'score', p_result->'maxScore')
    when coalesce(jsonb_typeof(p_result->'issues'), 'array') <> 'array' then 'issues must be an array'
    when coalesce(jsonb_typeof(p_result->'warnings'), 'array') <> 'array' then 'warnings must be an array'
    when coalesce(jsonb_typeof(p_result->'fixes'), 'array') <> 'array' then 'fixes must be an array'
    when coalesce(jsonb_typeof(p_result->'skipped'), 'boolean') not in ('boolean', 'null') then 'skipped must be boolean'
    when coalesce(jsonb_typeof(p_result->'skip_reason'), 'null') not in ('string', 'null') then 'skip_reason must be a string'
    when coalesce(jsonb_typeof(p_result->'error'), 'null') not in ('string', 'null') then 'error must be a string'
  end;
  if v_problem is not null then
    raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate %L: %s', p_gate_code, v_problem);
  end if;
end;
$$;

create function public.fn_gate_result_json(p_row public.sub_agent_execution_results) returns jsonb
language sql immutable set search_path = '' as $$
  select jsonb_build_object(
    'code', p_row.sub_agent_code, 'passed', p_row.passed, 'score', p_row.score, 'maxScore', p_row.max_score,
    'issues', p_row.issues, 'warnings', p_row.warnings, 'fixes', p_row.fixes, 'skipped', p_row.skipped,
    'skip_reason', p_row.skip_reason, 'error', p_row.error, 'attempts', p_row.attempts,
    'duration_ms', p_row.duration_ms, 'verdict', p_row.verdict)
$$;

-- Identity of a result is (attempt, gate): a second record of it is an idempotent hit whatever
-- its key, and the first stored result wins. A result for a gate outside the attempt's plan, or
-- skipped by the plan, is stored as skipped (it never counts towards the score).
create function public.fn_store_gate_result(
  p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text,
  p_duration_ms int, p_attempts int, p_orchestrated boolean
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_row public.sub_agent_execution_results;
  v_plan jsonb;
  v_skipped boolean;
begin
  if p_attempt_id is null or p_gate_code is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id and p_gate_code are required';
  end if;
  -- FOR SHARE: waits for a complete in flight, then sees the attempt's final status
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for share;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not exists (select 1 from public.leo_sub_agents s where s.code = p_gate_code) then
    raise exception using errcode = 'SG011', message = format('UNKNOWN_GATE: %L is not a registered sub-agent', p_gate_code);
  end if;

  update public.sub_agent_execution_results r
     set hit_count = r.hit_count + 1,
         metadata = r.metadata || jsonb_build_object('idempotent_hit', true, 'hit_count', r.hit_count + 1)
   where r.attempt_id = p_attempt_id and r.sub_agent_code = p_gate_code
  returning * into v_row;
  if found then
    return jsonb_build_object('result_id', v_row.id, 'idempotent_hit', true, 'result', public.fn_gate_result_json(v_row));
  end if;

  if v_attempt.status <> 'in_progress' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: attempt %s is already %s; begin a new handoff to record new results', v_attempt.id, v_attempt.status);
  end if;
  perform public.fn_check_gate_result(p_gate_code, p_result);
  if p_attempts is not null and p_attempts < 0 or p_duration_ms is not null and p_duration_ms < 0 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempts and p_duration_ms must be >= 0';
  end if;

  select g into v_plan from jsonb_array_elements(v_attempt.gates) g where g->>'code' = p_gate_code;
  v_skipped := v_plan is null or (v_plan->>'skip')::boolean or coalesce((p_result->>'skipped')::boolean, false);

  insert into public.sub_agent_execution_results as r
    (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score, issues, warnings, fixes, skipped,
     skip_reason, error, attempts, duration_ms, idempotency_key, metadata)
  values (
    p_attempt_id, v_attempt.sd_id, p_gate_code,
    case when v_skipped then 'SKIPPED' when p_result->>'error' is not null then 'ERROR'
         when (p_result->>'passed')::boolean then 'PASS' else 'FAIL' end,
    (p_result->>'passed')::boolean, (p_result->>'score')::numeric, (p_result->>'maxScore')::numeric,
    coalesce(p_result->'issues', '[]'), coalesce(p_result->'warnings', '[]'), coalesce(p_result->'fixes', '[]'),
    v_skipped,
    case when v_plan is null then 'NOT_IN_PLAN' when (v_plan->>'skip')::boolean then v_plan->>'skip_reason'
         else p_result->>'skip_reason' end,
    p_result->>'error', coalesce(p_attempts, 1), p_duration_ms, p_idempotency_key,
    jsonb_build_object('orchestrated', p_orchestrated, 'idempotency_key', p_idempotency_key, 'idempotent_hit', false,
                       'session_id', v_attempt.session_id, 'phase', v_attempt.handoff_type))
  on conflict (attempt_id, sub_agent_code) do nothing
  returning * into v_row;
  if not found then
    -- a concurrent record of the same gate won; take the hit path
    return public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, p_orchestrated);
  end if;
  return jsonb_build_object('result_id', v_row.id, 'idempotent_hit', false, 'result', public.fn_gate_result_json(v_row));
end;
$$;

create function public.fn_record_gate_result(
  p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text default null,
  p_duration_ms int default null, p_attempts int default 1
) returns jsonb
language sql security definer set search_path = '' as $$
  select public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true)
$$;
comment on function public.fn_record_gate_result(uuid, text, jsonb, text, int, int) is
  'Record one normalised gate result ({passed, score, maxScore, issues, warnings, fixes?, skipped?, skip_reason?, error?}; checked, SG010 INVALID_GATE_RESULT) for an attempt. Idempotent per (attempt, gate): a repeat returns the stored result with idempotent_hit=true and counts the hit. Returns {result_id, idempotent_hit, result}.';
