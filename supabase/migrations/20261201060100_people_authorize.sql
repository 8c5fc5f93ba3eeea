-- Hand-written: written with 20261201060000 and 20261201060200 as one change (the people
-- feature), before supabase/schemas/ existed; tests/db/schema-drift.test.ts checks it ends where
-- supabase/schemas/ says (01a_people.sql, and the marked "people:" lines in 02, 06 and 13).
--
-- People, part 2: who may request a handoff, decided in PL/pgSQL at begin.
--
-- The rule lives in stagegate_private.fn_authorize_handoff: a member of the directive's team whose
-- role handoff_permissions allows for the handoff type may request it; the service role (and a
-- privileged database role such as postgres) may request any; anyone else is refused with
-- SG020 NOT_A_MEMBER or SG021 ROLE_NOT_ALLOWED (HTTP 403), before anything is written.
--
-- The RPCs call it through a few marked lines ("people:"), so the hooks can be re-applied on top
-- of another version of the RPC:
--   fn_begin_handoff      authorises the request (also a replay of an existing request id)
--   fn_record_gate_result, fn_complete_handoff
--                         the attempt belongs to whoever began it (stagegate_private.fn_authorize_attempt)
--   fn_claim_sd           a claim belongs to the user who took it: the same session id named by
--                         another user is another claim, and the refusal names the holder's session
--                         only to the holder and the service role (stagegate_private.fn_claim_holder)
-- and the RPCs become callable by `authenticated` (the service role keeps them).

-- ============================================================================================
-- The rules
-- ============================================================================================
create function stagegate_private.fn_authorize_handoff(p_team_id uuid, p_handoff_type text, p_sd_id text)
returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_role text;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  if v_actor.user_id is null then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: %s of strategic directive %L needs a signed-in member of its team or the service role (the request runs as %s without a user)',
                       p_handoff_type, p_sd_id, v_actor.role);
  end if;
  select m.role into v_role from public.team_members m where m.team_id = p_team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: user %s is not a member of the team of strategic directive %L', v_actor.user_id, p_sd_id);
  end if;
  if not exists (select 1 from public.handoff_permissions p where p.handoff_type = p_handoff_type and p.role = v_role) then
    raise exception using errcode = 'SG021',
      message = format('ROLE_NOT_ALLOWED: %s may be requested by %s; user %s is %s in the team of strategic directive %L',
                       p_handoff_type,
                       coalesce((select string_agg(p.role, ' or ' order by p.role) from public.handoff_permissions p where p.handoff_type = p_handoff_type), 'the service role only'),
                       v_actor.user_id, v_role, p_sd_id);
  end if;
end;
$$;
comment on function stagegate_private.fn_authorize_handoff(uuid, text, text) is
  'Raises SG020 NOT_A_MEMBER (no user, or not a member of p_team_id) or SG021 ROLE_NOT_ALLOWED (the member''s role is not in handoff_permissions for p_handoff_type) unless the transaction runs as the service role or a privileged database role.';

-- A claim blocks everyone else: only a member who may request some handoff (not a VIEWER) or the
-- service role may take one.
create function stagegate_private.fn_authorize_claim(p_team_id uuid, p_sd_id text) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_role text;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  select m.role into v_role from public.team_members m where m.team_id = p_team_id and m.user_id = v_actor.user_id;
  if not found then
    raise exception using errcode = 'SG020',
      message = format('NOT_A_MEMBER: %s is not a member of the team of strategic directive %L',
                       coalesce('user ' || v_actor.user_id, 'a request without a user'), p_sd_id);
  end if;
  if not exists (select 1 from public.handoff_permissions p where p.role = v_role) then
    raise exception using errcode = 'SG021',
      message = format('ROLE_NOT_ALLOWED: user %s is %s in the team of strategic directive %L and may not request handoffs',
                       v_actor.user_id, v_role, p_sd_id);
  end if;
end;
$$;

-- An attempt belongs to whoever began it: recording results into it and completing it is for
-- that user (still permitted for its handoff type) or the service role. To anyone else it does
-- not exist (SG009 ATTEMPT_NOT_FOUND), as it does not for GET /handoff/attempts/<id>; begin
-- replaying another user's request id is refused (SG001) rather than handing over their attempt.
create function stagegate_private.fn_authorize_attempt(p_attempt_id uuid, p_replay boolean default false) returns void
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
  v_attempt record;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged then
    return;
  end if;
  select a.actor_id, a.team_id, a.handoff_type, a.sd_id into v_attempt from public.handoff_attempts a where a.id = p_attempt_id;
  if not found then
    return;  -- the RPC raises its own ATTEMPT_NOT_FOUND
  end if;
  if (v_actor.user_id is null or v_attempt.actor_id is distinct from v_actor.user_id) and p_replay then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: request id belongs to another user''s handoff attempt; use a request id of your own');
  end if;
  if v_actor.user_id is null or v_attempt.actor_id is distinct from v_actor.user_id then
    raise exception using errcode = 'SG009', message = format('ATTEMPT_NOT_FOUND: no handoff attempt %s', p_attempt_id);
  end if;
  perform stagegate_private.fn_authorize_handoff(v_attempt.team_id, v_attempt.handoff_type, v_attempt.sd_id);
