SET local check_function_bodies = off;

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
          'dry_run', a.request_id like 'dry:%',
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

CREATE OR REPLACE FUNCTION public.fn_directive_summary (
  p_sd public.strategic_directives_v2
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select (to_jsonb(p_sd) - 'description' - 'scope' - 'success_criteria' - 'metadata')
    || jsonb_build_object(
      'threshold', (public.fn_workflow() -> 'thresholds' -> p_sd.sd_type),
      'awaiting_approval', stagegate_private.fn_directive_awaiting_approval(p_sd.uuid, p_sd.status),
      'last_handoff', (select jsonb_build_object('handoff_type', h.handoff_type, 'status', h.status, 'score', h.score,
                                                 'threshold', h.threshold, 'created_at', h.created_at)
                       from public.sd_phase_handoffs h where h.sd_uuid = p_sd.uuid
                       order by h.created_at desc limit 1));
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_approval_refusal (
  p_attempt    public.handoff_attempts,
  p_user_id    uuid,
  p_role       text,
  p_actor_role text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select case
    when p_user_id is null then jsonb_build_object('code', 'NOT_AN_APPROVER', 'sqlstate', 'SG042', 'message',
      format('NOT_AN_APPROVER: an approval is a person''s decision; %s has no user (sign in as a member of the directive''s team)', p_actor_role))
    when p_role is null then jsonb_build_object('code', 'ATTEMPT_NOT_FOUND', 'sqlstate', 'SG009', 'message',
      format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt.id))
    when p_attempt.actor_id is not distinct from p_user_id then jsonb_build_object('code', 'SELF_APPROVAL', 'sqlstate', 'SG041', 'message',
      format('SELF_APPROVAL: user %s requested %s of strategic directive %L and may not decide its approval', p_user_id, p_attempt.handoff_type, p_attempt.sd_id))
    when not exists (select 1 from jsonb_array_elements(p_attempt.gates) g
                     where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
                       and p_role in (select jsonb_array_elements_text(g->'approver_roles'))) then
      jsonb_build_object('code', 'NOT_AN_APPROVER', 'sqlstate', 'SG042', 'message',
        format('NOT_AN_APPROVER: user %s is %s in the team of strategic directive %L; %s of attempt %s is approved by %s',
               p_user_id, p_role, p_attempt.sd_id, p_attempt.handoff_type, p_attempt.id,
               coalesce((select string_agg(distinct r, ' or ') from jsonb_array_elements(p_attempt.gates) g,
                                jsonb_array_elements_text(g->'approver_roles') r where g->>'kind' = 'approval'),
                        'nobody (its plan has no approval gate)')))
  end
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_directive_awaiting_approval (
  p_sd_uuid uuid,
  p_status  text
)
  RETURNS boolean
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select p_status = 'pending_approval'
      or exists (select 1 from public.handoff_attempts a where a.sd_uuid = p_sd_uuid and a.status = 'awaiting_approval')
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_person (
  p_user_id uuid
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select case when p_user_id is not null then jsonb_build_object('user_id', p_user_id, 'name', v.name, 'email', v.email) end
  from (select 1) as one
  left join lateral (
    select coalesce(nullif(btrim(u.raw_user_meta_data ->> 'full_name'), ''), nullif(btrim(u.raw_user_meta_data ->> 'name'), ''), u.email) as name,
           u.email
    from auth.users u, stagegate_private.current_actor() a
    where u.id = p_user_id
      and (a.privileged or u.id = a.user_id
           or exists (select 1 from public.team_members m
                      where m.user_id = u.id and m.team_id in (select stagegate_private.my_team_ids())))
  ) as v on true
$function$;

COMMENT ON FUNCTION "public"."fn_directive_history"(text) IS 'One directive the caller may read (with can_edit), its PRD, stories, the handoff types it can take next, every attempt (verdict, score vs threshold, each gate''s result, duration and issues, who asked: requested_by), the audit chain (each row''s actor), the handoffs that waited for approval (decisions, can_decide, cannot_decide) and overrides. People are {user_id, name, email} (stagegate_private.fn_person).';

COMMENT ON FUNCTION "stagegate_private"."fn_approval_refusal"(public.handoff_attempts, uuid, text, text) IS 'Why p_user_id (team role p_role) may not decide the approval of p_attempt: {code, sqlstate, message} (NOT_AN_APPROVER, ATTEMPT_NOT_FOUND, SELF_APPROVAL), or null when they may. Used by fn_decide_approval and fn_directive_history.';

COMMENT ON FUNCTION "stagegate_private"."fn_person"(uuid) IS 'A user as people read it: {user_id, name (user_metadata full_name or name, else the email), email}; name and email only for the user, members of a team they share and privileged callers (else null). Null for a null id.';

REVOKE ALL ON FUNCTION "stagegate_private"."fn_approval_refusal"(public.handoff_attempts, uuid, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_approval_refusal"(public.handoff_attempts, uuid, text, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_directive_awaiting_approval"(uuid, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_directive_awaiting_approval"(uuid, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_person"(uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_person"(uuid) TO "authenticated", "postgres", "service_role";
