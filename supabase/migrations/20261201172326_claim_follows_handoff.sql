SET local check_function_bodies = off;

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
$function$;

COMMENT ON FUNCTION "public"."fn_complete_handoff"(uuid, integer) IS 'Complete a handoff attempt: pg_try_advisory_xact_lock on the SD (SG006 SD_BUSY), transition_version checks (SG007 VERSION_CONFLICT, SG008 ALREADY_TRANSITIONED), score and verdict in SQL from the recorded gate results, state changes per handoff_types in one savepoint, one terminal audit row, NOTIFY stagegate_transition for an accepted transition: through the transition_notifications outbox (default; relayed within a second by the transition_notifications sweep), from this transaction when the setting stagegate.notify_transitions is ''commit'', never when it is ''off''. When the plan holds approval gates and the automated gates pass, the attempt becomes awaiting_approval (verdict awaiting_approval, approvals: what is still needed and until when) and fn_decide_approval completes it. An accepted handoff gives the session''s claim back when whoever asked may request no handoff from the new phase (handoff_permissions; automation keeps it while any handoff leads on). An already terminal attempt returns its stored result with replay=true. Returns {verdict (accepted|rejected|failed|awaiting_approval), attempt_id, audit_id, sd_id, handoff_type, from_phase, to_phase, score, threshold, failed_gate, issues, warnings, would_reject, validation_mode, gates, approvals, transition_version, replay, error}.';