end;
$$;

-- Whose claim this is, in a refusal: the holder's session id for the holder's own user and the
-- service role, 'another session' for anyone else (a session id is not a secret we hand out).
create function stagegate_private.fn_claim_holder(p_session_id text, p_holder uuid) returns text
language plpgsql stable security definer set search_path = '' as $$
declare
  v_actor record;
begin
  select * into v_actor from stagegate_private.current_actor();
  if v_actor.privileged or (v_actor.user_id is not null and v_actor.user_id = p_holder) then
    return format('session %L', p_session_id);
  end if;
  return 'another session';
end;
$$;

-- ============================================================================================
-- Claims: a claim belongs to the user who took it
-- ============================================================================================
create or replace function public.fn_claim_sd(p_sd_id text, p_session_id text, p_lease_seconds int default 900)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_claim public.sd_claims;
  v_prior public.sd_claims;
begin
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
$$;
comment on function public.fn_claim_sd(text, text, int) is
  'Claim (or renew) an SD for a session of the calling user for p_lease_seconds (default 900). Raises SG005 CLAIMED_BY_OTHER_SESSION while another session (or the same session id of another user) holds an unexpired lease; SG020/SG021 for a caller who may not request handoffs of the SD.';

create or replace function public.fn_release_sd(p_sd_id text, p_session_id text) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_sd public.strategic_directives_v2 := public.fn_resolve_sd(p_sd_id);
  v_actor record;
  v_held public.sd_claims;
begin
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
$$;
comment on function public.fn_release_sd(text, text) is
  'Release the SD if p_session_id of the calling user holds it. Returns {released, held_by}; releasing a claim held by another session (or another user) changes nothing; held_by names the holder''s session only to its user and the service role.';

-- ============================================================================================
-- Recording a gate result: the attempt's owner only
-- ============================================================================================
create or replace function public.fn_record_gate_result(
  p_attempt_id uuid, p_gate_code text, p_result jsonb, p_idempotency_key text default null,
  p_duration_ms int default null, p_attempts int default 1
) returns jsonb
language plpgsql security definer set search_path = '' as $$
begin
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  return public.fn_store_gate_result(p_attempt_id, p_gate_code, p_result, p_idempotency_key, p_duration_ms, p_attempts, true);
end;
$$;

-- ============================================================================================
-- handoff_requests: run with the identity of whoever inserted the row
-- ============================================================================================
-- The identity of a request is what its Idempotency-Key stands for, and whose it is: neither changes.
create or replace function public.tg_handoff_requests__freeze() returns trigger
language plpgsql set search_path = '' as $$
begin
  if (new.id, new.sd_id, new.handoff_type, new.session_id, new.actor_id, new.actor_role, new.actor_via)
     is distinct from (old.id, old.sd_id, old.handoff_type, old.session_id, old.actor_id, old.actor_role, old.actor_via) then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: handoff request %s: id, sd_id, handoff_type, session_id and who requested it cannot change; insert a new request', old.id);
  end if;
  return new;
end;
$$;

-- ============================================================================================
-- Begin: the hook (two marked lines; the rest is the body of 20261125010800)
-- ============================================================================================
create or replace function public.fn_begin_handoff(
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
    perform stagegate_private.fn_authorize_attempt(v_attempt.id, true);  -- people: a replay is the attempt owner's (or the service role's)
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
  perform stagegate_private.fn_authorize_handoff(v_sd.team_id, v_type.code, v_sd.id);  -- people: member with a permitted role, or the service role
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
  'Begin a handoff: resolve the SD (key or uuid), check who asks (SG020 NOT_A_MEMBER, SG021 ROLE_NOT_ALLOWED: a member of the SD''s team whose role handoff_permissions allows, or the service role), phase (SG004 WRONG_PHASE), version (SG007) and claim (SG005, claims it for the session if free), freeze the gate plan (after skip rules) and a context snapshot. Same p_request_id returns the same attempt with replay=true. Returns {attempt_id, request_id, status, replay, result, sd_id, sd_uuid, sd_type, handoff_type, from_phase, to_phase, transition_version, threshold, validation_mode, context, gates}.';

-- ============================================================================================
-- Complete: the hooks (marked "people:"; the rest is the body of 20261125090000)
-- ============================================================================================
create or replace function public.fn_complete_handoff(p_attempt_id uuid, p_expected_version int default null) returns jsonb
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
  perform stagegate_private.fn_authorize_attempt(p_attempt_id);  -- people: the attempt's owner or the service role
  if v_attempt.status <> 'in_progress' then
    return v_attempt.result || '{"replay": true}';
  end if;

  -- fail fast rather than queue: the loser retries or reports SD_BUSY to its caller
  if not pg_try_advisory_xact_lock(public.fn_sd_lock_key(v_attempt.sd_uuid)) then
    raise exception using errcode = 'SG006',
      message = format('SD_BUSY: another transaction is completing a handoff of strategic directive %L; retry shortly', v_attempt.sd_id);
  end if;
  -- re-read under the lock: a concurrent complete of this very attempt may have just committed
  select * into v_attempt from public.handoff_attempts a where a.id = p_attempt_id for update;
  if v_attempt.status <> 'in_progress' then
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

  -- ---------------------------------------------------------------- judge
  v_judgement := public.fn_judge_attempt(v_attempt);
  v_verdict := v_judgement->>'verdict';
  v_pre := public.fn_sd_state(v_sd.id);
  v_version := v_sd.transition_version;

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
  return v_result;
