-- Database-triggered handoffs: inserting a row into public.handoff_requests runs that handoff
-- through the handoff function, and the verdict (or the error) is written back to the row.
--
-- Two deliveries, one table, one set of rules:
--   hosted Supabase  the insert trigger posts the request with pg_net (net.http_post) once the
--                    dispatch is configured (handoff_request_dispatch + a Vault secret, see
--                    docs/runbook.md); the 'handoff_responses' sweep reads pg_net's answers back.
--   local stack      the trigger NOTIFYs stagegate_handoff_request; stack/consumer.ts LISTENs,
--                    claims rows (fn_claim_handoff_request) and posts them itself.
-- Either way the request carries Idempotency-Key: handoff-request:<id>, so a retry after a crash
-- or a lost answer replays the stored verdict instead of running the handoff again: exactly one
-- transition per row. Which HTTP answers are final and which are retried is decided in one place,
-- fn_finish_handoff_request.
--
-- max_attempts holds on both paths: the local consumer's fn_claim_handoff_request and the pg_net
-- path's fn_sweep_handoff_responses both call fn_exhaust_handoff_requests first, so a running
-- request out of tries becomes ATTEMPTS_EXHAUSTED instead of being re-posted for ever.

create table public.handoff_requests (
  id uuid primary key default gen_random_uuid(),
  sd_id text not null check (length(sd_id) between 1 and 100),
  handoff_type text not null check (length(handoff_type) between 1 and 100),
  session_id text not null check (length(session_id) between 1 and 200),
  status text not null default 'pending' check (status in ('pending', 'running', 'done', 'error')),
  verdict jsonb,
  error jsonb,
  attempts int not null default 0 check (attempts >= 0),
  max_attempts int not null default 5 check (max_attempts between 1 and 100),
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  -- a pending row is not tried before run_after (backoff after a retryable answer)
  run_after timestamptz not null default now(),
  -- a running row whose lease expired is free again (its worker died or its answer was lost)
  locked_until timestamptz,
  locked_by text,
  net_request_id bigint,
  requested_by text not null default current_user,
  actor_id uuid,
  actor_role text,
  actor_via text check (actor_via in ('http', 'sql', 'trigger')),
  check ((status in ('done', 'error')) = (finished_at is not null)),
  check (status <> 'done' or verdict is not null),
  check (status <> 'error' or error is not null),
  check ((status = 'running') = (locked_until is not null))
);
comment on column public.handoff_requests.actor_id is 'The Supabase Auth user who wrote the row (null: the service role or a database role, see actor_role)';
comment on column public.handoff_requests.actor_role is 'authenticated (a user, actor_id), service_role, or the database role of a direct connection (e.g. postgres)';
comment on column public.handoff_requests.actor_via is 'The way in: http (edge functions), sql (an RPC called directly), trigger (a handoff_requests row)';
-- the request runs as whoever inserted it (the handoff function reads these columns)
create trigger _050_stamp_actor before insert on public.handoff_requests
  for each row execute function stagegate_private.tg__stamp_actor();
comment on table public.handoff_requests is
  'Insert {sd_id, handoff_type, session_id} to run a handoff; read status (pending|running|done|error), verdict and error back. Executed exactly once (Idempotency-Key handoff-request:<id>).';
create index handoff_requests_pending_idx on public.handoff_requests (run_after) where status = 'pending';
create index handoff_requests_running_idx on public.handoff_requests (locked_until) where status = 'running';
-- fn_sweep_retention deletes finished requests, oldest first.
create index handoff_requests_finished_idx on public.handoff_requests (finished_at) where status in ('done', 'error');
create index handoff_requests_net_idx on public.handoff_requests (net_request_id) where net_request_id is not null;
-- ============================================================================================
-- Grants: service_role only. Inserting a request runs a handoff, as calling the function does.
-- ============================================================================================
alter table public.handoff_requests enable row level security;
grant select, insert on table public.handoff_requests to service_role;

-- Hosted dispatch settings (one row). Absent row or enabled = false: LISTEN/NOTIFY only.
create table public.handoff_request_dispatch (
  id boolean primary key default true check (id),
  functions_url text not null check (functions_url ~ '^https?://[^ ]+/functions/v1$'),
  -- name of the Vault secret holding the service-role key (never stored in a table)
  service_key_secret text not null default 'stagegate_service_role_key',
  timeout_ms int not null default 120000 check (timeout_ms between 1000 and 600000),
  enabled boolean not null default true,
  -- also kick the approval-webhooks function (the 'approval_webhooks' sweep) while deliveries are due
  approval_webhooks boolean not null default false,
  updated_at timestamptz not null default now()
);
comment on table public.handoff_request_dispatch is
  'pg_net dispatch on hosted Supabase: the functions URL and the Vault secret name of the service-role key, for handoff_requests and (approval_webhooks = true) the approval-webhooks function. See docs/runbook.md, "Deploy".';
alter table public.handoff_request_dispatch enable row level security;
grant select, insert, update, delete on table public.handoff_request_dispatch to service_role;

-- The identity of a request is what its Idempotency-Key stands for: it must not change.
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

create trigger _100_freeze before update on public.handoff_requests
  for each row execute function public.tg_handoff_requests__freeze();

-- ============================================================================================
-- Hosted: the service-role key pg_net posts with, from Vault (never stored in a table)
-- ============================================================================================
create or replace function stagegate_private.fn_dispatch_service_key(p_cfg public.handoff_request_dispatch) returns text
language plpgsql stable security definer set search_path = '' as $$
declare
  v_key text;
