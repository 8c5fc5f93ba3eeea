SET local check_function_bodies = off;

ALTER TABLE "public"."handoff_attempts"
  DROP CONSTRAINT "handoff_attempts_check";

ALTER TABLE "public"."handoff_attempts"
  DROP CONSTRAINT "handoff_attempts_status_check";

ALTER TABLE "public"."leo_sub_agents"
  DROP CONSTRAINT "leo_sub_agents_kind_check";

ALTER TABLE "public"."sd_transition_audit"
  DROP CONSTRAINT "sd_transition_audit_status_check";

CREATE TABLE "public"."approval_decisions" (
  "id"            uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "attempt_id"    uuid                     NOT NULL,
  "sd_id"         text                     NOT NULL,
  "approver_id"   uuid                     NOT NULL,
  "approver_role" text                     NOT NULL,
  "decision"      text                     NOT NULL,
  "comment"       text,
  "decided_at"    timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "actor_id"      uuid,
  "actor_role"    text,
  "actor_via"     text,
  CONSTRAINT "approval_decisions_actor_via_check" CHECK ((actor_via = ANY (ARRAY['http'::text, 'sql'::text, 'trigger'::text]))),
  CONSTRAINT "approval_decisions_approver_role_check" CHECK ((approver_role = ANY (ARRAY['LEAD'::text, 'PLAN'::text, 'EXEC'::text, 'VIEWER'::text]))),
  CONSTRAINT "approval_decisions_attempt_id_approver_id_key" UNIQUE (attempt_id, approver_id),
  CONSTRAINT "approval_decisions_check" CHECK (((decision = 'approve'::text) OR (length(btrim(comment)) > 0))),
  CONSTRAINT "approval_decisions_comment_check" CHECK ((length(comment) <= 2000)),
  CONSTRAINT "approval_decisions_decision_check" CHECK ((decision = ANY (ARRAY['approve'::text, 'reject'::text]))),
  CONSTRAINT "approval_decisions_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."approval_decisions"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."approval_events" (
  "id"          bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "event"       text                     NOT NULL,
  "attempt_id"  uuid                     NOT NULL,
  "sd_id"       text                     NOT NULL,
  "payload"     jsonb                    NOT NULL,
  "created_at"  timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "notified_at" timestamp with time zone,
  CONSTRAINT "approval_events_event_check" CHECK ((event = ANY (ARRAY['approval_requested'::text, 'approval_decided'::text, 'approval_expired'::text, 'override'::text]))),
  CONSTRAINT "approval_events_payload_check" CHECK ((jsonb_typeof(payload) = 'object'::text)),
  CONSTRAINT "approval_events_pkey" PRIMARY KEY (id)
);

ALTER TABLE "public"."approval_events"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."approval_webhook_deliveries" (
  "event_id"        bigint                   NOT NULL,
  "status"          text                     NOT NULL DEFAULT 'pending'::text,
  "attempts"        integer                  NOT NULL DEFAULT 0,
  "next_attempt_at" timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "last_status"     integer,
  "last_error"      text,
  "delivered_at"    timestamp with time zone,
  "created_at"      timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  "updated_at"      timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "approval_webhook_deliveries_attempts_check" CHECK ((attempts >= 0)),
  CONSTRAINT "approval_webhook_deliveries_last_error_check" CHECK ((length(last_error) <= 2000)),
  CONSTRAINT "approval_webhook_deliveries_pkey" PRIMARY KEY (event_id),
  CONSTRAINT "approval_webhook_deliveries_status_check" CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'dead'::text])))
);

ALTER TABLE "public"."approval_webhook_deliveries"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."handoff_overrides" (
  "id"                    uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "attempt_id"            uuid                     NOT NULL,
  "overridden_attempt_id" uuid                     NOT NULL,
  "sd_id"                 text                     NOT NULL,
  "sd_type"               text                     NOT NULL,
  "handoff_type"          text                     NOT NULL,
  "reason"                text                     NOT NULL,
  "role"                  text                     NOT NULL,
  "score"                 numeric,
  "threshold"             numeric,
  "failed_gate"           text,
  "validation_mode"       text,
  "audit_id"              uuid,
  "actor_id"              uuid,
  "actor_role"            text,
  "actor_via"             text,
  "created_at"            timestamp with time zone NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT "handoff_overrides_actor_via_check" CHECK ((actor_via = ANY (ARRAY['http'::text, 'sql'::text, 'trigger'::text]))),
  CONSTRAINT "handoff_overrides_attempt_id_key" UNIQUE (attempt_id),
  CONSTRAINT "handoff_overrides_overridden_attempt_id_key" UNIQUE (overridden_attempt_id),
  CONSTRAINT "handoff_overrides_pkey" PRIMARY KEY (id),
  CONSTRAINT "handoff_overrides_reason_check" CHECK (((length(btrim(reason)) >= 1) AND (length(btrim(reason)) <= 2000))),
  CONSTRAINT "handoff_overrides_role_check" CHECK ((role = ANY (ARRAY['LEAD'::text, 'PLAN'::text, 'EXEC'::text, 'VIEWER'::text])))
);

ALTER TABLE "public"."handoff_overrides"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."override_permissions" (
  "role"       text                     NOT NULL,
  "created_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "override_permissions_pkey" PRIMARY KEY (ROLE),
  CONSTRAINT "override_permissions_role_check" CHECK ((role = ANY (ARRAY['LEAD'::text, 'PLAN'::text, 'EXEC'::text, 'VIEWER'::text])))
);

ALTER TABLE "public"."override_permissions"
  ENABLE ROW LEVEL SECURITY;

ALTER TABLE "public"."handoff_attempts"
  ADD COLUMN "approval_deadline" timestamp WITH time zone;

ALTER TABLE "public"."leo_sub_agents"
  ADD COLUMN "approvals_required" integer NOT NULL DEFAULT 1;

ALTER TABLE "public"."leo_sub_agents"
  ADD COLUMN "approver_roles" text[] NOT NULL DEFAULT '{LEAD}'::text[];

ALTER TABLE "public"."leo_sub_agents"
  ADD COLUMN "approval_expiry" interval NOT NULL DEFAULT '72:00:00'::interval;

