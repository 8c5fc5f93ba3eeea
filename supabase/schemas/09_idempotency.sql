-- Idempotency-Key records for the HTTP endpoints, with the semantics of Stripe and of the IETF
-- draft "The Idempotency-Key HTTP Header Field":
--   same key, same request body, completed  -> the stored response again (a replay, counted)
--   same key, different body                -> mismatch (the function answers 422)
--   same key, first request still running   -> in_flight (409)
-- The fingerprint (sha256 hex of the canonical body) is computed by the caller, so the database
-- never sees or stores the body itself. An in-flight record carries a lease: a request that died
-- without completing frees its key once the lease expires, instead of answering 409 for 24 h.
--
-- Outcomes are returned, not raised: they are normal answers of the protocol, and raising would
-- roll back the hit counter. Only bad arguments raise (SG001 INVALID_INPUT, as in the core).

-- The length bounds are written as two comparisons, not `between 1 and 255`: PostgreSQL keeps
-- `x between a and b and y` as a nested AND, which the CLI's diff prints with parentheses that
-- parse back flat, so a generated migration would never match this definition (the drift test
-- saw it as a changed CHECK on every diff). Flat comparisons round-trip.
create table public.http_idempotency_keys (
  scope text not null check (length(scope) >= 1 and length(scope) <= 255 and scope ~ '^[ -~]+$'),
  key text not null check (length(key) >= 1 and length(key) <= 255 and key ~ '^[ -~]+$'),
  fingerprint text not null check (fingerprint ~ '^[0-9a-f]{64}$'),
  status text not null default 'in_flight' check (status in ('in_flight', 'completed')),
  response_status int check (response_status between 100 and 599),
  response_body jsonb,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  hits int not null default 0 check (hits >= 0),
  last_hit_at timestamptz,
  primary key (scope, key),
  check (status = 'in_flight' and locked_until is not null and completed_at is null
      or status = 'completed' and locked_until is null and completed_at is not null and response_status is not null)
);
comment on table public.http_idempotency_keys is
  'Idempotency-Key records per (scope, key); scope = function name + caller, so two callers never share a key. Kept 24 h (fn_idempotency_purge).';
-- For the retention sweep.
create index http_idempotency_keys_created_at on public.http_idempotency_keys (created_at);
-- ============================================================================================
-- Grants: service_role only. Supabase's default privileges give anon everything, so revoke.
-- ============================================================================================
alter table public.http_idempotency_keys enable row level security;
revoke all on table public.http_idempotency_keys from public, anon, authenticated;
grant select on table public.http_idempotency_keys to service_role;

-- ============================================================================================
-- Internal: argument checks shared by the RPCs
-- ============================================================================================
create or replace function public.idempotency_check_key(p_scope text, p_key text) returns void
language plpgsql immutable security definer set search_path = '' as $$
begin
  if p_scope is null or length(p_scope) not between 1 and 255 or p_scope !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: idempotency scope must be 1..255 printable characters (got %L)', left(p_scope, 300));
  end if;
  if p_key is null or length(p_key) not between 1 and 255 or p_key !~ '^[ -~]+$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: idempotency key must be 1..255 printable characters (got %L)', left(p_key, 300));
  end if;
end;
$$;
comment on function public.idempotency_check_key(text, text) is
  'Internal: raises SG001 INVALID_INPUT unless scope and key are 1..255 printable ASCII characters.';

create or replace function public.idempotency_check_fingerprint(p_fingerprint text) returns void
language plpgsql immutable security definer set search_path = '' as $$
begin
  if p_fingerprint is null or p_fingerprint !~ '^[0-9a-f]{64}$' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: fingerprint must be a lowercase sha256 hex digest (got %L)', left(p_fingerprint, 100));
  end if;
end;
$$;
comment on function public.idempotency_check_fingerprint(text) is
  'Internal: raises SG001 INVALID_INPUT unless the fingerprint is 64 lowercase hex characters.';

-- ============================================================================================
-- fn_idempotency_begin: claim a key or learn what became of it
-- ============================================================================================
create or replace function public.fn_idempotency_begin(p_scope text, p_key text, p_fingerprint text, p_lease_ms int default 120000)
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  v_row public.http_idempotency_keys;
  v_lease interval;
