SET local check_function_bodies = off;

CREATE OR REPLACE FUNCTION public.fn_begin_handoff (
  p_sd_id            text,
  p_handoff_type     text,
  p_session_id       text,
  p_request_id       text,
  p_expected_version integer DEFAULT NULL::integer,
  p_dry_run          boolean DEFAULT false
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.fn_decide_approval (
  p_attempt_id uuid,
  p_decision   text,
  p_comment    text DEFAULT NULL::text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_actor record;
  v_attempt public.handoff_attempts;
  v_role text;
  v_prior public.approval_decisions;
  v_decision public.approval_decisions;
  v_refusal jsonb;
  v_result jsonb;
begin
  -- ---------------------------------------------------------------- validation
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  if p_decision is null or p_decision not in ('approve', 'reject') then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_decision must be approve or reject (got %L)', p_decision);
  end if;
  perform public.fn_check_text('p_comment', p_comment, true);  -- prose: tab and newlines allowed
  if length(p_comment) > 2000 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_comment is at most 2000 characters (got %s)', length(p_comment));
  end if;
  if p_decision = 'reject' and (p_comment is null or btrim(p_comment) = '') then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: a rejection needs a comment (the requester reads it)';
  end if;

  -- ---------------------------------------------------------------- who
  select * into v_actor from stagegate_private.current_actor();
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG042',
      message = format('NOT_AN_APPROVER: an approval is a person''s decision; %s has no user (sign in as a member of the directive''s team)', v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = v_attempt.team_id and m.user_id = v_actor.user_id;
  if not found then
    -- as for GET /handoff/attempts/<id>: to anyone outside the team the attempt does not exist
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;

  -- ---------------------------------------------------------------- a repeat changes nothing
  select * into v_prior from public.approval_decisions d where d.attempt_id = p_attempt_id and d.approver_id = v_actor.user_id;
  if found then
    return stagegate_private.fn_decision_answer(v_prior, false);
  end if;
  -- the rule the directive's history shows as can_decide (fn_approval_refusal)
  v_refusal := stagegate_private.fn_approval_refusal(v_attempt, v_actor.user_id, v_role, v_actor.role);
  if v_refusal is not null then
    raise exception using errcode = v_refusal->>'sqlstate', message = v_refusal->>'message';
  end if;

  -- ---------------------------------------------------------------- decide, one at a time
  -- Concurrent deciders queue on the directive's advisory lock (the one complete takes, so it is
  -- ours when complete asks for it), then on the attempt's row: each sees the decisions committed
  -- before it. Queuing on the row alone is not enough: a committing decider wakes the next one
  -- before its advisory lock is gone, and complete would answer SD_BUSY.
  perform pg_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid));
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if v_attempt.status <> 'awaiting_approval' then
    raise exception using errcode = 'SG043',
      message = format('APPROVAL_CLOSED: attempt %s is %s, not awaiting approval', p_attempt_id, v_attempt.status);
  end if;
  insert into public.approval_decisions (attempt_id, sd_id, approver_id, approver_role, decision, comment)
  values (p_attempt_id, v_attempt.sd_id, v_actor.user_id, v_role, p_decision, nullif(btrim(p_comment), ''))
  returning * into v_decision;

  -- the complete path (lock, version checks, audit) judges again with this decision counted
  v_result := stagegate_private.fn_complete_attempt(p_attempt_id, null);
  perform stagegate_private.fn_announce('approval_decided', v_attempt, jsonb_build_object(
    'decision', p_decision, 'comment', v_decision.comment, 'approver_id', v_actor.user_id, 'approver_role', v_role,
    'verdict', v_result->>'verdict', 'approvals_needed', v_result->'approvals'->'approvals_needed',
    'audit_id', v_result->'audit_id'));
  return stagegate_private.fn_decision_answer(v_decision, true);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_directive_history (
  p_sd text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2;
  v_workflow jsonb := public.fn_workflow();
  v_me record;
begin
  if p_sd is null or btrim(p_sd) = '' or length(p_sd) > 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_sd (a directive key or uuid, 1-200 characters) is required';
  end if;
  -- not fn_resolve_sd: that one is the definer RPCs' helper; here RLS decides what is found
  if p_sd ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_sd from public.strategic_directives_v2 s where s.uuid = p_sd::uuid;
  else
    select * into v_sd from public.strategic_directives_v2 s where s.id = p_sd;
  end if;
  if not found then
    raise exception using errcode = 'SG002', message = format('SD_NOT_FOUND: strategic directive %L not found', p_sd);
  end if;
  select * into v_me from stagegate_private.current_actor();

  return jsonb_build_object(
    'directive', to_jsonb(v_sd) || jsonb_build_object(
      'threshold', v_workflow -> 'thresholds' -> v_sd.sd_type,
      'awaiting_approval', stagegate_private.fn_directive_awaiting_approval(v_sd.uuid, v_sd.status),
      -- whether the caller may edit its content: the expression of the update policies (15)
      'can_edit', v_me.privileged or v_sd.team_id in (select stagegate_private.my_team_ids('{LEAD,PLAN}'))),
    'prd', (select to_jsonb(p) from public.product_requirements_v2 p where p.sd_id = v_sd.id),
    'stories', (select coalesce(jsonb_agg(to_jsonb(u) order by u.story_key), '[]') from public.user_stories u where u.sd_id = v_sd.id),
    'next_handoffs', (select coalesce(jsonb_agg(t -> 'code'), '[]') from jsonb_array_elements(v_workflow -> 'handoff_types') t
                      where t -> 'from_phases' ? v_sd.current_phase),
    -- every attempt, newest first: its verdict (the handoff record), each gate's recorded result,
    -- and who asked (every column of the attempt but its context snapshot)
    'attempts', (
      select coalesce(jsonb_agg(
        (to_jsonb(a) - 'context' - 'gates' - 'result')
        || jsonb_build_object(
          'plan', a.gates,
          'verdict', coalesce(h.status, a.result ->> 'verdict'),
          'score', coalesce(h.score, (a.result ->> 'score')::numeric),
          'threshold', coalesce(h.threshold, (a.result ->> 'threshold')::numeric),
          'validation_mode', coalesce(h.validation_mode, a.result ->> 'validation_mode'),
          'failed_gate', h.failed_gate,
          'execution_time_ms', h.execution_time_ms,
          'requested_by', stagegate_private.fn_person(a.actor_id),
          'gates', (select coalesce(jsonb_agg(jsonb_build_object(
                      'code', r.sub_agent_code, 'verdict', r.verdict, 'passed', r.passed, 'score', r.score,
                      'max_score', r.max_score, 'duration_ms', r.duration_ms, 'attempts', r.attempts,
                      'issues', r.issues, 'warnings', r.warnings, 'skipped', r.skipped, 'skip_reason', r.skip_reason,
                      'error', r.error, 'recorded_at', r.created_at) order by r.created_at, r.sub_agent_code), '[]')
                    from public.sub_agent_execution_results r where r.attempt_id = a.id))
        order by a.started_at desc), '[]')
      from public.handoff_attempts a
      left join public.sd_phase_handoffs h on h.attempt_id = a.id
      where a.sd_uuid = v_sd.uuid),
    -- the audit chain, oldest first: each row's pre and post state say where it moved the SD
    'audit', (
      select coalesce(jsonb_agg(to_jsonb(t) || jsonb_build_object('actor', stagegate_private.fn_person(t.actor_id))
                                order by t.created_at, t.id), '[]')
      from public.sd_transition_audit t
      where t.sd_uuid = v_sd.uuid or (t.sd_uuid is null and t.sd_id = v_sd.id)),
    -- every handoff that waited for people (16_approvals), newest first: who asked and when, what
    -- it still needs, each decision with who made it, and whether the caller may decide it now
    -- (can_decide; cannot_decide says why not, with the code fn_decide_approval would answer)
    'approvals', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'attempt_id', a.id, 'handoff_type', a.handoff_type, 'status', a.status, 'verdict', a.result ->> 'verdict',
        'from_phase', a.from_phase, 'to_phase', a.to_phase,
        'requested_by', stagegate_private.fn_person(a.actor_id), 'requested_at', a.started_at,
        'deadline', a.approval_deadline, 'settled_at', a.finished_at,
        'approvals_needed', a.result -> 'approvals' -> 'approvals_needed',
        'approver_roles', coalesce(a.result -> 'approvals' -> 'approver_roles', 'null'),
        'gates', (select coalesce(jsonb_agg(g - 'approved_by' order by t.ord), '[]')
                  from jsonb_array_elements(coalesce(a.result -> 'approvals' -> 'gates', '[]')) with ordinality as t(g, ord)),
        'decisions', (select coalesce(jsonb_agg(jsonb_build_object(
                        'by', stagegate_private.fn_person(d.approver_id), 'role', d.approver_role, 'decision', d.decision,
                        'comment', d.comment, 'decided_at', d.decided_at) order by d.decided_at), '[]')
                      from public.approval_decisions d where d.attempt_id = a.id),
        'my_decision', mine.decision,
        'can_decide', r.refusal is null,
        'cannot_decide', r.refusal - 'sqlstate')
        order by a.started_at desc), '[]')
      from public.handoff_attempts a
      left join public.approval_decisions mine on mine.attempt_id = a.id and mine.approver_id = v_me.user_id
      cross join lateral (select case
          when a.status <> 'awaiting_approval' then jsonb_build_object('code', 'APPROVAL_CLOSED',
            'message', format('APPROVAL_CLOSED: attempt %s is %s, not awaiting approval', a.id, a.status))
          when mine.id is not null then jsonb_build_object('code', 'ALREADY_DECIDED',
            'message', format('ALREADY_DECIDED: you decided %s at %s; a decision is made once', mine.decision, mine.decided_at))
          else stagegate_private.fn_approval_refusal(a, v_me.user_id,
                 (select m.role from public.team_members m where m.team_id = a.team_id and m.user_id = v_me.user_id), v_me.role)
        end as refusal) r
      where a.sd_uuid = v_sd.uuid and a.approval_deadline is not null),
    -- overrides of this directive's rejected handoffs (16_approvals): who, why, what they overrode
    'overrides', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'id', o.id, 'attempt_id', o.attempt_id, 'overridden_attempt_id', o.overridden_attempt_id, 'handoff_type', o.handoff_type,
        'by', stagegate_private.fn_person(o.actor_id), 'role', o.role, 'reason', o.reason, 'score', o.score,
        'threshold', o.threshold, 'failed_gate', o.failed_gate, 'created_at', o.created_at) order by o.created_at desc), '[]')
      from public.handoff_overrides o
      join public.handoff_attempts a on a.id = o.attempt_id
      where a.sd_uuid = v_sd.uuid));
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_handoff_inputs_hash (
  p_sd           public.strategic_directives_v2,
  p_handoff_type text
)
  RETURNS text
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select public.fn_handoff_inputs_hash_of(public.fn_sd_context(p_sd), public.fn_handoff_gates(p_handoff_type, p_sd.sd_type), p_sd.sd_type)
$function$;