ALTER TABLE "public"."leo_sub_agents"
  ADD COLUMN "overridable" boolean NOT NULL DEFAULT false;

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
  v_hash := public.fn_handoff_inputs_hash(v_sd, v_type.code);
  insert into public.handoff_attempts
    (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, from_phase, to_phase, sd_version, context, gates,
     inputs_hash, dry_run)
  values
    (p_request_id, v_sd.id, v_sd.uuid, v_sd.sd_type, v_type.code, p_session_id, v_sd.current_phase,
     v_type.to_phase, v_sd.transition_version, public.fn_sd_context(v_sd), public.fn_handoff_gates(v_type.code, v_sd.sd_type),
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

CREATE OR REPLACE FUNCTION public.fn_check_invariants()
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
  -- 1. An SD's phase and version are those its last completed transition left (or untouched).
  with last_done as (
    select distinct on (a.sd_uuid) a.sd_uuid, a.post_state, a.transition_type
    from public.sd_transition_audit a
    where a.status = 'completed'
    order by a.sd_uuid, a.completed_at desc, a.created_at desc
  )
  select 'sd_matches_last_transition', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'transition_version', s.transition_version,
                            'audit_phase', l.post_state->>'sd_phase', 'audit_version', l.post_state->'transition_version')
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  where s.current_phase is distinct from l.post_state->>'sd_phase'
     or s.transition_version is distinct from (l.post_state->>'transition_version')::int

  union all
  -- 2. transition_version counts the completed transitions of the SD.
  select 'version_counts_transitions', s.id,
         jsonb_build_object('transition_version', s.transition_version, 'completed_audits', count(a.id))
  from public.strategic_directives_v2 s
  left join public.sd_transition_audit a on a.sd_uuid = s.uuid and a.status = 'completed'
  group by s.id, s.transition_version
  having s.transition_version <> count(a.id)

  union all
  -- 3. The PRD and stories are in the statuses the workflow says for the SD's phase: a status only
  --    a handoff can set is held exactly when the last transition set it.
  select 'prd_status_matches_phase', s.id,
         jsonb_build_object('sd_phase', s.current_phase, 'prd_status', p.status, 'expected', t.prd_status)
  from public.strategic_directives_v2 s
  join last_done l on l.sd_uuid = s.uuid
  join public.handoff_types t on t.code = l.transition_type
  join public.product_requirements_v2 p on p.sd_id = s.id
  where t.prd_status is not null and p.status is distinct from t.prd_status

  union all
  select 'story_status_needs_handoff', u.sd_id || '/' || u.story_key,
         jsonb_build_object('status', u.status, 'sd_phase', s.current_phase)
  from public.user_stories u
  join public.strategic_directives_v2 s on s.id = u.sd_id
  where u.status in (select t.story_status from public.handoff_types t where t.story_status is not null)
    and not exists (
      select 1 from public.sd_transition_audit a join public.handoff_types t on t.code = a.transition_type
      where a.sd_uuid = s.uuid and a.status = 'completed' and t.story_status = u.status)

  union all
  -- 4. The audit chain: each completed transition starts where the previous one ended, for the
  --    directive's phase, status and version (only handoffs change them; PRD and story statuses
  --    also change by everyday work between handoffs).
  select 'audit_chain', c.sd_id,
         jsonb_build_object('audit_id', c.id, 'pre_state', c.pre_state, 'previous_post_state', c.prev_post)
  from (
    select a.id, a.sd_id, a.pre_state,
           lag(a.post_state) over (partition by a.sd_uuid order by a.completed_at, a.created_at) as prev_post
    from public.sd_transition_audit a where a.status = 'completed'
  ) c
  where c.prev_post is not null
    and (c.pre_state->>'sd_phase', c.pre_state->>'sd_status', c.pre_state->>'transition_version')
        is distinct from
        (c.prev_post->>'sd_phase', c.prev_post->>'sd_status', c.prev_post->>'transition_version')

  union all
  -- 5. Exactly one terminal audit row per finished attempt, none for an open one.
  select 'one_terminal_audit_per_attempt', h.id::text,
         jsonb_build_object('status', h.status, 'terminal_audits', count(a.id))
  from public.handoff_attempts h
  left join public.sd_transition_audit a on a.attempt_id = h.id and a.status <> 'in_progress'
  group by h.id, h.status
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned', 'expired') then 1 else 0 end

  union all
  -- 6. Every accepted handoff record has its completed audit, and the reverse.
  select 'handoff_record_has_audit', coalesce(r.attempt_id, a.attempt_id)::text,
         jsonb_build_object('handoff_status', r.status, 'audit_status', a.status)
  from (select * from public.sd_phase_handoffs where status = 'accepted') r
  full join (select * from public.sd_transition_audit where status = 'completed') a on a.attempt_id = r.attempt_id
  where r.attempt_id is null or a.attempt_id is null

  union all
  -- 7. No orphan results: each belongs to its attempt's SD and to a registered sub-agent.
  select 'orphan_result', r.id::text,
         jsonb_build_object('sub_agent_code', r.sub_agent_code, 'sd_id', r.sd_id, 'attempt_sd_id', h.sd_id)
  from public.sub_agent_execution_results r
  left join public.handoff_attempts h on h.id = r.attempt_id
  where h.id is null or h.sd_id <> r.sd_id
     or not exists (select 1 from public.leo_sub_agents s where s.code = r.sub_agent_code)
$function$;

