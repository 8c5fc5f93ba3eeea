-- Circuit breakers per sub-agent, shared by every edge-function instance because the state lives
-- here. Same semantics as MemoryBreakerStore in shared/resilience.ts, plus one thing a shared
-- store needs and a single process does not: while half-open, only ONE probe is in flight at a
-- time (a lease in half_open_probe_until), otherwise every instance would hammer a recovering
-- agent at once the moment the reset time elapses.
--
-- Every state change is written to sub_agent_breaker_events by a trigger, so a transition cannot
-- go unrecorded even when an operator updates the table by hand. The RPCs pass the reason to the
-- trigger through the transaction-local setting stagegate.breaker_reason.
--
-- Errors: SG001 INVALID_INPUT, SG011 UNKNOWN_GATE (table in 01_workflow.sql).

create table public.sub_agent_breakers (
  sub_agent_code text primary key
    references public.leo_sub_agents (code) on update cascade on delete cascade,
  state text not null default 'closed' check (state in ('closed', 'open', 'half_open')),
  consecutive_failures int not null default 0 check (consecutive_failures >= 0),
  consecutive_successes int not null default 0 check (consecutive_successes >= 0),
  opened_at timestamptz,
  -- While half-open: the probe admitted until then holds the lease; null = no probe in flight.
  half_open_probe_until timestamptz,
  failure_threshold int not null default 5 check (failure_threshold between 1 and 1000),
  success_threshold int not null default 2 check (success_threshold between 1 and 1000),
  reset_ms int not null default 60000 check (reset_ms between 1 and 86400000),
  last_error text check (length(last_error) <= 2000),
  last_failure_at timestamptz,
  last_transition_at timestamptz,
  updated_at timestamptz not null default now(),
  -- sqlfix (#15): the distinct attempts among the current run of failures (one caller's retries count once)
  failure_attempts uuid[] not null default '{}' check (cardinality(failure_attempts) <= 1000),
  check (state <> 'open' or opened_at is not null),
  check (state = 'half_open' or half_open_probe_until is null)
);
comment on table public.sub_agent_breakers is
  'One circuit breaker per sub-agent (row created on first use). Tune failure_threshold, success_threshold and reset_ms per row; change state only through fn_breaker_* RPCs.';
-- ============================================================================================
-- Grants: service_role only. Supabase's default privileges give anon everything, so revoke.
-- ============================================================================================
comment on column public.sub_agent_breakers.failure_attempts is
  'The distinct attempts among the current consecutive failures (reset by a success): a failure of an attempt already listed does not count again.';
alter table public.sub_agent_breakers enable row level security;
-- insert/update let an operator tune thresholds; a direct state change is still recorded.
grant select, insert, update on table public.sub_agent_breakers to service_role;

-- No foreign key: the history of a breaker outlives a deleted sub-agent.
create table public.sub_agent_breaker_events (
  id bigint generated always as identity primary key,
  sub_agent_code text not null,
  from_state text not null,
  to_state text not null,
  reason text not null,
  consecutive_failures int not null,
  last_error text,
  at timestamptz not null default now(),
  actor text not null,
  actor_uid uuid
);
create index sub_agent_breaker_events_code_at on public.sub_agent_breaker_events (sub_agent_code, at desc);
alter table public.sub_agent_breaker_events enable row level security;

-- ============================================================================================
-- Trigger: record every state change
-- ============================================================================================
create or replace function public.tg_sub_agent_breakers__record_transition() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_sub text := auth.jwt() ->> 'sub';
begin
  new.updated_at := now();
  if new.state is distinct from old.state then
    new.last_transition_at := now();
    insert into public.sub_agent_breaker_events
      (sub_agent_code, from_state, to_state, reason, consecutive_failures, last_error, actor, actor_uid)
    values (
      new.sub_agent_code, old.state, new.state,
      coalesce(nullif(current_setting('stagegate.breaker_reason', true), ''), 'direct update'),
      new.consecutive_failures, new.last_error,
      -- current_user is this function's owner; the 'role' setting is the caller's SET ROLE.
      coalesce(nullif(current_setting('role', true), 'none'), session_user),
      case when v_sub ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then v_sub::uuid end);
  end if;
  return new;
end;
$$;

create trigger _500_record_transition before update on public.sub_agent_breakers
  for each row execute function public.tg_sub_agent_breakers__record_transition();

-- ============================================================================================
-- Internal: validate the code and return its breaker row locked (created closed on first use)
-- ============================================================================================
create or replace function public.breaker_lock(p_code text) returns public.sub_agent_breakers
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.sub_agent_breakers;
begin
  if p_code is null or length(p_code) not between 1 and 64 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: sub-agent code must be 1..64 characters (got %L)', p_code);
  end if;
  if not exists (select 1 from public.leo_sub_agents a where a.code = p_code) then
    raise exception using errcode = 'SG011',
      message = format('UNKNOWN_GATE: no sub-agent %L in leo_sub_agents', p_code);
  end if;
  insert into public.sub_agent_breakers (sub_agent_code) values (p_code) on conflict do nothing;
  select * into strict v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code for update;
  return v_row;
end;
$$;
comment on function public.breaker_lock(text) is
  'Internal to the fn_breaker_* RPCs: validates the code and returns its breaker row locked FOR UPDATE, creating it closed on first use.';

create or replace function public.breaker_reason(p_reason text) returns void
language sql security definer set search_path = '' as $$
  select set_config('stagegate.breaker_reason', coalesce(p_reason, ''), true);
$$;
comment on function public.breaker_reason(text) is
  'Internal: the reason the transition trigger records for the next state change in this transaction.';

-- ============================================================================================
-- fn_breaker_acquire: may this caller call the sub-agent now?
-- ============================================================================================
create or replace function public.fn_breaker_acquire(p_code text, p_probe_lease_ms int default 60000)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.sub_agent_breakers;
begin
  perform public.fn_check_text('p_code', p_code);  -- sqlfix: no control characters (fn_check_text)
  if p_probe_lease_ms is null or p_probe_lease_ms not between 1 and 3600000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_probe_lease_ms must be between 1 and 3600000 (got %s)', p_probe_lease_ms);
  end if;

  -- Fast path, no lock and no write: a closed breaker admits everyone.
  select * into v_row from public.sub_agent_breakers b where b.sub_agent_code = p_code;
  if found and v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  v_row := public.breaker_lock(p_code);

  if v_row.state = 'closed' then
    return jsonb_build_object('allowed', true, 'state', 'closed');
  end if;

  if v_row.state = 'open' then
    if now() < v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0) then
      return jsonb_build_object('allowed', false, 'state', 'open',
        'retry_at', v_row.opened_at + make_interval(secs => v_row.reset_ms / 1000.0));
    end if;
    -- Reset time elapsed: this caller becomes the single half-open probe.
    perform public.breaker_reason('reset timeout elapsed');
    update public.sub_agent_breakers b
      set state = 'half_open', consecutive_failures = 0, consecutive_successes = 0,
          half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
      where b.sub_agent_code = p_code;
    perform public.breaker_reason(null);
    return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
  end if;

  -- half_open: admit a probe only when none holds a live lease (a crashed probe's lease expires).
  if v_row.half_open_probe_until is not null and v_row.half_open_probe_until > now() then
    return jsonb_build_object('allowed', false, 'state', 'half_open',
      'retry_at', v_row.half_open_probe_until);
  end if;
  update public.sub_agent_breakers b
    set half_open_probe_until = now() + make_interval(secs => p_probe_lease_ms / 1000.0)
    where b.sub_agent_code = p_code;
  return jsonb_build_object('allowed', true, 'state', 'half_open', 'probe', true);
end;
$$;
comment on function public.fn_breaker_acquire(text, int) is
  'Ask the breaker of sub-agent p_code for permission to call it. Returns {allowed, state[, probe][, retry_at]}. closed: allowed. open: refused until reset_ms after opened_at, then half_open with this caller as the one probe (lease p_probe_lease_ms, use the gate timeout). half_open: refused while a probe lease is live. Raises SG011 UNKNOWN_GATE for an unregistered code.';

-- ============================================================================================
-- fn_breaker_record: the outcome of a call admitted by fn_breaker_acquire
-- ============================================================================================
create or replace function public.fn_breaker_record(p_code text, p_success boolean, p_error text default null, p_attempt_id uuid default null)
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
-- ============================================================================================
-- fn_breaker_reset (operators) and fn_breaker_sweep (scheduler)
-- ============================================================================================
create or replace function public.fn_breaker_reset(p_code text, p_reason text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.sub_agent_breakers := public.breaker_lock(p_code);
begin
  perform public.fn_check_text('p_code', p_code), public.fn_check_text('p_reason', p_reason, true);  -- sqlfix: no control characters (fn_check_text)
  perform public.breaker_reason('manual reset' || coalesce(': ' || left(nullif(btrim(p_reason), ''), 500), ''));
  update public.sub_agent_breakers b
    set state = 'closed', opened_at = null, consecutive_failures = 0, consecutive_successes = 0,
        half_open_probe_until = null
    where b.sub_agent_code = p_code;
  perform public.breaker_reason(null);
  return jsonb_build_object('state', 'closed', 'previous_state', v_row.state, 'changed', v_row.state <> 'closed');
end;
$$;
comment on function public.fn_breaker_reset(text, text) is
  'Manual override: close the breaker of p_code and clear its counters. The transition is recorded with p_reason and the caller (role, JWT sub). Returns {state, previous_state, changed}.';

create or replace function public.fn_breaker_sweep() returns int
language plpgsql security definer set search_path = '' as $$
declare
  v_count int;
begin
  perform public.breaker_reason('reset timeout elapsed (sweep)');
  -- skip locked: a breaker an RPC holds right now is being decided by that RPC.
  update public.sub_agent_breakers b
    set state = 'half_open', consecutive_failures = 0, consecutive_successes = 0, half_open_probe_until = null
    where b.sub_agent_code in (
      select o.sub_agent_code from public.sub_agent_breakers o
      where o.state = 'open' and now() >= o.opened_at + make_interval(secs => o.reset_ms / 1000.0)
      for update skip locked);
  get diagnostics v_count = row_count;
  perform public.breaker_reason(null);
  return v_count;
end;
$$;
comment on function public.fn_breaker_sweep() is
  'Move every open breaker whose reset time has elapsed to half_open (no probe in flight yet); returns how many moved. For the scheduled sweep.';

-- ============================================================================================
-- Operator view: every registered sub-agent, breaker or not yet
-- ============================================================================================
create or replace view public.sub_agent_breaker_status with (security_invoker = true) as
select
  a.code as sub_agent_code,
  a.kind,
  a.active,
  coalesce(b.state, 'closed') as state,
  coalesce(b.consecutive_failures, 0) as consecutive_failures,
  coalesce(b.consecutive_successes, 0) as consecutive_successes,
  coalesce(b.failure_threshold, 5) as failure_threshold,
  coalesce(b.success_threshold, 2) as success_threshold,
  coalesce(b.reset_ms, 60000) as reset_ms,
  b.opened_at,
  case when b.state = 'open' then b.opened_at + make_interval(secs => b.reset_ms / 1000.0) end as half_open_at,
  coalesce(b.state = 'half_open' and b.half_open_probe_until > now(), false) as probe_in_flight,
  b.last_error,
  b.last_failure_at,
  b.last_transition_at,
  (select count(*) from public.sub_agent_breaker_events e
    where e.sub_agent_code = a.code and e.at > now() - interval '24 hours') as transitions_24h
from public.leo_sub_agents a
left join public.sub_agent_breakers b on b.sub_agent_code = a.code;
comment on view public.sub_agent_breaker_status is
  'Circuit breaker of every registered sub-agent (closed when never used), with when an open one may probe again and its transitions in the last 24 h.';

revoke all on table public.sub_agent_breakers, public.sub_agent_breaker_events, public.sub_agent_breaker_status
  from public, anon, authenticated;

grant select on table public.sub_agent_breaker_events, public.sub_agent_breaker_status to service_role;

revoke execute on function
  public.tg_sub_agent_breakers__record_transition(),
  public.breaker_lock(text),
  public.breaker_reason(text),
  public.fn_breaker_acquire(text, int),
  public.fn_breaker_record(text, boolean, text, uuid),
  public.fn_breaker_reset(text, text),
  public.fn_breaker_sweep()
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_breaker_acquire(text, int),
  public.fn_breaker_record(text, boolean, text, uuid),
  public.fn_breaker_reset(text, text),
  public.fn_breaker_sweep()
to service_role;

-- Which breakers a handoff must go through fn_breaker_acquire / fn_breaker_record for, decided
-- here beside those two functions instead of in the functions' TypeScript. A breaker that is
-- closed with no failures counted needs neither call: acquire admits without a write, and a
-- success records nothing. Any other state (open, half-open, or closed with failures that a
-- success must reset) needs both. Codes without a breaker row need neither (acquire treats them as closed).
create or replace function public.fn_troubled_breakers(p_codes text[]) returns text[]
language plpgsql stable security definer set search_path = '' as $$
begin
  return coalesce((
    select array_agg(b.sub_agent_code order by b.sub_agent_code)
    from public.sub_agent_breakers b
    where b.sub_agent_code = any (p_codes)
      and (b.state <> 'closed' or b.consecutive_failures > 0)), '{}');
end;
$$;
comment on function public.fn_troubled_breakers(text[]) is
  'Of p_codes, the sub-agents whose breaker is open, half-open, or closed with failures counted: callers must use fn_breaker_acquire before running them and fn_breaker_record after. The others (closed with no failures, or no breaker yet) are admitted without a call, and a success needs no record.';
revoke execute on function public.fn_troubled_breakers(text[]) from public, anon, authenticated, service_role;
-- read in begin's round trip by the functions, which run begin as the caller
grant execute on function public.fn_troubled_breakers(text[]) to authenticated, service_role;
