-- Gates the data can prove, run inside the database. Each takes the attempt's context snapshot
-- ({sd, prd, stories}) and returns a raw gate result with a partial score (3 of 4 -> 75).

-- Share of checks that hold, as a gate result; the issue text of each failing check is listed.
create or replace function public.fn_gate_score(p_checks jsonb, p_empty_passes boolean, p_empty_message text) returns jsonb
language sql immutable set search_path = '' as $$
  select case
    when jsonb_array_length(p_checks) = 0 then jsonb_build_object(
      'passed', p_empty_passes, 'score', case when p_empty_passes then 100 else 0 end, 'maxScore', 100,
      'issues', case when p_empty_passes then '[]'::jsonb else jsonb_build_array(p_empty_message) end,
      'warnings', case when p_empty_passes then jsonb_build_array(p_empty_message) else '[]'::jsonb end)
    else (
      select jsonb_build_object(
        'passed', bool_and((c->>'ok')::boolean),
        'score', round(100.0 * count(*) filter (where (c->>'ok')::boolean) / count(*), 2),
        'maxScore', 100,
        'issues', coalesce(jsonb_agg(c->'issue') filter (where not (c->>'ok')::boolean), '[]'),
        'warnings', '[]'::jsonb)
      from jsonb_array_elements(p_checks) c)
  end
$$;

create or replace function public.fn_filled(p_value jsonb) returns boolean
language sql immutable set search_path = '' as $$
  select case jsonb_typeof(p_value)
    when 'string' then btrim(p_value #>> '{}') <> ''
    when 'array' then jsonb_array_length(p_value) > 0
    when 'object' then p_value <> '{}'
    else false end
$$;

-- LEAD-TO-PLAN: the directive says what, how far and how we know it worked.
create or replace function public.fn_gate_sd_defined(p_context jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', public.fn_filled(p_context->'sd'->f), 'issue', format('SD field %s is empty', f))), '[]'), false, 'no SD')
  from unnest(array['description', 'scope', 'success_criteria']) f
$$;

-- PLAN-TO-EXEC: a PRD exists and its required sections are filled.
create or replace function public.fn_gate_prd_complete(p_context jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select case when jsonb_typeof(p_context->'prd') is distinct from 'object'
    then jsonb_build_object('passed', false, 'score', 0, 'maxScore', 100, 'issues', jsonb_build_array('SD has no PRD'), 'warnings', '[]'::jsonb)
    else (select public.fn_gate_score(jsonb_agg(jsonb_build_object(
            'ok', public.fn_filled(p_context->'prd'->f), 'issue', format('PRD field %s is empty', f))), false, 'no PRD')
          from unnest(array['executive_summary', 'functional_requirements', 'acceptance_criteria', 'test_scenarios']) f)
  end
$$;

-- PLAN-TO-EXEC: every story has acceptance criteria; no stories at all fails.
create or replace function public.fn_gate_stories_have_acceptance_criteria(p_context jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', public.fn_filled(s->'acceptance_criteria'),
           'issue', format('story %s has no acceptance criteria', s->>'story_key'))), '[]'), false, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$$;

-- EXEC-TO-PLAN: every story is done. No stories passes with a warning: their absence was
-- PLAN-TO-EXEC's business (STORIES_HAVE_ACCEPTANCE_CRITERIA).
create or replace function public.fn_gate_stories_done(p_context jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', s->>'status' in ('done', 'validated', 'completed'),
           'issue', format('story %s is %s, not done', s->>'story_key', s->>'status'))), '[]'), true, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$$;

-- PLAN-TO-LEAD: verification validated every story.
create or replace function public.fn_gate_stories_validated(p_context jsonb) returns jsonb
language sql immutable set search_path = '' as $$
  select public.fn_gate_score(coalesce(jsonb_agg(jsonb_build_object(
           'ok', s->>'status' in ('validated', 'completed'),
           'issue', format('story %s is %s, not validated', s->>'story_key', s->>'status'))), '[]'), true, 'SD has no user stories')
  from jsonb_array_elements(coalesce(p_context->'stories', '[]')) s
$$;

create or replace function public.fn_evaluate_sql_gate(p_attempt_id uuid, p_gate_code text) returns jsonb
language plpgsql security definer set search_path = '' as $$
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
$$;
comment on function public.fn_evaluate_sql_gate(uuid, text) is
  'Run a registered sql gate (target: a public.fn_gate_* function (jsonb) returns jsonb) over the attempt''s context snapshot and return its raw result. Does not record it: the caller records it with fn_record_gate_result.';