end;
$$;
comment on function public.fn_complete_handoff(uuid, int) is
  'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, transition_version, replay, error}.';

create or replace function public.fn_dispatch_handoff_request(p_id uuid) returns bigint
language plpgsql security definer set search_path = '' as $$
declare
  v_cfg public.handoff_request_dispatch;
  v_req public.handoff_requests;
  v_key text;
  v_net_id bigint;
begin
  select * into v_cfg from public.handoff_request_dispatch where enabled;
  if not found or to_regprocedure('net.http_post(text,jsonb,jsonb,jsonb,integer)') is null then
    return null;
  end if;
  if to_regclass('vault.decrypted_secrets') is not null then
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1' into v_key using v_cfg.service_key_secret;
  end if;
  if v_key is null then
    raise exception using errcode = 'SG016',
      message = format('DISPATCH_NOT_CONFIGURED: Vault secret %L (the service-role key) is missing; create it with vault.create_secret or disable public.handoff_request_dispatch',
                       v_cfg.service_key_secret);
  end if;
  select * into v_req from public.handoff_requests r where r.id = p_id for update;
  execute 'select net.http_post(url := $1, body := $2, params := ''{}''::jsonb, headers := $3, timeout_milliseconds := $4)'
    into v_net_id
    using v_cfg.functions_url || '/handoff',
          jsonb_build_object('sd_id', v_req.sd_id, 'handoff_type', v_req.handoff_type, 'session_id', v_req.session_id),
          jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || v_key,
                             'Idempotency-Key', 'handoff-request:' || v_req.id,
                             -- people: the function runs the row as whoever inserted it
                             'X-Stagegate-Handoff-Request', v_req.id::text),
          v_cfg.timeout_ms;
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_by = 'pg_net', net_request_id = v_net_id,
         -- the answer is due by the timeout; a minute more before we call it lost
         locked_until = clock_timestamp() + make_interval(secs => v_cfg.timeout_ms / 1000.0 + 60)
   where r.id = p_id;
  return v_net_id;
end;
$$;
comment on function public.fn_dispatch_handoff_request(uuid) is
  'Hosted: POST the request to <functions_url>/handoff with pg_net (Idempotency-Key handoff-request:<id>, service-role key from Vault) and mark it running. Returns the pg_net request id, or null when dispatch is not configured or pg_net is absent. Raises SG016 DISPATCH_NOT_CONFIGURED when the Vault secret is missing.';


-- ============================================================================================
-- The seed's entry points (fn_atomic_*_transition): the attempt's owner first (the rest is the
-- body of 20261125011300)
-- ============================================================================================
create or replace function public.fn_complete_by_request(
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

-- ============================================================================================
-- Grants: the handoff RPCs are callable by signed-in users (the rules above decide); the
-- helpers stay private to the definer-rights RPCs.
-- ============================================================================================
revoke all on function
  stagegate_private.fn_authorize_handoff(uuid, text, text),
  stagegate_private.fn_authorize_claim(uuid, text),
  stagegate_private.fn_authorize_attempt(uuid, boolean),
  stagegate_private.fn_claim_holder(text, uuid)
from public, anon, authenticated, service_role;

revoke all on function
  public.fn_claim_sd(text, text, int),
  public.fn_release_sd(text, text),
  public.fn_begin_handoff(text, text, text, text, int),
  public.fn_record_gate_result(uuid, text, jsonb, text, int, int),
  public.fn_complete_handoff(uuid, int),
  public.fn_execute_handoff(text, text, text, text, jsonb),
  public.fn_atomic_lead_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_exec_transition(text, text, text, text),
  public.fn_atomic_exec_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_lead_transition(text, text, text, text),
  public.fn_troubled_breakers(text[]),
  public.tg_handoff_requests__freeze(),
  public.fn_dispatch_handoff_request(uuid)
from public, anon;
grant execute on function
  public.fn_claim_sd(text, text, int),
  public.fn_release_sd(text, text),
  public.fn_begin_handoff(text, text, text, text, int),
  public.fn_record_gate_result(uuid, text, jsonb, text, int, int),
  public.fn_complete_handoff(uuid, int),
  public.fn_execute_handoff(text, text, text, text, jsonb),
  public.fn_atomic_lead_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_exec_transition(text, text, text, text),
  public.fn_atomic_exec_to_plan_transition(text, text, text, text),
  public.fn_atomic_plan_to_lead_transition(text, text, text, text),
  -- read in begin's round trip by the functions (names of sub-agents whose breaker is not closed)
  public.fn_troubled_breakers(text[])
to authenticated, service_role;
revoke all on function public.tg_handoff_requests__freeze(), public.fn_dispatch_handoff_request(uuid)
from authenticated, service_role;