CREATE OR REPLACE FUNCTION public.fn_handoff_inputs_hash_of (
  p_context jsonb,
  p_gates   jsonb,
  p_sd_type text
)
  RETURNS text
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select encode(sha256(convert_to(jsonb_build_array(
    p_context,
    p_gates,
    public.fn_sd_threshold(p_sd_type),
    public.fn_get_validation_mode(p_sd_type))::text, 'UTF8')), 'hex')
$function$;

CREATE OR REPLACE FUNCTION public.fn_override_handoff (
  p_attempt_id uuid,
  p_reason     text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_actor record;
  v_rejected public.handoff_attempts;
  v_attempt public.handoff_attempts;
  v_sd public.strategic_directives_v2;
  v_role text;
  v_blocked text[];
  v_override public.handoff_overrides;
  v_result jsonb;
begin
  -- ---------------------------------------------------------------- validation
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  perform public.fn_check_text('p_reason', p_reason, true);
  if p_reason is null or length(btrim(p_reason)) not between 1 and 2000 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: an override needs a reason (1-2000 characters)';
  end if;

  -- ---------------------------------------------------------------- who
  select * into v_actor from stagegate_private.current_actor();
  select * into v_rejected from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG044',
      message = format('OVERRIDE_NOT_ALLOWED: an override is a person''s decision; %s has no user (sign in as a member of the directive''s team)', v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = v_rejected.team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  if not exists (select 1 from public.override_permissions p where p.role = v_role) then
    raise exception using errcode = 'SG044',
      message = format('OVERRIDE_NOT_ALLOWED: user %s is %s in the team of strategic directive %L; overrides are for %s',
                       v_actor.user_id, v_role, v_rejected.sd_id,
                       coalesce((select string_agg(p.role, ' or ' order by p.role) from public.override_permissions p), 'nobody'));
  end if;

  -- ---------------------------------------------------------------- once
  select * into v_override from public.handoff_overrides o where o.overridden_attempt_id = p_attempt_id;
  if found then
    return stagegate_private.fn_override_answer(v_override, false);
  end if;
  -- the directive's advisory lock first (complete's, so it is ours when complete asks), then the row
  perform pg_advisory_xact_lock(public.fn_sd_lock_key(v_rejected.sd_uuid));
  select * into v_rejected from public.handoff_attempts a where a.id = p_attempt_id for update;
  select * into v_override from public.handoff_overrides o where o.overridden_attempt_id = p_attempt_id;
  if found then
    return stagegate_private.fn_override_answer(v_override, false);
  end if;

  -- ---------------------------------------------------------------- what
  if v_rejected.status <> 'rejected' then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: attempt %s is %s; only a rejected handoff can be overridden', p_attempt_id, v_rejected.status);
  end if;
  if v_rejected.result->'approvals'->'rejected' is not null and v_rejected.result->'approvals'->'rejected' <> 'null'::jsonb then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: attempt %s was rejected by an approver (%s); request the handoff again', p_attempt_id,
                       v_rejected.result->'approvals'->'rejected'->>'comment');
  end if;
  v_blocked := stagegate_private.fn_not_overridable(v_rejected.result->'gates');
  if cardinality(v_blocked) > 0 then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: required gate %s of attempt %s failed and is not marked overridable in leo_sub_agents',
                       array_to_string(v_blocked, ', '), p_attempt_id);
  end if;
  select * into v_sd from public.strategic_directives_v2 s where s.uuid = v_rejected.sd_uuid;
  if not found or v_sd.transition_version <> v_rejected.sd_version then
    raise exception using errcode = 'SG045',
      message = format('NOT_OVERRIDABLE: strategic directive %L moved on since attempt %s was rejected; request the handoff again',
                       v_rejected.sd_id, p_attempt_id);
  end if;
  perform stagegate_private.fn_refuse_while_awaiting(v_sd.uuid, v_sd.id, null);

  -- ---------------------------------------------------------------- apply, through complete
  -- The requester's session gives its claim to the override (someone else's claim refuses it).
  perform stagegate_private.fn_release_attempt_claim(v_rejected);
  perform public.fn_claim_sd(v_sd.id, v_rejected.session_id);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates)
  values
    ('override:' || v_rejected.id, v_sd.id, v_sd.uuid, v_rejected.sd_type, v_rejected.handoff_type, v_rejected.session_id,
     v_rejected.from_phase, v_rejected.to_phase, v_rejected.sd_version, v_rejected.context, v_rejected.gates)
  returning * into v_attempt;
  insert into public.sub_agent_execution_results
    (attempt_id, sd_id, sub_agent_code, verdict, passed, score, max_score, issues, warnings, fixes, skipped, skip_reason,
     error, attempts, duration_ms, metadata)
  select v_attempt.id, v_sd.id, r.sub_agent_code, r.verdict, r.passed, r.score, r.max_score, r.issues, r.warnings, r.fixes,
         r.skipped, r.skip_reason, r.error, r.attempts, r.duration_ms,
         r.metadata || jsonb_build_object('copied_from_attempt', v_rejected.id)
  from public.sub_agent_execution_results r where r.attempt_id = v_rejected.id;
  insert into public.handoff_overrides
    (attempt_id, overridden_attempt_id, sd_id, sd_type, handoff_type, reason, role, score, threshold, failed_gate, validation_mode)
  values
    (v_attempt.id, v_rejected.id, v_sd.id, v_rejected.sd_type, v_rejected.handoff_type, btrim(p_reason), v_role,
     (v_rejected.result->>'score')::numeric, (v_rejected.result->>'threshold')::numeric, v_rejected.result->>'failed_gate',
     v_rejected.result->>'validation_mode')
  returning * into v_override;

  v_result := stagegate_private.fn_complete_attempt(v_attempt.id, null);
  update public.handoff_overrides o set audit_id = (v_result->>'audit_id')::uuid where o.id = v_override.id
  returning * into v_override;
  if v_result->>'verdict' <> 'awaiting_approval' then
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
  end if;
  perform stagegate_private.fn_announce('override', v_attempt, jsonb_build_object(
    'overridden_attempt_id', v_rejected.id, 'override_id', v_override.id, 'reason', v_override.reason,
    'overridden_by', v_actor.user_id, 'role', v_role, 'score', v_override.score, 'threshold', v_override.threshold,
    'failed_gate', v_override.failed_gate, 'verdict', v_result->>'verdict', 'audit_id', v_result->'audit_id'));
  return stagegate_private.fn_override_answer(v_override, true);
end;
$function$;

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash_of"(jsonb, jsonb, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_handoff_inputs_hash_of"(jsonb, jsonb, text) TO "postgres";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash_of"(jsonb, jsonb, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash_of"(jsonb, jsonb, text) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_handoff_inputs_hash_of"(jsonb, jsonb, text) FROM "service_role";
