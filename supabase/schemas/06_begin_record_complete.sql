-- The handoff RPCs: begin (step 1), record gate results (step 2), complete (step 3), and
-- fn_execute_handoff / fn_complete_by_request / the fn_atomic_* wrappers that do all three.

-- Step 1 of a handoff: check the preconditions, freeze the gate plan and the context snapshot,
-- and open an attempt. Idempotent by request id.
--
-- Gates that run for (handoff type, SD type): active registry rows whose handoff_types/sd_types
-- match (empty = all), each with the central skip decision. depends_on keeps only codes in the
-- plan, so the orchestrator's runner never waits for a gate that does not run for this handoff.
create or replace function public.fn_handoff_gates(p_handoff_type text, p_sd_type text) returns jsonb
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
      -- approvals: nothing waits for an approval gate (people decide after the automated gates)
      'depends_on', to_jsonb(array(select d from unnest(p.depends_on) d where d in (select q.code from plan q where q.kind <> 'approval'))),
      'timeout_ms', p.timeout_ms, 'max_retries', p.max_retries, 'weight', p.weight,
      'required', p.required, 'skip', s.should_skip, 'skip_reason', s.reason_code
    ) || case when p.kind = 'approval' then jsonb_build_object(  -- approvals: what the gate asks for
      'approvals_required', p.approvals_required, 'approver_roles', to_jsonb(p.approver_roles),
      'approval_expiry_s', extract(epoch from p.approval_expiry)::int) else '{}'::jsonb end
    order by p.code), '[]')
  from plan p join skips s on s.validator = p.code
$$;

-- What the gates judge: deep copies (jsonb) of the SD, its PRD and its stories at begin.
create or replace function public.fn_sd_context(p_sd public.strategic_directives_v2) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object(
    'sd', to_jsonb(p_sd),
    'prd', (select to_jsonb(p) from public.product_requirements_v2 p where p.sd_id = p_sd.id),
    'stories', coalesce((select jsonb_agg(to_jsonb(u) order by u.story_key)
                         from public.user_stories u where u.sd_id = p_sd.id), '[]'))
$$;

create or replace function public.fn_attempt_answer(p_attempt public.handoff_attempts, p_replay boolean) returns jsonb
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

-- ------------------------------------------------------------------ fn_handoff_inputs_hash
-- From the context snapshot and gate plan begin has built already (built once per handoff).
create or replace function public.fn_handoff_inputs_hash_of(p_context jsonb, p_gates jsonb, p_sd_type text) returns text
language sql stable set search_path = '' as $$
  select encode(sha256(convert_to(jsonb_build_array(
    p_context,
    p_gates,
    public.fn_sd_threshold(p_sd_type),
    public.fn_get_validation_mode(p_sd_type))::text, 'UTF8')), 'hex')
$$;
revoke all on function public.fn_handoff_inputs_hash_of(jsonb, jsonb, text) from public, anon, authenticated, service_role;

create or replace function public.fn_handoff_inputs_hash(p_sd public.strategic_directives_v2, p_handoff_type text) returns text
language sql stable set search_path = '' as $$
  select public.fn_handoff_inputs_hash_of(public.fn_sd_context(p_sd), public.fn_handoff_gates(p_handoff_type, p_sd.sd_type), p_sd.sd_type)
$$;
comment on function public.fn_handoff_inputs_hash(public.strategic_directives_v2, text) is
  'sha256 (hex) of the inputs a verdict depends on: the context snapshot (SD, PRD, stories), the gate plan (registry and skip rules), the threshold and the validation mode of the SD type. jsonb prints keys in a fixed order, so equal inputs give equal hashes.';
revoke all on function public.fn_handoff_inputs_hash(public.strategic_directives_v2, text) from public, anon, authenticated, service_role;

-- ------------------------------------------------------------------ fn_attempt_live_for
create or replace function public.fn_attempt_live_for(p_gates jsonb) returns interval
language sql immutable set search_path = '' as $$
  select make_interval(secs => 10 + coalesce(sum(
           coalesce((g->>'timeout_ms')::numeric, 60000) * (1 + greatest(coalesce((g->>'max_retries')::numeric, 0), 0))), 0) / 1000.0)
  from jsonb_array_elements(case when jsonb_typeof(p_gates) = 'array' then p_gates else '[]'::jsonb end) g
  where not coalesce((g->>'skip')::boolean, false)
$$;
comment on function public.fn_attempt_live_for(jsonb) is
  'How long an attempt with this gate plan may still be running its gates: every gate''s timeout times its tries, one after another, plus 10 s. fn_begin_handoff refuses a second attempt of the SD (SD_BUSY) while one is this young.';
revoke all on function public.fn_attempt_live_for(jsonb) from public, anon, authenticated, service_role;

