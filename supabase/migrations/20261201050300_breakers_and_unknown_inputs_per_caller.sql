-- What one caller can do to everyone else (issue #15):
--
-- 1. "A caller can open a shared breaker." A breaker counted failed *requests*: one handoff whose
--    gate retried three times was three failures, so two handoffs opened a breaker that every
--    function instance shares. fn_breaker_record now takes the attempt: failures count once per
--    attempt (sub_agent_breakers.failure_attempts holds the distinct attempts of the current run
--    of failures), so failure_threshold distinct handoffs must fail before it opens. The function
--    no longer reports failures a caller caused (a timeout_ms below the agent's own, a dry run;
--    shared/dag-runner.ts and supabase/functions/_shared/orchestrator.ts). Calls without an
--    attempt (SQL users, older callers) count as before.
-- 2. "Unknown inputs steer the promotion gate and the alerts." A row of unknown_inputs is now one
--    signal per (kind, caller, 10-minute window): a flood from one caller raises hits on that row,
--    not the number of rows that fn_promotion_gate and stagegate_unknown_inputs_total count. With
--    p_require_sd (the handoff function) nothing is counted unless p_sd_id names a directive that
--    exists. The caller is stored as a sha256, never as given.

-- ------------------------------------------------------------------ breakers
alter table public.sub_agent_breakers
  add column failure_attempts uuid[] not null default '{}'
    check (cardinality(failure_attempts) <= 1000);
comment on column public.sub_agent_breakers.failure_attempts is
  'The distinct attempts among the current consecutive failures (reset by a success): a failure of an attempt already listed does not count again.';

drop function public.fn_breaker_record(text, boolean, text);
create function public.fn_breaker_record(p_code text, p_success boolean, p_error text default null, p_attempt_id uuid default null)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.sub_agent_breakers;
  v_error text := left(p_error, 2000);
begin
  if p_success is null then
    raise exception using errcode = 'SG001', message = 'INVALID_INPUT: p_success is required';
  end if;
  perform public.fn_check_text('p_code', p_code), public.fn_check_text('p_error', p_error, true);

  -- Fast path, no lock and no write: the common case of a success on a healthy closed breaker.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and p_success and v_row.state = 'closed' and v_row.consecutive_failures = 0 then
    return jsonb_build_object('state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    if p_success then
      update public.sub_agent_breakers b set consecutive_failures = 0, failure_attempts = '{}' where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed');
    end if;
    -- sqlfix: a retry within one attempt is not another failure of the agent
    if p_attempt_id is not null and p_attempt_id = any (v_row.failure_attempts) then
      update public.sub_agent_breakers b set last_error = v_error, last_failure_at = now() where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed', 'consecutive_failures', v_row.consecutive_failures, 'counted', false);
    end if;
    if v_row.consecutive_failures + 1 < v_row.failure_threshold then
      update public.sub_agent_breakers b
        set consecutive_failures = v_row.consecutive_failures + 1, last_error = v_error, last_failure_at = now(),
            -- fewer than failure_threshold (<= 1000) entries: opening empties it
            failure_attempts = case when p_attempt_id is null then b.failure_attempts else b.failure_attempts || p_attempt_id end
        where b.sub_agent_code = p_code;
      return jsonb_build_object('state', 'closed', 'consecutive_failures', v_row.consecutive_failures + 1);
    end if;
    perform public.breaker_reason(format('%s consecutive failures', v_row.consecutive_failures + 1));
    update public.sub_agent_breakers b
      set state = 'open', opened_at = now(), consecutive_failures = v_row.consecutive_failures + 1,
          consecutive_successes = 0, last_error = v_error, last_failure_at = now(), failure_attempts = '{}'
      where b.sub_agent_code = p_code;
    perform public.breaker_reason(null);
    return jsonb_build_object('state', 'open');
  end if;

  if v_row.state = 'half_open' then
    if not p_success then
      perform public.breaker_reason('failure while half-open');
      update public.sub_agent_breakers b
        set state = 'open', opened_at = now(), consecutive_failures = 0, consecutive_successes = 0,
            half_open_probe_until = null, last_error = v_error, last_failure_at = now()
        where b.sub_agent_code = p_code;
      perform public.breaker_reason(null);
      return jsonb_build_object('state', 'open');
    end if;
    if v_row.consecutive_successes + 1 >= v_row.success_threshold then
      perform public.breaker_reason(format('%s successes while half-open', v_row.consecutive_successes + 1));
      update public.sub_agent_breakers b
        set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
            half_open_probe_until = null, failure_attempts = '{}'
        where b.sub_agent_code = p_code;
      perform public.breaker_reason(null);
      return jsonb_build_object('state', 'closed');
    end if;
    -- Not yet enough: release the probe lease so the next probe may go.
    update public.sub_agent_breakers b
      set consecutive_successes = v_row.consecutive_successes + 1, half_open_probe_until = null
      where b.sub_agent_code = p_code;
    return jsonb_build_object('state', 'half_open', 'consecutive_successes', v_row.consecutive_successes + 1);
  end if;

  -- open: the call was admitted before the breaker opened; its outcome changes nothing.
  return jsonb_build_object('state', 'open');
end;
$$;
comment on function public.fn_breaker_record(text, boolean, text, uuid) is
  'Record the outcome of a sub-agent call. closed: failures count up to failure_threshold -> open, once per p_attempt_id (retries within one handoff attempt count once; without an attempt every call counts), a success resets the count. half_open: a failure -> open (timer restarts); success_threshold successes -> closed, fewer release the probe lease. open: ignored. Returns {state}.';
revoke all on function public.fn_breaker_record(text, boolean, text, uuid) from public, anon, authenticated;
grant execute on function public.fn_breaker_record(text, boolean, text, uuid) to service_role;

-- ------------------------------------------------------------------ unknown inputs
alter table public.unknown_inputs
  add column caller text check (caller ~ '^[0-9a-f]{64}$'),
  add column window_start timestamptz,
  add column hits int not null default 1 check (hits >= 1),
  add column sd_id text check (length(sd_id) <= 200);
create unique index unknown_inputs_signal on public.unknown_inputs (kind, caller, window_start);
comment on column public.unknown_inputs.caller is
  'sha256 (hex) of the caller (the JWT''s role and sub for the handoff function; the database role for a SQL caller). One row per (kind, caller, window_start): a signal, not a request.';
comment on column public.unknown_inputs.hits is 'Requests this signal stands for (the first and its repeats in the window).';

drop function public.fn_record_unknown_input(text, text, text, text);
create function public.fn_record_unknown_input(
  p_kind text, p_input text, p_sd_type text default null, p_source text default 'handoff',
  p_caller text default null, p_sd_id text default null, p_require_sd boolean default false) returns boolean
language plpgsql security definer set search_path = '' as $$
declare
  v_sd_type text := p_sd_type;
  v_new boolean;
begin
  perform public.fn_check_text('p_kind', p_kind), public.fn_check_text('p_source', p_source),
          public.fn_check_text('p_sd_type', p_sd_type), public.fn_check_text('p_sd_id', p_sd_id);
  if p_sd_id is not null then
    select s.sd_type into v_sd_type from public.strategic_directives_v2 s
    where s.id = p_sd_id or (p_sd_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' and s.uuid = p_sd_id::uuid)
    limit 1;
    if not found then
      return false;  -- a request about no directive steers nothing
    end if;
  elsif p_require_sd then
    return false;
  end if;
  insert into public.unknown_inputs as u (kind, input, sd_type, source, caller, window_start, sd_id)
  values (p_kind,
          -- the input is evidence for a human; control characters are shown, not stored
          left(regexp_replace(coalesce(p_input, ''), '[\x01-\x1F\x7F-\x9F]', '?', 'g'), 200),
          left(v_sd_type, 40), left(coalesce(p_source, 'handoff'), 100),
          encode(sha256(convert_to(coalesce(p_caller, 'sql:' || session_user), 'UTF8')), 'hex'),
          date_bin('10 minutes', clock_timestamp(), timestamptz '2000-01-01 00:00:00+00'), left(p_sd_id, 200))
  on conflict (kind, caller, window_start) do update set hits = u.hits + 1
  returning (xmax = 0) into v_new;
  return v_new;
end;
$$;
comment on function public.fn_record_unknown_input(text, text, text, text, text, text, boolean) is
  'Counts a request whose handoff_type/stage/phase input could not be normalised (kind handoff_type, stage or phase) as one signal per caller (p_caller, default the database role) and 10-minute window: repeats raise unknown_inputs.hits, not the row count that fn_promotion_gate and stagegate_unknown_inputs_total read. Nothing is counted when p_sd_id names no directive, or when p_require_sd and no p_sd_id is given. Returns true for a new signal.';
revoke all on function public.fn_record_unknown_input(text, text, text, text, text, text, boolean) from public, anon, authenticated;
grant execute on function public.fn_record_unknown_input(text, text, text, text, text, text, boolean) to service_role;