CREATE OR REPLACE FUNCTION public.fn_claim_approval_webhooks (
  p_limit         integer DEFAULT 50,
  p_lease_seconds integer DEFAULT 30
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_claimed jsonb;
begin
  if p_limit is null or p_limit not between 1 and 1000 or p_lease_seconds is null or p_lease_seconds not between 1 and 3600 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_limit must be 1-1000 and p_lease_seconds 1-3600 (got %s, %s)', p_limit, p_lease_seconds);
  end if;
  insert into public.approval_webhook_deliveries (event_id)
  select e.id from public.approval_events e
  where not exists (select 1 from public.approval_webhook_deliveries d where d.event_id = e.id)
  order by e.id
  on conflict (event_id) do nothing;
  with due as (
    select d.event_id from public.approval_webhook_deliveries d
    where d.status = 'pending' and d.next_attempt_at <= clock_timestamp()
    order by d.event_id limit p_limit
    for update skip locked
  ), leased as (
    update public.approval_webhook_deliveries d
       set next_attempt_at = clock_timestamp() + make_interval(secs => p_lease_seconds), updated_at = clock_timestamp()
      from due where d.event_id = due.event_id
    returning d.event_id, d.attempts
  )
  select coalesce(jsonb_agg(jsonb_build_object('event_id', l.event_id, 'attempt', l.attempts + 1,
                                               'payload', e.payload || jsonb_build_object('event_id', e.id)) order by l.event_id), '[]')
  into v_claimed
  from leased l join public.approval_events e on e.id = l.event_id;
  return v_claimed;
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_complete_handoff (
  p_attempt_id       uuid,
  p_expected_version integer DEFAULT NULL::integer
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_attempt_id is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_attempt_id is required';
  end if;
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  return stagegate_private.fn_complete_attempt(p_attempt_id, p_expected_version);
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
  v_eligible text[];
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
  if v_attempt.actor_id is not distinct from v_actor.user_id then
    raise exception using errcode = 'SG041',
      message = format('SELF_APPROVAL: user %s requested %s of strategic directive %L and may not decide its approval', v_actor.user_id, v_attempt.handoff_type, v_attempt.sd_id);
  end if;
  select array_agg(g->>'code' order by g->>'code') into v_eligible
  from jsonb_array_elements(v_attempt.gates) g
  where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
    and v_role in (select jsonb_array_elements_text(g->'approver_roles'));
  if v_eligible is null then
    raise exception using errcode = 'SG042',
      message = format('NOT_AN_APPROVER: user %s is %s in the team of strategic directive %L; %s of attempt %s is approved by %s',
                       v_actor.user_id, v_role, v_attempt.sd_id, v_attempt.handoff_type, p_attempt_id,
                       coalesce((select string_agg(distinct r, ' or ') from jsonb_array_elements(v_attempt.gates) g,
                                        jsonb_array_elements_text(g->'approver_roles') r where g->>'kind' = 'approval'),
                                'nobody (its plan has no approval gate)'));
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

CREATE OR REPLACE FUNCTION public.fn_finish_handoff_request (
  p_id          uuid,
  p_http_status integer,
  p_body        jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_req public.handoff_requests;
  v_code text := p_body->'error'->>'code';
  v_error jsonb := jsonb_build_object('http_status', p_http_status, 'code', coalesce(v_code, case when p_http_status is null then 'NO_ANSWER' else 'HTTP_' || p_http_status end),
                                      'message', coalesce(p_body->'error'->>'message', p_body->>'message'), 'details', p_body->'error'->'details');
  v_retry boolean := p_http_status is null or p_http_status = 429 or p_http_status >= 500
                     or coalesce(v_code in ('SD_BUSY', 'IDEMPOTENCY_IN_FLIGHT', 'DB_UNAVAILABLE'), false);
begin
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  if not found then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: no handoff request %s', p_id);
  end if;
  -- A late worker (its lease expired and another one finished) changes nothing: first answer wins.
  if v_req.status in ('done', 'error') then
    return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', false);
  end if;

  -- 202 (approvals): the handoff ran and waits for approval; its answer (verdict awaiting_approval,
  -- attempt_id, what is still needed) is the request's result, as a verdict is
  if p_http_status in (200, 202) then
    update public.handoff_requests r
       set status = 'done', verdict = coalesce(p_body, '{}'), error = null, finished_at = clock_timestamp(), locked_until = null
     where r.id = p_id returning * into v_req;
  elsif v_retry and (v_req.attempts < v_req.max_attempts or v_code is not distinct from 'IDEMPOTENCY_IN_FLIGHT') then
    -- IDEMPOTENCY_IN_FLIGHT: an earlier try of this very row is still running in the function; it
    -- does not use up a try (the function frees the key after its 120 s lease if that run died).
    update public.handoff_requests r
       set status = 'pending', error = v_error, locked_until = null,
           attempts = r.attempts - case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then 1 else 0 end,
           run_after = clock_timestamp() + case when v_code = 'IDEMPOTENCY_IN_FLIGHT' then interval '1 second'
                                                else make_interval(secs => least(power(2, greatest(r.attempts - 1, 0)), 60)) end
     where r.id = p_id returning * into v_req;
  else
    update public.handoff_requests r
       set status = 'error', finished_at = clock_timestamp(), locked_until = null,
           error = case when v_retry then jsonb_build_object('code', 'ATTEMPTS_EXHAUSTED', 'http_status', p_http_status,
                                                             'message', format('still retryable after %s tries', r.attempts), 'last_error', v_error)
                        else v_error end
     where r.id = p_id returning * into v_req;
  end if;
  return jsonb_build_object('id', v_req.id, 'status', v_req.status, 'changed', true, 'attempts', v_req.attempts,
                            'run_after', case when v_req.status = 'pending' then v_req.run_after end);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_handoff_gates (
  p_handoff_type text,
  p_sd_type      text
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.fn_judge_attempt (
  p_attempt public.handoff_attempts
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_score numeric;
  v_missing text[];
  v_failed text[];
  v_gates jsonb;
  v_gate_issues text[];
  v_gate_warnings text[];
  v_threshold numeric := trim_scale(public.fn_sd_threshold(p_attempt.sd_type));
  v_mode text := public.fn_get_validation_mode(p_attempt.sd_type);
  v_issues text[] := '{}';
  v_warnings text[] := '{}';
  v_failed_gate text;
  v_would_reject boolean := false;
  v_message text;
  v_approvals jsonb;
  v_verdict text;
  v_override jsonb;
begin
  with plan as (
    select g->>'code' as code, (g->>'weight')::numeric as weight, (g->>'required')::boolean as required,
           (g->>'skip')::boolean as plan_skip, g->>'skip_reason' as plan_skip_reason, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
    where g->>'kind' is distinct from 'approval'  -- approvals: people are counted below, not scored
  ), judged as (
    select p.*, r.id is not null as recorded, r.passed, r.score, r.max_score,
           p.plan_skip or coalesce(r.skipped, false) as skipped,
           coalesce(p.plan_skip_reason, r.skip_reason) as skip_reason,
           case when not (p.plan_skip or r.skipped) then r.score / r.max_score * 100 end as pct
    from plan p
    left join public.sub_agent_execution_results r on r.attempt_id = p_attempt.id and r.sub_agent_code = p.code
  )
  select
    round(sum(j.weight * j.pct) / nullif(sum(j.weight) filter (where j.pct is not null), 0), 2),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and not j.plan_skip and j.pct is null), '{}'),
    coalesce(array_agg(j.code order by j.ord) filter (where j.required and j.pct is not null and not j.passed), '{}'),
    coalesce(jsonb_agg(jsonb_build_object(
      'code', j.code, 'required', j.required, 'weight', j.weight, 'recorded', j.recorded, 'skipped', j.skipped,
      'skip_reason', j.skip_reason, 'passed', j.passed, 'score', j.score, 'maxScore', j.max_score,
      'normalised', trim_scale(round(j.pct, 2))) order by j.ord), '[]')
  into v_score, v_missing, v_failed, v_gates
  from judged j;
  v_score := trim_scale(coalesce(v_score, 100));

  select coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'issue'), '{}'),
         coalesce(array_agg(r.sub_agent_code || ': ' || (i.value #>> '{}')) filter (where i.kind = 'warning'), '{}')
  into v_gate_issues, v_gate_warnings
  from public.sub_agent_execution_results r
  cross join lateral (
    select 'issue' as kind, x.value from jsonb_array_elements(r.issues) x
    union all
    select 'warning', x.value from jsonb_array_elements(r.warnings) x
  ) i
  where r.attempt_id = p_attempt.id and not r.skipped;

  if cardinality(v_missing) > 0 then
    v_failed_gate := v_missing[1];
    v_issues := v_issues || array(select format('required gate %s has no result', m) from unnest(v_missing) m);
  end if;
  if cardinality(v_failed) > 0 then
    v_failed_gate := coalesce(v_failed_gate, v_failed[1]);
    v_issues := v_issues || array(select format('required gate %s failed', f) from unnest(v_failed) f);
  end if;
  if v_mode <> 'OFF' and v_score < v_threshold then
    v_message := format('SD type ''%s'' requires %s%% gate score, got %s%%',
                        p_attempt.sd_type, v_threshold, v_score);
    if v_mode = 'ENFORCE' then
      v_failed_gate := coalesce(v_failed_gate, 'SD_TYPE_THRESHOLD');
      v_issues := v_issues || v_message;
    else
      v_would_reject := true;
      v_warnings := v_warnings || ('WARN mode, would reject: ' || v_message);
    end if;
  end if;
  -- ---------------------------------------------------------------- overrides
  -- A member with the override permission accepted this handoff below its threshold or with a
  -- failed overridable gate (fn_override_handoff, 16_approvals.sql); approvals still apply.
  if v_failed_gate is not null then
    v_override := stagegate_private.fn_override_for(p_attempt.id, v_gates);
    if v_override is not null then
      v_warnings := v_warnings || format('%s overridden by %s (%s): %s', v_failed_gate, v_override->>'actor_id',
                                         v_override->>'role', v_override->>'reason');
      v_failed_gate := null;
    end if;
  end if;
  v_verdict := case when v_failed_gate is null then 'accepted' else 'rejected' end;

  -- ---------------------------------------------------------------- approvals
  -- Only once the automated gates let the handoff through: a rejection by an eligible member
  -- rejects it (with the comment), missing approvals keep it waiting.
  v_approvals := stagegate_private.fn_approval_state(p_attempt);
  if v_approvals is not null and v_verdict = 'accepted' then
    if v_approvals->'rejected' <> 'null'::jsonb then
      v_verdict := 'rejected';
      v_failed_gate := v_approvals->'rejected'->>'gate';
      v_issues := v_issues || format('approval gate %s: rejected by %s (%s): %s', v_failed_gate,
                                     v_approvals->'rejected'->>'user_id', v_approvals->'rejected'->>'role',
                                     v_approvals->'rejected'->>'comment');
    elsif (v_approvals->>'approvals_needed')::int > 0 then
      v_verdict := 'awaiting_approval';
    end if;
  end if;

  return jsonb_build_object(
    'verdict', v_verdict,
    'score', v_score, 'threshold', v_threshold, 'validation_mode', v_mode, 'failed_gate', v_failed_gate,
    'issues', to_jsonb(v_issues || v_gate_issues), 'warnings', to_jsonb(v_warnings || v_gate_warnings),
    'would_reject', v_would_reject, 'gates', v_gates)
    || case when v_approvals is null then '{}'::jsonb else jsonb_build_object('approvals', v_approvals) end
    || case when v_override is null then '{}'::jsonb else jsonb_build_object('override', v_override) end;
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
    -- approvals: attempts waiting for people, and overrides by SD type (every SD type with a
    -- threshold profile, zero-filled, so rate() sees the first one)
    'attempts_awaiting_approval', (select count(*) from public.handoff_attempts a where a.status = 'awaiting_approval'),
    'overrides', (
      select coalesce(jsonb_object_agg(x.sd_type, x.n), '{}'::jsonb)
      from (select coalesce(t.sd_type, o.sd_type) as sd_type, coalesce(o.n, 0) as n
            from (select p.sd_type from public.threshold_profiles p where p.sd_type <> 'default') t
            full join (select h.sd_type, count(*) as n from public.handoff_overrides h group by 1) o on o.sd_type = t.sd_type) x),
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

CREATE OR REPLACE FUNCTION public.fn_record_approval_webhook (
  p_event_id     bigint,
  p_ok           boolean,
  p_status       integer DEFAULT NULL::integer,
  p_error        text    DEFAULT NULL::text,
  p_max_attempts integer DEFAULT 8
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.approval_webhook_deliveries;
begin
  if p_event_id is null or p_ok is null or p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_event_id and p_ok are required, p_max_attempts 1-100';
  end if;
  update public.approval_webhook_deliveries d
     set attempts = d.attempts + 1,
         status = case when p_ok then 'delivered' when d.attempts + 1 >= p_max_attempts then 'dead' else 'pending' end,
         delivered_at = case when p_ok then clock_timestamp() end,
         next_attempt_at = clock_timestamp() + make_interval(secs => least(power(2, d.attempts + 1), 600)),
         last_status = p_status, last_error = left(p_error, 2000), updated_at = clock_timestamp()
   where d.event_id = p_event_id and d.status = 'pending'
  returning * into v_row;
  if not found then
    select * into v_row from public.approval_webhook_deliveries d where d.event_id = p_event_id;
  end if;
  return to_jsonb(v_row);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_approval_events (
  p_limit integer DEFAULT 1000
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int := 0;
  v_payload jsonb;
begin
  if p_limit is null or p_limit < 1 then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: p_limit must be a positive number, got %s', coalesce(p_limit::text, 'null'));
  end if;
  if not pg_try_advisory_xact_lock(hashtext('stagegate.approval_events')::bigint) then
    return jsonb_build_object('approval_events', 0, 'busy', true);
  end if;
  for v_payload in
    with batch as (
      update public.approval_events e set notified_at = clock_timestamp()
      where e.id in (select o.id from public.approval_events o where o.notified_at is null order by o.id limit p_limit)
      returning e.id, e.payload || jsonb_build_object('event_id', e.id) as payload
    )
    select b.payload from batch b order by b.id
  loop
    perform pg_notify('stagegate_approval', v_payload::text);
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('approval_events', v_count);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_sweep_expired_approvals()
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_attempt public.handoff_attempts;
  v_state jsonb;
  v_audit_id uuid;
  v_error jsonb;
  v_count int := 0;
begin
  -- SKIP LOCKED: an attempt a decider holds right now is being settled, not left behind
  for v_attempt in
    select * from public.handoff_attempts a
    where a.status = 'awaiting_approval' and a.approval_deadline <= clock_timestamp()
    order by a.approval_deadline
    for update skip locked
  loop
    v_audit_id := gen_random_uuid();
    v_state := public.fn_sd_state((select s.id from public.strategic_directives_v2 s where s.uuid = v_attempt.sd_uuid));
    v_error := jsonb_build_object(
      'error_code', 'APPROVAL_EXPIRED',
      'error_message', format('%s of strategic directive %L waited for approval until %s without enough approvals (%s still needed); expired by the approval sweep',
                              v_attempt.handoff_type, v_attempt.sd_id, v_attempt.approval_deadline,
                              coalesce(v_attempt.result->'approvals'->>'approvals_needed', '?')),
      'failed_step', '3. Approvals', 'pre_state', v_state,
      'partial_state', jsonb_build_object('state_changed', false, 'rolled_back', false,
                                          'approvals', v_attempt.result->'approvals'),
      'recovery_action', format('No state was changed: %s is still in %s. Request the handoff again and ask the approvers in time.',
                                v_attempt.sd_id, v_attempt.from_phase));
    insert into public.sd_transition_audit
      (id, sd_id, sd_uuid, transition_type, session_id, request_id, attempt_id, pre_state, post_state, status,
       error_details, error_message, validation_mode, score, threshold, started_at, completed_at)
    values
      (v_audit_id, v_attempt.sd_id, v_attempt.sd_uuid, v_attempt.handoff_type, v_attempt.session_id, v_attempt.request_id,
       v_attempt.id, v_state, v_state, 'expired', v_error, v_error->>'error_message',
       v_attempt.result->>'validation_mode', (v_attempt.result->>'score')::numeric, (v_attempt.result->>'threshold')::numeric,
       v_attempt.started_at, clock_timestamp());
    update public.handoff_attempts a
       set status = 'expired', finished_at = clock_timestamp(), audit_id = v_audit_id,
           result = a.result || jsonb_build_object('verdict', 'expired', 'status', 'expired', 'audit_id', v_audit_id,
                                                   'issues', coalesce(a.result->'issues', '[]') || to_jsonb(v_error->>'error_message'),
                                                   'replay', false, 'error', v_error)
     where a.id = v_attempt.id;
    perform stagegate_private.fn_release_attempt_claim(v_attempt);
    perform stagegate_private.fn_announce('approval_expired', v_attempt, jsonb_build_object(
      'deadline', v_attempt.approval_deadline, 'approvals', v_attempt.result->'approvals', 'audit_id', v_audit_id));
    v_count := v_count + 1;
  end loop;
  return jsonb_build_object('expired_approvals', v_count);
end;
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_announce (
  p_event   text,
  p_attempt public.handoff_attempts,
  p_detail  jsonb
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  insert into public.approval_events (event, attempt_id, sd_id, payload)
  values (p_event, p_attempt.id, p_attempt.sd_id,
          jsonb_build_object('event', p_event, 'attempt_id', p_attempt.id, 'sd_id', p_attempt.sd_id,
                             'sd_type', p_attempt.sd_type, 'handoff_type', p_attempt.handoff_type,
                             'requested_by', p_attempt.actor_id, 'at', clock_timestamp()) || p_detail)
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_approval_state (
  p_attempt public.handoff_attempts
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  with gates as (
    select g->>'code' as code, coalesce((g->>'approvals_required')::int, 1) as required,
           array(select jsonb_array_elements_text(coalesce(g->'approver_roles', '["LEAD"]'))) as roles,
           coalesce((g->>'approval_expiry_s')::int, 259200) as expiry_s, t.ord
    from jsonb_array_elements(p_attempt.gates) with ordinality as t(g, ord)
    where g->>'kind' = 'approval' and not coalesce((g->>'skip')::boolean, false)
  ), counted as (
    select g.*,
           (select count(*) from public.approval_decisions d
             where d.attempt_id = p_attempt.id and d.decision = 'approve' and d.approver_role = any (g.roles))::int as approvals,
           (select coalesce(jsonb_agg(jsonb_build_object('user_id', d.approver_id, 'role', d.approver_role,
                                                         'comment', d.comment, 'decided_at', d.decided_at) order by d.decided_at), '[]')
              from public.approval_decisions d
             where d.attempt_id = p_attempt.id and d.decision = 'approve' and d.approver_role = any (g.roles)) as approved_by
    from gates g
  )
  select case when not exists (select 1 from gates) then null else jsonb_build_object(
    'gates', (select jsonb_agg(jsonb_build_object(
                'code', c.code, 'approvals_required', c.required, 'approver_roles', to_jsonb(c.roles),
                'approvals', c.approvals, 'approvals_needed', greatest(c.required - c.approvals, 0),
                'expiry_s', c.expiry_s, 'approved_by', c.approved_by) order by c.ord) from counted c),
    'approvals_needed', (select sum(greatest(c.required - c.approvals, 0)) from counted c),
    'approver_roles', (select to_jsonb(array_agg(distinct r order by r)) from counted c, unnest(c.roles) r where c.approvals < c.required),
    'expiry_s', (select min(c.expiry_s) from counted c where c.approvals < c.required),
    'deadline', p_attempt.approval_deadline,
    'rejected', (select jsonb_build_object('gate', c.code, 'user_id', d.approver_id, 'role', d.approver_role,
                                           'comment', d.comment, 'decided_at', d.decided_at)
                   from public.approval_decisions d join counted c on d.approver_role = any (c.roles)
                  where d.attempt_id = p_attempt.id and d.decision = 'reject'
                  order by d.decided_at, c.ord limit 1))
  end
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_await_approval (
  p_attempt   public.handoff_attempts,
  p_judgement jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_deadline timestamptz := coalesce(p_attempt.approval_deadline,
                                     clock_timestamp() + make_interval(secs => (p_judgement->'approvals'->>'expiry_s')::int));
  v_result jsonb;
begin
  v_result := p_judgement || jsonb_build_object(
    'verdict', 'awaiting_approval', 'status', 'awaiting_approval',
    'attempt_id', p_attempt.id, 'request_id', p_attempt.request_id, 'audit_id', null,
    'sd_id', p_attempt.sd_id, 'sd_uuid', p_attempt.sd_uuid, 'sd_type', p_attempt.sd_type,
    'handoff_type', p_attempt.handoff_type, 'from_phase', p_attempt.from_phase, 'to_phase', p_attempt.from_phase,
    'transition_version', p_attempt.sd_version, 'replay', p_attempt.status = 'awaiting_approval', 'error', null,
    'approvals', (p_judgement->'approvals') || jsonb_build_object('deadline', v_deadline));
  update public.handoff_attempts a
     set status = 'awaiting_approval', approval_deadline = v_deadline, result = v_result
   where a.id = p_attempt.id;
  if p_attempt.status = 'in_progress' then
    update public.sd_claims c set expires_at = greatest(c.expires_at, v_deadline)
      from public.strategic_directives_v2 s
     where s.uuid = p_attempt.sd_uuid and c.sd_id = s.id
       and c.session_id = p_attempt.session_id and c.actor_id is not distinct from p_attempt.actor_id;
    perform stagegate_private.fn_announce('approval_requested', p_attempt, jsonb_build_object(
      'score', p_judgement->'score', 'threshold', p_judgement->'threshold',
      'approvals_needed', p_judgement->'approvals'->'approvals_needed',
      'approver_roles', p_judgement->'approvals'->'approver_roles',
      'gates', p_judgement->'approvals'->'gates', 'deadline', v_deadline));
  end if;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_complete_attempt (
  p_attempt_id       uuid,
  p_expected_version integer
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
  select stagegate_private.fn_claim_holder(c.session_id, c.actor_id) into v_holder
  from public.sd_claims c join public.strategic_directives_v2 s on s.id = c.sd_id
  where s.uuid = v_sd.uuid and c.expires_at > now()
    and (c.session_id, c.actor_id) is distinct from (v_attempt.session_id, v_attempt.actor_id);
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
  end if;
  return v_result;
end;
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_decision_answer (
  p_decision public.approval_decisions,
  p_recorded boolean
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'attempt_id', a.id, 'recorded', p_recorded, 'status', a.status,
    'verdict', a.result->>'verdict',
    'decision', jsonb_build_object('approver_id', p_decision.approver_id, 'role', p_decision.approver_role,
                                   'decision', p_decision.decision, 'comment', p_decision.comment,
                                   'decided_at', p_decision.decided_at),
    'result', a.result)
  from public.handoff_attempts a where a.id = p_decision.attempt_id
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_not_overridable (
  p_gates jsonb
)
  RETURNS text[]
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select coalesce(array_agg(g->>'code' order by t.ord), '{}')
  from jsonb_array_elements(coalesce(p_gates, '[]')) with ordinality as t(g, ord)
  where (g->>'required')::boolean
    and (
      -- no result (a gate the plan skipped has none and blocks nothing)
      (not (g->>'recorded')::boolean and not (g->>'skipped')::boolean)
      -- recorded as skipped, or failed
      or ((g->>'recorded')::boolean and ((g->>'skipped')::boolean or not coalesce((g->>'passed')::boolean, false))))
    and not exists (select 1 from public.leo_sub_agents s where s.code = g->>'code' and s.overridable)
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_override_answer (
  p_override public.handoff_overrides,
  p_recorded boolean
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object(
    'override', jsonb_build_object('id', p_override.id, 'attempt_id', p_override.attempt_id,
                                   'overridden_attempt_id', p_override.overridden_attempt_id, 'actor_id', p_override.actor_id,
                                   'role', p_override.role, 'reason', p_override.reason, 'score', p_override.score,
                                   'threshold', p_override.threshold, 'failed_gate', p_override.failed_gate,
                                   'validation_mode', p_override.validation_mode, 'audit_id', p_override.audit_id,
                                   'created_at', p_override.created_at),
    'recorded', p_recorded, 'status', a.status, 'verdict', a.result->>'verdict', 'result', a.result)
  from public.handoff_attempts a where a.id = p_override.attempt_id
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_override_for (
  p_attempt_id uuid,
  p_gates      jsonb
)
  RETURNS jsonb
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select jsonb_build_object('override_id', o.id, 'overridden_attempt_id', o.overridden_attempt_id,
                            'actor_id', o.actor_id, 'role', o.role, 'reason', o.reason, 'score', o.score,
                            'threshold', o.threshold, 'failed_gate', o.failed_gate, 'at', o.created_at)
  from public.handoff_overrides o
  where o.attempt_id = p_attempt_id and cardinality(stagegate_private.fn_not_overridable(p_gates)) = 0
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_refuse_while_awaiting (
  p_sd_uuid uuid,
  p_sd_id   text,
  p_except  uuid
)
  RETURNS void
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_waiting record;
begin
  select a.id, a.handoff_type, a.approval_deadline into v_waiting
  from public.handoff_attempts a
  where a.sd_uuid = p_sd_uuid and a.status = 'awaiting_approval' and a.id is distinct from p_except;
  if found then
    raise exception using errcode = 'SG040',
      message = format('AWAITING_APPROVAL: %s of strategic directive %L (attempt %s) is waiting for approval until %s; decide it (POST /functions/v1/handoff/attempts/%s/approvals) or let it expire',
                       v_waiting.handoff_type, p_sd_id, v_waiting.id, v_waiting.approval_deadline, v_waiting.id);
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION stagegate_private.fn_release_attempt_claim (
  p_attempt public.handoff_attempts
)
  RETURNS void
  LANGUAGE sql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  delete from public.sd_claims c
  using public.strategic_directives_v2 s
  where s.uuid = p_attempt.sd_uuid and c.sd_id = s.id
    and c.session_id = p_attempt.session_id and c.actor_id is not distinct from p_attempt.actor_id
$function$;

ALTER TABLE "public"."approval_decisions"
  ADD CONSTRAINT "approval_decisions_attempt_id_fkey" FOREIGN KEY (attempt_id) REFERENCES public.handoff_attempts(id) ON DELETE CASCADE;

ALTER TABLE "public"."approval_events"
  ADD CONSTRAINT "approval_events_attempt_id_fkey" FOREIGN KEY (attempt_id) REFERENCES public.handoff_attempts(id) ON DELETE CASCADE;

ALTER TABLE "public"."approval_webhook_deliveries"
  ADD CONSTRAINT "approval_webhook_deliveries_event_id_fkey" FOREIGN KEY (event_id) REFERENCES public.approval_events(id) ON DELETE CASCADE;

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_awaiting_has_deadline" CHECK (((status <> 'awaiting_approval'::text) OR (approval_deadline IS NOT NULL)));

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_check" CHECK (((status = ANY (ARRAY['in_progress'::text, 'awaiting_approval'::text])) = (finished_at IS NULL)));

ALTER TABLE "public"."handoff_attempts"
  ADD CONSTRAINT "handoff_attempts_status_check"
    CHECK ((status = ANY (ARRAY['in_progress'::text, 'awaiting_approval'::text, 'completed'::text, 'rejected'::text, 'failed'::text, 'abandoned'::text, 'expired'::text])));

ALTER TABLE "public"."handoff_overrides"
  ADD CONSTRAINT "handoff_overrides_attempt_id_fkey" FOREIGN KEY (attempt_id) REFERENCES public.handoff_attempts(id) ON DELETE CASCADE;

ALTER TABLE "public"."handoff_overrides"
  ADD CONSTRAINT "handoff_overrides_overridden_attempt_id_fkey" FOREIGN KEY (overridden_attempt_id) REFERENCES public.handoff_attempts(id) ON DELETE CASCADE;

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_approval_expiry_check" CHECK (((approval_expiry >= '00:00:01'::interval) AND (approval_expiry <= '90 days'::interval)));

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_approval_no_dependencies" CHECK (((kind <> 'approval'::text) OR (depends_on = '{}'::text[])));

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_approvals_required_check" CHECK (((approvals_required >= 1) AND (approvals_required <= 50)));

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_approver_roles_check" CHECK (((cardinality(approver_roles) >= 1) AND (cardinality(approver_roles) <= 4)));

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_approver_roles_known" CHECK ((approver_roles <@ '{LEAD,PLAN,EXEC,VIEWER}'::text[]));

ALTER TABLE "public"."leo_sub_agents"
  ADD CONSTRAINT "leo_sub_agents_kind_check" CHECK ((kind = ANY (ARRAY['sql'::text, 'http'::text, 'builtin'::text, 'approval'::text])));

ALTER TABLE "public"."sd_transition_audit"
  ADD CONSTRAINT "sd_transition_audit_status_check"
    CHECK ((status = ANY (ARRAY['in_progress'::text, 'completed'::text, 'rejected'::text, 'failed'::text, 'abandoned'::text, 'expired'::text])));

CREATE INDEX approval_events_attempt_id_idx ON public.approval_events USING btree (attempt_id);

CREATE INDEX approval_events_sd_id_idx ON public.approval_events USING btree (sd_id, id);

CREATE INDEX approval_events_unsent_idx ON public.approval_events USING btree (id)
  WHERE (notified_at IS NULL);

CREATE INDEX approval_webhook_deliveries_due_idx ON public.approval_webhook_deliveries USING btree (next_attempt_at)
  WHERE (status = 'pending'::text);

CREATE INDEX handoff_attempts_awaiting_deadline_idx ON public.handoff_attempts USING btree (approval_deadline)
  WHERE (status = 'awaiting_approval'::text);

CREATE UNIQUE INDEX handoff_attempts_awaiting_sd_idx ON public.handoff_attempts USING btree (sd_uuid)
  WHERE (status = 'awaiting_approval'::text);

CREATE INDEX handoff_overrides_sd_type_idx ON public.handoff_overrides USING btree (sd_type);

CREATE TRIGGER _050_stamp_actor
  BEFORE INSERT ON public.approval_decisions
  FOR EACH ROW
  EXECUTE FUNCTION stagegate_private.tg__stamp_actor();

CREATE TRIGGER _050_stamp_actor
  BEFORE INSERT ON public.handoff_overrides
  FOR EACH ROW
  EXECUTE FUNCTION stagegate_private.tg__stamp_actor();

CREATE POLICY "members read their team's approval decisions" ON "public"."approval_decisions"
  FOR SELECT
  TO "authenticated"
  USING ((EXISTS ( SELECT 1
   FROM public.handoff_attempts a
  WHERE (a.id = approval_decisions.attempt_id))));

CREATE POLICY "members read their team's approval events" ON "public"."approval_events"
  FOR SELECT
  TO "authenticated"
  USING ((EXISTS ( SELECT 1
   FROM public.handoff_attempts a
  WHERE (a.id = approval_events.attempt_id))));

CREATE POLICY "members read their team's overrides" ON "public"."handoff_overrides"
  FOR SELECT
  TO "authenticated"
  USING ((EXISTS ( SELECT 1
   FROM public.handoff_attempts a
  WHERE (a.id = handoff_overrides.attempt_id))));

CREATE POLICY "signed-in users read override permissions" ON "public"."override_permissions"
  FOR SELECT
  TO "authenticated"
  USING ((( SELECT auth.uid() AS uid) IS NOT NULL));

COMMENT ON COLUMN "public"."handoff_attempts"."approval_deadline" IS 'Set when the attempt starts awaiting approval: the sweep expires it after this time.';

COMMENT ON COLUMN "public"."leo_sub_agents"."approval_expiry" IS 'kind approval: how long an attempt waits for approvals before the sweep expires it (default 72 hours).';

COMMENT ON COLUMN "public"."leo_sub_agents"."approvals_required" IS 'kind approval: distinct approvals needed (default 1).';

COMMENT ON COLUMN "public"."leo_sub_agents"."approver_roles" IS 'kind approval: team roles whose members may approve (default {LEAD}); the requester never may.';

COMMENT ON COLUMN "public"."leo_sub_agents"."overridable" IS 'A failed (or missing) result of this required gate may be overridden by a member with the override permission (default false: a failed required gate blocks).';

COMMENT ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) IS 'For the approval webhook relay: registers new approval events for delivery and leases up to p_limit due ones for p_lease_seconds. Returns [{event_id, attempt, payload}].';

COMMENT ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) IS 'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. When the plan holds approval gates and the automated gates pass, the attempt becomes awaiting_approval (verdict awaiting_approval, approvals: what is still needed and until when) and fn_decide_approval completes it. An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed|awaiting_approval), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, approvals, transition_version, replay, error}.';

COMMENT ON FUNCTION "public"."fn_decide_approval"(uuid, text, text) IS 'Approve or reject a handoff attempt awaiting approval, as the calling user (a member of the directive''s team whose role is in an approval gate''s approver_roles; never the requester). The decision that completes the count applies the transition through the complete path in the same transaction; a rejection (comment required) rejects the attempt. A repeat by the same user changes nothing and returns the first decision (recorded=false). Raises SG041 SELF_APPROVAL, SG042 NOT_AN_APPROVER, SG043 APPROVAL_CLOSED, SG009 ATTEMPT_NOT_FOUND (also to non-members). Returns {attempt_id, decision: {approver_id, role, decision, comment, decided_at}, recorded, status, verdict, result}.';

COMMENT ON FUNCTION "public"."fn_finish_handoff_request"(uuid, integer, jsonb) IS 'Write the handoff function''s answer (HTTP status, JSON body; status null = no answer) back to the request: 200 (or 202, awaiting approval) -> done with verdict; 429/5xx/SD_BUSY/IDEMPOTENCY_IN_FLIGHT/DB_UNAVAILABLE/no answer -> pending again after a backoff (1, 2, 4 ... 60 s) until max_attempts, then error ATTEMPTS_EXHAUSTED; anything else -> error. A request already done or error is left as it is. Returns {id, status, changed, attempts, run_after}.';

COMMENT ON FUNCTION "public"."fn_metrics_snapshot"() IS 'Everything the metrics function needs in one call: totals per label for handoffs, transitions, gate results (invalid, normalized, idempotent hits), HTTP idempotent hits, replays of a finished handoff request by reason (handoff_request_replays), dry runs, attempts (dry runs left out), unknown inputs; attempts_awaiting_approval, overrides per SD type; the NOTIFY outbox backlog (notifications_pending, oldest_notification_pending_s, null when empty); duration histograms {count, sum_s, buckets} with their bounds (handoff_bounds_s, gate_bounds_s); breaker states; the mode store (ok, error, modes, global); and the runbook''s rates over the last hour (ratios, null when the window is empty).';

COMMENT ON FUNCTION "public"."fn_override_handoff"(uuid, text) IS 'Override a rejected handoff attempt, as the calling user (a member of the directive''s team whose role is in override_permissions, default LEAD), with a mandatory reason: a new attempt with the same plan and gate results (request id override:<attempt id>) is completed through the complete path and accepted (approval gates still apply). Only a rejection by the threshold or by gates marked overridable can be overridden. Raises SG044 OVERRIDE_NOT_ALLOWED, SG045 NOT_OVERRIDABLE, SG009 ATTEMPT_NOT_FOUND (also to non-members), SG001 without a reason. A second override of the same attempt returns the first (recorded=false). Returns {override: {id, attempt_id, overridden_attempt_id, actor_id, role, reason, score, threshold, failed_gate, validation_mode, audit_id, created_at}, recorded, status, verdict, result}.';

COMMENT ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) IS 'For the approval webhook relay: record one delivery attempt of an event. Returns the delivery row (status pending|delivered|dead, attempts, next_attempt_at, last_status, last_error).';

COMMENT ON FUNCTION "public"."fn_sweep_approval_events"(integer) IS 'Send NOTIFY stagegate_approval for up to p_limit unsent approval_events, oldest first, and mark them sent. Returns {approval_events: count sent}. Scheduled by sweep_schedule ''approval_events'' (every second).';

COMMENT ON FUNCTION "public"."fn_sweep_expired_approvals"() IS 'Expire handoff attempts awaiting approval past their approval_deadline: status expired, one audit row of status expired (error_code APPROVAL_EXPIRED), the session''s claim released, an approval_expired event. Returns {expired_approvals}. Scheduled by sweep_schedule ''approval_expiry''.';

COMMENT ON FUNCTION "stagegate_private"."fn_approval_state"(public.handoff_attempts) IS 'Approval gates of an attempt: {gates: [{code, approvals_required, approver_roles, approvals, approvals_needed, expiry_s, approved_by}], approvals_needed, approver_roles (of the gates still open), expiry_s, deadline, rejected: {gate, user_id, role, comment, decided_at} | null}; null when the plan has no approval gate.';

COMMENT ON TABLE "public"."approval_decisions" IS 'One row per (attempt, approver): approve or reject, the approver''s team role at the time and comment. Written only by fn_decide_approval.';

COMMENT ON TABLE "public"."approval_events" IS 'Every approval request, decision, expiry and override (payload: event, attempt_id, sd_id, handoff_type, who, what is still needed). NOTIFY stagegate_approval sends each once (notified_at); the rows stay as the directive''s approval history.';

COMMENT ON TABLE "public"."approval_webhook_deliveries" IS 'Delivery of each approval event to the configured webhook: pending (with next_attempt_at), delivered, or dead after the last retry (the dead-letter record: attempts, last_status, last_error).';

COMMENT ON TABLE "public"."handoff_overrides" IS 'One row per override: the rejected attempt, the attempt that applied the transition in its place, who (actor_id, role), why (reason), and the score, threshold and failed gate it overrode.';

COMMENT ON TABLE "public"."override_permissions" IS 'Team roles whose members may override a rejected handoff (fn_override_handoff). Default: LEAD.';

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_decide_approval"(uuid, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_decide_approval"(uuid, text, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_override_handoff"(uuid, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_override_handoff"(uuid, text) TO "authenticated", "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_events"(integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_approval_events"(integer) TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_approvals"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_sweep_expired_approvals"() TO "postgres", "service_role";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_announce"(text, public.handoff_attempts, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_announce"(text, public.handoff_attempts, jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_approval_state"(public.handoff_attempts) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_approval_state"(public.handoff_attempts) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_await_approval"(public.handoff_attempts, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_await_approval"(public.handoff_attempts, jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_complete_attempt"(uuid, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_complete_attempt"(uuid, integer) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_decision_answer"(public.approval_decisions, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_decision_answer"(public.approval_decisions, boolean) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_not_overridable"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_not_overridable"(jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_override_answer"(public.handoff_overrides, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_override_answer"(public.handoff_overrides, boolean) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_override_for"(uuid, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_override_for"(uuid, jsonb) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_refuse_while_awaiting"(uuid, text, uuid) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_refuse_while_awaiting"(uuid, text, uuid) TO "postgres";

REVOKE ALL ON FUNCTION "stagegate_private"."fn_release_attempt_claim"(public.handoff_attempts) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "stagegate_private"."fn_release_attempt_claim"(public.handoff_attempts) TO "postgres";

REVOKE ALL ON TABLE "public"."approval_decisions" FROM "authenticated";

GRANT SELECT ON TABLE "public"."approval_decisions" TO "authenticated";

-- Table grants as GRANT ALL, not the privilege list pg-delta wrote on PostgreSQL 17 (it has MAINTAIN,
-- which PostgreSQL 15 rejects): the same privileges on 17, and the migration applies on 15.
GRANT ALL ON TABLE "public"."approval_decisions" TO "postgres";

REVOKE ALL ON TABLE "public"."approval_decisions" FROM "service_role";

GRANT SELECT ON TABLE "public"."approval_decisions" TO "service_role";

REVOKE ALL ON TABLE "public"."approval_events" FROM "authenticated";

GRANT SELECT ON TABLE "public"."approval_events" TO "authenticated";

GRANT ALL ON TABLE "public"."approval_events" TO "postgres";

REVOKE ALL ON TABLE "public"."approval_events" FROM "service_role";

GRANT SELECT ON TABLE "public"."approval_events" TO "service_role";

GRANT ALL ON TABLE "public"."approval_webhook_deliveries" TO "postgres", "service_role";

REVOKE ALL ON TABLE "public"."handoff_overrides" FROM "authenticated";

GRANT SELECT ON TABLE "public"."handoff_overrides" TO "authenticated";

GRANT ALL ON TABLE "public"."handoff_overrides" TO "postgres";

REVOKE ALL ON TABLE "public"."handoff_overrides" FROM "service_role";

GRANT SELECT ON TABLE "public"."handoff_overrides" TO "service_role";

REVOKE ALL ON TABLE "public"."override_permissions" FROM "authenticated";

GRANT SELECT ON TABLE "public"."override_permissions" TO "authenticated";

GRANT ALL ON TABLE "public"."override_permissions" TO "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_claim_approval_webhooks"(integer, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_decide_approval"(uuid, text, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_override_handoff"(uuid, text) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_record_approval_webhook"(bigint, boolean, integer, text, integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_events"(integer) FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_approval_events"(integer) FROM "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_approvals"() FROM "anon";

REVOKE ALL ON FUNCTION "public"."fn_sweep_expired_approvals"() FROM "authenticated";

REVOKE ALL ON TABLE "public"."approval_decisions" FROM "anon";

REVOKE ALL ON TABLE "public"."approval_events" FROM "anon";

REVOKE ALL ON TABLE "public"."approval_webhook_deliveries" FROM "anon";

REVOKE ALL ON TABLE "public"."approval_webhook_deliveries" FROM "authenticated";

REVOKE ALL ON TABLE "public"."handoff_overrides" FROM "anon";

REVOKE ALL ON TABLE "public"."override_permissions" FROM "anon";