create or replace function public.fn_begin_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text,
  p_expected_version int default null, p_dry_run boolean default false) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_type_code text := public.fn_normalise_handoff_type(p_handoff_type);
  v_type public.handoff_types;
  v_sd public.strategic_directives_v2;
  v_attempt public.handoff_attempts;
  v_holder public.sd_claims;
  v_open public.handoff_attempts;
  v_hash text;
  v_context jsonb;
  v_gates jsonb;
  v_reason text;
begin
  -- ---------------------------------------------------------------- validation
  if p_request_id is null or btrim(p_request_id) = '' or length(p_request_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_request_id is required (1-200 chars)';
  end if;
  if p_session_id is null or btrim(p_session_id) = '' or length(p_session_id) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_session_id is required (1-200 chars)';
  end if;
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_handoff_type', p_handoff_type),
          public.fn_check_text('p_request_id', p_request_id), public.fn_check_text('p_session_id', p_session_id);
  if p_expected_version is not null and p_expected_version < 0 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_expected_version must be a transition_version (0 or more), got %s', p_expected_version);
  end if;
  if p_dry_run is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_dry_run must be true or false';
  end if;

  -- ---------------------------------------------------------------- replay (sqlfix: by inputs)
  select * into v_attempt from public.handoff_attempts a
  where a.request_id = p_request_id and a.superseded_at is null;
  if found then
    if v_attempt.handoff_type is distinct from v_type_code
       or p_sd_id not in (v_attempt.sd_id, v_attempt.sd_uuid::text) then
      raise exception using errcode = 'SG001',
        message = format('INVALID_INPUT: request id %L was already used for %s of %s', p_request_id, v_attempt.handoff_type, v_attempt.sd_id);
    end if;
    perform stagegate_private.fn_authorize_attempt(v_attempt.id, true);  -- people: a replay is the attempt owner's (or the service role's)
    if v_attempt.status in ('in_progress', 'awaiting_approval') then  -- approvals: a waiting attempt answers as itself
      return public.fn_attempt_answer(v_attempt, true) || jsonb_build_object('replay_reason', v_attempt.status);
    end if;
    v_reason := case v_attempt.status when 'completed' then 'accepted' end;
    if v_attempt.status in ('rejected', 'failed') then
      select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
      if not found or public.fn_handoff_inputs_hash(v_sd, v_attempt.handoff_type) = v_attempt.inputs_hash then
        v_reason := 'unchanged_inputs';
      end if;
    end if;
    if v_reason is not null then
      insert into public.handoff_request_events (kind, reason, handoff_type) values ('replay', v_reason, v_attempt.handoff_type);
      return public.fn_attempt_answer(v_attempt, true) || jsonb_build_object('replay_reason', v_reason);
    end if;
    -- The answer no longer holds for these inputs: the request id passes to a new attempt.
    update public.handoff_attempts a set superseded_at = clock_timestamp()
    where a.id = v_attempt.id and a.superseded_at is null;
  end if;

  -- ---------------------------------------------------------------- preconditions
  select * into v_type from public.handoff_types t where t.code = v_type_code;
  if not found then
    raise exception using errcode = 'SG003',
      message = format('UNKNOWN_HANDOFF_TYPE: %L is not a handoff type (known: %s)', p_handoff_type,
                       (select string_agg(t.code, ', ' order by t.code) from public.handoff_types t));
  end if;
  v_sd := public.fn_resolve_sd(p_sd_id);
  perform stagegate_private.fn_authorize_handoff(v_sd.team_id, v_type.code, v_sd.id);  -- people: member with a permitted role, or the service role
  -- sqlfix: fail fast. Another begin of this SD holds it for a few ms; refusing at once instead of
  -- queueing on the claim row keeps a burst's refusals as fast as one handoff. The two-key lock
  -- space cannot collide with fn_complete_handoff's one-key lock on the SD.
  if not p_dry_run and not pg_try_advisory_xact_lock(1397178949, hashtext(v_sd.uuid::text)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another request is beginning a handoff of strategic directive %L; retry shortly', v_sd.id);
  end if;
  -- sqlfix: one live attempt per SD. A second one could only run its gates to lose at complete
  -- (SD_BUSY or ALREADY_TRANSITIONED); refusing it here answers in milliseconds. An attempt
  -- counts as live for as long as its gates could still be running (fn_attempt_live_for); after
  -- that a crashed one no longer blocks (the same request id resumes it at any time).
  if not p_dry_run then
    select * into v_open from public.handoff_attempts a
    where a.sd_uuid = v_sd.uuid and a.status = 'in_progress' and not a.dry_run
      and a.started_at > now() - public.fn_attempt_live_for(a.gates)
    order by a.started_at limit 1;
    if found then
      raise exception using errcode = 'SG006',
        message = format('SD_BUSY: strategic directive %L has a handoff in progress (attempt %s, %s, request id %L, session %L, since %s); retry when it has finished, or retry that request id to resume it',
                         v_sd.id, v_open.id, v_open.handoff_type, v_open.request_id, v_open.session_id, v_open.started_at);
    end if;
  end if;
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
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, null);  -- approvals: one waiting handoff at a time
  if p_dry_run then
    -- sqlfix: a dry run takes no claim, but is refused where the real run would be.
    -- people: a claim is (session, user); the holder's session is named only to who may see it
    select * into v_holder from public.sd_claims c
    where c.sd_id = v_sd.id and c.expires_at > now()
      and (c.session_id, c.actor_id) is distinct from (p_session_id, (select a.user_id from stagegate_private.current_actor() a));
    if found then
      raise exception using errcode = 'SG005',
        message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by %s until %s',
                         v_sd.id, stagegate_private.fn_claim_holder(v_holder.session_id, v_holder.actor_id), v_holder.expires_at);
    end if;
  else
    perform public.fn_claim_sd(v_sd.id, p_session_id);
  end if;

  -- ---------------------------------------------------------------- open the attempt
  v_context := public.fn_sd_context(v_sd);
  v_gates := public.fn_handoff_gates(v_type.code, v_sd.sd_type);
  v_hash := public.fn_handoff_inputs_hash_of(v_context, v_gates, v_sd.sd_type);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates,
     inputs_hash, dry_run)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, v_context, v_gates,
     v_hash, p_dry_run)
  on conflict (request_id) where superseded_at is null do nothing
  returning * into v_attempt;
  if not found then
    -- a concurrent begin with the same request id won the insert
    select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
    return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
  end if;
  return public.fn_attempt_answer(v_attempt, false) || jsonb_build_object('replay_reason', null, 'dry_run', p_dry_run);