begin
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_lease_ms is null or p_lease_ms not between 1 and 86400000 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_lease_ms must be between 1 and 86400000 (got %s)', p_lease_ms);
  end if;
  v_lease := make_interval(secs => p_lease_ms / 1000.0);

  -- The loop covers a record deleted (abandoned, purged) between the insert and the lock.
  loop
    -- Concurrent first requests queue on the primary key here: exactly one inserts.
    insert into public.http_idempotency_keys (scope, key, fingerprint, locked_until)
    values (p_scope, p_key, p_fingerprint, now() + v_lease)
    on conflict (scope, key) do nothing
    returning * into v_row;
    if found then
      return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
        'locked_until', v_row.locked_until, 'took_over', false);
    end if;

    select * into v_row from public.http_idempotency_keys k
      where k.scope = p_scope and k.key = p_key for update;
    exit when found;
  end loop;

  if v_row.fingerprint <> p_fingerprint then
    return jsonb_build_object('outcome', 'mismatch', 'response_status', null, 'response_body', null);
  end if;

  if v_row.status = 'completed' then
    update public.http_idempotency_keys k set hits = k.hits + 1, last_hit_at = now()
      where k.scope = p_scope and k.key = p_key;
    return jsonb_build_object('outcome', 'replay', 'response_status', v_row.response_status,
      'response_body', v_row.response_body, 'hits', v_row.hits + 1, 'completed_at', v_row.completed_at);
  end if;

  if v_row.locked_until > now() then
    return jsonb_build_object('outcome', 'in_flight', 'response_status', null, 'response_body', null,
      'locked_until', v_row.locked_until,
      'retry_after_ms', ceil(extract(epoch from v_row.locked_until - now()) * 1000)::bigint);
  end if;

  -- The first request's lease expired without a response: it died, so this one takes the key.
  update public.http_idempotency_keys k set locked_until = now() + v_lease
    where k.scope = p_scope and k.key = p_key
    returning * into v_row;
  return jsonb_build_object('outcome', 'new', 'response_status', null, 'response_body', null,
    'locked_until', v_row.locked_until, 'took_over', true);
end;
$$;
comment on function public.fn_idempotency_begin(text, text, text, int) is
  'Start a request under an Idempotency-Key. Returns {outcome, response_status, response_body, ...}: new (this request owns the key for p_lease_ms; took_over when an expired in-flight lease was taken), replay (stored response, hits counted), mismatch (key used with another fingerprint -> 422), in_flight (live lease, retry_after_ms -> 409).';

-- ============================================================================================
-- fn_idempotency_complete / fn_idempotency_abandon: end of the owning request
-- ============================================================================================
create or replace function public.fn_idempotency_complete(p_scope text, p_key text, p_fingerprint text, p_status int, p_body jsonb)
returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform public.idempotency_check_key(p_scope, p_key);
  perform public.idempotency_check_fingerprint(p_fingerprint);
  if p_status is null or p_status not between 100 and 599 then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_status must be an HTTP status 100..599 (got %s)', p_status);
  end if;
  -- Only an in-flight record with this fingerprint is ours; a completed one keeps its first answer.
  update public.http_idempotency_keys k
    set status = 'completed', response_status = p_status, response_body = p_body,
        completed_at = now(), locked_until = null
    where k.scope = p_scope and k.key = p_key and k.fingerprint = p_fingerprint and k.status = 'in_flight';
end;
$$;
comment on function public.fn_idempotency_complete(text, text, text, int, jsonb) is
  'Store the response of the request that owns (scope, key): only an in-flight record with the same fingerprint is updated, otherwise nothing changes.';

create or replace function public.fn_idempotency_abandon(p_scope text, p_key text) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  perform public.idempotency_check_key(p_scope, p_key);
  delete from public.http_idempotency_keys k
    where k.scope = p_scope and k.key = p_key and k.status = 'in_flight';
  return found;
end;
$$;
comment on function public.fn_idempotency_abandon(text, text) is
  'Forget an in-flight key whose request failed in a way that must not be replayed (5xx, database unavailable), so the client may retry with the same key. A completed record is kept. Returns whether a record was deleted.';

-- ============================================================================================
-- fn_idempotency_purge: retention (Stripe keeps keys 24 h)
-- ============================================================================================
create or replace function public.fn_idempotency_purge(p_older_than interval default '24 hours') returns int
language plpgsql security definer set search_path = '' as $$
declare
  v_count int;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception using errcode = 'SG001',
      message = format('INVALID_INPUT: p_older_than must be a non-negative interval (got %s)', p_older_than);
  end if;
  -- A request still holding a live lease keeps its record, however old.
  delete from public.http_idempotency_keys k
    where k.created_at < now() - p_older_than
      and (k.status = 'completed' or k.locked_until <= now());
  get diagnostics v_count = row_count;
  return v_count;
end;
$$;
comment on function public.fn_idempotency_purge(interval) is
  'Delete idempotency records created more than p_older_than ago (default 24 hours), except in-flight ones with a live lease. Returns how many were deleted. For the scheduled sweep.';

revoke execute on function
  public.idempotency_check_key(text, text),
  public.idempotency_check_fingerprint(text),
  public.fn_idempotency_begin(text, text, text, int),
  public.fn_idempotency_complete(text, text, text, int, jsonb),
  public.fn_idempotency_abandon(text, text),
  public.fn_idempotency_purge(interval)
from public, anon, authenticated, service_role;

grant execute on function
  public.fn_idempotency_begin(text, text, text, int),
  public.fn_idempotency_complete(text, text, text, int, jsonb),
  public.fn_idempotency_abandon(text, text),
  public.fn_idempotency_purge(interval)
to service_role;
