SET local check_function_bodies = off;

DROP FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer);

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
    if v_attempt.status = 'in_progress' then
      return public.fn_attempt_answer(v_attempt, true) || '{"replay_reason": "in_progress"}';
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

CREATE OR REPLACE FUNCTION public.fn_claim_sd (
  p_sd_id         text,
  p_session_id    text,
  p_lease_seconds integer DEFAULT 900
)
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
  perform stagegate_private.fn_authorize_claim(v_sd.team_id, v_sd.id);

  select * into v_prior from public.sd_claims c where c.sd_id = v_sd.id;

  -- excluded.actor_id is the caller (the _050_stamp_actor trigger): the same session id under
  -- another user is someone else's claim
  insert into public.sd_claims as c (sd_id, session_id, claimed_at, renewed_at, expires_at)
  values (v_sd.id, p_session_id, now(), now(), now() + make_interval(secs => p_lease_seconds))
  on conflict (sd_id) do update
    set session_id = excluded.session_id,
        claimed_at = case when c.session_id = excluded.session_id and c.actor_id is not distinct from excluded.actor_id
                          then c.claimed_at else excluded.claimed_at end,
        renewed_at = excluded.renewed_at,
        expires_at = excluded.expires_at
    where (c.session_id = excluded.session_id and c.actor_id is not distinct from excluded.actor_id)
       or c.expires_at <= now()
  returning * into v_claim;

  if not found then
    select * into v_claim from public.sd_claims c where c.sd_id = v_sd.id;
    raise exception using errcode = 'SG005',
      message = format('CLAIMED_BY_OTHER_SESSION: strategic directive %L is held by %s until %s',
                       v_sd.id, stagegate_private.fn_claim_holder(v_claim.session_id, v_claim.actor_id), v_claim.expires_at);
  end if;

  return jsonb_build_object(
    'sd_id', v_sd.id, 'sd_uuid', v_sd.uuid, 'session_id', v_claim.session_id,
    'claimed_at', v_claim.claimed_at, 'expires_at', v_claim.expires_at,
    'renewed', v_prior.session_id is not distinct from p_session_id and v_prior.actor_id is not distinct from v_claim.actor_id
               and v_prior.expires_at > now(),
    'took_over_expired', (v_prior.session_id is distinct from p_session_id or v_prior.actor_id is distinct from v_claim.actor_id)
                         and v_prior.sd_id is not null);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_complete_by_request (
  p_handoff_type text,
  p_sd_id        text,
  p_prd_id       text,
  p_session_id   text,
  p_request_id   text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION public.fn_record_gate_result (
  p_attempt_id      uuid,
  p_gate_code       text,
  p_result          jsonb,
  p_idempotency_key text    DEFAULT NULL::text,
  p_duration_ms     integer DEFAULT NULL::integer,
  p_attempts        integer DEFAULT 1
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  perform public.fn_check_text('p_gate_code', p_gate_code), public.fn_check_text('p_idempotency_key', p_idempotency_key);  -- sqlfix: no control characters (fn_check_text)
  return public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true);
end;
$function$;

CREATE OR REPLACE FUNCTION public.fn_release_sd (
  p_sd_id      text,
  p_session_id text
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_actor record;
  v_held public.sd_claims;
begin
  perform public.fn_check_text('p_sd_id', p_sd_id), public.fn_check_text('p_session_id', p_session_id);  -- sqlfix: no control characters (fn_check_text)
  select * into v_actor from stagegate_private.current_actor();
  delete from public.sd_claims c
   where c.sd_id = v_sd.id and c.session_id = p_session_id and c.actor_id is not distinct from v_actor.user_id;
  if found then
    return jsonb_build_object('sd_id', v_sd.id, 'released', true, 'held_by', null);
  end if;
  select * into v_held from public.sd_claims c where c.sd_id = v_sd.id and c.expires_at > now();
  return jsonb_build_object('sd_id', v_sd.id, 'released', false,
    'held_by', case when v_held.sd_id is null then null
                    when v_actor.privileged or v_held.actor_id = v_actor.user_id then v_held.session_id
                    else 'another session' end);
end;
$function$;

COMMENT ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) IS 'Begin a handoff: resolve the SD (key or uuid), check who asks (SG020 NOT_A_MEMBER, SG021 ROLE_NOT_ALLOWED: a member of the SD''s team whose role handoff_permissions allows, or the service role), refuse at once while another begin of the SD runs or another attempt of it is live (SG006 SD_BUSY; live = younger than fn_attempt_live_for of its plan), check phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free; a dry run only checks it), freeze the gate plan (after skip rules), a context snapshot and the inputs hash. Same p_request_id: the same attempt while it runs (replay_reason in_progress), its answer when it was accepted (accepted) or rejected or failed on the same inputs (unchanged_inputs); otherwise (inputs changed, or abandoned) the old attempt is superseded and a new one begins. p_dry_run: no claim; finish it with fn_finish_dry_run. Returns {attempt_id, request_id, status, replay, replay_reason, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';

COMMENT ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) IS 'Record one normalised gate result ({passed, score, maxScore, issues, warnings, fixes?, skipped?, skip_reason?, error?}; checked, SG010 INVALID_GATE_RESULT) for an attempt. Idempotent per (attempt, gate): a repeat returns the stored result with idempotent_hit=true and counts the hit. Returns {result_id, idempotent_hit, result}.';

REVOKE ALL ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) FROM "authenticated";

GRANT EXECUTE ON FUNCTION "public"."fn_begin_handoff"(text, text, text, text, integer, boolean) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) TO "authenticated", "postgres", "service_role";

SET local check_function_bodies = off;

REVOKE ALL ON FUNCTION "public"."fn_record_gate_result"(uuid, text, jsonb, text, integer, integer) FROM "anon";