end;
$$;
comment on function public.fn_begin_handoff(text, text, text, text, int, boolean) is
  'Begin a handoff: resolve the SD (key or uuid), check who asks (SG020 NOT_A_MEMBER, SG021 ROLE_NOT_ALLOWED: a member of the SD''s team whose role handoff_permissions allows, or the service role), refuse at once while another begin of the SD runs or another attempt of it is live (SG006 SD_BUSY; live = younger than fn_attempt_live_for of its plan), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free; a dry run only checks it), freeze the gate plan (after skip rules), a context snapshot and the inputs hash. Same p_request_id: the same attempt while it runs (replay_reason in_progress), its answer when it was accepted (accepted) or rejected or failed on the same inputs (unchanged_inputs); otherwise (inputs changed, or abandoned) the old attempt is superseded and a new one begins. p_dry_run: no claim; finish it with fn_finish_dry_run. Returns {attempt_id, request_id, status, replay, replay_reason, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';
-- Step 2, gate results: normalise (seed pattern 7, for SQL callers), check (the contract every
-- stored result meets), store (idempotent per attempt and gate).
--
-- Seed pattern 7's forgiving normaliser: pass -> passed, max_score -> maxScore, numeric or string
-- passed coerced, missing fields defaulted with the seed's defaults (passed false, score 0,
-- maxScore 100, issues [], warnings []). Every change made is listed in fixes.
create or replace function public.fn_normalise_gate_result(p_raw jsonb) returns jsonb
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
create or replace function public.fn_check_gate_result(p_gate_code text, p_result jsonb) returns void
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

create or replace function public.fn_gate_result_json(p_row public.sub_agent_execution_results) returns jsonb
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
create or replace function public.fn_store_gate_result(
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

create or replace function public.fn_record_gate_result(
  p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text default null,
  p_duration_ms int default null, p_attempts int default 1
) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  perform public.fn_check_text('p_gate_code', p_gate_code), public.fn_check_text('p_idempotency_key', p_idempotency_key);  -- sqlfix: no control characters (fn_check_text)
  return public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true);
end;
$$;
comment on function public.fn_record_gate_result(uuid, text, jsonb, text, int, int) is
  'Record one normalised gate result ({passed, score, maxScore, issues, warnings, fixes?, skipped?, skip_reason?, error?}; checked, SG010 INVALID_GATE_RESULT) for an attempt. Idempotent per (attempt, gate): a repeat returns the stored result with idempotent_hit=true and counts the hit. Returns {result_id, idempotent_hit, result}.';

-- The state an audit row records before and after: SD phase/status/version, PRD status, and the
-- stories counted by status.
create or replace function public.fn_sd_state(p_sd_id text) returns jsonb
language plpgsql stable set search_path = '' as $$
begin
  return (
    select jsonb_build_object(
      'sd_phase', s.current_phase, 'sd_status', s.status, 'transition_version', s.transition_version,
      'prd_id', p.id, 'prd_status', p.status,
      'user_stories', coalesce((select jsonb_object_agg(x.status, x.n)
                                from (select u.status, count(*) as n from public.user_stories u
                                      where u.sd_id = s.id group by u.status) x), '{}'))
    from public.strategic_directives_v2 s
    left join public.product_requirements_v2 p on p.sd_id = s.id
    where s.id = p_sd_id);