begin
  if to_regclass('vault.decrypted_secrets') is not null then
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1' into v_key using p_cfg.service_key_secret;
  end if;
  if v_key is null then
    raise exception using errcode = 'SG016',
      message = format('DISPATCH_NOT_CONFIGURED: Vault secret %L (the service-role key) is missing; create it with vault.create_secret, or turn pg_net dispatch off (public.handoff_request_dispatch: enabled, approval_webhooks)',
                       p_cfg.service_key_secret);
  end if;
  return v_key;
end;
$$;
revoke all on function stagegate_private.fn_dispatch_service_key(public.handoff_request_dispatch) from public, anon, authenticated, service_role;

-- ============================================================================================
-- Hosted: post one request with pg_net (dynamic SQL: parses without the net and vault schemas)
-- ============================================================================================
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
  v_key := stagegate_private.fn_dispatch_service_key(v_cfg);
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

create or replace function public.tg_handoff_requests__dispatch() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if public.fn_dispatch_handoff_request(new.id) is null then
    perform pg_notify('stagegate_handoff_request', new.id::text);
  end if;
  return null;
end;
$$;

create trigger _900_dispatch after insert on public.handoff_requests
  for each row execute function public.tg_handoff_requests__dispatch();

-- ============================================================================================
-- Local consumer: claim, then finish
-- ============================================================================================
create or replace function public.fn_claim_handoff_request(p_worker text, p_lease interval default '2 minutes', p_limit int default 1)
returns setof public.handoff_requests
language plpgsql security definer set search_path = '' as $$
begin
  perform public.fn_check_text('p_worker', p_worker);  -- sqlfix: no control characters (fn_check_text)
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
comment on function public.fn_claim_handoff_request(text, interval, int) is
  'Claim up to p_limit runnable handoff requests (pending and due, or running with an expired lease) for p_worker for p_lease, FOR UPDATE SKIP LOCKED. Running rows out of tries become error ATTEMPTS_EXHAUSTED. Returns the claimed rows.';

-- The one place that decides what an answer of the handoff function means for the row:
--   200                                            done, verdict = the body
--   no answer (null), 429, 5xx, SD_BUSY,
--   IDEMPOTENCY_IN_FLIGHT, DB_UNAVAILABLE          pending again after a backoff (error = last answer),
--                                                  or error ATTEMPTS_EXHAUSTED when out of tries
--   any other status                               error = {http_status, code, message, details}
create or replace function public.fn_finish_handoff_request(p_id uuid, p_http_status int, p_body jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
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
$$;
comment on function public.fn_finish_handoff_request(uuid, int, jsonb) is
  'Write the handoff function''s answer (HTTP status, JSON body; status null = no answer) back to the request: 200 (or 202, awaiting approval) -> done with verdict; 429/5xx/SD_BUSY/IDEMPOTENCY_IN_FLIGHT/DB_UNAVAILABLE/no answer -> pending again after a backoff (1, 2, 4 ... 60 s) until max_attempts, then error ATTEMPTS_EXHAUSTED; anything else -> error. A request already done or error is left as it is. Returns {id, status, changed, attempts, run_after}.';

create or replace function public.fn_retry_handoff_request(p_id uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_req public.handoff_requests;
begin
  update public.handoff_requests r
     set status = 'pending', attempts = 0, run_after = now(), finished_at = null, locked_until = null, locked_by = null
   where r.id = p_id and r.status = 'error'
  returning * into v_req;
  if not found then
    raise exception using errcode = 'SG001', message = format('INVALID_INPUT: handoff request %s does not exist or is not in status error', p_id);
  end if;
  if public.fn_dispatch_handoff_request(v_req.id) is null then
    perform pg_notify('stagegate_handoff_request', v_req.id::text);
  end if;
  return jsonb_build_object('id', v_req.id, 'status', 'pending');
end;
$$;
comment on function public.fn_retry_handoff_request(uuid) is
  'Put a request in status error back to pending with its tries reset. Safe: the retry uses the same Idempotency-Key, so a handoff that did run is replayed, not repeated.';

-- ============================================================================================
-- Hosted: read pg_net's answers back, re-post what is due (a sweep, scheduled like the others)
-- ============================================================================================
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
comment on function public.fn_sweep_handoff_responses() is
  'Hosted (pg_net): write pg_net''s answers for running requests back through fn_finish_handoff_request, then re-post due retries and requests whose answer was lost. Returns {pg_net: false} where pg_net is absent. Returns {pg_net, answers_read, dispatched}.';

revoke all on table public.handoff_requests, public.handoff_request_dispatch from public, anon, authenticated;

revoke execute on function
  public.tg_handoff_requests__freeze(),
  public.tg_handoff_requests__dispatch(),
  public.fn_dispatch_handoff_request(uuid),
  public.fn_claim_handoff_request(text, interval, int),
  public.fn_finish_handoff_request(uuid, int, jsonb),
  public.fn_retry_handoff_request(uuid),
  public.fn_sweep_handoff_responses()
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_claim_handoff_request(text, interval, int),
  public.fn_finish_handoff_request(uuid, int, jsonb),
  public.fn_retry_handoff_request(uuid),
  public.fn_sweep_handoff_responses()
to service_role;

create or replace function public.fn_exhaust_handoff_requests() returns int
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

-- People: a signed-in user inserts requests (run as that user) and reads their own.
grant select on table public.handoff_requests to authenticated;
grant insert (sd_id, handoff_type, session_id) on table public.handoff_requests to authenticated;
create index handoff_requests_actor_id_idx on public.handoff_requests (actor_id) where actor_id is not null;
create policy "users read their own handoff requests" on public.handoff_requests
  for select to authenticated using (actor_id = (select auth.uid()));
-- actor_id is stamped by the _050_stamp_actor trigger before this check runs
create policy "users request handoffs as themselves" on public.handoff_requests
  for insert to authenticated with check (actor_id = (select auth.uid()));
