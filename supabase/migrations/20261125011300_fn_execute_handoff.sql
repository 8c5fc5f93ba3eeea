-- The one call a SQL user needs: begin, record the caller's gate results, evaluate the plan's sql
-- gates the caller did not supply, complete. All in the caller's transaction, so an error (say
-- SD_BUSY) leaves nothing behind and the same request id can simply be retried.

create function public.fn_execute_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_gate_results jsonb
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_begin jsonb;
  v_attempt_id uuid;
  v_item jsonb;
  v_code text;
  v_gate jsonb;
begin
  if p_gate_results is not null and jsonb_typeof(p_gate_results) <> 'array' then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_gate_results must be a JSON array of gate results';
  end if;
  v_begin := public.fn_begin_handoff(p_sd_id, p_handoff_type, p_session_id, p_request_id);
  if v_begin->>'status' <> 'in_progress' then
    return (v_begin->'result') || '{"replay": true}';
  end if;
  v_attempt_id := (v_begin->>'attempt_id')::uuid;

  for v_item in select * from jsonb_array_elements(coalesce(p_gate_results, '[]')) loop
    v_code := upper(v_item->>'code');
    if v_code is null then
      raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate result without a code: %s', v_item);
    end if;
    perform public.fn_store_gate_result(v_attempt_id, v_code, public.fn_normalise_gate_result(v_item), null, null, 1, false);
  end loop;

  for v_gate in
    select g from jsonb_array_elements(v_begin->'gates') g
    where g->>'kind' = 'sql' and not (g->>'skip')::boolean
      and not exists (select 1 from public.sub_agent_execution_results r
                      where r.attempt_id = v_attempt_id and r.sub_agent_code = g->>'code')
  loop
    perform public.fn_store_gate_result(v_attempt_id, v_gate->>'code',
      public.fn_normalise_gate_result(public.fn_evaluate_sql_gate(v_attempt_id, v_gate->>'code')), null, null, 1, false);
  end loop;

  return public.fn_complete_handoff(v_attempt_id);
end;
$$;
comment on function public.fn_execute_handoff(text, text, text, text, jsonb) is
  'Run a whole handoff in one call: begin, record p_gate_results (JSON array of {code, passed, score, maxScore, issues, warnings}, normalised as seed pattern 7: pass/max_score aliases, coerced passed, defaults; a result for a gate outside the plan is stored as skipped and ignored), evaluate the plan''s sql gates not supplied, complete. Same p_request_id returns the first result (replay=true). Returns the fn_complete_handoff answer.';

-- The seed's entry points. Each completes the attempt opened under p_request_id, after checking
-- that it is this handoff type, this SD (key or uuid), this session and (if given) this PRD.
create function public.fn_complete_by_request(
  p_handoff_type text, p_sd_id text, p_prd_id text, p_session_id text, p_request_id text
) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_prd_id text;
begin
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id;
  if not found then
    raise exception using errcode = 'SG009',
      message = format('ATTEMPT_NOT_FOUND: no handoff attempt with request id %L; begin one with fn_begin_handoff or use fn_execute_handoff', p_request_id);
  end if;
  if v_attempt.handoff_type <> p_handoff_type then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L is a %s attempt, not %s', p_request_id, v_attempt.handoff_type, p_handoff_type);
  end if;
  if p_sd_id is distinct from v_attempt.sd_id and p_sd_id is distinct from v_attempt.sd_uuid::text then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L belongs to strategic directive %L, not %L', p_request_id, v_attempt.sd_id, p_sd_id);
  end if;
  if p_session_id is distinct from v_attempt.session_id then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id %L was begun by session %L, not %L', p_request_id, v_attempt.session_id, p_session_id);
  end if;
  if p_prd_id is not null then
    select p.id into v_prd_id from public.product_requirements_v2 p where p.sd_id = v_attempt.sd_id;
    if v_prd_id is distinct from p_prd_id then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: PRD %L is not the PRD of strategic directive %L (%s)', p_prd_id, v_attempt.sd_id, coalesce(v_prd_id, 'none'));
    end if;
  end if;
  return public.fn_complete_handoff(v_attempt.id);
end;
$$;

create function public.fn_atomic_lead_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_complete_by_request('LEAD-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
create function public.fn_atomic_plan_to_exec_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_complete_by_request('PLAN-TO-EXEC', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
create function public.fn_atomic_exec_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_complete_by_request('EXEC-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
create function public.fn_atomic_plan_to_lead_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_complete_by_request('PLAN-TO-LEAD', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
comment on function public.fn_atomic_lead_to_plan_transition(text, text, text, text) is
  'Seed entry point: complete the LEAD-TO-PLAN attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';
comment on function public.fn_atomic_plan_to_exec_transition(text, text, text, text) is
  'Seed entry point: complete the PLAN-TO-EXEC attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';
comment on function public.fn_atomic_exec_to_plan_transition(text, text, text, text) is
  'Seed entry point: complete the EXEC-TO-PLAN attempt begun under p_request_id (gate results recorded under it): SD -> EXEC_COMPLETE, PRD -> verification, stories -> validated, atomically. p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';
comment on function public.fn_atomic_plan_to_lead_transition(text, text, text, text) is
  'Seed entry point: complete the PLAN-TO-LEAD attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';