end;
$$;

-- Step 3 of a handoff: under the SD's advisory lock and version check, judge the attempt
-- (fn_judge_attempt), apply the workflow's state changes, and leave exactly one terminal audit row.
--
-- NOTIFY without serialising commits. A transaction that has called NOTIFY takes a database-wide
-- lock at commit and holds it until its commit record is flushed, so notifying transactions commit
-- one at a time and lose group commit: measured, in-transaction NOTIFY capped complete-handoff
-- throughput at 8 clients at about the single-client rate (bench/REPORT.md). So by default the
-- notification goes to the transition_notifications outbox in this transaction (atomic with the
-- transition: no transition, no notification) and the 'transition_notifications' sweep sends
-- them. stagegate.notify_transitions (per database, role or session): unset or 'outbox' -> the
-- outbox; 'commit' -> NOTIFY from the completing transaction itself (immediate, commits
-- serialised); 'off' -> no notification.
--
-- The SD is locked inside step 4's savepoint, not before it. Reading it with SELECT ... FOR UPDATE
-- and then updating it inside the savepoint gives the row a MultiXact as its xmax (the lock must
-- outlive a rollback of the subtransaction), so every complete would create one: MultiXact SLRU
-- traffic and WAL on the hot path, and multixact ids that anti-wraparound vacuum must later freeze.
-- So the SD is read without a lock, and the first statement of the savepoint locks it (FOR NO KEY
-- UPDATE), re-checking what the guard trigger protects (phase, status, transition_version). The
-- lock and the UPDATE belong to the same subtransaction, so no MultiXact.
--  * Between the read and the lock, transitions of the SD are excluded by the advisory lock.
--    Anything else that changed those columns (a stage backfill, a caller setting
--    stagegate.in_transition by hand) or deleted the SD fails the attempt at the lock (SG008 /
--    SG002 in the audit row's Spartan log, nothing changed; post_state is read again, so it shows
--    what the other writer left). A renamed SD is followed to its new key; the claim check looks
--    the claim up through the SD's uuid, so a rename cannot hide it.
--  * Waiting for the lock can fail (lock_timeout, deadlock, serialization): that error goes to the
--    caller and the attempt stays open for a retry.
--  * The SD is locked before its PRD and stories, the order its DELETE and key UPDATE cascade in,
--    so the two cannot deadlock. The SD UPDATE still checks transition_version, against changes
--    made by triggers inside step 4.
--  * FOR NO KEY UPDATE does not hold off a new claim by another session (its foreign key check
--    takes FOR KEY SHARE): such a claim lands just before the transition commits. The completing
--    attempt was begun under its own claim either way.
-- A MultiXact is still created when the same transaction locked the SD row before the savepoint:
-- fn_execute_handoff, when its begin inserts a new sd_claims row (the foreign key check takes FOR
-- KEY SHARE). That is once per claim, not per handoff.
-- The complete path (below): the attempt's owner (or the service role) calls it through
-- fn_complete_handoff; fn_decide_approval and fn_override_handoff (16_approvals.sql) call it for
-- the person whose decision settles an attempt. Hooks of approvals are marked "approvals:".
create or replace function public.fn_complete_handoff(p_attempt_id uuid, p_expected_version int default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  return stagegate_private.fn_complete_attempt(p_attempt_id, p_expected_version);
end;
$$;
comment on function public.fn_complete_handoff(uuid, int) is
  'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. When the plan holds approval gates and the automated gates pass, the attempt becomes awaiting_approval (verdict awaiting_approval, approvals: what is still needed and until when) and fn_decide_approval completes it. An accepted handoff gives the session''s claim back when whoever asked may request no handoff from the new phase (handoff_permissions; automation keeps it while any handoff leads on). An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed|awaiting_approval), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, approvals, transition_version, replay, error}.';

create or replace function stagegate_private.fn_complete_attempt(p_attempt_id uuid, p_expected_version int) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_sd public.strategic_directives_v2;
  v_type public.handoff_types;
  v_holder text;
  v_judgement jsonb;
  v_verdict text;
  v_pre jsonb;
  v_post jsonb;
  v_error jsonb;
  v_step text := '4. Apply state changes';
  v_key text;
  v_stories_updated int := 0;
  v_prd_updated boolean := false;
  v_sd_updated boolean := false;
  v_err_state text;
  v_err_message text;
  v_version int;
  v_audit_id uuid := gen_random_uuid();
  v_result jsonb;
  v_notify_mode text;
  v_payload jsonb;
begin
  -- ---------------------------------------------------------------- replay, lock, preconditions
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select a.sd_id, a.sd_uuid, a.status, a.result into v_attempt.sd_id, v_attempt.sd_uuid, v_attempt.status, v_attempt.result
  from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  -- approvals: a waiting attempt is completed again by the decision (or call) that settles it
  if v_attempt.status not in ('in_progress', 'awaiting_approval') then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- fail fast rather than queue: the loser retries or reports SD_BUSY to its caller
  if not pg_try_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another transaction is completing a handoff of strategic directive %L; retry shortly', v_attempt.sd_id);
  end if;
  -- re-read under the lock: a concurrent complete of this very attempt may have just committed
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  -- approvals: a waiting attempt is completed again by the decision (or call) that settles it
  if v_attempt.status not in ('in_progress', 'awaiting_approval') then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- No row lock here: step 4 takes it, inside its savepoint (see the top of this file).
  select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L was deleted since the attempt began', v_attempt.sd_id);
  end if;
  if p_expected_version is not null and p_expected_version <> v_sd.transition_version then
    raise exception using errcode = 'SG007',
      message = format('VERSION_CONFLICT: strategic directive %L is at transition_version %s, caller expected %s',
                       v_sd.id, v_sd.transition_version, p_expected_version);
  end if;
  if v_sd.transition_version <> v_attempt.sd_version then
    raise exception using errcode = 'SG008',
      message = format('ALREADY_TRANSITIONED: strategic directive %L moved to %s (transition_version %s) after attempt %s began at version %s; begin a new handoff',
                       v_sd.id, v_sd.current_phase, v_sd.transition_version, v_attempt.id, v_attempt.sd_version);
  end if;
  -- by uuid, not by the key read above: a rename committed since then has moved the claim with it
  -- people: a claim is (session, user); the holder's session is named only to who may see it
  -- approvals: not for a waiting attempt, which the approvers' decision settles: nobody could begin
  -- another handoff meanwhile (SG040), and a claim someone took after the requester gave theirs
  -- back (fn_release_sd, a shorter renewal) must not block the decision
  select stagegate_private.fn_claim_holder(c.session_id, c.actor_id) into v_holder
  from public.sd_claims c join public.strategic_directives_v2 s on s.id = c.sd_id
  where s.uuid = v_sd.uuid and c.expires_at > now()
    and (c.session_id, c.actor_id) is distinct from (v_attempt.session_id, v_attempt.actor_id)
    and v_attempt.status <> 'awaiting_approval';
  if found then
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is now held by %s', v_sd.id, v_holder);
  end if;
  select * into v_type from public.handoff_types t where t.code = v_attempt.handoff_type;
  -- approvals: while another attempt of the directive waits for approvals, this one cannot complete
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, v_attempt.id);

  -- ---------------------------------------------------------------- judge
  v_judgement := public.fn_judge_attempt(v_attempt);
  v_verdict := v_judgement->>'verdict';
  v_pre := public.fn_sd_state(v_sd.id);
  v_version := v_sd.transition_version;
  -- approvals: the automated gates let it through, approvals are still missing: it waits (no
  -- transition, no audit row until it is settled)
  if v_verdict = 'awaiting_approval' then
    return stagegate_private.fn_await_approval(v_attempt, v_judgement);
  end if;

  -- ---------------------------------------------------------------- apply (all or nothing)
  -- The sub-block is a savepoint: any error undoes every change inside it, and the function goes
  -- on to write the failed audit row with the Spartan error log.
  if v_verdict = 'accepted' then
    begin
      v_step := '4. Lock SD';
      select s.id into v_key from public.strategic_directives_v2 s
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
         and s.current_phase = v_sd.current_phase and s.status = v_sd.status
         for no key update;
      if not found then
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      if v_key <> v_sd.id then
        -- renamed since it was read: the rename cascaded to the PRD and stories; follow it
        v_sd.id := v_key;
        v_pre := public.fn_sd_state(v_key);
      end if;
      perform set_config('stagegate.in_transition', 'on', true);
      if v_type.story_status is not null then
        v_step := '4a. Transition user stories';
        update public.user_stories u set status = v_type.story_status
        where u.sd_id = v_sd.id and u.status <> v_type.story_status;
        get diagnostics v_stories_updated = row_count;
      end if;
      if v_type.prd_status is not null then
        v_step := '4b. Transition PRD';
        update public.product_requirements_v2 p set status = v_type.prd_status where p.sd_id = v_sd.id;
        v_prd_updated := found;
      end if;
      v_step := '4c. Transition SD';
      update public.strategic_directives_v2 s
         set current_phase = v_type.to_phase, status = coalesce(v_type.sd_status, s.status),
             transition_version = s.transition_version + 1
       where s.uuid = v_sd.uuid and s.transition_version = v_sd.transition_version
      returning s.transition_version into v_version;
      if not found then
        -- only a trigger fired by the steps above (in this transaction, under our lock) gets here
        perform public.fn_raise_sd_moved(v_sd.uuid, v_sd.id);
      end if;
      v_sd_updated := true;
      v_step := '4d. Record handoff';
      insert into public.sd_phase_handoffs
        (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
         validation_mode, failed_gate, session_id, execution_time_ms)
      values
        (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, 'accepted',
         (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
         null, v_attempt.session_id, (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
      perform set_config('stagegate.in_transition', '', true);
    exception when others then
      get stacked diagnostics v_err_state = returned_sqlstate, v_err_message = message_text;
      -- waiting for the SD's row lock failed (lock_timeout, deadlock, serialization): nothing was
      -- tried yet, so let the caller retry this attempt, as when the lock was taken before step 4
      if v_step = '4. Lock SD' and v_err_state in ('55P03', '40P01', '40001') then
        raise;
      end if;
      v_verdict := 'failed';
      v_version := v_sd.transition_version;
      v_error := jsonb_build_object(
        'error_code', v_err_state, 'error_message', v_err_message, 'failed_step', v_step, 'pre_state', v_pre,
        'partial_state', jsonb_build_object('user_stories_updated', v_stories_updated, 'prd_updated', v_prd_updated,
                                            'sd_updated', v_sd_updated, 'rolled_back', true),
        'recovery_action', format('No state was changed (all of step 4 rolled back). Fix the cause of %s at "%s", then run the handoff again with a new request id.',
                                  v_err_state, v_step));
    end;
  end if;

  -- ---------------------------------------------------------------- record the outcome
  -- rejected: nothing was tried, the state read under the advisory lock stands; accepted or
  -- failed: read it again (a failure may have been someone else changing or deleting the SD)
  v_post := case when v_verdict = 'rejected' then v_pre else public.fn_sd_state(v_sd.id) end;
  if v_verdict <> 'accepted' then
    insert into public.sd_phase_handoffs
      (attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status, score, threshold,
       validation_mode, failed_gate, session_id, execution_time_ms)
    values
      (v_attempt.id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.from_phase, v_type.to_phase, v_verdict,
       (v_judgement->>'score')::numeric, (v_judgement->>'threshold')::numeric, v_judgement->>'validation_mode',
       v_judgement->>'failed_gate', v_attempt.session_id,
       (extract(epoch from clock_timestamp() - v_attempt.started_at) * 1000)::int);
  end if;

  v_result := v_judgement || jsonb_build_object(
    'verdict', v_verdict, 'attempt_id', v_attempt.id, 'request_id', v_attempt.request_id, 'audit_id', v_audit_id,
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'sd_type', v_attempt.sd_type, 'handoff_type', v_type.code,
    'from_phase', v_attempt.from_phase,
    'to_phase', case when v_verdict = 'accepted' then v_type.to_phase else v_attempt.from_phase end,
    'transition_version', v_version, 'replay', false, 'error', v_error);
  if v_verdict = 'failed' then
    v_result := v_result || jsonb_build_object(
      'issues', (v_judgement->'issues') || to_jsonb(format('%s failed: %s', v_step, v_err_message)));
  end if;

  insert into public.sd_transition_audit
    (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
     error_details, error_message, validation_mode, score, threshold, failed_gate, would_reject, started_at, completed_at,
     updated_at)
  values
    (v_audit_id, v_sd.id, v_sd.uuid, v_type.code, v_attempt.session_id, v_attempt.request_id, v_attempt.id, v_pre, v_post,
     case v_verdict when 'accepted' then 'completed' else v_verdict end,
     case v_verdict when 'failed' then v_error
                    when 'rejected' then jsonb_build_object('failed_gate', v_judgement->'failed_gate', 'issues', v_judgement->'issues') end,
     v_err_message, v_judgement->>'validation_mode', (v_judgement->>'score')::numeric,
     (v_judgement->>'threshold')::numeric, v_judgement->>'failed_gate', (v_judgement->>'would_reject')::boolean,
     -- updated_at - created_at is the completing transaction's own time (the runbook's duration query)
     v_attempt.started_at, clock_timestamp(), clock_timestamp());

  update public.handoff_attempts a
     set status = case v_verdict when 'accepted' then 'completed' else v_verdict end,
         finished_at = clock_timestamp(), result = v_result, audit_id = v_audit_id
   where a.id = v_attempt.id;

  -- NOTIFY stagegate_transition: through the outbox by default (fn_sweep_transition_notifications
  -- sends it within a second of the commit), or from this transaction when the setting
  -- stagegate.notify_transitions is 'commit' (sent at commit, but NOTIFY holds a database-wide lock
  -- until the commit is flushed, so notifying transactions commit one at a time), or never ('off').
  if v_verdict = 'accepted' then
    v_notify_mode := coalesce(nullif(current_setting('stagegate.notify_transitions', true), ''), 'outbox');
    if v_notify_mode <> 'off' then
      v_payload := jsonb_build_object(
        'sd_id', v_sd.id, 'handoff_type', v_type.code, 'from_phase', v_attempt.from_phase, 'to_phase', v_type.to_phase,
        'transition_version', v_version, 'attempt_id', v_attempt.id, 'audit_id', v_audit_id);
      if v_notify_mode = 'commit' then
        perform pg_notify('stagegate_transition', v_payload::text);
      else
        insert into public.transition_notifications (payload) values (v_payload);
      end if;
    end if;
  end if;
  -- approvals: a waiting attempt that is settled now gives its claim back
  if v_attempt.status = 'awaiting_approval' then
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
  -- people: a handoff hands the directive on. When whoever asked may request no handoff from the
  -- phase it moved to (handoff_permissions; automation may request any), their session's claim
  -- goes with it: the next phase's people need not wait out the lease (15 minutes by default).
  elsif v_verdict = 'accepted' and not exists (
      select 1 from public.handoff_types t
      where v_type.to_phase = any (t.from_phases)
        and (v_attempt.actor_id is null
             or exists (select 1 from public.team_members m
                        join public.handoff_permissions p on p.role = m.role and p.handoff_type = t.code
                        where m.team_id = v_sd.team_id and m.user_id = v_attempt.actor_id))) then
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
  end if;
  return v_result;
end;
$$;

-- The one call a SQL user needs: begin, record the caller's gate results, evaluate the plan's sql
-- gates the caller did not supply, complete. All in the caller's transaction, so an error (say
-- SD_BUSY) leaves nothing behind and the same request id can simply be retried.
create or replace function public.fn_execute_handoff(
  p_sd_id text, p_handoff_type text, p_session_id text, p_request_id text, p_gate_results jsonb) returns jsonb
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
    -- sqlfix: says why it replayed (accepted | unchanged_inputs)
    return (v_begin->'result') || jsonb_build_object('replay', true, 'replay_reason', v_begin->'replay_reason');
  end if;
  v_attempt_id := (v_begin->>'attempt_id')::uuid;

  for v_item in select * from jsonb_array_elements(coalesce(p_gate_results, '[]')) loop
    v_code := upper(v_item->>'code');
    if v_code is null then
      raise exception using errcode = 'SG010', message = format('INVALID_GATE_RESULT: gate result without a code: %s', v_item);
    end if;
    perform public.fn_check_text('p_gate_results[].code', v_code);
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
  'Run a whole handoff in one call: begin, record p_gate_results (JSON array of {code, passed, score, maxScore, issues, warnings}, normalised as seed pattern 7: pass/max_score aliases, coerced passed, defaults; a result for a gate outside the plan is stored as skipped and ignored), evaluate the plan''s sql gates not supplied, complete. Same p_request_id returns the first result (replay=true, replay_reason accepted|unchanged_inputs) while it still holds: a rejection is judged again once the SD, its PRD or stories, the gate plan, threshold or mode changed. Returns the fn_complete_handoff answer.';

-- The seed's entry points. Each completes the attempt opened under p_request_id, after checking
-- that it is this handoff type, this SD (key or uuid), this session and (if given) this PRD.
create or replace function public.fn_complete_by_request(
  p_handoff_type text, p_sd_id text, p_prd_id text, p_session_id text, p_request_id text) returns jsonb
language plpgsql set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_prd_id text;
begin
  select * into v_attempt from public.handoff_attempts a where a.request_id = p_request_id and a.superseded_at is null;
  if not found then
    raise exception using errcode = 'SG009',
      message = format('ATTEMPT_NOT_FOUND: no handoff attempt with request id %L; begin one with fn_begin_handoff or use fn_execute_handoff', p_request_id);
  end if;
  perform stagegate_private.fn_authorize_attempt(v_attempt.id);  -- people: before the checks below name its session
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

create or replace function public.fn_atomic_lead_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('LEAD-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
comment on function public.fn_atomic_lead_to_plan_transition(text, text, text, text) is
  'Seed entry point: complete the LEAD-TO-PLAN attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

create or replace function public.fn_atomic_plan_to_exec_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('PLAN-TO-EXEC', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
comment on function public.fn_atomic_plan_to_exec_transition(text, text, text, text) is
  'Seed entry point: complete the PLAN-TO-EXEC attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

create or replace function public.fn_atomic_exec_to_plan_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('EXEC-TO-PLAN', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
comment on function public.fn_atomic_exec_to_plan_transition(text, text, text, text) is
  'Seed entry point: complete the EXEC-TO-PLAN attempt begun under p_request_id (gate results recorded under it): SD -> EXEC_COMPLETE, PRD -> verification, stories -> validated, atomically. p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

create or replace function public.fn_atomic_plan_to_lead_transition(p_sd_id text, p_prd_id text, p_session_id text, p_request_id text)
returns jsonb language sql security definer set search_path = '' as $$
  select public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_prd_id', p_prd_id), public.fn_check_text('p_session_id', p_session_id), public.fn_check_text('p_request_id', p_request_id);  -- sqlfix: no control characters (fn_check_text)
  select public.fn_complete_by_request('PLAN-TO-LEAD', p_sd_id, p_prd_id, p_session_id, p_request_id)
$$;
comment on function public.fn_atomic_plan_to_lead_transition(text, text, text, text) is
  'Seed entry point: complete the PLAN-TO-LEAD attempt begun under p_request_id (gate results recorded under it). p_prd_id may be null; if given it must be the SD''s PRD. Returns the fn_complete_handoff answer.';

-- Internal to fn_complete_handoff: the SD it read is no longer there as read. Always raises.
create or replace function public.fn_raise_sd_moved(p_sd_uuid uuid, p_sd_id text) returns void
language plpgsql stable set search_path = '' as $$
begin
  if exists (select 1 from public.strategic_directives_v2 s where s.uuid = p_sd_uuid) then
    raise exception using errcode = 'SG008',
      message = format('ALREADY_TRANSITIONED: the phase, status or transition_version of strategic directive %L changed while this handoff completed',
                       p_sd_id);
  end if;
  raise exception using errcode = 'SG002',
    message = format('SD_NOT_FOUND: strategic directive %L was deleted while this handoff completed', p_sd_id);
end;
$$;
revoke all on function public.fn_raise_sd_moved(uuid, text) from public, anon, authenticated, service_role;

-- ------------------------------------------------------------------ dry runs
create or replace function public.tg_handoff_attempts__dry_run_guard() returns trigger
language plpgsql set search_path = '' as $$
begin
  raise exception using errcode = 'SG001',
    message = format('INVALID_INPUT: attempt %s is a dry run; it cannot be completed, only judged by fn_finish_dry_run', old.id);
end;
$$;
create or replace trigger _100_dry_run_guard before update on public.handoff_attempts
  for each row when (old.dry_run and new.dry_run and new.status <> 'in_progress')
  execute function public.tg_handoff_attempts__dry_run_guard();
revoke all on function public.tg_handoff_attempts__dry_run_guard() from public, anon, authenticated, service_role;

create or replace function public.fn_finish_dry_run(p_attempt_id uuid, p_expected_version int default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_attempt public.handoff_attempts;
  v_answer jsonb;
  v_state text;
  v_message text;
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not v_attempt.dry_run then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: attempt %s is not a dry run; complete it with fn_complete_handoff', p_attempt_id);
  end if;
  -- The verdict of the very SQL a real completion runs, in a subtransaction rolled back by the
  -- raise: no transition, no audit row, no handoff record survive it.
  begin
    update public.handoff_attempts a set dry_run = false where a.id = p_attempt_id;
    v_answer := public.fn_complete_handoff(p_attempt_id, p_expected_version);
    raise exception using errcode = 'SGDRY', message = 'dry run: roll back';
  exception
    when sqlstate 'SGDRY' then
      null;
    when others then
      -- a refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …): answered, not raised, so the
      -- attempt is still deleted below (a raise would roll the delete back too)
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
  end;
  delete from public.handoff_attempts a where a.id = p_attempt_id;  -- its results go with it (cascade)
  insert into public.handoff_request_events (kind, reason, handoff_type)
  values ('dry_run', coalesce(v_answer->>'verdict', 'refused'), v_attempt.handoff_type);
  if v_state is not null then
    return jsonb_build_object('dry_run', true, 'error', jsonb_build_object('sqlstate', v_state, 'message', v_message));
  end if;
  return v_answer || jsonb_build_object('dry_run', true, 'audit_id', null);
end;
$$;
comment on function public.fn_finish_dry_run(uuid, int) is
  'Judge a dry-run attempt (fn_begin_handoff with p_dry_run) with fn_complete_handoff''s own SQL inside a subtransaction that is rolled back, then delete the attempt and its gate results and count it (handoff_request_events kind dry_run). A refusal of the judgement (SD_BUSY, VERSION_CONFLICT, …) is answered as {dry_run: true, error: {sqlstate, message}} (the attempt is deleted all the same). Returns the verdict with dry_run=true and audit_id null.';
revoke all on function public.fn_finish_dry_run(uuid, int) from public, anon, authenticated;
grant execute on function public.fn_finish_dry_run(uuid, int) to service_role;
