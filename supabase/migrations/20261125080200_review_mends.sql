-- Mends from reviewing the whole change.
--
-- 1. max_attempts on hosted Supabase. The local consumer's fn_claim_handoff_request turned a
--    running request out of tries into ATTEMPTS_EXHAUSTED, but fn_sweep_handoff_responses (the
--    pg_net path) re-posted it every 10 s for ever when its answers kept getting lost. Both now
--    call one fn_exhaust_handoff_requests first.
-- 2. The webhook timestamp window belongs to the database. fn_purge_webhook_ids forgets ids after
--    validation_mode_settings.webhook_tolerance (+1 minute), so fn_claim_webhook_id now refuses a
--    timestamp older than that same tolerance: whatever the setting and whatever window a caller
--    checks, an id is never forgotten while a replay of it could still be accepted.
-- 3. fn_check_invariants' audit chain compared the PRD status too, which everyday work changes
--    between handoffs (draft -> ready ...): a false break. It now compares what only handoffs
--    change, as the backup smoke test's own copy of the rule did; that copy now uses this one.

create function public.fn_exhaust_handoff_requests() returns int
language plpgsql security definer set search_path = '' as $$
declare
  v_count int;
begin
  update public.handoff_requests r
     set status = 'error', finished_at = clock_timestamp(), locked_until = null,
         error = jsonb_build_object('code', 'ATTEMPTS_EXHAUSTED', 'http_status', null, 'last_error', r.error,
           'message', format('no answer after %s tries (each worker died or lost its lease)', r.attempts),
           'recovery_action', format('The handoff may have run: check public.handoff_attempts. select public.fn_retry_handoff_request(%L) tries again under the same Idempotency-Key, so it replays a finished run instead of repeating it.', r.id))
   where r.status = 'running' and r.locked_until <= now() and r.attempts >= r.max_attempts;
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function public.fn_exhaust_handoff_requests() is
  'Running handoff requests with an expired lease and no tries left become status error, code ATTEMPTS_EXHAUSTED. Returns how many. Called by fn_claim_handoff_request (local consumer) and fn_sweep_handoff_responses (pg_net) before they pick rows to run again.';
revoke execute on function public.fn_exhaust_handoff_requests() from public, anon, authenticated;
grant execute on function public.fn_exhaust_handoff_requests() to service_role;

create or replace function public.fn_claim_handoff_request(p_worker text, p_lease interval default '2 minutes', p_limit int default 1)
returns setof public.handoff_requests
language plpgsql security definer set search_path = '' as $$
begin
  if p_worker is null or length(p_worker) not between 1 and 200 then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_worker is required (1-200 chars)';
  end if;
  if p_lease is null or p_lease < interval '1 second' or p_limit is null or p_limit not between 1 and 100 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease must be >= 1 second and p_limit between 1 and 100 (got %s, %s)', p_lease, p_limit);
  end if;
  perform public.fn_exhaust_handoff_requests();

  return query
  with picked as (
    select r.id from public.handoff_requests r
    where (r.status = 'pending' and r.run_after <= now()) or (r.status = 'running' and r.locked_until <= now())
    order by r.created_at
    for update skip locked
    limit p_limit
  )
  update public.handoff_requests r
     set status = 'running', attempts = r.attempts + 1, started_at = coalesce(r.started_at, clock_timestamp()),
         locked_until = clock_timestamp() + p_lease, locked_by = p_worker
    from picked
   where r.id = picked.id
  returning r.*;
end;
$$;

create or replace function public.fn_sweep_handoff_responses() returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_answer record;
  v_body jsonb;
  v_finished int := 0;
  v_dispatched int := 0;
  v_id uuid;
begin
  if to_regclass('net._http_response') is null then
    return jsonb_build_object('pg_net', false);
  end if;
  for v_answer in execute
    'select q.id, a.status_code, a.content, a.timed_out, a.error_msg
       from public.handoff_requests q join net._http_response a on a.id = q.net_request_id
      where q.status = ''running'' and q.locked_by = ''pg_net'''
  loop
    begin
      v_body := v_answer.content::jsonb;
    exception when others then
      v_body := jsonb_build_object('error', jsonb_build_object('code', 'NOT_JSON', 'message', left(coalesce(v_answer.error_msg, v_answer.content), 500)));
    end;
    if v_answer.timed_out or v_answer.status_code is null then
      v_body := jsonb_build_object('error', jsonb_build_object('code', 'NO_ANSWER', 'message', coalesce(v_answer.error_msg, 'timed out')));
    end if;
    perform public.fn_finish_handoff_request(v_answer.id, case when v_answer.timed_out then null else v_answer.status_code end, v_body);
    v_finished := v_finished + 1;
  end loop;
  perform public.fn_exhaust_handoff_requests();
  -- due retries, and requests whose answer never came (pg_net keeps answers for 6 hours)
  for v_id in
    select r.id from public.handoff_requests r
    where (r.status = 'pending' and r.run_after <= now()) or (r.status = 'running' and r.locked_until <= now())
    order by r.created_at
    for update skip locked
  loop
    if public.fn_dispatch_handoff_request(v_id) is not null then v_dispatched := v_dispatched + 1; end if;
  end loop;
  return jsonb_build_object('pg_net', true, 'answers_read', v_finished, 'dispatched', v_dispatched);
end;
$$;

create or replace function public.fn_claim_webhook_id(p_id text, p_timestamp timestamptz) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_tolerance interval := (select s.webhook_tolerance from public.validation_mode_settings s);
begin
  if p_id is null or length(p_id) not between 1 and 255 or p_id !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: webhook-id must be 1..255 printable characters (got %L)', left(p_id, 300));
  end if;
  if p_timestamp is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: webhook timestamp is required';
  end if;
  if p_timestamp < now() - v_tolerance then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: webhook timestamp %s is older than the tolerance of %s (validation_mode_settings.webhook_tolerance)', p_timestamp, v_tolerance);
  end if;
  insert into public.ops_webhook_ids (id, webhook_ts) values (p_id, p_timestamp) on conflict (id) do nothing;
  return found;
end;
$$;
comment on function public.fn_claim_webhook_id(text, timestamptz) is
  'Claims a webhook-id: true the first time, false when it was seen before (a replay). Refuses (SG001) a timestamp older than validation_mode_settings.webhook_tolerance, the window fn_purge_webhook_ids keeps ids for. Call it in the transaction of the effect.';

-- The ops webhook no longer purges on every request; the hourly 'idempotency' sweep does.
comment on function public.fn_purge_webhook_ids() is
  'Deletes webhook ids whose signed timestamp is older than the tolerance plus one minute (fn_claim_webhook_id refuses those timestamps). Returns the number deleted. Run by the idempotency sweep (sweep_schedule).';

create or replace function public.fn_check_invariants()
returns table (invariant text, subject text, detail jsonb)
language sql stable security definer set search_path = '' as $$
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
  having count(a.id) <> case when h.status in ('completed', 'rejected', 'failed', 'abandoned') then 1 else 0 end

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
$$;
